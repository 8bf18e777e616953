"""The oracle: never beaten by any placement, ties by name, regret, the harm a placement does to its neighbours."""

import numpy as np
import pytest

from sim import generators, hardware, manifests, oracle, outcomes, scenario
from sim.cluster_state import ClusterState
from sim.pods import workload

REDIS = {"ai-scheduler.io/workload-class": "latency-critical", "ai-scheduler.io/p99-target-ms": "1"}


def cluster(nodes: dict[str, str], pods: list[dict]) -> ClusterState:
    """Nodes by name → generation, with pods."""
    return ClusterState.from_objects([manifests.node(n, hardware.build(g)) for n, g in nodes.items()], pods)


def redis(name: str = "redis", node: str | None = None) -> dict:
    return manifests.pod(name, "redis:7", requests={"cpu": "500m", "memory": "1Gi"}, annotations=REDIS, node=node)


def hog(name: str, node: str, flag: str = "--stream", workers: int = 8) -> dict:
    return manifests.pod(name, "alexeiled/stress-ng", args=[flag, str(workers)], node=node)


def random_cluster(seed: int) -> tuple[ClusterState, dict]:
    """A small random cluster (3-5 nodes) of a random family and the pod arriving on it."""
    rng = np.random.default_rng(seed)
    family = generators.FAMILIES[sorted(generators.FAMILIES)[seed % len(generators.FAMILIES)]]
    plan = generators.plan(rng, family, nodes=int(rng.integers(3, 6)), arrivals=1)
    built = scenario.parse({"name": f"brute-{seed}", "seed": seed, **generators.entries(plan)})
    return built.state(), built.arrivals[0].pod


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"random small cluster {s}") for s in range(24)])
def test_no_placement_beats_the_oracle(seed: int) -> None:
    state, pod = random_cluster(seed)
    choice = oracle.best(state, pod)
    candidates = oracle.candidates(state, pod)
    assert choice.node is not None and set(choice.predictions) == set(candidates)
    key = workload(pod).key
    for node in candidates:
        placed = state.with_pod(workload(pod), node)
        run = outcomes.evaluate(placed, rng=np.random.default_rng(0), requests=10, pods=[key], jitter=False)[key]
        assert run.predicted_p99_ms == pytest.approx(choice.predictions[node].p99_ms, rel=1e-9)
        assert choice.p99_ms <= run.predicted_p99_ms + 1e-12
        assert oracle.regret(state, pod, node).regret_ms >= -1e-12
    assert oracle.regret(state, pod, choice.node).regret_ms == pytest.approx(0.0, abs=1e-12)


def test_sampled_runs_confirm_the_oracle_choice() -> None:
    state = cluster(
        {"quiet": "cascade-lake", "cache": "cascade-lake", "bandwidth": "cascade-lake"},
        [hog("thrash", "cache", "--cache", 4), hog("stream", "bandwidth", "--stream", 8)],
    )
    choice = oracle.best(state, redis())
    measured = {}
    for node in ("quiet", "cache", "bandwidth"):
        placed = state.with_pod(workload(redis()), node)
        run = outcomes.evaluate(placed, rng=np.random.default_rng(1), requests=100_000, jitter=False)
        measured[node] = run["default/redis"].p99_ms
    assert choice.node == "quiet" == min(measured, key=measured.get)
    assert measured["bandwidth"] > measured["cache"] > measured["quiet"]


def test_ties_go_to_the_first_node_name() -> None:
    state = cluster({"w-c": "skylake-sp", "w-a": "skylake-sp", "w-b": "skylake-sp"}, [])
    assert oracle.best(state, redis()).node == "w-a"


def test_faster_hardware_wins_when_nothing_interferes() -> None:
    state = cluster({"old": "haswell-ep", "new": "sapphire-rapids"}, [])
    assert oracle.best(state, redis()).node == "new"


@pytest.mark.parametrize(
    ("chosen", "worse"),
    [
        pytest.param("quiet", False, id="the oracle's own node has no regret"),
        pytest.param("bandwidth", True, id="the bandwidth hog's node costs P99"),
    ],
)
def test_regret_measures_the_chosen_node_against_the_best(chosen: str, worse: bool) -> None:
    state = cluster({"quiet": "cascade-lake", "bandwidth": "cascade-lake"}, [hog("stream", "bandwidth")])
    regret = oracle.regret(state, redis(), chosen)
    assert regret.best == "quiet"
    assert (regret.regret_ms > 0, regret.ratio > 2.0) == (worse, worse)


def test_candidates_are_nodes_where_the_requests_fit() -> None:
    full = manifests.pod("big", "tomcat:10", requests={"cpu": "19800m", "memory": "1Gi"}, node="full")
    nodes = [manifests.node(n, hardware.build("skylake-sp")) for n in ("full", "free", "cordoned", "down")]
    nodes[2]["spec"]["unschedulable"] = True
    nodes[3]["status"]["conditions"][0]["status"] = "False"
    state = ClusterState.from_objects(nodes, [full])
    assert oracle.candidates(state, redis()) == ("free",)
    assert oracle.best(state, redis(), nodes=()).node is None


@pytest.mark.parametrize(
    ("newcomer", "low", "high"),
    [
        pytest.param(hog("stream", "w"), 2.0, 25.0, id="a bandwidth hog hurts the redis already there"),
        pytest.param(hog("thrash", "w", "--cache", 4), 1.2, 4.0, id="a cache thrasher hurts it less"),
        pytest.param(manifests.pod("shell", "busybox:1.36"), 1.0, 1.02, id="an idle shell does not hurt it"),
    ],
)
def test_a_placement_inflicts_slowdown_on_latency_critical_neighbours(newcomer: dict, low: float, high: float) -> None:
    state = cluster({"w": "cascade-lake"}, [redis(node="w"), manifests.pod("api", "tomcat:10", node="w")])
    harm = oracle.inflicted(state, newcomer, "w")
    assert list(harm) == ["default/redis"], "only latency-critical neighbours are reported"
    assert low <= harm["default/redis"].slowdown <= high


def test_unknown_nodes_are_refused() -> None:
    with pytest.raises(KeyError, match="no node 'nowhere'"):
        oracle.predict(cluster({"w": "skylake-sp"}, []), redis(), ["nowhere"])
