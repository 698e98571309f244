"""Tuner + store as a hypothesis state machine, with simulated crashes (issue 6, acceptance 2).

Random observations, firing alerts, source errors, manual changes (good and
bad), pauses, resumes and crashes at every point of a write; after every step
the audit chain verifies, the state is valid and equals the last audit
record, and the number of audit records equals the changes that were applied.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from prometheus_client import CollectorRegistry

from pytest_selfslo._core.errors import CanaryRequestError
from pytest_selfslo.canary.machine import Observation, decide
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.canary.tuner import CanaryAutoTuner
from pytest_selfslo.plugin.canary_strategies import canary_observations

POLICY = CanaryPolicy(steps=DEFAULT_POLICY.steps, gates=DEFAULT_POLICY.gates,
                      rollback_alerts=DEFAULT_POLICY.rollback_alerts, min_dwell=(120.0,),
                      consecutive_successes=2, failure_limit=2, pause_on_rollback=False)
CRASH_POINTS = ("before_audit", "after_audit", "after_temp_write", "after_rename")
APPLIED_IF_CRASHED_AT = {"before_audit": False, "after_audit": True, "after_temp_write": True,
                         "after_rename": True}


class Crash(BaseException):
    """A simulated power cut: nothing after the fault point runs."""


class ScriptedSource:
    def __init__(self) -> None:
        self.next = Observation(gates={})

    def observe(self, policy: CanaryPolicy, at: float) -> Observation:
        obs = self.next
        return Observation(gates=obs.gates, firing_alerts=obs.firing_alerts, error=obs.error,
                           at=at, notes=obs.notes)


class CanaryMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="canary-sm-"))
        self.now = 1_000_000.0
        self.source = ScriptedSource()
        self.changes = 0
        self.crash_point: str | None = None
        self._restart()

    def _clock(self) -> float:
        return self.now

    def _fault(self, point: str) -> None:
        if point == self.crash_point:
            self.crash_point = None
            raise Crash(point)

    def _restart(self) -> None:
        """A fresh process: new store and tuner objects over the same directory."""
        self.store = CanaryStore(self.dir, policy=POLICY, clock=self._clock, fault_hook=self._fault)
        self.tuner = CanaryAutoTuner(source=self.source, policy=POLICY, store=self.store,
                                     clock=self._clock, auto_apply=True, registry=CollectorRegistry())

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(obs=canary_observations(POLICY, at=0.0), dt=st.sampled_from([0.0, 30.0, 60.0, 150.0]))
    def tick(self, obs: Observation, dt: float) -> None:
        self.now += dt
        self.source.next = obs
        before = self.store.load()
        out = self.tuner.check_and_tune()
        if out["applied"]:
            self.changes += 1
        if out["action"] == "advance":
            # missing data, a failing gate, a source error or a rollback alert never advance
            assert obs.error is None and not before.paused
            assert all(g["ok"] and not g["missing"] for g in out["gates"].values())
            assert not any(m.matches(a) for a in obs.firing_alerts for m in POLICY.rollback_alerts)
            assert out["next_canary"] == POLICY.steps[POLICY.steps.index(before.sampling) + 1]
        if any(m.matches(a) for a in obs.firing_alerts for m in POLICY.rollback_alerts) \
                and before.sampling > POLICY.floor:
            assert out["action"] == "rollback" and out["applied"]

    @rule(value=st.sampled_from([*POLICY.steps, 0.0, 0.2, 1.5, float("nan")]),
          reason=st.sampled_from(["operator bump", "", "  "]))
    def manual(self, value: float, reason: str) -> None:
        valid = value in POLICY.steps and reason.strip() != ""
        try:
            self.tuner.apply_canary_change(value, reason, actor="sre")
        except CanaryRequestError:
            assert not valid
        else:
            assert valid
            self.changes += 1

    @rule(reason=st.sampled_from(["incident", ""]))
    def pause(self, reason: str) -> None:
        paused = self.store.load().paused
        try:
            self.store.pause(reason=reason, actor="sre")
        except CanaryRequestError:
            assert paused or not reason
        else:
            assert not paused and reason
            self.changes += 1

    @rule()
    def resume(self) -> None:
        paused = self.store.load().paused
        try:
            self.store.resume(reason="all clear", actor="sre")
        except CanaryRequestError:
            assert not paused
        else:
            assert paused
            self.changes += 1

    @rule(point=st.sampled_from(CRASH_POINTS), value=st.sampled_from(POLICY.steps))
    def crash_during_manual_change(self, point: str, value: float) -> None:
        self.crash_point = point
        try:
            self.store.apply(value, reason="crashing change", actor="sre")
        except Crash:
            self.changes += APPLIED_IF_CRASHED_AT[point]
        else:  # pragma: no cover - every point is on the write path
            raise AssertionError(f"fault point {point} was never reached")
        self._restart()

    @precondition(lambda self: any(True for _ in self.dir.glob("canary_state.json")))
    @rule(dt=st.sampled_from([60.0, 200.0]))
    def crash_during_tuning(self, dt: float) -> None:
        self.crash_point = "after_temp_write"
        self.now += dt
        green = Observation(gates={g.name: g.threshold for g in POLICY.gates}, at=self.now)
        self.source.next = green
        # the machine is pure, so the test knows what the tuner is about to persist
        expected = decide(POLICY, self.store.load(), green, self.now)
        try:
            out = self.tuner.check_and_tune()
        except Crash:
            # an audited change is rolled forward on restart; a counters-only write is lost
            self.changes += expected.changes_sampling
        else:
            self.crash_point = None
            self.changes += out["applied"]
        self._restart()

    @invariant()
    def audit_verifies_and_counts_every_change(self) -> None:
        assert self.store.verify_audit() == self.changes

    @invariant()
    def state_is_valid_and_matches_the_log(self) -> None:
        state = self.store.load()
        assert state.sampling in POLICY.steps
        records = self.store.history()
        if records:
            assert state.sampling == records[-1].new
            assert state.paused == records[-1].paused
            assert state.audit_head == records[-1].hash


CanaryMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
TestCanaryMachine = CanaryMachine.TestCase
