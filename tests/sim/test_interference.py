"""Properties of the interference model: alone is 1x, more neighbours never help, kinds do not add, a cap, bands."""

import itertools
import math

import numpy as np
import pytest

from sim import hardware, interference, latency, manifests, oracle, outcomes
from sim.cluster_state import ClusterState
from sim.interference import Pressure

LC = {"ai-scheduler.io/workload-class": "latency-critical"}


def stress(name: str, flag: str, workers: int) -> dict:
    return manifests.pod(name, "alexeiled/stress-ng", args=[flag, str(workers)], node="w")


def service(name: str, image: str, cpu: str) -> dict:
    return manifests.pod(name, image, requests={"cpu": cpu}, node="w")


def slowdown(
    neighbours: list[dict], *, image: str = "redis:7", generation: str = "cascade-lake", cores: int = 16
) -> float:
    """Predicted P99 slowdown of a pod of `image` on a node of `generation` with `neighbours`."""
    node = manifests.node("w", hardware.build(generation, cores=cores))
    target = manifests.pod("target", image, requests={"cpu": "500m"}, annotations=LC)
    state = ClusterState.from_objects([node], neighbours)
    return oracle.predict(state, target, ["w"])["w"].slowdown


def mean_slowdown(neighbours: list[dict], image: str = "redis:7") -> float:
    """Mean request latency with `neighbours` over mean latency alone, from sampled requests."""
    node = manifests.node("w", hardware.build("cascade-lake", cores=16))
    target = manifests.pod("target", image, requests={"cpu": "500m"}, annotations=LC, node="w")
    means = []
    for pods in ([target, *neighbours], [target]):
        state = ClusterState.from_objects([node], pods)
        run = outcomes.evaluate(
            state, rng=np.random.default_rng(0), requests=200_000, pods=["default/target"], jitter=False
        )
        means.append(run["default/target"].mean_ms)
    return means[0] / means[1]


def test_a_pod_alone_is_not_slowed() -> None:
    assert slowdown([]) == pytest.approx(1.0)
    assert slowdown([], generation="nuc-coffee-lake", cores=3) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("neighbours", "low", "high", "metric"),
    [
        pytest.param(
            [service(f"api-{i}", "tomcat:10", "1") for i in range(4)],
            1.05,
            1.25,
            "mean",
            id="light contention (four web backends) costs 1.05-1.25x mean latency",
        ),
        pytest.param(
            [service("spark", "apache/spark:3.5", "4")],
            1.05,
            1.25,
            "mean",
            id="one Spark executor is light contention too",
        ),
        pytest.param(
            [stress("thrash", "--cache", 2)],
            1.5,
            3.0,
            "p99",
            id="a heavy single antagonist (an L3-sized thrasher) costs 1.5-3x at P99",
        ),
        pytest.param(
            [stress("stream", "--stream", 6)],
            3.0,
            10.0,
            "p99",
            id="two thirds of peak bandwidth costs at least the literature's 3x (measured 5.9x)",
        ),
    ],
)
def test_slowdowns_fall_in_the_literature_bands_on_a_server(
    neighbours: list[dict], low: float, high: float, metric: str
) -> None:
    value = mean_slowdown(neighbours) if metric == "mean" else slowdown(neighbours)
    assert low <= value <= high


def p99_slowdown(cpu: float = 0.0, llc: float = 0.0, membw: float = 0.0, io: float = 0.0) -> float:
    """P99 slowdown of an all-sensitive nginx under the given pressures."""
    pressures = Pressure(*(np.array([value]) for value in (cpu, llc, membw, io)))
    model = interference.latency((1, 1, 1, 1), pressures, p50_ms=0.087, p99_ms=0.17, speed=1.0)
    return float(latency.quantiles(model, (0.99,))[0, 0] / model.alone_p99[0])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param({"cpu": 0.2}, {"llc": 1.0}, id="CPU queueing and a full cache"),
        pytest.param({"cpu": 1.0}, {"membw": 0.7}, id="a saturated CPU and most of the bandwidth"),
        pytest.param({"llc": 2.0}, {"membw": 0.5}, id="two caches' worth of footprint and half the bandwidth"),
        pytest.param({"llc": 3.0}, {"io": 0.9}, id="a thrashed cache and a nearly saturated disk"),
        pytest.param({"membw": 0.9}, {"io": 0.3}, id="saturated bandwidth and a lightly used disk"),
    ],
)
def test_pressures_on_different_resources_do_not_add_their_slowdowns(first: dict, second: dict) -> None:
    one, two, both = p99_slowdown(**first), p99_slowdown(**second), p99_slowdown(**first, **second)
    assert one > 1.1 and two > 1.1
    assert both >= max(one, two) or math.isclose(both, max(one, two), rel_tol=1e-12)
    assert both < one + two - 1.0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(stress("spin", "--cpu", 30), stress("disk", "--hdd", 1), id="CPU spinners and an IO hog"),
        pytest.param(stress("thrash", "--cache", 2), stress("disk", "--hdd", 1), id="a cache thrasher and an IO hog"),
    ],
)
def test_antagonists_of_different_kinds_do_not_add_their_slowdowns(first: dict, second: dict) -> None:
    one, two = (slowdown([p], image="postgres:16", generation="ice-lake-sp", cores=40) for p in (first, second))
    both = slowdown([first, second], image="postgres:16", generation="ice-lake-sp", cores=40)
    assert both >= max(one, two) or math.isclose(both, max(one, two), rel_tol=1e-12)
    assert both < one + two - 1.0


def test_pressure_adds_up_within_one_resource() -> None:
    """Two thrashers fill twice the cache: same-kind antagonists grow the tail faster than linearly, as measured."""
    one = slowdown([stress("a", "--cache", 1)], generation="nuc-coffee-lake", cores=3)
    two = slowdown([stress("a", "--cache", 1), stress("b", "--cache", 1)], generation="nuc-coffee-lake", cores=3)
    assert two - 1.0 > 2 * (one - 1.0)


def test_combination_is_worst_dominated() -> None:
    effects = [np.array([2.0, 0.0]), np.array([1.0, 3.0]), np.array([0.0, 0.0])]
    assert interference.combine(effects, 0.15) == pytest.approx([2.15, 3.0])


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"random neighbour set {s}") for s in range(10)])
def test_another_neighbour_never_makes_a_pod_faster(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flags = ["--cache", "--stream", "--cpu", "--hdd"]
    images = ["tomcat:10", "postgres:16", "apache/spark:3.5", "redis:7", "busybox"]
    pods = []
    for i in range(8):
        if rng.random() < 0.5:
            pods.append(stress(f"s{i}", flags[rng.integers(4)], int(rng.integers(1, 6))))
        else:
            pods.append(service(f"p{i}", images[rng.integers(5)], f"{int(rng.integers(1, 4)) * 500}m"))
    series = [slowdown(pods[:k], image="hashicorp/http-echo" if seed % 2 else "redis:7") for k in range(len(pods) + 1)]
    assert all(later >= earlier - 1e-9 for earlier, later in itertools.pairwise(series))


def test_slowdown_is_capped() -> None:
    flood = [stress(f"s{i}", flag, 40) for i, flag in enumerate(["--cache", "--stream", "--cpu", "--hdd"] * 3)]
    worst = max(slowdown(flood, image=image) for image in ("nginx", "redis:7", "hashicorp/http-echo", "memcached"))
    assert 0.8 * interference.MAX_P99_SLOWDOWN <= worst <= interference.MAX_P99_SLOWDOWN + 1e-6


@pytest.mark.parametrize(
    ("neighbours", "small", "big"),
    [
        pytest.param(
            [stress("stream", "--stream", 4)],
            "sapphire-rapids",
            "haswell-ep",
            id="the same stream hurts more on a node with less bandwidth",
        ),
        pytest.param(
            [stress("spin", "--cpu", 10)],
            "sapphire-rapids",
            "haswell-ep",
            id="the same spinners hurt more on a node with fewer cores",
        ),
    ],
)
def test_hardware_changes_what_a_neighbour_costs(neighbours: list[dict], small: str, big: str) -> None:
    assert slowdown(neighbours, generation=small, cores=56) < slowdown(neighbours, generation=big, cores=12)


def test_sensitivity_decides_who_suffers() -> None:
    thrash = [stress("thrash", "--cache", 2)]
    assert (
        slowdown(thrash, image="hashicorp/http-echo")
        < slowdown(thrash, image="nginx")
        < slowdown(thrash, image="redis:7")
    )


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [
        pytest.param(1, 0.5, 0.5, id="one core: the utilisation"),
        pytest.param(2, 1.0, 1 / 3, id="two cores half busy: one in three waits"),
        pytest.param(16, 4.0, 0.0, id="a big node a quarter busy: hardly anyone waits"),
        pytest.param(3, 5.0, 1.0, id="over-subscribed: everyone waits"),
    ],
)
def test_erlang_c(servers: int, load: float, expected: float) -> None:
    assert float(interference.erlang_c(servers, load)) == pytest.approx(expected, abs=2e-3)


def test_percentiles_without_interference_are_the_profile_s() -> None:
    zero = Pressure(*(np.zeros(3),) * 4)
    model = interference.latency(
        (1, 1, 1, 1), zero, p50_ms=np.array([0.087, 0.2, 5.0]), p99_ms=np.array([0.17, 0.55, 25.0]), speed=1.0
    )
    solved = latency.quantiles(model, (0.5, 0.99))
    assert solved == pytest.approx(np.array([[0.087, 0.17], [0.2, 0.55], [5.0, 25.0]]))


def test_samples_are_deterministic_for_a_seed() -> None:
    model = interference.latency((1, 1, 1, 1), Pressure(*(np.array([0.5]),) * 4), p50_ms=0.2, p99_ms=0.55, speed=1.0)
    first, again = (latency.sample(model, 1000, np.random.default_rng(9)) for _ in range(2))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, latency.sample(model, 1000, np.random.default_rng(10)))
