"""Every error pytest-selfslo raises on purpose.

One root, :class:`SelfSloError`, so callers can catch "anything this package
complains about" without swallowing real bugs. Subclasses say the cause and,
where one fits, also inherit a builtin so ``except ValueError`` keeps working::

    SelfSloError
    ├── InputError (ValueError)           bad data handed to us
    │   ├── HeartbeatFormatError          a heartbeat line/file is malformed (path:line)
    │   ├── SeriesNotationError           promtool series notation ("1+2x3") is malformed
    │   └── TemplateError                 alert template uses unsupported/invalid syntax
    ├── ConfigError (ValueError)          a configuration file is wrong (path:line, key)
    │   ├── SLOSpecError                  SLO spec YAML
    │   ├── RuleFileError                 Prometheus rule file
    │   ├── RuleTestFileError             promtool unit-test file
    │   └── PolicyError                   canary policy YAML
    ├── LimitError                        input refused up front: over a documented limit
    │                                     (docs/limits.md) or not a regular file
    ├── PromQLError                       query cannot be parsed or evaluated
    │   ├── PromQLParseError (ValueError)
    │   └── PromQLEvalError (ValueError)  e.g. many-to-many matching, wrong argument types
    │       └── PromQLUnsupportedError    a PromQL feature the embedded engine declares unsupported
    ├── CanaryError
    │   ├── CanaryStateError              state file corrupt/unreadable: never silently reset
    │   ├── AuditChainError               audit log edited, truncated or reordered
    │   ├── ConcurrentModificationError   compare-and-set on the state version lost
    │   └── CanaryRequestError (ValueError) a refused manual change (no reason, not a step, ...)
    └── PrometheusError                   talking to a real Prometheus failed
        └── PrometheusUnavailable         no server could be found or started

Messages about a file start with ``path:line:`` and say expected vs got.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AuditChainError",
    "CanaryError",
    "CanaryRequestError",
    "CanaryStateError",
    "ConcurrentModificationError",
    "ConfigError",
    "HeartbeatFormatError",
    "InputError",
    "LimitError",
    "PolicyError",
    "PromQLError",
    "PromQLEvalError",
    "PromQLParseError",
    "PromQLUnsupportedError",
    "PrometheusError",
    "PrometheusUnavailable",
    "RuleFileError",
    "RuleTestFileError",
    "SLOSpecError",
    "SelfSloError",
    "SeriesNotationError",
    "TemplateError",
    "located",
]


def located(message: str, path: str | Path | None = None, line: int | None = None,
            column: int | None = None) -> str:
    """Prefix ``message`` with ``path:line:column:`` as far as they are known."""
    parts = [str(p) for p in (path, line, column) if p is not None]
    return f"{':'.join(parts)}: {message}" if parts else message


class SelfSloError(Exception):
    """Root of every error this package raises on purpose."""


class InputError(SelfSloError, ValueError):
    """Bad data handed to us (a value, a line, a notation)."""


class HeartbeatFormatError(InputError):
    """A heartbeat record or log file is malformed; the message names path, line and reason."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 reason: str | None = None) -> None:
        super().__init__(located(message, path, line))
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = reason or message


class SeriesNotationError(InputError):
    """promtool series notation such as ``1+2x3`` is malformed."""


class TemplateError(InputError):
    """An alert label/annotation template is invalid or uses unsupported syntax."""


class ConfigError(SelfSloError, ValueError):
    """A configuration file is wrong; the message names file, line and key."""


class SLOSpecError(ConfigError):
    """The SLO spec YAML is invalid."""


class RuleFileError(ConfigError):
    """A Prometheus rule file is invalid (what ``promtool check rules`` rejects)."""


class RuleTestFileError(ConfigError):
    """A promtool rule unit-test file is invalid."""


class PolicyError(ConfigError):
    """A canary policy file is invalid."""


class LimitError(SelfSloError):
    """Input refused before any work: it exceeds a documented limit (``docs/limits.md``:
    PromQL size and nesting, samples, steps, template output, file size) or is not a
    regular file. The message names the limit and how to raise it. Deliberately not a
    ``ValueError``, so code that turns bad values into findings or test failures lets it
    through: every front end reports it as an input error (exit 2)."""


class PromQLError(SelfSloError):
    """A PromQL expression cannot be parsed or evaluated."""


class PromQLParseError(PromQLError, ValueError):
    """The expression does not parse."""


class PromQLEvalError(PromQLError, ValueError):
    """The expression parses but cannot be evaluated (types, matching, arguments)."""


class CanaryError(SelfSloError):
    """Base of canary controller errors."""


class CanaryStateError(CanaryError):
    """The canary state file is corrupt or unreadable. It is never reset silently."""


class AuditChainError(CanaryError):
    """The audit log's hash chain does not verify (edited, deleted or truncated records)."""


class ConcurrentModificationError(CanaryError):
    """A compare-and-set on the canary state version lost against another writer."""


class CanaryRequestError(CanaryError, ValueError):
    """A manual canary change was refused (no reason, out of range, not a step, ...)."""


class PrometheusError(SelfSloError):
    """Talking to a real Prometheus server failed."""


class PrometheusUnavailable(PrometheusError):
    """No real Prometheus could be found, started or reached."""


class PromQLUnsupportedError(PromQLEvalError):
    """A PromQL feature the embedded engine deliberately does not support (native histograms,
    experimental functions); runners report it as *skipped*, never as passed."""
