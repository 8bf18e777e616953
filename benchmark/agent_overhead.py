"""Measure the node agent's CPU and memory cost on a synthetic 64-CPU node.

Runs `python -m agent` as a subprocess against a generated fixture tree shaped like a busy
64-CPU node (2 L3 domains with resctrl and 4 control groups, cgroup v2 with 110 pods of 2 containers,
PSI, /proc/stat), whose counters this script advances every second. The agent publishes to a loopback
fake API server and is scraped on its metrics port every 15 s, so exporter and publisher are included.
CPU time and RSS are read from /proc/<pid>/stat and /proc/<pid>/status after a warm-up.

perf cannot be faked in a file tree, so its cost is measured separately, in-process: 64 groups of four
software events (the syscall layer and arithmetic are the same as for hardware events) read once per
second through `PerfCollector`. Finally it measures what importing the kubernetes client would add.

    python benchmark/agent_overhead.py [--seconds 60] [--output benchmark/results/agent_overhead.json]
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent import perf  # noqa: E402
from cluster.clock import SystemClock  # noqa: E402
from tests.telemetry.trees import NodeTree  # noqa: E402

CPUS, PODS, CONTAINERS, DOMAINS, GROUPS = 64, 110, 2, 2, ("gold", "silver", "bronze", "batch")
QOS = ("kubepods-burstable.slice", "kubepods-besteffort.slice", "")


def build_node(root: Path) -> NodeTree:
    tree = NodeTree(root, cpus=CPUS)
    tree.set_cpu_times(busy=0, idle=0)
    tree.set_pressure(cpu=5.0, memory=1.0, io=0.5)
    tree.add_l3(caches=DOMAINS, size_kb=65536)
    tree.mount_resctrl(domains=DOMAINS, groups=GROUPS)
    tree.enable_cgroup_v2()
    advance(tree, 0)
    write_limits(tree)
    return tree


def pod_paths() -> list[tuple[str, bool]]:
    """Every pod and container cgroup, and whether it has a CPU limit (all but BestEffort pods here)."""
    paths = []
    for pod in range(PODS):
        qos = QOS[pod % len(QOS)]
        base = f"kubepods.slice/{qos}/pod{pod}.slice" if qos else f"kubepods.slice/pod{pod}.slice"
        limited = qos != "kubepods-besteffort.slice"
        paths += [(base, limited), *((f"{base}/cri-containerd-{pod}-{c}.scope", limited) for c in range(CONTAINERS))]
    return paths


def write_limits(tree: NodeTree) -> None:
    """cpu.max as the kubelet writes it: a quota on limited pods and containers, `max` elsewhere."""
    for slice_name in ("kubepods.slice", *(f"kubepods.slice/{qos}" for qos in QOS if qos)):
        (tree.cgroup / slice_name).mkdir(parents=True, exist_ok=True)
        (tree.cgroup / slice_name / "cpu.max").write_text("max 100000\n")
    for path, limited in pod_paths():
        (tree.cgroup / path / "cpu.max").write_text("200000 100000\n" if limited else "max 100000\n")


def advance(tree: NodeTree, second: int) -> None:
    """Move every counter as a loaded node would in one second."""
    tree.set_cpu_times(busy=second * CPUS * 60, idle=second * CPUS * 40)
    tree.set_pressure(cpu=5.0 + second % 7, memory=1.0, io=0.5)
    for group in ("", *GROUPS):
        for domain in range(DOMAINS):
            tree.set_resctrl("llc_occupancy", (second % 13) * 2**20, domain=domain, group=group)
            tree.set_resctrl("mbm_total_bytes", second * 2 * 10**9, domain=domain, group=group)
    for path, limited in pod_paths():
        tree.set_cpu_stat(path, periods=second * 10 if limited else 0, throttled=second if limited else 0)


def _fake_api() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(status[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def measure_agent(seconds: float, warmup: float) -> dict:
    clock, pause = SystemClock(), threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        tree = build_node(Path(tmp))
        api, port = _fake_api(), _free_port()
        command = [
            sys.executable,
            "-m",
            "agent",
            *tree.args(),
            "--cgroup",
            str(tree.cgroup),
            "--memory-bandwidth-peak-gbps",
            "400",
            "--metrics-address",
            "127.0.0.1",
            "--metrics-port",
            str(port),
            "--api-server",
            f"http://127.0.0.1:{api.server_address[1]}",
            "--node",
            "bench-64",
        ]
        agent = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            start = clock.monotonic()
            second, scrapes, cpu_start, measured_from = 0, 0, None, None
            while clock.monotonic() - start < warmup + seconds:
                second += 1
                advance(tree, second)
                elapsed = clock.monotonic() - start
                if cpu_start is None and elapsed >= warmup:
                    cpu_start, measured_from = cpu_seconds(agent.pid), clock.monotonic()
                if second % 15 == 0:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                        response.read()
                    scrapes += 1
                clock.wait(pause, max(0.0, second - (clock.monotonic() - start)))
            cpu = cpu_seconds(agent.pid) - cpu_start
            wall = clock.monotonic() - measured_from
            memory = memory_kib(agent.pid)
        finally:
            agent.terminate()
            _, stderr = agent.communicate(timeout=10)
            api.shutdown()
    return {
        "measured_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 3),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
        "rss_mib": round(memory["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        "cgroups_under_pods_slice": len(QOS) + len(pod_paths()),
        "cgroups_with_cpu_limit_read_per_sample": 1 + sum(limited for _, limited in pod_paths()),
        "scrapes": scrapes,
        "agent_log_tail": stderr.strip().splitlines()[-3:],
    }


def measure_perf(samples: int) -> dict:
    """64 four-event groups read through PerfCollector once a second; CPU time of the reads only."""
    online = os.cpu_count() or 1
    events = [
        perf.EventSpec(name, perf.PERF_TYPE_SOFTWARE, config)
        for name, config in (("cycles", 0), ("instructions", 1), ("cache-references", 2), ("cache-misses", 3))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tree = NodeTree(Path(tmp), cpus=CPUS)
        collector = perf.PerfCollector(
            sys_root=str(tree.sys),
            proc_root="/proc",
            events=events,
            opener=lambda spec, cpu, group: perf.open_event(spec, cpu % online, group),
        )
        availability = collector.open()
        if not availability.metrics:
            return {"skipped": f"perf_event_open not allowed here: {availability.missing}"}
        clock, pause = SystemClock(), threading.Event()
        used = 0.0
        for second in range(samples):
            before = resource.getrusage(resource.RUSAGE_SELF)
            collector.sample(float(second))
            after = resource.getrusage(resource.RUSAGE_SELF)
            used += (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            clock.wait(pause, 0.05)  # the counters need time to move; the agent samples at 1 Hz
        collector.close()
    return {
        "groups": CPUS,
        "events_per_group": 4,
        "samples": samples,
        "cpu_ms_per_sample": round(1000 * used / samples, 3),
        "cpu_percent_of_one_core_at_1hz": round(100 * used / samples, 4),
    }


def measure_imports() -> dict:
    """Peak RSS (VmHWM, which exec resets) of an interpreter importing what the agent imports, and more."""
    probes = {
        "python": "pass",
        "agent_imports": "import agent.__main__",
        "agent_plus_kubernetes_client": "import agent.__main__, runtime.kube",
    }
    result = {}
    for name, code in probes.items():
        script = f"{code}\nimport pathlib; print(pathlib.Path('/proc/self/status').read_text())"
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
        peak_kib = next(int(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("VmHWM:"))
        result[f"{name}_peak_rss_mib"] = round(peak_kib / 1024, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds after warm-up (default 60)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring (default 10)")
    parser.add_argument("--output", default=str(ROOT / "benchmark/results/agent_overhead.json"))
    args = parser.parse_args()
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "kernel": os.uname().release},
        "agent_on_synthetic_64_cpu_node": measure_agent(args.seconds, args.warmup),
        "perf_64_groups_in_process": measure_perf(60),
        "imports": measure_imports(),
        "budget": {"cpu_percent_of_one_core": 1.0, "rss_mib": 50},
    }
    perf_cost = report["perf_64_groups_in_process"].get("cpu_percent_of_one_core_at_1hz", 0.0)
    report["estimated_cpu_percent_with_perf"] = round(
        report["agent_on_synthetic_64_cpu_node"]["cpu_percent_of_one_core"] + perf_cost, 3
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
