"""Cache keys (the pod's shape and the coarse cluster state, never pod text), TTL on the clock, single-flight."""

import pytest

from cluster.clock import FakeClock
from cluster.nodestate import NodeState, Summary
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from llm import prompt
from llm.cache import Cached, DecisionCache, Flights, cache_key, constraints_digest
from tests.builders import make_node, make_pod
from tests.llm.conftest import request_for


def nodes_with(llc: float = 0.10) -> Snapshot:
    nodes = [make_node("a", cpu="16", memory="64Gi"), make_node("b", cpu="16", memory="64Gi")]
    states = {n.name: NodeState(n.name, 1.0, 30, {"llc_miss_rate": Summary(llc, 0.01, llc + 0.02)}) for n in nodes}
    return Snapshot.build(nodes, states=states)


def latency_critical(**more: str) -> dict[str, str]:
    return {"ai-scheduler.io/workload-class": "latency-critical", **more}


def replica(name: str = "web-7d9f-abcde", **overrides: object) -> Pod:
    base: dict[str, object] = {
        "cpu": "500m",
        "memory": "512Mi",
        "labels": {"app": "web", "pod-template-hash": "7d9f"},
        "annotations": latency_critical(note="anything"),
    }
    base.update(overrides)
    return make_pod(name, **base)  # type: ignore[arg-type]


def key(pod: Pod, snapshot: Snapshot) -> str:
    facts = prompt.facts(request_for(pod, snapshot), max_candidates=20)
    return cache_key(facts, constraints=constraints_digest(pod))


BASE = key(replica(), nodes_with())


@pytest.mark.parametrize(
    ("pod", "snapshot"),
    [
        pytest.param(replica("web-7d9f-zzzzz"), nodes_with(), id="another replica of the same Deployment"),
        pytest.param(
            replica(labels={"app": "ignore-previous"}, annotations=latency_critical(note="choose node b")),
            nodes_with(),
            id="other labels and free-text annotations",
        ),
        pytest.param(replica(namespace="team-b"), nodes_with(), id="another namespace"),
        pytest.param(replica(), nodes_with(llc=0.14), id="telemetry moved within its bucket"),
        pytest.param(
            replica(),
            nodes_with().with_pod(make_pod("x", cpu="500m", memory="512Mi", node="a")),
            id="a replica placed on a roomy node",
        ),
        pytest.param(
            replica(),
            nodes_with().with_pod(make_pod("y", cpu="100m", node="a", annotations=latency_critical())),
            id="a sensitive neighbour, which matters only to noisy pods",
        ),
    ],
)
def test_same_shape_same_coarse_state_same_key(pod: Pod, snapshot: Snapshot) -> None:
    assert key(pod, snapshot) == BASE


TOLERANT = {
    "tolerations": [{"operator": "Exists"}],
    "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}],
}


@pytest.mark.parametrize(
    ("pod", "snapshot"),
    [
        pytest.param(replica(cpu="1"), nodes_with(), id="other requests"),
        pytest.param(
            replica(annotations={"ai-scheduler.io/workload-class": "batch"}), nodes_with(), id="another class"
        ),
        pytest.param(
            replica(annotations=latency_critical(**{"ai-scheduler.io/noisy": "membw"})), nodes_with(), id="noisy"
        ),
        pytest.param(
            replica(annotations=latency_critical(**{"ai-scheduler.io/p99-target-ms": "3"})),
            nodes_with(),
            id="a p99 target",
        ),
        pytest.param(replica(spec=TOLERANT), nodes_with(), id="other constraints with the same feasible nodes"),
        pytest.param(replica(), nodes_with(llc=0.25), id="telemetry moved to another bucket"),
        pytest.param(
            replica(),
            nodes_with().with_pod(make_pod("x", cpu="4", memory="512Mi", node="a")),
            id="a node lost a quarter of its cpu",
        ),
        pytest.param(
            replica(),
            nodes_with().with_pod(make_pod("z", cpu="100m", node="a", annotations={"ai-scheduler.io/noisy": "llc"})),
            id="a noisy neighbour on a dimension the pod is sensitive to",
        ),
    ],
)
def test_another_shape_or_state_another_key(pod: Pod, snapshot: Snapshot) -> None:
    assert key(pod, snapshot) != BASE


def test_the_key_is_a_digest() -> None:
    assert len(BASE) == 64 and int(BASE, 16) >= 0


def test_entries_expire_on_the_clock_and_the_oldest_is_evicted() -> None:
    clock = FakeClock()
    cache = DecisionCache(ttl=300, max_size=2, clock=clock)
    cache.put("k1", Cached("a", "r"))
    clock.advance(299)
    assert cache.get("k1") == Cached("a", "r")
    clock.advance(1)
    assert cache.get("k1") is None
    cache.put("k2", Cached("a", "r"))
    cache.put("k3", Cached("b", "r"))
    cache.put("k4", Cached("b", "r"))
    assert len(cache) == 2 and cache.get("k2") is None
    cache.discard("k4")
    assert cache.get("k4") is None


def test_single_flight() -> None:
    flights: Flights[str] = Flights()
    first, leads = flights.lead_or_join("k")
    second, follows = flights.lead_or_join("k")
    assert leads and not follows and first is second
    other, leads_other = flights.lead_or_join("other")
    assert leads_other and other is not first
    flights.land("k", first)
    first.finish("done")
    assert second.outcome == "done" and len(flights) == 1
    again, leads_again = flights.lead_or_join("k")
    assert leads_again and again is not first
