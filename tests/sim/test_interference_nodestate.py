"""The NodeState JSON the simulator publishes: contract-valid, missing counters absent, deterministic, load-driven."""

import json

import numpy as np
import pytest

from cluster import nodestate
from sim import counters, hardware, manifests
from sim.cluster_state import ClusterState

NOW = 1_767_603_600.0  # 2026-01-05T09:00:00Z


def node(name: str, **counter_flags: bool) -> dict:
    return manifests.node(name, hardware.build("cascade-lake", cores=16, counters=counter_flags or None))


def stressor(name: str, on: str, flag: str, workers: int) -> dict:
    return manifests.pod(name, "alexeiled/stress-ng", args=[flag, str(workers)], node=on)


def publish(nodes: list[dict], pods: list[dict], seed: int = 1) -> dict[str, dict]:
    return counters.node_states(nodes, pods, now=NOW, rng=np.random.default_rng(seed))


def parsed(state: dict, name: str) -> nodestate.NodeState:
    warnings: list[str] = []
    result = nodestate.parse(json.dumps(state), node=name, now=NOW, max_age_seconds=120, warn=warnings.append)
    assert warnings == []
    return result


def test_a_fully_instrumented_node_publishes_all_eleven_metrics_in_range() -> None:
    state = publish([node("w1")], [stressor("hog", "w1", "--stream", 4)])["w1"]
    result = parsed(state, "w1")
    assert set(result.metrics) == set(nodestate.METRIC_NAMES)
    assert state["timestamp"] == "2026-01-05T09:00:00Z" and state["window_seconds"] == 30 and state["version"] == 1
    assert all(summary.p95 >= summary.mean - 1e-9 for summary in result.metrics.values())


@pytest.mark.parametrize(
    ("flags", "absent", "sources"),
    [
        pytest.param(
            {"perf": False}, {"cpi", "llc_miss_rate", "llc_mpki"}, {"perf": False}, id="no perf: no PMU metrics"
        ),
        pytest.param(
            {"cmt": False, "mbm": False},
            {"llc_occupancy_ratio", "memory_bandwidth_gbps", "memory_bandwidth_ratio"},
            {"resctrl": False},
            id="no resctrl: no occupancy or bandwidth",
        ),
        pytest.param(
            {"mbm": False},
            {"memory_bandwidth_gbps", "memory_bandwidth_ratio"},
            {"resctrl": True},
            id="CMT without MBM (Haswell): occupancy only",
        ),
        pytest.param({"psi": False}, {"psi_cpu_some", "psi_memory_some", "psi_io_some"}, {"psi": False}, id="no PSI"),
        pytest.param({"cgroup": False}, {"cpu_throttling_ratio"}, {"cgroup": False}, id="no cgroup cpu.stat"),
    ],
)
def test_missing_counters_are_absent_never_zero(flags: dict, absent: set, sources: dict) -> None:
    state = publish([node("w1", **flags)], [stressor("hog", "w1", "--cache", 2)])["w1"]
    result = parsed(state, "w1")
    assert absent.isdisjoint(state["metrics"]) and absent.isdisjoint(result.metrics)
    assert set(result.metrics) == set(nodestate.METRIC_NAMES) - absent
    assert {k: state["sources"][k] for k in sources} == sources


def test_the_same_seed_gives_the_same_states_and_another_seed_other_noise() -> None:
    nodes = [node("w1"), node("w2")]
    pods = [stressor("hog", "w1", "--stream", 4)]
    assert publish(nodes, pods, seed=3) == publish(list(reversed(nodes)), pods, seed=3)
    assert publish(nodes, pods, seed=3) != publish(nodes, pods, seed=4)


def test_a_node_state_depends_only_on_its_own_pods() -> None:
    nodes = [node("w1"), node("w2")]
    quiet = publish(nodes, [])
    busy = publish(nodes, [stressor("hog", "w1", "--stream", 6)])
    assert quiet["w2"] == busy["w2"]
    assert (
        busy["w1"]["metrics"]["memory_bandwidth_ratio"]["mean"]
        > 5 * quiet["w1"]["metrics"]["memory_bandwidth_ratio"]["mean"]
    )


@pytest.mark.parametrize(
    ("flag", "metric"),
    [
        pytest.param("--stream", "memory_bandwidth_gbps", id="a bandwidth hog shows as memory bandwidth"),
        pytest.param("--cache", "llc_occupancy_ratio", id="a cache thrasher shows as LLC occupancy"),
        pytest.param("--cache", "llc_mpki", id="a cache thrasher shows as LLC misses per kilo-instruction"),
        pytest.param("--cpu", "cpu_utilization", id="a CPU spinner shows as CPU use"),
        pytest.param("--hdd", "psi_io_some", id="an IO hog shows as IO pressure"),
    ],
)
def test_telemetry_follows_the_neighbours_load(flag: str, metric: str) -> None:
    nodes = [node("quiet"), node("noisy")]
    states = publish(nodes, [stressor("hog", "noisy", flag, 6)])
    assert states["noisy"]["metrics"][metric]["mean"] > 1.5 * states["quiet"]["metrics"][metric]["mean"]


def test_cpu_limits_show_as_throttling() -> None:
    limited = manifests.pod("hog", "alexeiled/stress-ng", args=["--cpu", "4"], limits={"cpu": "2"}, node="w1")
    states = publish([node("w1"), node("w2")], [limited, stressor("free", "w2", "--cpu", 4)])
    assert states["w1"]["metrics"]["cpu_throttling_ratio"]["mean"] > 0.9
    assert states["w2"]["metrics"]["cpu_throttling_ratio"]["mean"] == pytest.approx(0.0)


def test_a_deleted_pod_no_longer_loads_its_node() -> None:
    nodes, hog = [node("w1")], stressor("hog", "w1", "--stream", 6)
    state = ClusterState.from_objects(nodes, [hog])
    before = counters.states_of(state.without_pod("default/hog"), now=NOW, rng=np.random.default_rng(1))
    assert before == publish(nodes, [])


def test_finished_pods_no_longer_load_their_node() -> None:
    done = stressor("hog", "w1", "--stream", 6)
    done["status"]["phase"] = "Succeeded"
    assert publish([node("w1")], [done]) == publish([node("w1")], [])
