"""The KubeMarla measurements as the scheduler would have seen them: NodeStates from Intel PCM counters.

One row of `data/interference-measurements.csv` is one 3-minute load test of nginx beside
antagonists on an Intel NUC; its counters are what a node agent there would have published. Mapped as
`data/README.md` says: `cpi` = 1 / IPC (std by error propagation, p95 from IPC mean - 1.6 std);
`llc_miss_rate` = L3 misses / L2 misses per stat, capped at 1; `memory_bandwidth_gbps` = (read +
write) / sample interval; `cpu_utilization` = C0 residency / 100; everything else unknown (no resctrl,
PSI or cgroup data). Rows without counters are left out.

A *group* is one campaign, replica count and RPS: its tests become the candidate nodes of one cluster
(identical NUC nodes, `snapshot`), and of two tests whose P99 differ by `PAIR_RATIO` or more, the one
with the lower P99 is the better node for a latency-critical pod sensitive to llc, membw and cpu
(`NGINX`, KubeMarla's 500m/512Mi target). `sim.calibration.HELD_OUT_CAMPAIGNS` are never used for fine-tuning, so
accuracy on them is held-out accuracy.

Pure except `load`, which reads the CSV.
"""

import csv
import io
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cluster.nodestate import NodeState, Summary
from cluster.parse import parse_node, parse_pod
from cluster.snapshot import Snapshot
from cluster.userfiles import UserFileError, clip, read_text
from sim.calibration import HELD_OUT_CAMPAIGNS

DATA = Path(__file__).resolve().parents[1] / "data" / "interference-measurements.csv"
PAIR_RATIO = 1.5
NODE_ALLOCATABLE = {"cpu": "3", "memory": "2888Mi", "pods": "110"}
"""A 3-CPU Minikube node of the NUC (3 GiB, kubelet's 94 %)."""
NGINX = parse_pod(
    {
        "metadata": {
            "name": "nginx",
            "namespace": "default",
            "annotations": {
                "ai-scheduler.io/workload-class": "latency-critical",
                "ai-scheduler.io/sensitivity": "llc,membw,cpu",
            },
        },
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx",
                    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "500m"}},
                }
            ]
        },
    }
)


class CountersError(ValueError):
    """The measurements file is missing or not in the expected shape; the message says which."""


@dataclass(frozen=True)
class Test:
    campaign: str
    replicas: int
    rps: int
    mix: tuple[int, int, int]
    """CPU, L3 and memBW antagonists."""
    p99_ms: float
    baseline_p99_ms: float | None
    state: NodeState


@dataclass(frozen=True)
class Group:
    campaign: str
    replicas: int
    rps: int
    tests: tuple[Test, ...]

    def pairs(self, ratio: float = PAIR_RATIO) -> list[tuple[int, int]]:
        """(better, worse) test positions for every pair whose P99 differ by `ratio` or more."""
        out = []
        p99 = [t.p99_ms for t in self.tests]
        for i in range(len(p99)):
            for j in range(i + 1, len(p99)):
                low, high = (i, j) if p99[i] < p99[j] else (j, i)
                if p99[high] >= ratio * p99[low]:
                    out.append((low, high))
        return out


def _f(row: Mapping[str, str], column: str) -> float:
    return float(row[column])


def node_state(row: Mapping[str, str], node: str) -> NodeState | None:
    """What a node agent would have published during this test (the module docstring's mapping)."""
    if not row.get("ipc_mean"):
        return None
    ipc, ipc_std = _f(row, "ipc_mean"), _f(row, "ipc_std")
    low_ipc = max(ipc - 1.6 * ipc_std, ipc / 4)
    interval = _f(row, "sample_interval_s") or 5.0
    l2 = {s: _f(row, f"l2miss_m_{s}") for s in ("mean", "std", "p95")}
    l3 = {s: _f(row, f"l3miss_m_{s}") for s in ("mean", "std", "p95")}
    moved = {s: _f(row, f"read_gb_{s}") + _f(row, f"write_gb_{s}") for s in ("mean", "p95")}
    moved_std = math.hypot(_f(row, "read_gb_std"), _f(row, "write_gb_std"))
    metrics = {
        "cpi": Summary(1 / ipc, ipc_std / ipc**2, 1 / low_ipc),
        "llc_miss_rate": Summary(
            min(1.0, l3["mean"] / l2["mean"]), min(1.0, l3["std"] / l2["mean"]), min(1.0, l3["p95"] / l2["p95"])
        ),
        "memory_bandwidth_gbps": Summary(moved["mean"] / interval, moved_std / interval, moved["p95"] / interval),
        "cpu_utilization": Summary(*(min(1.0, _f(row, f"c0res_pct_{s}") / 100.0) for s in ("mean", "std", "p95"))),
    }
    sources = {"perf": True, "resctrl": False, "psi": False, "cgroup": False}
    return NodeState(node=node, timestamp=None, window_seconds=180.0, metrics=metrics, sources=sources)


def groups(rows: Sequence[Mapping[str, str]]) -> list[Group]:
    """Tests with counters grouped by campaign, replicas and RPS, in file order.

    CountersError naming the row (counted from 1 after the header) that is short or long, lacks a column or holds a
    counter that is not a number, zero or too large to compute with.
    """
    found: dict[tuple[str, int, int], list[Test]] = defaultdict(list)
    for number, row in enumerate(rows, 1):
        try:
            short = [column for column, value in row.items() if value is None]
            if short:  # csv.DictReader fills a short row's missing cells with None
                raise ValueError(f"the row ends before column {short[0]!r}")
            if None in row:  # and files a long row's extra cells under None: a comma in a cell shifted the columns
                raise ValueError(f"the row has {len(row[None])} more cells than the header")  # type: ignore[index]
            key = (row["campaign"], int(row["replicas"]), int(row["rps"]))
            state = node_state(row, f"test-{len(found[key]) + 1:03d}")
            if state is None:
                continue
            baseline = row.get("baseline_p99_ms") or ""
            mix = (int(row["cpu_antagonists"]), int(row["l3_antagonists"]), int(row["membw_antagonists"]))
            found[key].append(
                Test(*key, mix, _f(row, "p99_ms"), float(baseline) if baseline else None, state)  # type: ignore[arg-type]
            )
        except (KeyError, ValueError, ArithmeticError) as exc:  # ArithmeticError: a zero or overflowing counter
            problem = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__} {exc}"
            raise CountersError(
                clip(f"measurements row {number} (campaign {row.get('campaign')!r}): {problem}")
            ) from exc
    return [Group(*key, tuple(tests)) for key, tests in found.items() if len(tests) > 1]


def load(path: str | Path = DATA) -> list[Group]:
    """The groups of the measurements file; CountersError naming the file when it is absent, not UTF-8 text, not
    CSV or malformed."""
    try:
        text = read_text(path)
    except UserFileError as exc:
        raise CountersError(f"{exc}; pass --counters PATH with the KubeMarla measurements") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return groups(list(reader))
    except csv.Error as exc:
        raise CountersError(f"{path}: line {reader.reader.line_num}: not CSV ({exc})") from exc
    except CountersError as exc:
        raise CountersError(f"{path}: {exc}") from exc


def fine_tuning(groups: Sequence[Group]) -> list[Group]:
    """The groups a learned scorer may learn from: every campaign but `sim.calibration.HELD_OUT_CAMPAIGNS`."""
    return [g for g in groups if g.campaign not in HELD_OUT_CAMPAIGNS]


def snapshot(states: Sequence[NodeState]) -> Snapshot:
    """A cluster of identical NUC nodes, one per NodeState (named after it), with no pods."""
    nodes = [
        parse_node(
            {
                "metadata": {"name": s.node, "labels": {"kubernetes.io/hostname": s.node}},
                "status": {"allocatable": NODE_ALLOCATABLE, "conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
        for s in states
    ]
    return Snapshot.build(nodes, (), states={s.node: s for s in states})
