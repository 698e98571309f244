"""Configuration of the operator API: where the heartbeats and the canary state live, auth, limits."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.heartbeat.logio import DEFAULT_MAX_LINE_BYTES

if TYPE_CHECKING:
    from pytest_selfslo.canary.policy import CanaryPolicy
    from pytest_selfslo.metrics.exporter import SelfMetricsExporter
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = ["DEFAULT_MAX_ALERT_BODY_BYTES", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_READ_TIMEOUT",
           "ApiConfig"]

#: request bodies above this many bytes are refused with 413
DEFAULT_MAX_BODY_BYTES = 16 * 1024
#: ... except Alertmanager's notifications (``POST /self/alerts``): a group of many alerts
#: must not be refused, or the rollback it carries would be lost
DEFAULT_MAX_ALERT_BODY_BYTES = 1024 * 1024
#: seconds a ``/self/health`` read of the heartbeat log may take before 503
DEFAULT_READ_TIMEOUT = 10.0
_FALSY = {"0", "off", "false", "no"}


@dataclasses.dataclass
class ApiConfig:
    """Everything the API needs; every collaborator has a default.

    ``slo_spec`` and ``policy`` take an object or a YAML path (``None`` = the
    built-in default). ``token``/``token_file``/``SELFSLO_API_TOKEN`` are
    tried in that order (see :mod:`.auth`). ``enabled`` ``None`` reads
    ``AURIS_SELF`` once at start-up. ``exporter`` ``None`` serves the
    process-wide exporter that :func:`~pytest_selfslo.update_self_metrics`
    feeds (:func:`~pytest_selfslo.metrics.exporter.default_exporter`).
    ``audit_key_file`` keys the canary audit chain (default
    ``$SELFSLO_AUDIT_KEY_FILE``); ``read_timeout`` bounds a ``/self/health``
    read of the heartbeat log (503 after it); ``max_line_bytes`` is the
    longest heartbeat line read.
    ``max_alert_body_bytes`` is the body limit of ``POST /self/alerts`` (Alertmanager's
    webhook), ``max_body_bytes`` that of every other request.
    """

    heartbeats: str | Path = Path("data/identity.jsonl")
    window: int = 50
    state_dir: str | Path = Path("data")
    slo_spec: SLOSpec | str | Path | None = None
    policy: CanaryPolicy | str | Path | None = None
    token: str | None = None
    token_file: str | Path | None = None
    insecure_no_auth: bool = False
    exporter: SelfMetricsExporter | None = None
    enabled: bool | None = None
    initial_sampling: float | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    audit_limit: int = 20
    #: export the newest scores of every token in the served log's window on
    #: ``/metrics/exp`` (``selfslo serve``; an app feeding its exporter itself leaves it off)
    export_log: bool = False
    audit_key_file: str | Path | None = None
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_alert_body_bytes: int = DEFAULT_MAX_ALERT_BODY_BYTES

    def __post_init__(self) -> None:
        self.heartbeats = Path(self.heartbeats)
        self.state_dir = Path(self.state_dir)
        checks = (
            ("window", self.window, 1, 1_000_000),
            ("max_body_bytes", self.max_body_bytes, 64, 16 * 1024 * 1024),
            ("audit_limit", self.audit_limit, 1, 10_000),
            ("max_line_bytes", self.max_line_bytes, 64, 1 << 30),
            ("max_alert_body_bytes", self.max_alert_body_bytes, 64, 64 * 1024 * 1024),
        )
        for name, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"ApiConfig.{name}: expected an integer in "
                                  f"[{low}, {high}], got {value!r}")
        timeout = self.read_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not 0 < timeout <= 3600:
            raise ConfigError(f"ApiConfig.read_timeout: expected seconds in (0, 3600], "
                              f"got {timeout!r}")

    def resolved_enabled(self) -> bool:
        """``enabled``, or ``AURIS_SELF`` (unset or anything but off/0/false/no = on)."""
        if self.enabled is not None:
            return self.enabled
        return os.environ.get("AURIS_SELF", "on").strip().lower() not in _FALSY
