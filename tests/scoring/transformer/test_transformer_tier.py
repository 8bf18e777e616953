"""The tier in the chain: scores and regimes, the latency budget and its breaker, hardened input and output."""

import json

import numpy as np
import pytest

from cluster import estimate
from cluster.clock import FakeClock
from scoring.breaker import CircuitBreaker, State, reporting_listener
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.tiers import Tier, TierDeclinedError
from scoring.transformer import scores
from scoring.transformer.model import Predicted, Scorer
from scoring.transformer.tier import Scores, TransformerTier, log
from telemetry.review import review
from telemetry.stats import Stats
from tests.builders import make_pod
from tests.scoring.transformer.helpers import (
    LATENCY_CRITICAL,
    QUIET,
    STREAMED,
    THRASHED,
    FakePredictor,
    latency_critical,
    request,
    shipped,
    snapshot,
    state,
)

BUDGET_MS = 45.0


def tier(predictor: FakePredictor, clock: FakeClock, *, threshold: int = 3, stats: Stats | None = None):
    breaker = CircuitBreaker(
        name="transformer",
        failure_threshold=threshold,
        reset_timeout=60,
        clock=clock,
        listener=reporting_listener(stats or Stats(), "transformer", "transformer latency breaker", log),
    )
    return TransformerTier(predictor=predictor, clock=clock, budget_ms=BUDGET_MS, breaker=breaker)


def three_nodes():
    return snapshot([state("a", **THRASHED), state("b", **QUIET), state("c", **STREAMED)])


def test_the_lowest_predicted_slowdown_wins_and_every_feasible_node_is_scored(clock: FakeClock) -> None:
    predictor = FakePredictor(lambda tokens: np.array([3.0, 1.1, 2.0]))
    choice = tier(predictor, clock).choose(request(latency_critical(), three_nodes()))
    assert choice.node == "b"
    assert set(choice.scores) == {"a", "b", "c"}
    assert all(0 <= s <= 100 for s in choice.scores.values())
    assert choice.scores["b"] > choice.scores["c"] > choice.scores["a"]
    assert choice.extra["regimes"] == {"a": "llc-bound", "b": "quiet", "c": "membw-bound"}
    assert "1.10x" in choice.reason
    assert "node regime quiet" in choice.reason


def test_scores_are_clamped_to_the_score_range(clock: FakeClock) -> None:
    predictor = FakePredictor(lambda tokens: np.array([0.5, 1e9, 1.0]))
    choice = tier(predictor, clock).choose(request(latency_critical(), three_nodes()))
    assert choice.scores["a"] == 100.0
    assert choice.scores["b"] == 0.0


def test_near_ties_go_to_the_heuristics_preference(clock: FakeClock) -> None:
    predictor = FakePredictor(lambda tokens: np.array([1.0, 1.005, 1.5]))
    snap = three_nodes()
    req = request(latency_critical(), snap)
    expected = "a" if req.heuristic.scores[0] >= req.heuristic.scores[1] else "b"
    assert tier(predictor, clock).choose(req).node == expected


def test_a_noisy_pod_is_kept_away_from_sensitive_neighbours(clock: FakeClock) -> None:
    victim = make_pod("victim", node="a", cpu="100m", annotations=LATENCY_CRITICAL)
    snap = snapshot([state("a", **QUIET), state("b", **QUIET)], [victim])
    hog = make_pod("hog", cpu="1", annotations={"ai-scheduler.io/noisy": "llc"})
    choice = tier(FakePredictor(lambda tokens: np.array([1.0, 1.2])), clock).choose(request(hog, snap))
    assert choice.node == "b"
    assert choice.scores["a"] <= 50
    assert "kept away" in choice.reason


def test_predicted_harm_to_latency_critical_neighbours_lowers_a_node_s_score(clock: FakeClock) -> None:
    """An undeclared hog: the same own P99 on both nodes, but the model predicts it would double a neighbour's."""
    victim = make_pod("victim", node="a", cpu="100m", annotations=LATENCY_CRITICAL)
    snap = snapshot([state("a", **QUIET), state("b", **QUIET)], [victim])
    hog = make_pod("hog", cpu="1")
    predictor = FakePredictor(lambda tokens: np.array([1.0, 1.0]), harm=lambda tokens: np.array([np.log(2.0), 0.0]))
    choice = tier(predictor, clock).choose(request(hog, snap))
    assert choice.node == "b"
    assert choice.scores["a"] < choice.scores["b"] - 15
    assert choice.extra["predicted_harm"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("weight", "node", "lead"),
    [
        pytest.param(1.0, "b", "lowest predicted cost with the harm", id="1: spares the neighbour, 1.3x own"),
        pytest.param(0.2, "a", "lowest predicted interference", id="0.2: 1.0x x 2^0.2 on a beats 1.3x on b"),
        pytest.param(0.0, "a", "lowest predicted interference", id="0: the neighbour does not count"),
    ],
)
def test_the_harm_weight_sets_how_much_the_neighbours_count(
    clock: FakeClock, weight: float, node: str, lead: str
) -> None:
    """A latency-critical neighbour on `a` whose P99 the arriving pod would double (ln 2), against 1.3x the pod's own
    P99 on the empty `b`: the cost is own x exp(weight x harm), so b wins at 1 (1.3 < 2) and a below ln 1.3 / ln 2."""
    victim = make_pod("victim", node="a", cpu="100m", annotations=LATENCY_CRITICAL)
    snap = snapshot([state("a", **QUIET), state("b", **QUIET)], [victim])
    predictor = FakePredictor(lambda tokens: np.array([1.0, 1.3]), harm=lambda tokens: np.array([np.log(2.0), 0.0]))
    sharing = TransformerTier(predictor=predictor, clock=clock, budget_ms=BUDGET_MS, harm_weight=weight)
    choice = sharing.choose(request(latency_critical("arriving"), snap))
    assert choice.node == node
    assert choice.reason.startswith(lead)


def test_pods_placed_since_a_nodes_telemetry_raise_its_predicted_p99(clock: FakeClock) -> None:
    """The model predicts the same factor on both nodes; a burst's pods piled on `a` (counted by the fresh-placement
    estimate) beyond the range the model was trained on raise it there by BURST_LOG_SLOPE each, so the next pod goes
    to `b`; within that range the prediction stands."""
    snap = snapshot([state("a", **QUIET), state("b", **QUIET)])
    piled = [(make_pod(f"burst-{i}", node="a", cpu="100m"), 1.8e9 + 1) for i in range(10)]
    seen = estimate.apply(snap, estimate.Placed.of(piled))
    predictor = FakePredictor(lambda tokens: np.array([1.2, 1.2]))
    choice = tier(predictor, clock).choose(request(latency_critical(), seen))
    assert choice.node == "b"
    assert choice.extra["predicted_slowdown"] == pytest.approx(1.2)
    calibrated = scores.burst_calibrated(np.array([1.2, 1.2]), seen.fresh.pods)
    beyond = 10 - scores.TRAINED_FRESH_PODS
    assert calibrated == pytest.approx([1.2 * np.exp(beyond * scores.BURST_LOG_SLOPE), 1.2])
    assert scores.burst_calibrated(np.array([1.2]), np.array([scores.TRAINED_FRESH_PODS])) == pytest.approx([1.2])
    assert choice.scores["a"] < choice.scores["b"]
    assert tier(predictor, clock).choose(request(latency_critical(), snap)).node == "a"  # a tie: the name decides


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["NaN", "infinite"])
def test_a_non_finite_prediction_declines_to_the_heuristic(clock: FakeClock, bad: float) -> None:
    class Broken(FakePredictor):
        def predict(self, tokens: np.ndarray) -> Predicted:
            raise ValueError(f"the model returned {bad}")

    decider = Decider(heuristic=HeuristicTier(), tiers=[tier(Broken(), clock)], clock=clock)
    decision = decider.decide(latency_critical(), three_nodes())
    assert decision.tier is Tier.HEURISTIC
    assert "model input or output rejected" in decision.fallbacks["transformer"]


def test_an_overrun_falls_back_to_the_heuristic(clock: FakeClock) -> None:
    slow = FakePredictor(clock=clock, seconds=0.050)
    decider = Decider(heuristic=HeuristicTier(), tiers=[tier(slow, clock)], clock=clock)
    decision = decider.decide(latency_critical(), three_nodes())
    assert decision.tier is Tier.HEURISTIC
    assert decision.node == "b"
    assert "over the 45 ms budget" in decision.fallbacks["transformer"]


def test_overruns_of_any_length_are_one_cause_in_the_log_review(clock: FakeClock) -> None:
    """`scheduler.py stats` counts fallbacks by the code before the colon, not by the whole message."""
    lines = []
    for seconds in (0.050, 0.070):
        slow = FakePredictor(clock=clock, seconds=seconds)
        decider = Decider(heuristic=HeuristicTier(), tiers=[tier(slow, clock)], clock=clock)
        decision = decider.decide(latency_critical(), three_nodes())
        assert decision.fallbacks["transformer"].startswith("overrun: scoring took ")
        record = {"event": "decision", "pod": decision.pod, "node": decision.node, "tier": decision.tier.value}
        lines.append(json.dumps(record | {"fallbacks": decision.fallbacks}))
    assert review(lines).total().fallbacks == {"transformer: overrun": 2}


def test_repeated_overruns_open_the_breaker_and_a_trial_closes_it(clock: FakeClock) -> None:
    stats = Stats()
    slow = FakePredictor(clock=clock, seconds=0.050)
    transformer = tier(slow, clock, threshold=3, stats=stats)
    req = request(latency_critical(), three_nodes())
    for _ in range(3):
        with pytest.raises(TierDeclinedError, match="budget"):
            transformer.choose(req)
    assert transformer.breaker.state is State.OPEN
    with pytest.raises(TierDeclinedError, match="latency breaker open"):
        transformer.choose(req)
    assert slow.calls == 3
    assert stats.summary()["breaker_trips"] == 1
    clock.advance(61)
    slow._seconds = 0.001
    assert transformer.choose(req).node == "a"
    assert transformer.breaker.state is State.CLOSED


def test_a_fast_pod_resets_the_overrun_count(clock: FakeClock) -> None:
    predictor = FakePredictor(clock=clock, seconds=0.050)
    transformer = tier(predictor, clock, threshold=2)
    req = request(latency_critical(), three_nodes())
    with pytest.raises(TierDeclinedError):
        transformer.choose(req)
    predictor._seconds = 0.001
    transformer.choose(req)
    predictor._seconds = 0.050
    with pytest.raises(TierDeclinedError):
        transformer.choose(req)
    assert transformer.breaker.state is State.CLOSED


def test_a_passed_deadline_declines_without_scoring(clock: FakeClock) -> None:
    predictor = FakePredictor()
    with pytest.raises(TierDeclinedError, match="deadline"):
        tier(predictor, clock).choose(request(latency_critical(), three_nodes(), deadline=clock.monotonic()))
    assert predictor.calls == 0


def test_a_node_without_telemetry_is_scored_as_typical_not_as_perfect() -> None:
    scorer = Scorer.load(shipped())
    transformer = TransformerTier(predictor=scorer, clock=FakeClock(), budget_ms=1e9)
    states = [state("q1", **QUIET), state("q2", **QUIET), state("t1", **THRASHED), state("t2", **STREAMED)]
    choice = transformer.choose(request(latency_critical(), snapshot([*states, state("blind")])))
    s = choice.scores
    assert choice.node in {"q1", "q2"}
    assert s["q1"] > s["blind"] > min(s["t1"], s["t2"])
    assert choice.extra["regimes"]["blind"] == "unknown"


def test_the_shipped_model_ranks_a_quiet_node_before_thrashed_or_bandwidth_saturated_ones() -> None:
    """The order of the two contended nodes is not asserted: the model trained on the interference family puts
    this fixture's saturated node (bandwidth 90 %, memory reclaim stalls) only a little below quiet (model card)."""
    transformer = TransformerTier(predictor=Scorer.load(shipped()), clock=FakeClock(), budget_ms=1e9)
    states = [state("s", **STREAMED), state("t", **THRASHED), state("q", **QUIET)]
    s = transformer.choose(request(latency_critical(), snapshot(states))).scores
    assert s["q"] > max(s["t"], s["s"])
    assert s["q"] - s["t"] > 20


def test_the_shipped_model_scores_a_hog_lower_beside_latency_critical_pods() -> None:
    """Two quiet nodes, one running three latency-critical pods and the other three batch pods: a 2-core batch pod
    that declares nothing (so no declared-noisy rule applies) is predicted to harm the first, and scored lower."""
    critical = {"ai-scheduler.io/workload-class": "latency-critical", "ai-scheduler.io/sensitivity": "llc,membw,cpu"}
    batch = {"ai-scheduler.io/workload-class": "batch"}
    running = [make_pod(f"lc{i}", node="a", cpu="500m", memory="512Mi", annotations=critical) for i in range(3)]
    running += [make_pod(f"b{i}", node="b", cpu="500m", memory="512Mi", annotations=batch) for i in range(3)]
    snap = snapshot([state("a", **QUIET), state("b", **QUIET)], running)
    hog = make_pod("hog", cpu="2", memory="2Gi", annotations=batch)
    transformer = TransformerTier(predictor=Scorer.load(shipped()), clock=FakeClock(), budget_ms=1e9)
    choice = transformer.choose(request(hog, snap))
    assert choice.node == "b"
    assert choice.scores["a"] < choice.scores["b"] - 5
    assert choice.extra["predicted_harm"] < 0.1


def test_the_chosen_nodes_score_is_read_without_building_every_score() -> None:
    names = tuple(f"n{i}" for i in range(5))
    values = Scores(names, np.array([0, 2, 4]), np.array([10.04, 20.06, 30.0]), {n: i for i, n in enumerate(names)})
    assert values["n2"] == pytest.approx(20.1, abs=1e-9)
    assert values.get("n1") is None
    assert dict(values) == {"n0": 10.0, "n2": 20.1, "n4": 30.0}
    assert len(values) == 3
