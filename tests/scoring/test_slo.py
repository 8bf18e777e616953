"""SLO-aware placement: `ai-scheduler.io/p99-target-ms` moves the local tiers' pick, and says so when it cannot."""

from typing import Any

import numpy as np
import pytest

from cluster.config import Settings
from cluster.nodestate import NodeState, Summary
from cluster.snapshot import Snapshot
from runtime.assemble import build_decider
from scoring import slo
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.runtime import KUBE_SCORE_WEIGHTS
from sim import dataset, workloads
from telemetry.stats import Stats
from tests.builders import make_node, make_pod

NOW = 1_800_000_000.0
TARGET = 2.0
HALF_TARGET = TARGET / slo.TARGET_HEADROOM  # the predicted P99 at no slowdown
H = slo.TARGET_HEADROOM  # the slowdown at which the predicted P99 reaches the target


@pytest.mark.parametrize(
    ("target", "slowdown", "scores", "best", "expected", "unmet"),
    [
        pytest.param(None, [5.0, 1.0], [90, 10], 0, None, False, id="no target leaves the tier's pick alone"),
        pytest.param(TARGET, [1.0, 1.1], [90, 10], 0, 0, False, id="a pick that meets the target stands"),
        pytest.param(
            TARGET, [1.6 * H, 0.6 * H, 0.4 * H], [90, 60, 10], 0, 1, False, id="the best-scored node that meets it"
        ),
        pytest.param(
            TARGET, [2 * H, 1.6 * H, 1.2 * H], [90, 60, 10], 0, 2, True, id="none meets it: the best predicted"
        ),
        pytest.param(TARGET, [2 * H, 0.95 * H], [90, 10], 0, 1, False, id="meeting it without margin beats missing it"),
        pytest.param(
            TARGET,
            [2 * H, 2 * H, 2 * H],
            [70, 90, 80],
            1,
            1,
            True,
            id="none meets it and the predictions tie: the best-scored, not the first in node order",
        ),
        pytest.param(
            TARGET,
            [2 * H, 2.016 * H, 1.2 * H, 1.208 * H],
            [95, 90, 10, 60],
            0,
            3,
            True,
            id="none meets it: the best-scored of the nodes within 1 % of the lowest prediction",
        ),
    ],
)
def test_the_rule(target, slowdown, scores, best, expected, unmet):
    verdict = slo.apply(target, np.array(slowdown), np.array(scores, dtype=float), best)
    if expected is None:
        assert verdict is None
        return
    assert (verdict.best, verdict.unmet) == (expected, unmet)
    assert verdict.predicted_ms == pytest.approx(HALF_TARGET * slowdown[expected])


def test_the_pressure_reads_as_the_transformer_s_score_scale():
    assert slo.pressure_slowdown(np.array([0.0, 0.5, 1.0])) == pytest.approx([1.0, 5.0, 25.0])


Levels = dict[str, tuple[float, float, float]]
LEVELS: Levels = {"loud": (0.25, 0.7, 0.7), "mid": (0.15, 0.6, 0.6), "quiet": (0.05, 0.1, 0.2)}
"""llc_miss_rate, memory_bandwidth_ratio, cpu_utilization per node: only "quiet" leaves a 1-2 ms target room.
For the transformer "mid" is close to the margin: the shipped weights read it above, and a retrained recipe that read
it at 2.67x (the margin is 2.81x) failed this test and was not shipped (model card, Known limitations)."""
PILED = {**LEVELS, "loud": (0.35, 0.9, 0.9), "mid": (0.25, 0.75, 0.8)}
"""The same nodes louder, for the case where no node may meet the target: at `LEVELS` "mid"'s predicted slowdown
sits near the headroom, and whether it meets a 1 ms target there turns on the seeds a model was trained with."""
PREFER_CACHE = {
    "affinity": {
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "cache"}},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }
}


def state(name: str, levels: Levels) -> NodeState:
    llc, membw, cpu = levels[name]
    metrics = {
        "cpu_utilization": cpu,
        "llc_miss_rate": llc,
        "llc_occupancy_ratio": 0.5,
        "memory_bandwidth_ratio": membw,
        "psi_cpu_some": 1.0,
        "psi_io_some": 0.5,
    }
    return NodeState(name, timestamp=NOW - 10, metrics={k: Summary(v, 0.01, v) for k, v in metrics.items()})


def cluster(names: tuple[str, ...], levels: Levels = LEVELS) -> Snapshot:
    """The nodes, with a cache pod on "mid" that the web pod prefers to sit beside (so the tiers lean to "mid")."""
    nodes = [make_node(n, cpu="16", memory="64Gi") for n in names]
    cache = make_pod("cache-0", node="mid", cpu="100m", labels={"app": "cache"})
    return Snapshot.build(nodes, [cache], states={n: state(n, levels) for n in names})


def web(target: float | None) -> Any:
    annotations = {"ai-scheduler.io/workload-class": "latency-critical", "ai-scheduler.io/sensitivity": "llc,membw,cpu"}
    if target is not None:
        annotations["ai-scheduler.io/p99-target-ms"] = f"{target:g}"
    return make_pod("web", cpu="1", memory="1Gi", annotations=annotations, spec=PREFER_CACHE)


TIERS = ("heuristic", "transformer")


MEETS = "meets the 1 ms P99 target with margin"
MISSES = "no node meets the 1 ms P99 target; best predicted"
ALL, LOUD = ("loud", "mid", "quiet"), ("loud", "mid")


CASES = [
    pytest.param(ALL, LEVELS, 1.0, "quiet", False, MEETS, id="a target met by one node picks it"),
    pytest.param(LOUD, PILED, 1.0, "mid", True, MISSES, id="a target met by none picks the best and says so"),
    pytest.param(ALL, LEVELS, None, "mid", False, "", id="no target keeps the preferred node"),
]


@pytest.mark.parametrize(
    ("tier", "nodes", "levels", "target", "node", "unmet", "says"),
    [pytest.param(tier, *case.values, id=f"{tier}-{case.id}") for tier in TIERS for case in CASES],
)
def test_the_slo_rule_per_tier(tier, nodes, levels, target, node, unmet, says):
    decision = build_decider(Settings(), tier=tier).decide(web(target), cluster(nodes, levels))
    assert decision.tier.value == tier
    assert (decision.node, decision.slo_unmet) == (node, unmet), decision.reason
    assert decision.reason.startswith(says)
    assert ("P99 target" in decision.reason) is (target is not None)


def test_a_pod_placed_against_its_target_counts_on_metrics():
    stats = Stats()
    stats.decided(tier="transformer", placed=True, latency_ms=1.0, slo_unmet=True)
    stats.decided(tier="transformer", placed=True, latency_ms=1.0)
    stats.decided(tier="heuristic", placed=False, latency_ms=1.0, slo_unmet=True)
    assert stats.registry.get_sample_value("ai_scheduler_slo_unmet_total", {"tier": "transformer"}) == 1
    assert stats.registry.get_sample_value("ai_scheduler_slo_unmet_total", {"tier": "heuristic"}) is None


def test_a_profile_blind_to_interference_keeps_its_pick():
    """kube-scheduler's own weights (the benchmark's `default` and the peers) have no InterferenceAware to read."""
    blind = Decider(heuristic=HeuristicTier(weights=KUBE_SCORE_WEIGHTS))
    decision = blind.decide(web(1.0), cluster(LOUD))
    assert not decision.slo_unmet
    assert "P99 target" not in decision.reason


def test_the_headroom_reads_the_training_profiles_only():
    """A held-out profile's target and P99 alone must not shape a serving constant (they are reported on)."""
    ratios = [
        p.p99_target_ms / p.p99_ms
        for p in workloads.PROFILES.values()
        if p.latency_critical and p.p99_target_ms is not None and p.name not in dataset.EVAL_PROFILES
    ]
    assert len(ratios) == 3
    assert float(np.median(ratios)) == pytest.approx(slo.TARGET_HEADROOM, rel=1e-3)
