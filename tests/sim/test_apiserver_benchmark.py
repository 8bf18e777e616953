"""The bind benchmark runs end to end on a tiny cluster (its numbers are reported, not asserted)."""

from benchmark.emulator_binds import build_cluster, measure


def test_build_cluster_leaves_the_asked_number_pending() -> None:
    objects = build_cluster(nodes=3, pods=10, pending=4)
    pods = [o for o in objects if o["kind"] == "Pod"]
    assert len([o for o in objects if o["kind"] == "Node"]) == 3
    assert len([p for p in pods if "nodeName" not in p["spec"]]) == 4


def test_measure_binds_every_pending_pod() -> None:
    result = measure(nodes=3, pods=12, pending=8, processes=1, threads=2)
    assert (result["binds"], result["failed"], result["bound_after"]) == (8, 0, 12)
    assert result["binds_per_second"] > 0 and result["server_cpu_us_per_bind"] > 0
