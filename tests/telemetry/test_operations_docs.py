"""docs/operations.md documents every metric the scheduler and the agent expose, with its labels, and every
structured log event with its fields; and names no metric or event that does not exist."""

import ast
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from agent.exporter import PREFIX, NodeStateCollector
from cluster.nodestate import METRICS, NodeState, Summary
from scoring.tiers import Decision, Tier
from telemetry.stats import Stats

DECISION = Decision("p", "n", Tier.LLM, "why", {}, {}, 1.0, fallbacks={"llm": "busy"}, score=50.0)
"""A decision with every optional headline field set."""
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "operations.md"
PRODUCT = ("cluster", "telemetry", "scoring", "llm", "runtime", "agent")
ROW = re.compile(r"^\| `([^`]+)` \|(.*)$", re.MULTILINE)
METRIC_NAME = re.compile(r"\b(?:ai_)?scheduler_[a-z0-9_]*[a-z0-9]")
SUFFIXES = ("_total", "_created", "_bucket", "_sum", "_count")


def section(title: str) -> str:
    """The text of one `## title` section of the guide."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def rows(text: str) -> dict[str, str]:
    """First cell (a code span) → the rest of the row, for every table row in `text`."""
    return {name: rest for name, rest in ROW.findall(text)}


def labels_of(rest: str) -> set[str]:
    """The labels cell of a metrics table row (| type | labels | meaning |)."""
    cells = [cell.strip() for cell in rest.split(" | ")]
    return set(re.findall(r"`([^`]+)`", cells[1]))


def scheduler_metrics() -> dict[str, set[str]]:
    """Exposed name → label names, from the registry the scheduler serves on /metrics."""
    stats = Stats()
    found = {}
    for metric in vars(stats).values():
        if isinstance(metric, MetricWrapperBase):
            name = metric._name + ("_total" if metric._type == "counter" else "")
            found[name] = set(metric._labelnames)
    return found


def agent_metrics() -> dict[str, set[str]]:
    """Exposed name → label names, from the agent's collector over a NodeState with every metric known."""
    collector = NodeStateCollector()
    everything = {name: Summary(0.5, 0.1, 0.6) for name in METRICS}
    collector.update(NodeState(node="n", timestamp=1.0, window_seconds=30.0, metrics=everything, sources={}))
    return {family.name: set(family.samples[0].labels) for family in collector.collect()}


def test_every_scheduler_metric_is_documented_with_its_labels():
    documented = rows(section("Metrics"))
    for name, labels in scheduler_metrics().items():
        assert name in documented, f"{name} is served on /metrics but not documented in docs/operations.md"
        assert labels_of(documented[name]) == labels, f"{name}: labels differ from the registry's {sorted(labels)}"


def test_every_agent_metric_is_documented_with_its_labels():
    documented = rows(section("Metrics"))
    for name, labels in agent_metrics().items():
        row = name if name in documented else f"{PREFIX}<metric>"
        assert row in documented, f"the agent's {name} is not documented in docs/operations.md"
        assert labels_of(documented[row]) == labels, f"{name}: labels differ from the exporter's {sorted(labels)}"


def test_the_guide_names_no_metric_that_does_not_exist():
    known = set(scheduler_metrics()) | set(agent_metrics())
    known |= {name.removesuffix("_total") for name in known}
    for name in set(METRIC_NAME.findall(DOCS.read_text(encoding="utf-8"))):
        base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
        if name == PREFIX.rstrip("_") or name + "_" == PREFIX:
            continue  # `ai_scheduler_node_<metric>`: the family pattern
        assert name in known or base in known, f"docs/operations.md names {name}, which nothing exposes"


# -- structured log lines -------------------------------------------------------------------------------


def _is_fields_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "fields")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "fields")
    )


def _bound_dicts(function: ast.AST, name: str) -> list[ast.Dict]:
    """The dict literals assigned to `name` in `function`."""
    return [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Dict)
        and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]


def _dict_keys(function: ast.AST, name: str) -> set[str] | None:
    """Keys of the dict literal bound to `name` in `function`, plus keys later set by subscript; None if none."""
    dicts = _bound_dicts(function, name)
    if not dicts:
        return None
    keys = {k.value for d in dicts for k in d.keys if isinstance(k, ast.Constant)}
    for d in dicts:  # `**decision.summary()`: the decision's headline, every field it can hold
        for key, value in zip(d.keys, d.values, strict=True):
            call = value if isinstance(value, ast.Call) else None
            if key is None and call and isinstance(call.func, ast.Attribute) and call.func.attr == "summary":
                keys |= set(DECISION.summary())
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            keys |= {
                target.slice.value
                for target in node.targets
                if isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and target.value.id == name
                and isinstance(target.slice, ast.Constant)
            }
    return keys


def _event_in(function: ast.AST, name: str) -> str | None:
    """The constant `"event"` value of the dict literal bound to `name`."""
    for bound in _bound_dicts(function, name):
        for key, value in zip(bound.keys, bound.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "event" and isinstance(value, ast.Constant):
                return value.value
    return None


def logged_events() -> dict[str, set[str]]:
    """event → field names, for every structured log line in the product code (`extra=fields(event=..., ...)`)."""
    events: dict[str, set[str]] = {}
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for call in filter(_is_fields_call, ast.walk(function)):
                    names: set[str] = set()
                    event = None
                    for keyword in call.keywords:
                        if keyword.arg == "event" and isinstance(keyword.value, ast.Constant):
                            event = keyword.value.value
                        elif keyword.arg is not None:
                            names.add(keyword.arg)
                        elif isinstance(keyword.value, ast.Name):
                            spread = _dict_keys(function, keyword.value.id)
                            if spread is None and keyword.value.id == "summary":
                                spread = set(Stats().summary())  # the stats line: Stats.summary()'s keys
                            assert spread is not None, f"{path}: cannot tell which fields **{keyword.value.id} logs"
                            if "event" in spread:
                                event = _event_in(function, keyword.value.id)
                            names |= spread - {"event"}
                    if event is not None:
                        events.setdefault(event, set()).update(names)
    return events


def test_the_scan_finds_the_known_log_lines():
    events = logged_events()
    assert {"decision", "stats", "breaker", "llm_call_failed", "llm_answer_rejected", "llm_retry"} <= set(events)
    assert {"pod", "node", "tier", "score", "latency_ms", "reason", "fallbacks"} <= events["decision"]


def test_every_structured_log_line_is_documented_with_its_fields():
    documented = rows(section("Logs"))
    for event, names in logged_events().items():
        assert event in documented, f"log event {event!r} is not documented in docs/operations.md"
        for name in names:
            assert f"`{name}`" in documented[event], f"log event {event!r}: field {name!r} is not documented"


def test_the_guide_documents_no_log_event_that_does_not_exist():
    table = section("Logs").split("| `event` |", 1)[1].split("\n\n", 1)[0]
    assert set(rows(table)) == set(logged_events())
