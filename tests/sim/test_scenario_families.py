"""The held-out scenario families: each loads, is the situation its file says, and is never trained on."""

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from sim import dataset, generators, hardware, scenario
from sim.pods import NOISY_ANNOTATION, workload
from sim.scenario import Scenario
from training import synthetic

ANTAGONISTS = ("ibench-cpu", "stress-cache", "stress-membw", "stress-io")
NEW = ("cpu-antagonists", "near-full", "replica-burst", "counter-gaps")


def profile(built: Scenario, pod: dict) -> str:
    return built.profiles[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"]


def antagonists(built: Scenario) -> list[dict]:
    return [p for p in built.pods if profile(built, p) in ANTAGONISTS]


def hidden(built: Scenario) -> list[dict]:
    return [p for p in antagonists(built) if NOISY_ANNOTATION not in p["metadata"]["annotations"]]


def free_cpu(built: Scenario) -> dict[str, float]:
    """CPU allocatable minus the running pods' requests, per node."""
    requested = Counter()
    for pod in built.pods:
        requested[pod["spec"]["nodeName"]] += workload(pod).cpu_request
    return {
        n["metadata"]["name"]: hardware.quantity(n["status"]["allocatable"]["cpu"]) - requested[n["metadata"]["name"]]
        for n in built.nodes
    }


def latency_critical(built: Scenario) -> list[dict]:
    return [a.pod for a in built.arrivals if workload(a.pod).profile.latency_critical]


def cpu_antagonists(built: Scenario) -> None:
    hogs = [p for p in antagonists(built) if profile(built, p) == "ibench-cpu"]
    assert len(hogs) >= 4 and len({p["spec"]["nodeName"] for p in hogs}) >= 4
    assert all(workload(p).scale > workload(p).cpu_request for p in hogs), "each hog burns more than it requests"
    assert 0 < len(hidden(built)) < len(hogs)
    sensitive = latency_critical(built)
    assert all("cpu" in p["metadata"]["annotations"]["ai-scheduler.io/sensitivity"] for p in sensitive)
    assert any(built.profiles[f"default/{a.pod['metadata']['name']}"] == "batch-compute" for a in built.arrivals)


def near_full(built: Scenario) -> None:
    free = free_cpu(built)
    noisy_nodes = {p["spec"]["nodeName"] for p in antagonists(built)}
    quiet_room = sum(v for n, v in free.items() if n not in noisy_nodes and v >= 4)
    demand = sum(workload(p).cpu_request for p in latency_critical(built))
    assert quiet_room < demand, "the quiet nodes with room cannot take every latency-critical pod"
    roomiest = max(free.values())
    assert {n for n, v in free.items() if v == roomiest} <= noisy_nodes, "the most free CPU is beside antagonists"
    assert sum(v for v in free.values()) >= sum(workload(a.pod).cpu_request for a in built.arrivals)
    assert hidden(built), "one antagonist is visible only in telemetry"


def replica_burst(built: Scenario) -> None:
    replicas = Counter(p["metadata"]["labels"].get("app") for p in latency_critical(built))
    service, count = replicas.most_common(1)[0]
    assert service is not None and count >= 20
    assert hidden(built) and len(antagonists(built)) >= 3


def counter_gaps(built: Scenario) -> None:
    specs = built.hardware
    blind = {n for n, h in specs.items() if not any((h.counters.perf, h.counters.cmt, h.counters.mbm,
                                                      h.counters.psi, h.counters.cgroup))}  # fmt: skip
    assert len(blind) * 3 == len(specs), "a third of the nodes publish no optional counter"
    assert len({h.generation for h in specs.values()}) >= 4
    assert any(p["spec"]["nodeName"] in blind for p in hidden(built)), "a hidden antagonist on a counter-less node"
    assert any(p["spec"]["nodeName"] not in blind for p in hidden(built))


@pytest.mark.parametrize(
    ("name", "situation"),
    [
        pytest.param("cpu-antagonists", cpu_antagonists, id="CPU hogs that request little, two of them hidden"),
        pytest.param("near-full", near_full, id="the quiet room is smaller than the latency-critical demand"),
        pytest.param("replica-burst", replica_burst, id="twenty or more replicas of one sensitive service"),
        pytest.param("counter-gaps", counter_gaps, id="a third of the nodes without counters, a hog hidden there"),
    ],
)
def test_each_new_family_is_the_situation_it_describes(name: str, situation: Callable[[Scenario], None]) -> None:
    built = scenario.load(name)
    assert built.family == name and built.held_out and built.description
    assert {a.pod["spec"]["schedulerName"] for a in built.arrivals} == {scenario.SCHEDULER}
    assert latency_critical(built), "something latency-critical arrives"
    situation(built)


@pytest.mark.parametrize("name", NEW)
def test_each_new_file_says_what_it_tests_and_that_it_is_held_out(name: str) -> None:
    text = (scenario.BUILTIN / f"{name}.yaml").read_text()
    comment = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "What it tests" in comment and "hard" in comment
    assert f"Held out: the family `{name}` is never used for training" in comment


def test_the_new_families_are_held_out_by_name() -> None:
    assert set(NEW) <= set(scenario.HELD_OUT_FAMILIES)
    shipped = {scenario.load(name).family for name in scenario.builtin()}
    assert set(scenario.HELD_OUT_FAMILIES) <= shipped, "every held-out family has a scenario to report on"
    for family in scenario.HELD_OUT_FAMILIES:
        assert family not in generators.FAMILIES, f"{family} must not be a family training can draw"
        assert family not in synthetic.TRAIN_FAMILIES, f"{family} must not be trained on"


def test_training_data_never_comes_from_a_held_out_family() -> None:
    with pytest.raises(ValueError, match="replica-burst"):
        dataset.generate(np.random.default_rng(0), decisions=1, families=("replica-burst",))


def test_a_burst_keeps_the_order_and_puts_every_arrival_at_the_start() -> None:
    steady = scenario.load("replica-burst")
    burst = scenario.as_burst(steady)
    assert [a.pod["metadata"]["name"] for a in burst.arrivals] == [a.pod["metadata"]["name"] for a in steady.arrivals]
    assert {a.at for a in burst.arrivals} == {steady.start}
    assert {a.pod["metadata"]["creationTimestamp"] for a in burst.arrivals} == {"2026-01-05T09:00:00Z"}
    assert len({a.at for a in steady.arrivals}) > 20, "the file's own times stay untouched"
    assert burst.nodes == steady.nodes and burst.pods == steady.pods and burst.held_out
