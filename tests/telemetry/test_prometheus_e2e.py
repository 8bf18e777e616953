"""A real Prometheus server scrapes the agent's exporter; the scheduler's source reads the same NodeState back."""

import socket
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cgroup import CgroupCollector
from agent.exporter import NodeStateCollector, serve
from agent.loop import Agent
from agent.psi import PsiCollector
from agent.resctrl import ResctrlCollector
from cluster.clock import FakeClock, SystemClock
from cluster.nodestate import NodeState, parse
from telemetry.sources.prometheus import PrometheusSettings, PrometheusSource
from tests import tools
from tests.telemetry.trees import NodeTree

PROMETHEUS = tools.which("prometheus")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None, reason=tools.missing("prometheus", "the Prometheus telemetry source's end-to-end test")
    ),
]
DEADLINE_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _until(condition: Callable[[], object], what: str) -> object:
    """Poll a real server (no fake clock can speed Prometheus up), at most DEADLINE_SECONDS."""
    clock, pause = SystemClock(), threading.Event()
    deadline = clock.monotonic() + DEADLINE_SECONDS
    while clock.monotonic() < deadline:
        result = condition()
        if result:
            return result
        clock.wait(pause, 0.2)
    pytest.fail(f"timed out after {DEADLINE_SECONDS:g}s waiting for {what}")


def _agent_state(tmp_path: Path) -> NodeState:
    """A NodeState computed by the agent itself from a fixture tree, on a fake clock."""
    tree = NodeTree(tmp_path / "node", cpus=4)
    tree.set_pressure(cpu=12.5, memory=0.5, io=3.0)
    tree.add_l3(caches=1, size_kb=8192)
    tree.mount_resctrl(domains=1)
    tree.set_resctrl("llc_occupancy", 3 * 2**20, domain=0)
    tree.set_resctrl("mbm_total_bytes", 0, domain=0)
    clock = FakeClock(start=SystemClock().now() - 3)
    collectors = [
        ResctrlCollector(resctrl_root=str(tree.resctrl), sys_root=str(tree.sys), peak_gbps=40.0),
        PsiCollector(str(tree.proc)),
        CgroupCollector(proc_root=str(tree.proc), cgroup_root=str(tree.cgroup)),
    ]
    agent = Agent(collectors, node="worker-7", clock=clock, window_seconds=3.0)
    tree.set_cpu_times(busy=0, idle=0)
    agent.open()
    state = agent.step()
    for second in range(1, 4):
        clock.advance(1.0)
        tree.set_cpu_times(busy=second * second * 100, idle=second * 700)
        tree.set_resctrl("mbm_total_bytes", second * second * 3 * 10**9 + 12345, domain=0)
        tree.set_pressure(cpu=12.5 + second / 3, memory=0.5, io=3.0)
        state = agent.step()
    return state


@pytest.fixture(scope="module")
def agent_and_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeState, str]]:
    """One exporter and one Prometheus for the module: Prometheus applies new targets only every 5 s."""
    tmp_path = tmp_path_factory.mktemp("prometheus")
    state = _agent_state(tmp_path)
    gauges = NodeStateCollector()
    gauges.update(state)
    server, thread = serve(gauges, port=0, address="127.0.0.1")
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: ai-scheduler-agent\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{server.server_address[1]}']\n"
    )
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _ready(url, process), "Prometheus to be ready")
        yield state, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _ready(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        pytest.fail(f"prometheus exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_the_prometheus_source_reads_back_the_agents_node_state(agent_and_prometheus: tuple[NodeState, str]) -> None:
    expected, url = agent_and_prometheus
    source = PrometheusSource(PrometheusSettings(url=url, interval_seconds=1), clock=SystemClock())

    def complete() -> NodeState | None:
        source.poll_once()
        state = source.states().get("worker-7")
        return state if state is not None and set(state.metrics) == set(expected.metrics) else None

    got = _until(complete, "the agent's gauges in Prometheus")
    assert expected.metrics.keys() >= {
        "psi_cpu_some",
        "cpu_utilization",
        "memory_bandwidth_gbps",
        "llc_occupancy_ratio",
    }
    assert got == parse(expected.to_json(), node="worker-7")


def test_a_promql_mapping_is_summarised_over_the_window(agent_and_prometheus: tuple[NodeState, str]) -> None:
    expected, url = agent_and_prometheus
    settings = PrometheusSettings(
        url=url, queries={"psi_io_some": 'ai_scheduler_node_psi_io_some{stat="mean"}'}, window_seconds=3, step_seconds=1
    )
    source = PrometheusSource(settings, clock=SystemClock())

    def mapped() -> NodeState | None:
        source.poll_once()
        state = source.states().get("worker-7")
        return state if state is not None and "psi_io_some" in state.metrics else None

    got = _until(mapped, "the mapped expression's subqueries")
    assert got.value("psi_io_some") == pytest.approx(expected.value("psi_io_some"))
    assert got.value("psi_io_some", "std") == pytest.approx(0.0)
    assert got.metrics["cpu_utilization"] == expected.metrics["cpu_utilization"]
