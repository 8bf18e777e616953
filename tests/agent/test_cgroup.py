from pathlib import Path

import pytest

from agent.cgroup import (
    CgroupCollector,
    CgroupFormatError,
    CpuTimes,
    parse_cpu_stat,
    parse_proc_stat,
    throttling_ratio,
    utilization,
)
from tests.telemetry.trees import NodeTree

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "proc_stat.txt",
            CpuTimes(busy=16495 + 3952 + 157 + 141, total=16495 + 3952 + 157 + 141 + 174215 + 646),
            id="recorded /proc/stat of a 2-CPU VM",
        ),
        pytest.param(
            "proc_stat_linux2.6.txt",
            CpuTimes(busy=4705 + 56 + 1385 + 78, total=4705 + 56 + 1385 + 78 + 200573 + 470),
            id="an old kernel without steal and guest columns",
        ),
    ],
)
def test_parse_proc_stat(name: str, expected: CpuTimes) -> None:
    assert parse_proc_stat((FIXTURES / name).read_text()) == expected


@pytest.mark.parametrize(
    "text",
    [pytest.param("cpu0 1 2 3 4\n", id="no aggregate cpu line"), pytest.param("cpu  1 x 3 4\n", id="a garbled field")],
)
def test_bad_proc_stat(text: str) -> None:
    with pytest.raises(CgroupFormatError):
        parse_proc_stat(text)


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        pytest.param(CpuTimes(100, 1000), CpuTimes(150, 1100), 0.5, id="half of the interval busy"),
        pytest.param(CpuTimes(100, 1000), CpuTimes(100, 1000), None, id="no time passed is unknown, not idle"),
        pytest.param(CpuTimes(100, 1000), CpuTimes(50, 1100), None, id="counters that went back are unknown"),
    ],
)
def test_utilization(previous: CpuTimes, current: CpuTimes, expected: float | None) -> None:
    assert utilization(previous, current) == expected


def test_parse_cpu_stat_fixtures() -> None:
    assert parse_cpu_stat((FIXTURES / "cpu_stat_limited.txt").read_text()) == (184420, 5210)
    assert parse_cpu_stat((FIXTURES / "cpu_stat_no_cpu_controller.txt").read_text()) is None


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        pytest.param(
            {"a": (100, 10), "b": (50, 0)},
            {"a": (200, 30), "b": (150, 0)},
            0.1,
            id="throttled share summed over every quota-limited cgroup",
        ),
        pytest.param({"a": (100, 10)}, {"a": (100, 10)}, 0.0, id="no periods elapsed means nothing was throttled"),
        pytest.param(
            {"a": (100, 10)},
            {"a": (110, 15), "new": (500, 400)},
            0.5,
            id="a cgroup created in the interval waits for its next sample",
        ),
        pytest.param(
            {"a": (100, 10), "b": (900, 800)},
            {"a": (110, 15), "b": (5, 1)},
            0.5,
            id="a cgroup recreated under the same path is skipped",
        ),
        pytest.param({}, {"a": (1, 0)}, None, id="the first reading is only a baseline"),
    ],
)
def test_throttling_ratio(previous: dict, current: dict, expected: float | None) -> None:
    assert throttling_ratio(previous, current) == expected


def test_collector_on_a_cgroup_v2_node(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    tree.set_cpu_times(busy=1000, idle=9000)
    tree.enable_cgroup_v2()
    pods = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"
    tree.set_cpu_stat(pods, periods=100, throttled=0)
    tree.set_cpu_stat(f"{pods}/cri-containerd-abc.scope", periods=100, throttled=0)
    collector = CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup))
    assert collector.open().missing == {}
    assert collector.sample(0.0) == {}  # the baseline
    tree.set_cpu_times(busy=1600, idle=9400)
    tree.set_cpu_stat(pods, periods=110, throttled=2)
    tree.set_cpu_stat(f"{pods}/cri-containerd-abc.scope", periods=110, throttled=6)
    values = collector.sample(1.0)
    assert values == {"cpu_utilization": pytest.approx(0.6), "cpu_throttling_ratio": pytest.approx(0.4)}


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param(lambda tree: None, "cgroup v2 is not mounted", id="a cgroup v1 host"),
        pytest.param(
            lambda tree: (tree.cgroup / "cgroup.controllers").write_text("cpu\n"),
            "no pods cgroup",
            id="a node that is not a kubelet's",
        ),
        pytest.param(
            lambda tree: tree.enable_cgroup_v2(cpu_controller=False),
            "cpu controller is not enabled",
            id="the cpu controller is not delegated to the pods' slice",
        ),
    ],
)
def test_throttling_absent_with_the_reason(tmp_path: Path, setup, reason: str) -> None:
    tree = NodeTree(tmp_path)
    tree.set_cpu_times(busy=1, idle=1)
    setup(tree)
    availability = CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup)).open()
    assert availability.metrics == ("cpu_utilization",)
    assert reason in availability.missing["cpu_throttling_ratio"]


def test_cgroupfs_driver_slice_and_explicit_pods_cgroup(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    tree.set_cpu_times(busy=1, idle=1)
    tree.enable_cgroup_v2(slice_name="kubepods")
    assert CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup)).open().missing == {}
    explicit = CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup), pods_cgroup="elsewhere")
    assert "tried elsewhere" in explicit.open().missing["cpu_throttling_ratio"]


def test_missing_proc_stat_is_reported(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    availability = CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup)).open()
    assert "stat does not exist" in availability.missing["cpu_utilization"]
