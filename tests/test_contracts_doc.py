"""docs/contracts.md against the code: what the document promises is what the code reads and writes."""

import json
import re
from pathlib import Path

import pytest

from agent import exporter
from cluster import config, estimate, needs, nodestate
from cluster.config import DEFAULT_SCORE_WEIGHTS
from runtime import writer
from scoring.heuristic import Strategy
from scoring.tiers import REASON_LIMIT, Tier

DOC = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
TEXT = DOC.read_text(encoding="utf-8")
PREFIX = "ai-scheduler.io/"


def section(number: int) -> str:
    """The text of `## <number>. ...` up to the next section."""
    found = re.search(rf"^## {number}\. .*?(?=^## |\Z)", TEXT, flags=re.M | re.S)
    assert found, f"docs/contracts.md has no section {number}"
    return found.group(0)


def code_names(text: str) -> list[str]:
    """Every `backquoted` word outside code blocks, in order."""
    return re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))


def metric_rows() -> dict[str, tuple[float, float | None, bool]]:
    """§1's metric table as name -> (low, high, low_open)."""
    rows = {}
    for name, unit in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section(1), flags=re.M):
        if bounded := re.search(r"(\d+)\.\.(\d+)", unit):
            rows[name] = (float(bounded.group(1)), float(bounded.group(2)), False)
        else:
            bound = re.search(r"(>=|>) (\d+)", unit)
            assert bound, f"no range in the row of {name}: {unit!r}"
            rows[name] = (float(bound.group(2)), None, bound.group(1) == ">")
    return rows


def test_the_metric_table_lists_the_code_s_metrics_in_order_with_their_ranges() -> None:
    rows = metric_rows()
    assert list(rows) == list(nodestate.METRIC_NAMES)
    for name, (low, high, low_open) in rows.items():
        spec = nodestate.METRICS[name]
        assert (spec.low, spec.high, spec.low_open) == pytest.approx((low, high, low_open)), name


def test_the_nodestate_example_is_one_the_code_accepts_whole() -> None:
    example = json.loads(re.search(r"```json\n(.*?)```", section(1), flags=re.S).group(1))
    assert example["version"] == nodestate.VERSION
    assert set(example["sources"]) == set(nodestate.SOURCES)
    problems: list[str] = []
    state = nodestate.parse(example, node=example["node"], warn=lambda *args: problems.append(str(args)))
    assert problems == []
    for name, stats in example["metrics"].items():
        assert set(stats) == set(nodestate.STATS)
        assert state.value(name, "p95") == pytest.approx(stats["p95"])


@pytest.mark.parametrize(
    ("number", "keys"),
    [
        pytest.param(1, {nodestate.ANNOTATION}, id="section 1 names the NodeState annotation the agent writes"),
        pytest.param(
            2,
            {needs.CLASS_ANNOTATION, needs.SENSITIVITY_ANNOTATION, needs.NOISY_ANNOTATION, needs.P99_ANNOTATION},
            id="section 2 names the needs annotations the scheduler reads",
        ),
        pytest.param(
            3,
            {writer.TIER, writer.REASON, writer.SCORE, writer.RECOMMENDED},
            id="section 3 names the decision annotations the scheduler writes",
        ),
    ],
)
def test_each_section_s_annotation_keys_are_the_code_s(number: int, keys: set[str]) -> None:
    assert {key for key in code_names(section(number)) if key.startswith(PREFIX) and key != PREFIX} == keys


def test_the_needs_table_offers_the_code_s_classes_and_dimensions() -> None:
    rows = {
        key: values for key, values in re.findall(r"^\| `(ai-scheduler\.io/[\w-]+)` \| ([^|]+) \|", section(2), re.M)
    }
    assert code_names(rows[needs.CLASS_ANNOTATION]) == [c.value for c in needs.WorkloadClass]
    assert code_names(rows[needs.SENSITIVITY_ANNOTATION]) == [d.value for d in needs.DIMENSIONS]
    assert code_names(rows[needs.NOISY_ANNOTATION]) == [d.value for d in needs.DIMENSIONS]


def test_the_tiers_strategies_and_reason_limit_are_the_code_s() -> None:
    written = re.search(r"`ai-scheduler\.io/decision-tier` \(([^)]+)\)", section(3)).group(1)
    assert code_names(written) == [t.value for t in Tier]
    assert f"at most {REASON_LIMIT} characters" in section(3)
    usage = section(4)
    assert f"--tier {'|'.join(['auto', *(t.value for t in Tier)])}" in usage
    assert f"--strategy {'|'.join(s.value for s in Strategy)}" in usage


def test_the_plugin_scores_are_named_as_the_heuristic_names_its_plugins() -> None:
    named = re.search(r"under kube-scheduler's plugin names (.*?)\.", section(4)).group(1)
    assert set(code_names(named)) == set(DEFAULT_SCORE_WEIGHTS)


def test_the_prometheus_gauges_carry_the_agent_s_prefix() -> None:
    gauges = {name for name in code_names(section(1)) if name.startswith("ai_scheduler_node_")}
    assert f"{exporter.PREFIX}<metric>" in {g.split("{")[0] for g in gauges}
    assert {exporter.TIMESTAMP, exporter.WINDOW, exporter.SOURCE_UP} <= {g.split("{")[0] for g in gauges}


def test_the_environment_variables_and_defaults_are_the_code_s() -> None:
    environment = section(6)
    listed = {name for name in code_names(environment) if re.fullmatch(r"[A-Z][A-Z_]+", name)}
    assert listed == {*config.ENV_KEYS, config.TOKEN_ENV}
    assert f"`{config.DEFAULT_MODEL}`" in environment
    default_name = config.SchedulerSettings.model_fields["name"].default
    assert f"Scheduler name: `{default_name}`" in TEXT


def test_the_estimate_in_decide_names_the_counters_the_estimate_raises() -> None:
    described = re.search(r"`estimate` \(present when.*?\. Other keys", section(4), flags=re.S).group(0)
    assert set(estimate.NOISY_METRICS) <= set(code_names(described))
    assert "`cpu_utilization`" in described and "`pods`" in described
