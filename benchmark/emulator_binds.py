"""Bind throughput of the API server emulator: the "bind-only ceiling" of any scheduler driving it.

Loads 1,000 nodes and 10,000 pods (5,000 of them pending) into an in-process `Emulator`, then binds every
pending pod from separate client processes (so the server's interpreter lock measures the server, not the
client), each running threads that call the real kubernetes client's `create_namespaced_binding` with
`_preload_content=False`. Prints one JSON line: binds/s end to end (`binds_per_second`, bounded by the clients'
CPU on a small machine as much as by the server) and the server's own CPU per bind with the rate that alone
would allow (`server_only_binds_per_second`).

    python benchmark/emulator_binds.py [--nodes 1000] [--pods 10000] [--pending 5000] [--processes 2] [--threads 4]

`bind_ceiling(url, pods, nodes)` measures against any running API server (the scheduler throughput benchmark
calls it for its "bind-only ceiling"); `measure(...)` is the whole benchmark as a function.
"""

import argparse
import json
import multiprocessing
import resource
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubernetes import client

from cluster.clock import SystemClock
from sim.apiserver import Emulator

__all__ = ["bind_ceiling", "build_cluster", "measure"]

JSON = dict[str, Any]


def build_cluster(*, nodes: int = 1000, pods: int = 10_000, pending: int = 5000) -> list[JSON]:
    """Nodes `node-N` and pods `bench-N` in namespace `bench`; the first `pods - pending` run on a node."""
    objects: list[JSON] = []
    for i in range(nodes):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}"}},
                "status": {
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "nodeInfo": {"kubeletVersion": "v1.32.0"},
                },
            }
        )
    for i in range(pods):
        pod: JSON = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"bench-{i}", "namespace": "bench", "labels": {"app": f"app-{i % 50}"}},
            "spec": {
                "schedulerName": "ai-llama-scheduler",
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:1.27",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    }
                ],
            },
        }
        if i < pods - pending:
            pod["spec"]["nodeName"] = f"node-{i % nodes}"
            pod["status"] = {"phase": "Running"}
        objects.append(pod)
    return objects


def _bind_worker(url: str, jobs: list[tuple[str, str, str]], threads: int) -> tuple[int, int, float, float]:
    """One client process: bind `jobs` (namespace, pod, node) with `threads` threads; (ok, failed, t0, t1)."""
    configuration = client.Configuration()
    configuration.host = url
    configuration.connection_pool_maxsize = threads
    core = client.CoreV1Api(client.ApiClient(configuration))
    clock = SystemClock()

    def bind_share(share: list[tuple[str, str, str]]) -> tuple[int, int]:
        ok = failed = 0
        for namespace, pod, node in share:
            body = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": pod},
                "target": {"kind": "Node", "name": node},
            }
            try:
                response = core.create_namespaced_binding(namespace, body, _preload_content=False)
                response.data  # noqa: B018 - reading the body hands the connection back to the pool
                response.release_conn()
                ok += response.status == 201
            except client.ApiException:
                failed += 1
        return ok, failed

    shares = [jobs[i::threads] for i in range(threads)]
    start = clock.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(bind_share, shares))
    end = clock.monotonic()
    return sum(r[0] for r in results), sum(r[1] for r in results), start, end


def bind_ceiling(
    url: str,
    pods: list[tuple[str, str]],
    nodes: list[str],
    *,
    processes: int = 2,
    threads: int = 4,
) -> JSON:
    """Bind `pods` (namespace, name) round-robin onto `nodes` against the API at `url`; returns the measurement.

    The result has `binds`, `failed`, `seconds` and `binds_per_second`; clients run in `processes` separate
    processes of `threads` threads each, so only the server's own cost limits the rate.
    """
    jobs = [(ns, name, nodes[i % len(nodes)]) for i, (ns, name) in enumerate(pods)]
    shares = [jobs[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        clock = SystemClock()
        start = clock.monotonic()
        results = pool.starmap(_bind_worker, [(url, share, threads) for share in shares])
        elapsed = clock.monotonic() - start
    binds = sum(r[0] for r in results)
    busy = max(r[3] for r in results) - min(r[2] for r in results)  # CLOCK_MONOTONIC is shared by processes
    return {
        "binds": binds,
        "failed": sum(r[1] for r in results),
        "seconds": round(busy, 3),
        "seconds_with_process_start": round(elapsed, 3),
        "binds_per_second": round(binds / busy, 1) if busy > 0 else 0.0,
        "processes": processes,
        "threads": threads,
    }


def _cpu_seconds() -> float:
    """CPU time of this process (the in-process server; the client processes are not counted)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    *,
    nodes: int = 1000,
    pods: int = 10_000,
    pending: int = 5000,
    processes: int = 2,
    threads: int = 4,
    kubelet: bool = True,
) -> JSON:
    """The whole benchmark: load an in-process emulator, bind every pending pod, and measure."""
    objects = build_cluster(nodes=nodes, pods=pods, pending=pending)
    with Emulator(objects, kubelet=kubelet) as emulator:
        unbound = emulator.store.list("pods", fields="spec.nodeName=", copy=False).items
        targets = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in unbound]
        names = [n["metadata"]["name"] for n in emulator.store.list("nodes", copy=False).items]
        cpu_before = _cpu_seconds()
        result = bind_ceiling(emulator.url, targets, names, processes=processes, threads=threads)
        server_cpu = _cpu_seconds() - cpu_before
        bound = len(emulator.store.list("pods", fields="spec.nodeName!=", copy=False).items)
    per_bind = server_cpu / max(1, result["binds"])
    result["server_cpu_us_per_bind"] = round(per_bind * 1e6, 1)
    result["server_only_binds_per_second"] = round(1 / per_bind, 1) if per_bind > 0 else 0.0
    return result | {"nodes": nodes, "pods": pods, "pending": pending, "bound_after": bound, "kubelet": kubelet}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--pending", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-kubelet", action="store_true", help="binding only, no Running status write after it")
    args = parser.parse_args(argv)
    result = measure(
        nodes=args.nodes,
        pods=args.pods,
        pending=args.pending,
        processes=args.processes,
        threads=args.threads,
        kubelet=not args.no_kubelet,
    )
    print(json.dumps(result))
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
