"""The heartbeat record: one SELF observation of one token at one instant.

Import it from :mod:`pytest_selfslo.heartbeat`; this module only exists so the
record, the JSONL store and the scenario generators can live in separate files
without import cycles.

Validation is done once, here, and the same rules apply whether a heartbeat is
built in code, parsed from a log line or generated: ``ts`` is RFC 3339 (with a
UTC offset) or unix seconds, ``kind`` is ``"heartbeat"``, ``token_id`` is a
non-empty string of at most :data:`MAX_TOKEN_ID_LEN` characters, and each score
is a finite number in [0, 1] (``bool`` is refused: ``true`` is not a score).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from pytest_selfslo._core.errors import HeartbeatFormatError, InputError

__all__ = [
    "KINDS",
    "MAX_TOKEN_ID_LEN",
    "SCORES",
    "Heartbeat",
    "check_score",
    "check_token_id",
    "format_timestamp",
    "parse_timestamp",
]

#: The four SELF scores, in canonical order.
SCORES: tuple[str, ...] = ("coherence", "continuity", "presence", "stress")
#: Record kinds a heartbeat log may contain.
KINDS: frozenset[str] = frozenset({"heartbeat"})
#: Longest accepted ``token_id`` (the exporter uses the same bound for label values).
MAX_TOKEN_ID_LEN = 256

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_timestamp(value: Any) -> float:
    """RFC 3339 text or unix seconds -> unix seconds (float).

    Raises ``ValueError`` saying what was expected; naive timestamps (no
    ``Z``/offset) are refused because guessing a time zone corrupts windows.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected unix seconds or an RFC 3339 string, got bool {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"expected finite unix seconds, got {value!r}")
        return seconds
    if not isinstance(value, str):
        raise ValueError(f"expected unix seconds or an RFC 3339 string, got "
                         f"{type(value).__name__} {value!r}")
    match = _RFC3339.match(value)
    if match is None:
        raise ValueError(f"expected an RFC 3339 timestamp like '2024-05-01T12:00:00Z' "
                         f"(with Z or an offset), got {value!r}")
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = match.groups()
    if int(second) > 60:  # 60 is a leap second; datetime() below only sees min(second, 59)
        raise ValueError(f"invalid RFC 3339 timestamp {value!r}: second must be in 0..60")
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          min(int(second), 59), tzinfo=timezone.utc)
    except ValueError as exc:
        raise ValueError(f"invalid RFC 3339 timestamp {value!r}: {exc}") from None
    seconds = (moment - _EPOCH).total_seconds()
    if int(second) == 60:  # leap second: RFC 3339 allows it, unix time repeats 59
        seconds += 1.0
    if frac:
        seconds += float(f"0.{frac}")
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m)).total_seconds()
        seconds -= offset if sign == "+" else -offset
    return seconds


def format_timestamp(ts: float) -> str:
    """Unix seconds -> RFC 3339 UTC text with microseconds (``...Z``)."""
    moment = _EPOCH + timedelta(seconds=ts)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def check_score(label: str, value: Any) -> float:
    """A finite number in [0, 1] (not a bool) as float; ``InputError`` starting with ``label``.

    Shared by the record and the exporter so both refuse the same values with
    the same words.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{label}: expected a number in [0, 1], got "
                         f"{type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise InputError(f"{label}: expected a finite number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{label}: expected a number in [0, 1], got {value!r}")
    return float(value)


def check_token_id(label: str, value: Any) -> str:
    """A non-empty string of at most :data:`MAX_TOKEN_ID_LEN` characters."""
    if not isinstance(value, str):
        raise InputError(f"{label}: expected a non-empty string, got "
                         f"{type(value).__name__} {value!r}")
    if not value:
        raise InputError(f"{label}: expected a non-empty string, got ''")
    if len(value) > MAX_TOKEN_ID_LEN:
        raise InputError(f"{label}: expected at most {MAX_TOKEN_ID_LEN} characters, got "
                         f"{len(value)} ({value[:32]!r}...)")
    return value


def _check_kind(value: Any) -> str:
    if not isinstance(value, str) or value not in KINDS:
        expected = ", ".join(repr(k) for k in sorted(KINDS))
        raise ValueError(f"field 'kind': unknown kind {value!r} (expected {expected})")
    return value


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One SELF observation. Immutable and validated on construction.

    >>> hb = Heartbeat(ts=1_700_000_000.0, token_id="token-a", coherence=0.91,
    ...                continuity=0.95, presence=0.9, stress=0.12)
    >>> Heartbeat.from_dict(hb.to_dict()) == hb
    True

    Scores come after ``kind`` in the record, but are keyword-only here so a
    positional call cannot swap them silently.
    """

    ts: float
    token_id: str
    kind: str = "heartbeat"
    coherence: float = field(kw_only=True)
    continuity: float = field(kw_only=True)
    presence: float = field(kw_only=True)
    stress: float = field(kw_only=True)

    def __post_init__(self) -> None:
        try:
            set_ = object.__setattr__
            try:
                set_(self, "ts", parse_timestamp(self.ts))
            except ValueError as exc:
                raise ValueError(f"field 'ts': {exc}") from None
            check_token_id("field 'token_id'", self.token_id)
            _check_kind(self.kind)
            for name in SCORES:
                set_(self, name, check_score(f"field {name!r}", getattr(self, name)))
        except ValueError as exc:
            raise HeartbeatFormatError(str(exc), reason=str(exc)) from None

    @classmethod
    def from_dict(cls, data: Any, *, path: str | Path | None = None,
                  line: int | None = None) -> Heartbeat:
        """Build from a parsed JSON object; errors name ``path:line`` and the field.

        ``kind`` may be omitted (it defaults to ``"heartbeat"``); other unknown
        keys are ignored so newer writers can add fields without breaking readers.
        """
        if not isinstance(data, Mapping):
            raise HeartbeatFormatError(
                f"expected a JSON object, got {type(data).__name__}", path, line,
                reason=f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("ts", "token_id", *SCORES) if k not in data]
        try:
            if missing:
                raise ValueError("missing field(s): " + ", ".join(repr(k) for k in missing))
            return cls(ts=data["ts"], token_id=data["token_id"],
                       kind=data.get("kind", "heartbeat"), coherence=data["coherence"],
                       continuity=data["continuity"], presence=data["presence"],
                       stress=data["stress"])
        except (ValueError, TypeError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            raise HeartbeatFormatError(reason, path, line, reason=reason) from None

    def to_dict(self, *, rfc3339: bool = False) -> dict[str, Any]:
        """JSON-ready dict in the log's field order; ``ts`` as unix seconds unless ``rfc3339``."""
        return {
            "ts": format_timestamp(self.ts) if rfc3339 else self.ts,
            "kind": self.kind,
            "token_id": self.token_id,
            "coherence": self.coherence,
            "continuity": self.continuity,
            "presence": self.presence,
            "stress": self.stress,
        }

    def to_json_line(self, *, rfc3339: bool = False) -> str:
        """The record as one line of JSON, *without* the trailing newline (writers add it)."""
        return orjson.dumps(self.to_dict(rfc3339=rfc3339)).decode()

    def scores(self) -> dict[str, float]:
        """``{"coherence": ..., "continuity": ..., "presence": ..., "stress": ...}``."""
        return {name: getattr(self, name) for name in SCORES}
