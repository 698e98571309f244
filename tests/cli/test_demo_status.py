"""The ``selfslo demo`` status view: whole alert names, a readable SLO, dwell like ``6.1s``."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace
from typing import Any

from pytest_selfslo.canary.machine import CanaryState, Observation, decide
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.cli.demo import _Loop, _status

LONG = "AURIS_SELF_Continuity_BurnRate_Slow"


class _Http:
    """Answers the two GETs of the status view with fixed JSON bodies."""

    def __init__(self, health: dict[str, Any]) -> None:
        self.health = health

    def get(self, url: str, params: Any = None) -> Any:
        body = self.health if url.endswith("/self/health") else {
            "state": {"sampling": 0.1, "paused": False, "version": 3}, "audit": []}
        return SimpleNamespace(json=lambda: body)


def _loop(decision: dict[str, Any]) -> _Loop:
    driver = SimpleNamespace(where=lambda: ("steady", 4))
    return _Loop(driver=driver, api_url="http://127.0.0.1:1", token="t", backend="embedded",  # type: ignore[arg-type]
                 alerts=lambda: [{"alertname": LONG, "token_id": "a"}],
                 decisions=deque([decision]))


def test_the_decision_line_keeps_every_alert_name_and_the_slo_is_readable() -> None:
    names = ", ".join(f"AURIS_SELF_{n}_BurnRate_{w}" for n in ("Coherence", "Continuity",
                                                               "Stress")
                      for w in ("Fast", "Slow"))
    decision = {"action": "rollback", "next_canary": 0.05, "gates": {},
                "reasons": [f"rollback alert firing: {names}; rolling back to 0.05"]}
    health = {"heartbeat_count": 10, "averages": {"coherence": 0.9},
              "slo_status": {"coherence_slo": True, "continuity_slo": True,
                             "stress_slo": False}}
    text = _status(_loop(decision), 0.0, _Http(health))
    assert "AURIS_SELF_Stress_BurnRate_Slow; rolling back to 0.05" in text
    assert "slo coherence ok, continuity ok, stress MISSED" in text
    assert "{'coherence_slo'" not in text


def test_dwell_is_printed_to_a_tenth_of_a_second() -> None:
    state = CanaryState(sampling=0.05, since=0.0)
    green = Observation(gates={g.name: (0.95 if ">" in g.comparison else 0.0)
                               for g in DEFAULT_POLICY.gates}, at=6.10063)
    reasons = decide(DEFAULT_POLICY, state, green, 6.10063).reasons
    assert any("dwell: 6.1s of 600s at 0.05" in r for r in reasons), reasons


def test_reasons_and_alert_names_cannot_forge_screen_lines() -> None:
    """Issue 21 item 9 for the demo view: a newline or an ANSI escape in a reason or an
    alert name is printed escaped, on its own screen line."""
    decision = {"action": "hold", "next_canary": 0.1, "gates": {},
                "reasons": ["ok\n#9 manual 0.1->1 by admin\x1b[2J"]}
    health = {"heartbeat_count": 1, "averages": {}, "slo_status": {}}
    loop = _loop(decision)
    loop.alerts = lambda: [{"alertname": "A\u202eB\rC"}]
    text = _status(loop, 0.0, _Http(health))
    assert "ok\\n#9 manual 0.1->1 by admin\\x1b[2J" in text
    assert "A\\u202eB\\rC" in text
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert not any(line.startswith("#9") for line in text.splitlines())
