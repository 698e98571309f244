"""``selfslo demo``: the whole loop on one machine, with a live status view, until Ctrl-C.

    $ selfslo demo                      # Ctrl-C to stop
    $ selfslo demo --duration 60        # stop by itself after a minute

What runs (everything on 127.0.0.1, everything stopped and removed on exit):

* **a heartbeat driver** -- a thread that plays SELF scenarios in a loop
  (``steady`` -> ``coherence_drop`` -> ``steady`` -> ``stress_spike`` ->
  ``steady`` -> ``canary_regression``) for eight tokens (three of them inside
  a 5% canary), appending each heartbeat to the JSON Lines log *and* exporting it
  through a :class:`~pytest_selfslo.metrics.exporter.SelfMetricsExporter`, plus the two
  stability gauges the canary gates read;
* **the operator API** (uvicorn) serving ``/self/health``, ``/self/canary``
  and the exporter at ``/metrics/exp``;
* **a real Prometheus** when the ``prometheus`` binary is installed (or,
  with ``--prometheus auto``, Docker can run ``prom/prometheus``),
  scraping ``/metrics/exp`` every second and evaluating the project's alert
  rules rendered with a time scale (``--scale 60``: 5m windows become 5s),
  else the **embedded engine** fed with the same samples;
* **the canary tuner** every ``--tune-every`` seconds, with the policy scaled
  the same way (10m gates and dwell become 10s), applying its decisions. The
  policy has a baseline comparison gate (``compare:`` on coherence, window
  scaled too, ``min_samples`` 30): the fleet-wide ``coherence_drop`` passes it
  (the alerts roll back), the ``canary_regression`` phase -- coherence ~0.86
  for the tokens inside the canary only, every absolute gate still green --
  fails it.
  A rollback pauses the canary; when the driver is back on ``steady`` the
  demo resumes it through ``POST /self/canary/resume``, like an operator.

The status view redraws every ``--refresh`` seconds: scenario phase, canary
sampling, gate values, the comparison's statistics (U, p, drop, n per
cohort, verdict), firing alerts, the last audit records and ``/self/health``. Exit status 0 on Ctrl-C or after ``--duration``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pytest_selfslo._core.errors import ConfigError, PrometheusUnavailable
from pytest_selfslo._core.safetext import printable

if TYPE_CHECKING:
    from pytest_selfslo.canary.policy import CanaryPolicy

__all__ = ["DEMO_COMPARE", "PHASES", "DemoDriver", "configure", "run", "scaled_policy"]

#: (scenario, ticks) played in a loop by the driver; ``canary_regression`` is ``steady`` with
#: the canary cohort's coherence at ~0.86
PHASES: tuple[tuple[str, int], ...] = (
    ("steady", 40), ("coherence_drop", 24), ("steady", 30), ("stress_spike", 30), ("steady", 30),
    ("canary_regression", 40))
#: tok-e, tok-f and tok-y are inside a 5% canary (murmur3 bucket < 0.05); tok-b joins at 25%
TOKENS = ("tok-a", "tok-b", "tok-c", "tok-d", "tok-e", "tok-f", "tok-n", "tok-y")
#: the demo policy's comparison gate (its window is scaled with the rest of the policy)
DEMO_COMPARE = {"metric": "coherence", "direction": "higher_is_better", "alpha": 0.05,
                "min_samples": 30, "max_relative_drop": 0.03, "window": "10m"}


def scaled_policy(policy: CanaryPolicy, scale: float) -> CanaryPolicy:
    """``policy`` with every gate window and dwell divided by ``scale`` (10m -> 10s at 60)."""
    from pytest_selfslo._core.durations import parse_duration
    from pytest_selfslo.lint.render import format_duration

    gates = []
    for gate in policy.gates:
        window = format_duration(parse_duration(gate.window) / 1000 / scale)  # ms -> s
        old = f"[{gate.window}]"
        if old not in gate.expr:
            raise ConfigError(f"gate {gate.name}: cannot scale {gate.expr!r}: expected the "
                              f"window {old} in the expression")
        gates.append(dataclasses.replace(gate, expr=gate.expr.replace(old, f"[{window}]"),
                                         window=window))
    compare = policy.compare
    if compare is not None:
        window = format_duration(parse_duration(compare.window) / 1000 / scale)
        compare = dataclasses.replace(compare, window=window)
    return dataclasses.replace(policy, gates=tuple(gates), compare=compare,
                               min_dwell=tuple(d / scale for d in policy.min_dwell))


class DemoDriver(threading.Thread):
    """Plays :data:`PHASES` forever: log + exporter + stability gauges, one tick per ``tick`` s.

    Samples also go to ``storage`` (an embedded-engine store) when given.
    """

    def __init__(self, log_path: Path, exporter: Any, registry: Any, *, tick: float,
                 storage: Any = None, seed: int = 0,
                 sampling: Callable[[], float] = lambda: 0.05) -> None:
        super().__init__(name="selfslo-demo-driver", daemon=True)
        from prometheus_client import Gauge

        from pytest_selfslo.heartbeat import HeartbeatLog

        self.log = HeartbeatLog(log_path)
        self.exporter = exporter
        self.tick = tick
        self.storage = storage
        #: the last samples (labels, ms, value) for re-evaluating rules on a fresh store
        self.recent: deque[tuple[dict[str, str], int, float]] = deque(maxlen=20_000)
        self.seed = seed
        #: the canary sampling in force (the canary_regression phase hurts only those tokens)
        self.sampling = sampling
        self.stop = threading.Event()
        self.phase = PHASES[0][0]
        self.phase_tick = 0
        #: ticks whose heartbeats are written (log, exporter, storage)
        self.played = 0
        self.lock = threading.Lock()
        self.stability = Gauge("stability_score_ema", "Demo service stability (EMA)",
                               registry=registry)
        self.oscillation = Gauge("oscillation_rate", "Demo service oscillation rate",
                                 registry=registry)

    def _phase_heartbeats(self, scenario: str, ticks: int, cycle: int) -> list[Any]:
        from pytest_selfslo.heartbeat import generate_heartbeats

        played = "steady" if scenario == "canary_regression" else scenario
        return generate_heartbeats(played, ticks * len(TOKENS), seed=self.seed + cycle,
                                   tokens=TOKENS)

    def run(self) -> None:
        cycle = 0
        try:
            while not self.stop.is_set():
                for scenario, ticks in PHASES:
                    planned = self._phase_heartbeats(scenario, ticks, cycle)
                    for i in range(ticks):
                        if self.stop.is_set():
                            return
                        with self.lock:
                            self.phase, self.phase_tick = scenario, i + 1
                        self._emit(planned[i * len(TOKENS):(i + 1) * len(TOKENS)], scenario)
                        with self.lock:
                            self.played += 1
                        self.stop.wait(self.tick)
                cycle += 1
        finally:
            self.log.close()

    def _emit(self, heartbeats: Sequence[Any], scenario: str) -> None:
        from pytest_selfslo.canary.bucketing import is_active
        from pytest_selfslo.heartbeat import Heartbeat

        now = time.time()
        # a release that regresses only the canary: the controller's own health stays fine
        healthy = scenario in ("steady", "canary_regression")
        stability, oscillation = (0.92, 0.0) if healthy else (0.62, 0.0)
        self.stability.set(stability)
        self.oscillation.set(oscillation)
        sampling = self._sampling() if scenario == "canary_regression" else 0.0
        for hb in heartbeats:
            coherence = hb.coherence
            if sampling and is_active(hb.token_id, sampling):
                coherence = round(coherence - 0.06, 4)  # ~0.92 -> ~0.86: above every threshold
            live = Heartbeat(ts=now, token_id=hb.token_id, coherence=coherence,
                             continuity=hb.continuity, presence=hb.presence, stress=hb.stress)
            self.log.append(live)
            self.exporter.update(live.token_id, live.coherence, live.continuity,
                                 live.presence, live.stress)
            for name in ("coherence", "continuity", "presence", "stress"):
                self._sample({"__name__": f"self_{name}", "token_id": live.token_id}, now,
                             getattr(live, name))
        self._sample({"__name__": "stability_score_ema"}, now, stability)
        self._sample({"__name__": "oscillation_rate"}, now, oscillation)

    def _sampling(self) -> float:
        try:
            return self.sampling()
        except Exception:  # a state being rewritten: no regression this tick
            return 0.0

    def _sample(self, labels: dict[str, str], now: float, value: float) -> None:
        """Feed the embedded engine (if any) and the recent-samples buffer."""
        if self.storage is None:
            return
        ts = round(now * 1000)
        with self.lock:
            self.storage.add_samples(labels, [ts], [value])
            self.recent.append((labels, ts, value))

    def where(self) -> tuple[str, int]:
        """Current scenario and tick within it."""
        with self.lock:
            return self.phase, self.phase_tick

    def ticks_played(self) -> int:
        """How many ticks' heartbeats are written so far."""
        with self.lock:
            return self.played


class _EmbeddedAlerts:
    """Firing alerts of the scaled rules, evaluated by the embedded engine on recent samples.

    Each call loads the driver's recent samples into a fresh store (so rule
    outputs never pile up in the live one) and evaluates the rule groups over
    the last ``history_s`` seconds at 1 s steps. The tuner and the status view
    both ask about once a second, so an answer less than ``reuse_s`` old is
    given again instead of evaluating twice.
    """

    def __init__(self, driver: DemoDriver, rules_text: str, history_s: float = 60.0,
                 reuse_s: float = 0.5) -> None:
        from pytest_selfslo.rulefmt.rulefile import groups_from_text

        self.driver = driver
        self.groups = groups_from_text(rules_text, "<demo rules>")
        self.history_s = history_s
        self.reuse_s = reuse_s
        self._last: tuple[float, list[dict[str, str]]] | None = None
        self._lock = threading.Lock()

    def __call__(self, at: float) -> list[dict[str, str]]:
        with self._lock:
            if self._last is not None and abs(at - self._last[0]) < self.reuse_s:
                return [dict(a) for a in self._last[1]]
            firing = self._evaluate(at)
            self._last = (at, firing)
            return [dict(a) for a in firing]

    def _evaluate(self, at: float) -> list[dict[str, str]]:
        import numpy as np

        from pytest_selfslo.alerting.ruleeval import evaluate_groups
        from pytest_selfslo.promql.storage import Storage
        from pytest_selfslo.rulefmt.model import AlertingRule, AlertState

        with self.driver.lock:
            recent = list(self.driver.recent)
        fresh = Storage()
        for labels, ts, value in recent:
            fresh.add_samples(labels, [ts], [value])
        end = round(at * 1000)
        steps = np.arange(end - round(self.history_s * 1000), end + 1, 1000, dtype=np.int64)
        run = evaluate_groups(self.groups, fresh, steps)
        firing: list[dict[str, str]] = []
        for _, rule in run.rules():
            if isinstance(rule, AlertingRule):
                firing += [dict(alert.labels) for alert in run.alerts_at(rule, len(steps) - 1)
                           if alert.state == AlertState.FIRING]
        return firing


@dataclasses.dataclass
class _Loop:
    """What the status view reads: the parts of a running demo."""

    driver: DemoDriver
    api_url: str
    token: str
    backend: str
    alerts: Any
    decisions: deque[dict[str, Any]]
    #: ticks played before the last decision started (``--frames`` waits on it)
    decided_on: int = -1
    progress: threading.Condition = dataclasses.field(default_factory=threading.Condition)


def _status(loop: _Loop, started: float, http: Any) -> str:
    """One frame of the status view."""
    phase, tick = loop.driver.where()
    try:
        health = http.get(f"{loop.api_url}/self/health").json()
        canary = http.get(f"{loop.api_url}/self/canary", params={"limit": 4}).json()
    except Exception as exc:  # the view must survive a slow or restarting API
        return printable(f"API unreachable: {exc}")
    state = canary["state"]
    lines = [
        f"selfslo demo  {time.time() - started:6.0f}s   API {loop.api_url}   "
        f"backend: {loop.backend}   (Ctrl-C to stop)",
        f"scenario   {phase} (tick {tick})",
        f"canary     sampling {state['sampling'] * 100:g}%   paused {state['paused']}   "
        f"version {state['version']}",
    ]
    last = loop.decisions[-1] if loop.decisions else None
    if last is not None:
        gates = "  ".join(f"{name}={_num(g.get('value'))}{'✓' if g.get('ok') else '✗'}"
                          for name, g in last.get("gates", {}).items())
        lines.append(f"gates      {gates}")
        lines.append(f"compare    {_comparison(last.get('comparison'))}")
        lines.append(f"decision   {last['action']} -> {last['next_canary']:g}")
        # every reason in full, one per line: alert names are never cut
        lines += [f"           {reason}" for reason in last.get("reasons", [])]
    try:
        firing = loop.alerts()
    except Exception as exc:
        firing = [{"alertname": f"(alerts unavailable: {exc})"}]
    counts: dict[str, int] = {}
    for alert in firing:
        name = str(alert.get("alertname"))
        counts[name] = counts.get(name, 0) + 1
    names = [f"{name} x{n}" if n > 1 else name for name, n in sorted(counts.items())]
    lines.append(f"firing     {', '.join(names) if names else 'none'}")
    avg = health.get("averages") or {}
    lines.append(f"health     heartbeats {health['heartbeat_count']}   " + "  ".join(
        f"{k} {_num(v)}" for k, v in avg.items()) + f"   slo {_slo(health.get('slo_status'))}")
    lines.append("audit      " + (" | ".join(
        f"#{r['seq']} {r['action']} {r['old']:g}->{r['new']:g} by {r['actor']}"
        for r in canary["audit"][-3:]) or "none yet"))
    # alert labels, reasons and actors come from outside: one screen line each, no escapes
    return "\n".join(printable(line) for line in lines)


def _decided_since(loop: _Loop, ticks: int, tuner: threading.Thread) -> bool:
    """Whether a decision started after ``ticks`` ticks were played (or the tuner is gone)."""
    return loop.decided_on > ticks or not tuner.is_alive()


def _slo(status: Any) -> str:
    """``coherence ok, continuity ok, stress MISSED`` from ``{"coherence_slo": True, ...}``."""
    if not isinstance(status, dict) or not status:
        return "n/a (no heartbeats yet)"
    return ", ".join(f"{str(name).removesuffix('_slo')} {'ok' if met else 'MISSED'}"
                     for name, met in status.items())


def _comparison(data: Any) -> str:
    """The last decision's comparison in one line: statistics and verdict."""
    from pytest_selfslo.canary.comparison import summarize

    if not isinstance(data, dict):
        return "none (no compare: block)"
    return f"{data.get('metric')} {summarize(data)}"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


@contextlib.contextmanager
def _workdir(data_dir: str | None) -> Iterator[Path]:
    if data_dir is not None:
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="selfslo-demo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo demo``."""
    parser.add_argument("--duration", type=float, default=None,
                        help="Stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument("--prometheus", choices=["auto", "local", "docker", "embedded"],
                        default="auto",
                        help="auto: the local prometheus binary, else Docker, else the "
                             "embedded engine; local: the binary only; docker: "
                             "prom/prometheus only; embedded: no server")
    parser.add_argument("--scale", type=float, default=60.0,
                        help="Time compression of rules and policy (default 60: 5m -> 5s)")
    parser.add_argument("--tick", type=float, default=0.5,
                        help="Seconds between heartbeats (default 0.5)")
    parser.add_argument("--tune-every", type=float, default=1.0,
                        help="Seconds between tuner decisions (default 1)")
    parser.add_argument("--refresh", type=float, default=1.0,
                        help="Seconds between status redraws (default 1)")
    parser.add_argument("--frames", type=int, default=None,
                        help="Stop after this many status frames; each after the first waits "
                             "for a tuner decision on heartbeats played since the last one")
    parser.add_argument("--data-dir", default=None,
                        help="Keep the log, state and audit here (default: a temp dir, removed)")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the demo until Ctrl-C or ``--duration``; everything started here is stopped."""
    if args.scale <= 0 or args.tick <= 0 or args.tune_every <= 0 or args.refresh <= 0 or (
            args.frames is not None and args.frames <= 0):
        raise ConfigError("--scale, --tick, --tune-every, --refresh and --frames must be "
                          "positive")
    stream = out or sys.stdout
    with _workdir(args.data_dir) as work, contextlib.ExitStack() as stack:
        return _run(args, work, stack, stream)


def _run(args: argparse.Namespace, work: Path, stack: contextlib.ExitStack,
         stream: TextIO) -> int:
    import httpx
    from prometheus_client import CollectorRegistry

    from pytest_selfslo.api.app import ApiConfig, create_app
    from pytest_selfslo.api.server import serve_in_thread
    from pytest_selfslo.canary.policy import DEFAULT_POLICY, policy_from_mapping
    from pytest_selfslo.canary.runtime import current_sampling
    from pytest_selfslo.canary.store import CanaryStore
    from pytest_selfslo.canary.tuner import CanaryAutoTuner
    from pytest_selfslo.lint.render import render_rules_yaml
    from pytest_selfslo.metrics.exporter import SelfMetricsExporter
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

    policy = scaled_policy(policy_from_mapping({"compare": DEMO_COMPARE}), args.scale)
    rules = render_rules_yaml(DEFAULT_SLO_SPEC, policy=DEFAULT_POLICY, scale=1 / args.scale)
    registry = CollectorRegistry()
    exporter = SelfMetricsExporter(registry=registry, enabled=True)
    token = secrets.token_urlsafe(24)
    app = create_app(ApiConfig(heartbeats=work / "identity.jsonl", state_dir=work / "state",
                               policy=policy, token=token, exporter=exporter, window=20))
    api_url = stack.enter_context(serve_in_thread(app))
    server, storage = _backend(args.prometheus, api_url, rules, stack)
    driver = DemoDriver(work / "identity.jsonl", exporter, registry, tick=args.tick,
                        storage=storage, sampling=lambda: current_sampling(work / "state"))
    driver.start()
    stack.callback(driver.join, 10)
    stack.callback(driver.stop.set)
    if server is not None:
        from pytest_selfslo.canary.source import PrometheusSource

        source: Any = PrometheusSource(server.url)
        stack.callback(source.close)
        alerts: Any = functools.partial(_server_firing, server)
        backend = f"prometheus {server.url}"
    else:
        from pytest_selfslo.canary.source import EmbeddedSource
        from pytest_selfslo.promql.engine import Engine

        embedded = _EmbeddedAlerts(driver, rules)
        source = EmbeddedSource(Engine(storage), alerts=embedded)
        alerts = functools.partial(_embedded_firing, embedded)
        backend = "embedded engine (no prometheus binary)"
    store = CanaryStore(work / "state", policy=policy)
    tuner = CanaryAutoTuner(source=source, policy=policy, store=store, auto_apply=True,
                            registry=CollectorRegistry(), actor="demo-tuner")
    loop = _Loop(driver, api_url, token, backend, alerts, deque(maxlen=20))
    stop = threading.Event()
    stack.callback(stop.set)

    def tune() -> None:
        while not stop.is_set():
            played = driver.ticks_played()
            try:
                loop.decisions.append(tuner.check_and_tune())
                _maybe_resume(loop, store, http)
            except Exception as exc:  # keep the demo alive; show the problem in the view
                loop.decisions.append({"action": "error", "next_canary": 0.0, "gates": {},
                                       "reasons": [f"{type(exc).__name__}: {exc}"]})
            with loop.progress:
                loop.decided_on = played
                loop.progress.notify_all()
            stop.wait(args.tune_every)

    http = stack.enter_context(httpx.Client(timeout=5))
    tuner_thread = threading.Thread(target=tune, name="selfslo-demo-tuner", daemon=True)
    tuner_thread.start()
    stack.callback(tuner_thread.join, 10)
    stack.callback(stop.set)
    started = time.time()
    tty = stream.isatty()
    frames = 0
    try:
        while args.duration is None or time.time() - started < args.duration:
            frame = _status(loop, started, http)
            stream.write(("\x1b[H\x1b[2J" if tty else "\n") + frame + "\n")
            stream.flush()
            frames += 1
            if frames == args.frames:
                break
            shown = driver.ticks_played()
            time.sleep(min(args.refresh, max(0.05, (args.duration or 1e9)
                                             - (time.time() - started))))
            if args.frames is not None:  # the next frame shows a decision on new heartbeats
                with loop.progress:
                    loop.progress.wait_for(functools.partial(_decided_since, loop, shown,
                                                             tuner_thread))
    except KeyboardInterrupt:
        stream.write("\nstopping...\n")
    return 0


def _backend(mode: str, api_url: str, rules: str, stack: contextlib.ExitStack
             ) -> tuple[Any, Any]:
    """A started local Prometheus scraping the API, or (None, an embedded storage)."""
    from pytest_selfslo.promql.storage import Storage

    if mode in ("auto", "local", "docker"):
        from pytest_selfslo.prometheus.managed import start_prometheus

        try:  # auto: the local binary, else prom/prometheus in Docker (host network)
            server = start_prometheus(mode)
        except PrometheusUnavailable:
            if mode != "auto":
                raise
        else:
            stack.callback(server.close)
            server.set_scrape_targets([api_url.removeprefix("http://")], interval="1s",
                                      metrics_path="/metrics/exp")
            server.load_rules(rules)
            return server, None
    return None, Storage()


def _server_firing(server: Any) -> list[dict[str, str]]:
    return [a["labels"] for a in server.alerts() if a["state"] == "firing"]


def _embedded_firing(embedded: _EmbeddedAlerts) -> list[dict[str, str]]:
    return embedded(time.time())


def _maybe_resume(loop: _Loop, store: Any, http: Any) -> None:
    """After a rollback paused the canary, resume it (via the API) once data is green again."""
    phase, tick = loop.driver.where()
    if phase != "steady" or tick < 10 or not store.load().paused:
        return
    http.post(f"{loop.api_url}/self/canary/resume",
              json={"reason": "demo: scores back to steady after the rollback"},
              headers={"Authorization": f"Bearer {loop.token}", "X-Actor": "demo-operator"})
