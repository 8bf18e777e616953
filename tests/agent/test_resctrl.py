from pathlib import Path

import pytest

from agent.resctrl import (
    ResctrlCollector,
    bandwidth_gbps,
    bandwidth_ratio,
    counter_delta,
    l3_size_bytes,
    occupancy_ratio,
    parse_cache_size,
    parse_counter,
)
from tests.telemetry.trees import NodeTree

GROUP, D0, D1 = "/r", "mon_L3_00", "mon_L3_01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("123456\n", 123456, id="a byte count"),
        pytest.param("Unavailable\n", None, id="the kernel could not read the RMID"),
        pytest.param("Error\n", None, id="the hardware reported an error"),
    ],
)
def test_parse_counter(text: str, expected: int | None) -> None:
    assert parse_counter(text) == expected


def test_parse_counter_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="neither a number"):
        parse_counter("lots\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("32768K\n", 32 * 1024**2, id="kilobytes"),
        pytest.param("2M", 2 * 1024**2, id="megabytes"),
        pytest.param("4096", 4096, id="bare bytes"),
    ],
)
def test_parse_cache_size(text: str, expected: int) -> None:
    assert parse_cache_size(text) == expected


@pytest.mark.parametrize(
    ("previous", "current", "width", "expected"),
    [
        pytest.param(1000, 5000, 64, 4000, id="a plain increase"),
        pytest.param(2**64 - 1000, 500, 64, 1500, id="a 64-bit wrap is a small delta"),
        pytest.param(2**24 - 10, 5, 24, 15, id="a 24-bit hardware-width wrap"),
    ],
)
def test_counter_delta(previous: int, current: int, width: int, expected: int) -> None:
    assert counter_delta(previous, current, width_bits=width) == expected


@pytest.mark.parametrize(
    ("previous", "current", "seconds", "expected"),
    [
        pytest.param(
            {(GROUP, D0): 0, (GROUP, D1): 0},
            {(GROUP, D0): 3 * 10**9, (GROUP, D1): 10**9},
            2.0,
            2.0,
            id="summed over domains, per second",
        ),
        pytest.param({(GROUP, D0): 2**64 - 10**9}, {(GROUP, D0): 10**9}, 1.0, 2.0, id="across a counter wrap"),
        pytest.param(
            {(GROUP, D0): 0, (GROUP, D1): 0},
            {(GROUP, D0): 10**9, (GROUP, D1): None},
            1.0,
            None,
            id="an Unavailable domain makes the interval unknown, not a partial sum",
        ),
        pytest.param(
            {(GROUP, D0): 0}, {(GROUP, D0): 10**9, ("/r/g", D0): 5}, 1.0, None, id="a group created in the interval"
        ),
        pytest.param(
            {(GROUP, D0): 10**15},
            {(GROUP, D0): 10},
            1.0,
            None,
            id="a counter reset is implausible bandwidth, not a wrap",
        ),
        pytest.param({(GROUP, D0): 0}, {(GROUP, D0): 10}, 0.0, None, id="no time passed"),
    ],
)
def test_bandwidth_gbps(previous: dict, current: dict, seconds: float, expected: float | None) -> None:
    assert bandwidth_gbps(previous, current, seconds) == (None if expected is None else pytest.approx(expected))


def test_occupancy_and_ratio_arithmetic() -> None:
    assert occupancy_ratio({(GROUP, D0): 8 * 2**20, (GROUP, D1): 8 * 2**20}, 64 * 2**20) == pytest.approx(0.25)
    assert occupancy_ratio({(GROUP, D0): 8 * 2**20, (GROUP, D1): None}, 64 * 2**20) is None
    assert bandwidth_ratio(50.0, 200.0) == pytest.approx(0.25)
    assert bandwidth_ratio(250.0, 200.0) == 1.0


def test_l3_size_counts_each_shared_cache_once(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path, cpus=8)
    tree.add_l3(caches=2, size_kb=32768)
    assert l3_size_bytes(str(tree.sys)) == 2 * 32 * 2**20


def _mounted(tmp_path: Path, *, peak: float | None = 100.0, features=None) -> tuple[NodeTree, ResctrlCollector]:
    tree = NodeTree(tmp_path, cpus=4)
    tree.add_l3(caches=2, size_kb=16384)
    kwargs = {} if features is None else {"features": features}
    tree.mount_resctrl(domains=2, groups=["guaranteed"], **kwargs)
    for group in ("", "guaranteed"):
        for domain in (0, 1):
            tree.set_resctrl("llc_occupancy", 4 * 2**20, domain=domain, group=group)
            tree.set_resctrl("mbm_total_bytes", 10**12, domain=domain, group=group)
    return tree, ResctrlCollector(resctrl_root=str(tree.resctrl), sys_root=str(tree.sys), peak_gbps=peak)


def test_collector_sums_every_control_group_and_domain(tmp_path: Path) -> None:
    tree, collector = _mounted(tmp_path)
    assert collector.open().missing == {}
    assert collector.sample(10.0) == {"llc_occupancy_ratio": 0.5}  # 16 MiB of 32 MiB; bandwidth needs a delta
    for group in ("", "guaranteed"):
        for domain in (0, 1):
            tree.set_resctrl("mbm_total_bytes", 10**12 + 5 * 10**9, domain=domain, group=group)
    values = collector.sample(12.0)
    assert values["memory_bandwidth_gbps"] == pytest.approx(10.0)  # 20 GB over 2 s
    assert values["memory_bandwidth_ratio"] == pytest.approx(0.1)


def test_an_unavailable_read_is_unknown_for_that_interval(tmp_path: Path) -> None:
    tree, collector = _mounted(tmp_path)
    collector.open()
    collector.sample(0.0)
    tree.set_resctrl("llc_occupancy", "Unavailable", domain=1, group="guaranteed")
    tree.set_resctrl("mbm_total_bytes", "Unavailable", domain=0)
    assert collector.sample(1.0) == {}
    tree.set_resctrl("llc_occupancy", 0, domain=1, group="guaranteed")
    tree.set_resctrl("mbm_total_bytes", 10**12, domain=0)
    assert collector.sample(2.0) == {"llc_occupancy_ratio": pytest.approx(0.375)}  # bandwidth needs two good reads
    assert collector.sample(3.0)["memory_bandwidth_gbps"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("setup", "missing", "reason"),
    [
        pytest.param(
            {"mounted": False},
            {"llc_occupancy_ratio", "memory_bandwidth_gbps", "memory_bandwidth_ratio"},
            "not mounted",
            id="resctrl not mounted",
        ),
        pytest.param(
            {"features": ["llc_occupancy"]},
            {"memory_bandwidth_gbps", "memory_bandwidth_ratio"},
            "unsupported event mbm_total_bytes",
            id="a CPU with CMT but no MBM",
        ),
        pytest.param(
            {"peak": None}, {"memory_bandwidth_ratio"}, "no peak memory bandwidth", id="no configured or measured peak"
        ),
    ],
)
def test_absent_metrics_with_reasons(tmp_path: Path, setup: dict, missing: set[str], reason: str) -> None:
    if setup.get("mounted", True):
        _, collector = _mounted(tmp_path, peak=setup.get("peak", 100.0), features=setup.get("features"))
    else:
        tree = NodeTree(tmp_path)
        collector = ResctrlCollector(resctrl_root=str(tree.resctrl), sys_root=str(tree.sys), peak_gbps=100.0)
    availability = collector.open()
    assert set(availability.missing) == missing
    assert all(reason in text for text in availability.missing.values())


def test_unmounted_while_running_restarts_the_baseline(tmp_path: Path) -> None:
    tree, collector = _mounted(tmp_path)
    collector.open()
    collector.sample(0.0)
    tree.unmount_resctrl()
    assert collector.sample(1.0) == {}
