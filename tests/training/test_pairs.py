"""Real counters: the README's mapping onto NodeState, and pairwise accuracy for any scorer."""

import math

import numpy as np
import pytest

from training import counters
from training.evaluate import (
    PairAccuracy,
    counter_scorer,
    heuristic_scorer,
    pair_counts,
    peer_scorer,
    real_counter_pairs,
)

ROW = {
    "campaign": "C1", "replicas": "1", "rps": "500", "cpu_antagonists": "0", "l3_antagonists": "0",
    "membw_antagonists": "0", "p99_ms": "0.2", "baseline_p99_ms": "0.2", "sample_interval_s": "5.0",
    "ipc_mean": "0.8", "ipc_std": "0.1", "l3miss_m_mean": "0.2", "l3miss_m_std": "0.02", "l3miss_m_p95": "0.3",
    "l2miss_m_mean": "2.0", "l2miss_m_std": "0.1", "l2miss_m_p95": "2.5", "read_gb_mean": "4.0", "read_gb_std": "0.3",
    "read_gb_p95": "5.0", "write_gb_mean": "1.0", "write_gb_std": "0.4", "write_gb_p95": "1.5", "c0res_pct_mean": "2.0",
    "c0res_pct_std": "0.5", "c0res_pct_p95": "3.0",
}  # fmt: skip


def test_counters_map_onto_nodestate_as_the_data_readme_says() -> None:
    state = counters.node_state(ROW, "n")
    assert state is not None
    assert state.metrics["cpi"].mean == pytest.approx(1 / 0.8)
    assert state.metrics["cpi"].std == pytest.approx(0.1 / 0.64)
    assert state.metrics["cpi"].p95 == pytest.approx(1 / (0.8 - 0.16))
    assert state.metrics["llc_miss_rate"].mean == pytest.approx(0.1)
    assert state.metrics["memory_bandwidth_gbps"].mean == pytest.approx(1.0)
    assert state.metrics["memory_bandwidth_gbps"].std == pytest.approx(math.hypot(0.3, 0.4) / 5)
    assert state.metrics["cpu_utilization"].p95 == pytest.approx(0.03)
    assert set(state.metrics) == {"cpi", "llc_miss_rate", "memory_bandwidth_gbps", "cpu_utilization"}
    assert counters.node_state({**ROW, "ipc_mean": ""}, "n") is None


def group_rows() -> list[dict[str, str]]:
    return [
        {**ROW, "p99_ms": "0.2", "l3miss_m_mean": "0.1"},
        {**ROW, "p99_ms": "0.25", "l3miss_m_mean": "0.2"},
        {**ROW, "p99_ms": "1.0", "l3miss_m_mean": "0.6"},
        {**ROW, "p99_ms": "3.0", "l3miss_m_mean": "0.7"},
    ]


def test_pairs_are_tests_whose_p99_differ_by_half_or_more() -> None:
    (group,) = counters.groups(group_rows())
    assert sorted(group.pairs()) == [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def by_p99(states, pod):
    """A perfect scorer (it reads the answer from the group)."""
    (group,) = counters.groups(group_rows())
    return [-t.p99_ms for t in group.tests]


@pytest.mark.parametrize(
    ("scorer", "accuracy"),
    [
        pytest.param(by_p99, 1.0, id="a scorer that knows the answer"),
        pytest.param(lambda states, pod: [50.0] * len(states), 0.0, id="ties never count as a preference"),
        pytest.param(lambda states, pod: [float(i) for i in range(len(states))], 0.0, id="always the wrong way"),
    ],
)
def test_pairwise_accuracy_of_any_scorer(scorer, accuracy: float) -> None:
    groups = counters.groups(group_rows())
    assert real_counter_pairs(scorer, groups=groups, campaigns=None) == accuracy


def test_the_heuristic_reads_the_llc_miss_rate_of_the_real_rig() -> None:
    groups = counters.groups(group_rows())
    result = pair_counts(heuristic_scorer(), groups=groups, campaigns=None)
    assert result.pairs == 5
    assert result.accuracy >= 0.8


def test_only_held_out_campaigns_count_by_default() -> None:
    groups = counters.groups(group_rows())
    assert np.isnan(real_counter_pairs(by_p99, groups=groups))


def c0_rows(*c0: str) -> list[dict[str, str]]:
    return [{**ROW, "p99_ms": str(0.2 * 2**i), "c0res_pct_mean": m, "c0res_pct_p95": m} for i, m in enumerate(c0)]


def test_the_load_aware_peers_rank_measured_cpu_as_their_benchmark_policies_do() -> None:
    """C0 residency is the rig's CPU utilisation: LoadAware prefers the idler node, ties the nodes its integer
    score cannot tell apart, and filters one above its 65 % threshold; TargetLoadPacking packs."""
    (group,) = counters.groups(c0_rows("2.0", "2.3", "30.0", "70.0"))
    states = [t.state for t in group.tests]
    loadaware = list(peer_scorer("loadaware")(states, counters.NGINX))
    assert loadaware[0] == loadaware[1] > loadaware[2] > loadaware[3] == -math.inf
    packing = list(peer_scorer("trimaran-tlp")(states, counters.NGINX))
    assert packing[1] > packing[0]
    assert pair_counts(peer_scorer("loadaware"), groups=[group], campaigns=None) == PairAccuracy(6, 5, 1)


def test_one_counter_alone_prefers_its_lower_reading() -> None:
    groups = counters.groups(c0_rows("1.0", "5.0", "3.0"))
    assert pair_counts(counter_scorer("cpu_utilization"), groups=groups, campaigns=None) == PairAccuracy(3, 2, 0)
