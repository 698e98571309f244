"""The error tree: every error the package raises derives from ``SelfSloError`` (public import path).

The implementation lives in :mod:`pytest_selfslo._core.errors`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo._core.errors import (
    AuditChainError,
    CanaryError,
    CanaryRequestError,
    CanaryStateError,
    ConcurrentModificationError,
    ConfigError,
    HeartbeatFormatError,
    InputError,
    PolicyError,
    PrometheusError,
    PrometheusUnavailable,
    PromQLError,
    PromQLEvalError,
    PromQLParseError,
    PromQLUnsupportedError,
    RuleFileError,
    RuleTestFileError,
    SelfSloError,
    SeriesNotationError,
    SLOSpecError,
    TemplateError,
    located,
)

__all__ = [
    "AuditChainError",
    "CanaryError",
    "CanaryRequestError",
    "CanaryStateError",
    "ConcurrentModificationError",
    "ConfigError",
    "HeartbeatFormatError",
    "InputError",
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
