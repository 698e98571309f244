"""Hypothesis strategies for random alerting and recording rules (mutation-testing tests).

Expressions are built from the constructs the mutation operators touch --
thresholds, comparisons with and without ``bool``, ``by``/``without``/``on``/
``ignoring``, range windows, offsets, matchers, ``rate``/``irate``/``increase``,
``absent``, ``and``/``or``/``unless`` -- over a few metric names that
:data:`INPUT_SERIES` also provides, so every rule can be run against a test.
"""

from __future__ import annotations

from hypothesis import strategies as st

METRICS = ("x_total", "y_ratio", "z")
LABELS = ("job", "instance")
VALUES = ("api", "db", "a.b")
#: a test group's input: every metric for two jobs and two instances (counters and gauges)
INPUT_SERIES = [
    (f'{m}{{job="{job}", instance="{inst}"}}', values)
    for m, values in (("x_total", "0+10x40"), ("y_ratio", "0.2 0.9 0.5 0.95x37"),
                      ("z", "1 2 3 _ 5x36"))
    for job in ("api", "db") for inst in ("i1", "i2")]

durations = st.sampled_from(["1m", "90s", "5m", "10m", "1h"])


@st.composite
def selectors(draw: st.DrawFn, metric: str | None = None) -> str:
    name = metric or draw(st.sampled_from(METRICS))
    matchers = draw(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(["=", "!=", "=~"]),
                                       st.sampled_from(VALUES)),
                             max_size=2, unique_by=lambda m: m[0]))
    text = name + ("{" + ", ".join(f'{k}{op}"{v}"' for k, op, v in matchers) + "}"
                   if matchers else "")
    if draw(st.booleans()) and draw(st.booleans()):
        text += f" offset {draw(durations)}"
    return text


@st.composite
def range_calls(draw: st.DrawFn) -> str:
    func = draw(st.sampled_from(["rate", "irate", "increase", "avg_over_time", "max_over_time",
                                 "changes", "min_over_time"]))
    metric = "x_total" if func in ("rate", "irate", "increase") else None
    sel = draw(selectors(metric))
    if " offset " in sel:
        base, offset = sel.split(" offset ")
        return f"{func}({base}[{draw(durations)}] offset {offset})"
    return f"{func}({sel}[{draw(durations)}])"


@st.composite
def instants(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 4 if depth < 2 else 1))
    if choice == 0:
        return draw(selectors())
    if choice == 1:
        return draw(range_calls())
    inner = draw(instants(depth + 1))
    if choice == 2:
        op = draw(st.sampled_from(["sum", "avg", "max", "min", "count"]))
        labels = draw(st.lists(st.sampled_from(LABELS), max_size=2, unique=True))
        mod = draw(st.sampled_from(["by", "without"]))
        return f"{op} {mod} ({', '.join(labels)}) ({inner})" if labels else f"{op}({inner})"
    if choice == 3:
        return f"({inner})"
    return f"{inner} * {draw(st.sampled_from(['2', '100', '0.5']))}"


thresholds = st.sampled_from(["0", "0.5", "0.8", "1", "14.4", "100"])


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 3 if depth < 1 else 1))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    if choice == 0:
        bool_ = " bool" if draw(st.booleans()) and not draw(st.booleans()) else ""
        return f"{draw(instants())} {op}{bool_} {draw(thresholds)}"
    if choice == 1:
        return f"absent({draw(selectors())})"
    if choice == 2:
        left = draw(selectors("y_ratio"))
        right = draw(selectors("z"))
        match = draw(st.sampled_from(["", " on (job, instance)", " ignoring (instance)"]))
        return f"{left} {op}{match} {right}"
    set_op = draw(st.sampled_from(["and", "or", "unless"]))
    match = draw(st.sampled_from(["", " on (job)", " ignoring (instance)"]))
    return f"{draw(conditions(depth + 1))} {set_op}{match} {draw(conditions(depth + 1))}"


@st.composite
def rules(draw: st.DrawFn) -> dict[str, object]:
    """One rule as a rule-file mapping."""
    if draw(st.booleans()):
        rule: dict[str, object] = {"alert": draw(st.sampled_from(["Down", "SloBurn", "High"])),
                                   "expr": draw(conditions())}
        if draw(st.booleans()):
            rule["for"] = draw(durations)
        if draw(st.booleans()):
            rule["keep_firing_for"] = draw(st.sampled_from(["2m", "10m"]))
        rule["labels"] = {"severity": draw(st.sampled_from(["warning", "critical"]))}
        rule["annotations"] = {"summary": "{{ $labels.job }} is at {{ $value | humanize }}"}
    else:
        rule = {"record": draw(st.sampled_from(["job:x:rate5m", "job:y:avg"])),
                "expr": draw(st.one_of(instants(), conditions()))}
        if draw(st.booleans()):
            rule["labels"] = {"team": draw(st.sampled_from(["sre", "db"]))}
    return rule


@st.composite
def rule_files(draw: st.DrawFn) -> dict[str, object]:
    """A rule file with one group of 1 to 3 rules."""
    return {"groups": [{"name": "random", "rules": draw(st.lists(rules(), min_size=1,
                                                                 max_size=3))}]}
