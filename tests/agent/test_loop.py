import logging
import threading
from pathlib import Path

import pytest

from agent.cgroup import CgroupCollector
from agent.collector import Availability
from agent.loop import Agent
from agent.perf import PerfCollector
from agent.psi import PsiCollector
from agent.resctrl import ResctrlCollector
from cluster.clock import FakeClock
from cluster.nodestate import NodeState, parse
from tests.telemetry.trees import NodeTree


def _node(tmp_path: Path) -> NodeTree:
    tree = NodeTree(tmp_path, cpus=4)
    tree.set_cpu_times(busy=0, idle=0)
    tree.set_pressure(cpu=10.0, memory=0.0, io=2.0)
    tree.add_l3(caches=1, size_kb=8192)
    tree.mount_resctrl(domains=1)
    tree.set_resctrl("llc_occupancy", 2 * 2**20, domain=0)
    tree.set_resctrl("mbm_total_bytes", 0, domain=0)
    return tree


def _agent(tree: NodeTree, clock: FakeClock, *, sinks=(), window: float = 3.0) -> Agent:
    collectors = [
        PerfCollector(sys_root=str(tree.sys), proc_root=str(tree.proc), opener=_no_pmu),
        ResctrlCollector(resctrl_root=str(tree.resctrl), sys_root=str(tree.sys), peak_gbps=None),
        PsiCollector(str(tree.proc)),
        CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup)),
    ]
    return Agent(collectors, node="worker-1", clock=clock, window_seconds=window, sinks=sinks)


def _no_pmu(spec, cpu, group_fd):
    raise OSError(2, "No such file or directory")


def test_a_window_of_fixture_samples_becomes_a_valid_node_state(tmp_path: Path) -> None:
    tree = _node(tmp_path)
    clock = FakeClock()
    seen: list[NodeState] = []
    agent = _agent(tree, clock, sinks=[seen.append])
    agent.open()
    agent.step()  # the baseline
    for second in range(1, 4):
        clock.advance(1.0)
        tree.set_cpu_times(busy=second * 250, idle=second * 750)
        tree.set_resctrl("mbm_total_bytes", second * 4 * 10**9, domain=0)
        tree.set_pressure(cpu=10.0 * second, memory=0.0, io=2.0)
        state = agent.step()
    assert len(seen) == 4
    assert state.value("cpu_utilization") == pytest.approx(0.25)
    assert state.value("memory_bandwidth_gbps") == pytest.approx(4.0)
    assert state.value("llc_occupancy_ratio") == pytest.approx(0.25)
    assert state.value("psi_cpu_some") == pytest.approx(20.0)  # 10 at the baseline fell out of the 3 s window
    assert state.value("psi_cpu_some", "p95") == pytest.approx(29.0)
    assert state.sources == {"perf": False, "resctrl": True, "psi": True, "cgroup": True}
    assert "cpi" not in state.metrics and "memory_bandwidth_ratio" not in state.metrics
    assert state.timestamp == clock.now()
    assert parse(state.to_json(), node="worker-1") == state


def test_start_logs_one_line_naming_what_is_missing_and_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = _agent(NodeTree(tmp_path), FakeClock())
    with caplog.at_level(logging.INFO):
        availabilities = agent.open()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    for words in ("cpi", "unsupported event (ENOENT)", "resctrl is not mounted", "kernel has no PSI", "cgroup v2"):
        assert words in warnings[0]
    assert all(isinstance(a, Availability) for a in availabilities)


class _Wild:
    name = "psi"

    def open(self) -> Availability:
        return Availability("psi", ("psi_cpu_some", "cpu_utilization"))

    def sample(self, now: float) -> dict[str, float]:
        return {"psi_cpu_some": 250.0, "cpu_utilization": float("nan")}

    def close(self) -> None:
        return None


def test_out_of_range_samples_are_dropped_not_published(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = Agent([_Wild()], node="n", clock=FakeClock(), window_seconds=2.0)
    agent.open()
    with caplog.at_level(logging.WARNING):
        agent.step()
        state = agent.step()
    assert state.metrics == {}
    assert state.sources == {"psi": False}
    assert sum("dropping" in r.getMessage() for r in caplog.records) == 2  # once per metric, not per sample


def test_run_keeps_a_one_second_cadence_on_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    agent = _agent(_node(tmp_path), clock)
    agent.open()
    start = clock.monotonic()
    state = agent.run(threading.Event(), steps=agent.samples_per_window + 1)
    assert clock.monotonic() - start == pytest.approx(3.0)
    assert state is not None and state.known


def test_run_stops_when_told(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    assert _agent(_node(tmp_path), FakeClock()).run(stop) is None


@pytest.mark.parametrize(
    ("interval", "window"),
    [pytest.param(0.0, 30.0, id="a zero interval"), pytest.param(5.0, 2.0, id="an interval longer than the window")],
)
def test_bad_cadence_is_refused(interval: float, window: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        Agent([], node="n", clock=FakeClock(), window_seconds=window, interval=interval)


@pytest.mark.parametrize(
    ("interval", "window", "message"),
    [
        pytest.param(1.0, float("inf"), "at most 3600 samples per window", id="an infinite window"),
        pytest.param(1e-308, 1e308, "need interval >= 0.01s", id="a sample count past any float"),
        pytest.param(1e-300, 1.0, "need interval >= 0.01s", id="an interval that would busy-loop"),
        pytest.param(float("nan"), 30.0, "need interval >= 0.01s", id="a NaN interval"),
        pytest.param(1.0, float("nan"), "need 0 < interval <= window", id="a NaN window"),
        pytest.param(1.0, 3601.0, "at most 3600 samples per window", id="one sample too many"),
    ],
)
def test_a_cadence_the_loop_cannot_keep_is_refused(interval: float, window: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Agent([], node="n", clock=FakeClock(), window_seconds=window, interval=interval)


def test_the_cadence_bounds_are_inclusive() -> None:
    assert Agent([], node="n", clock=FakeClock(), window_seconds=1.0, interval=0.01).samples_per_window == 100
    assert Agent([], node="n", clock=FakeClock(), window_seconds=3600.0, interval=1.0).samples_per_window == 3600
