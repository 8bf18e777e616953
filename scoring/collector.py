"""The collector: every decision and, later, its outcome, appended to a JSONL file for retraining.

The scheduler loop hands each decision to `Collector.decision` and each pod event to
`Collector.observe`; both return at once (a bounded queue; a full queue drops the record and counts
it). One writer thread builds the records and appends them to `collector.path`, so the decision
thread never serialises or touches the disk. A bad path, a full disk or the `collector.max_mb` cap
stops the writing (one warning, retried after `RETRY_SECONDS`), never the scheduling.

Records, one JSON object per line:
- `{"kind": "decision", ...}`: the pod (key, uid), the tier, the chosen node and score, the pod's
  inputs and, for the chosen node and the best-scored others (at most `MAX_CANDIDATES`), the tier's
  node inputs (`features.NodeInputs`: telemetry features in the cluster's context, pressure,
  resources, declared neighbours) with the feature version;
- `{"kind": "outcome", ...}`: what became of a placed pod: restarts, OOM kills, eviction (read from
  the pod's status as the informer sees it), or an observed P99 (`python -m scoring.collector outcome`,
  from a load test or monitoring).
`read` joins the latest outcome to each pod's latest decision; `training.fit` turns
labelled ones into examples (`python -m training.train --data FILE`).
"""

import argparse
import json
import logging
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from cluster.clock import Clock, SystemClock
from cluster.config import Settings
from cluster.nodestate import format_timestamp
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.tiers import Decision
from scoring.transformer.features import FEATURE_VERSION, NodeInputs, PodInputs

log = logging.getLogger("scheduler.collector")

RECORD_VERSION = 1
MAX_CANDIDATES = 16
"""Nodes recorded per decision: the chosen one and the best-scored others (records stay a few KB)."""
QUEUE_SIZE = 1024
RETRY_SECONDS = 60.0
TRACKED_PODS = 10_000
"""Placed pods whose status changes are watched for outcomes (oldest forgotten first)."""


def _rounded(values: np.ndarray) -> list[Any]:
    return np.round(np.asarray(values, dtype=float), 5).tolist()


def decision_record(pod: Pod, snapshot: Snapshot, decision: Decision, *, now: float) -> dict[str, Any] | None:
    """The JSON record of a placed pod's decision (None when nothing was placed)."""
    if decision.node is None:
        return None
    names = [n for n in decision.scores if snapshot.node_index(n) is not None]
    ranked = sorted(names, key=lambda n: (n != decision.node, -float(decision.scores[n]), n))[:MAX_CANDIDATES]
    indices = np.array([snapshot.node_index(n) for n in ranked], dtype=np.int64)
    info = PodInfo.of(pod, snapshot, decision.needs)
    nodes = NodeInputs.of(snapshot, indices)
    inputs = PodInputs.of(info)
    brief = decision.summary()
    return {
        "kind": "decision",
        "version": RECORD_VERSION,
        "feature_version": FEATURE_VERSION,
        "time": format_timestamp(now),
        "pod": pod.key,
        "uid": pod.uid,
        **{key: brief[key] for key in ("tier", "node", "score")},
        "candidates": ranked,
        "feasible": len(decision.scores),
        "pod_inputs": {
            "class": inputs.workload_class.value,
            "sensitivity": list(inputs.sensitivity),
            "noisy": list(inputs.noisy),
            "cpu_millicores": inputs.cpu_millicores,
            "memory_bytes": inputs.memory_bytes,
        },
        "nodes": {
            "telemetry": _rounded(nodes.telemetry),
            "pressure": _rounded(nodes.pressure),
            "allocatable": np.asarray(nodes.allocatable).tolist(),
            "requested": np.asarray(nodes.requested).tolist(),
            "pods": np.asarray(nodes.pods).tolist(),
            "max_pods": np.asarray(nodes.max_pods).tolist(),
            "declared": np.asarray(nodes.declared).tolist(),
        },
    }


def pod_outcome(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Restarts, OOM kills and eviction from a Pod's JSON status (empty when none is reported)."""
    status = raw.get("status") or {}
    restarts, oom = 0, False
    for container in status.get("containerStatuses") or []:
        if not isinstance(container, Mapping):
            continue
        restarts += int(container.get("restartCount") or 0)
        for state in (container.get("lastState") or {}, container.get("state") or {}):
            if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                oom = True
    evicted = status.get("reason") == "Evicted"
    return {"restarts": restarts, "oom_killed": oom, "evicted": evicted} if restarts or oom or evicted else {}


def outcome_record(*, pod: str, uid: str, node: str, now: float, **facts: Any) -> dict[str, Any]:
    return {"kind": "outcome", "version": RECORD_VERSION, "time": format_timestamp(now), "pod": pod, "uid": uid,
            "node": node, **facts}  # fmt: skip


@dataclass(frozen=True)
class Joined:
    """A decision record and the latest outcome recorded for the same pod (None when none yet)."""

    decision: Mapping[str, Any]
    outcome: Mapping[str, Any] | None


def read(paths: Iterable[str | Path]) -> tuple[list[Joined], int]:
    """Decisions joined with their outcomes (by uid, else by pod key), and the number of unreadable lines."""
    decisions: dict[str, Mapping[str, Any]] = {}
    latest: dict[str, str] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    bad = 0
    for path in paths:
        with Path(path).open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser recurses
                    record = None
                if not isinstance(record, dict) or not isinstance(record.get("pod"), str):
                    bad += 1
                    continue
                uid, pod = str(record.get("uid") or ""), record["pod"]
                if record.get("kind") == "decision":
                    identity = uid or pod
                    decisions[identity] = record
                    latest[pod] = identity
                    outcomes.pop(identity, None)
                elif record.get("kind") == "outcome":
                    identity = uid if uid in decisions else latest.get(pod, "")
                    if identity:
                        outcomes[identity] = {**outcomes.get(identity, {}), **record}
    return [Joined(d, outcomes.get(k)) for k, d in decisions.items()], bad


class Collector:
    """Appends decision and outcome records from a writer thread; every public method returns at once."""

    def __init__(self, path: str | Path, *, clock: Clock, max_bytes: int = 256 * 2**20) -> None:
        self.path = Path(path)
        self.clock = clock
        self.max_bytes = max_bytes
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._placed: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._failed_at: float | None = None
        self._full = False
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock) -> "Collector | None":
        """A collector when `collector.path` is set, else None."""
        if not settings.collector.path:
            return None
        return cls(settings.collector.path, clock=clock, max_bytes=int(settings.collector.max_mb * 2**20))

    def decision(self, pod: Pod, snapshot: Snapshot, decision: Decision) -> None:
        """Record a decision (built on the writer thread); a placed pod's status is watched from now on."""
        if decision.node is not None:
            with self._lock:
                self._placed[pod.uid or pod.key] = (pod.key, decision.node, "")
                while len(self._placed) > TRACKED_PODS:
                    self._placed.popitem(last=False)
        self._put(("decision", (pod, snapshot, decision)))

    def observe(self, raw: Mapping[str, Any]) -> None:
        """A pod event from the informer: a placed pod's new restarts, OOM kill or eviction become an outcome."""
        meta = raw.get("metadata") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        uid = str(meta.get("uid") or "")
        with self._lock:
            placed = self._placed.get(uid or key)
            if placed is None:
                return
            facts = pod_outcome(raw)
            signature = json.dumps(facts, sort_keys=True)
            if not facts or signature == placed[2]:
                return
            self._placed[uid or key] = (placed[0], placed[1], signature)
        self._put(("outcome", {"pod": key, "uid": uid, "node": placed[1], **facts}))

    def close(self, timeout: float = 2.0) -> None:
        """Flush what is queued (bounded by `timeout`) and stop the writer."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _put(self, item: tuple[str, Any]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                record = self._record(*item)
            except Exception:
                log.exception("collector: cannot build a %s record; dropped", item[0])
                continue
            if record is not None:
                self._write(json.dumps(record, separators=(",", ":")) + "\n")
        if self._file is not None:
            self._file.close()

    def _record(self, kind: str, payload: Any) -> dict[str, Any] | None:
        now = self.clock.now()
        if kind == "decision":
            pod, snapshot, decision = payload
            return decision_record(pod, snapshot, decision, now=now)
        return outcome_record(now=now, **payload)

    def _write(self, line: str) -> None:
        if self._full:
            return
        if self._file is None:
            if self._failed_at is not None and self.clock.monotonic() - self._failed_at < RETRY_SECONDS:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            except OSError as exc:
                self._failed(f"cannot open {self.path} ({exc.strerror}); records are dropped")
                return
        try:
            if self._file.tell() + len(line) > self.max_bytes:
                self._full = True
                log.warning("collector: %s reached collector.max_mb; no more records are written", self.path)
                return
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            self._file = None
            self._failed(f"cannot write {self.path} ({exc.strerror}); records are dropped")

    def _failed(self, message: str) -> None:
        if self._failed_at is None:
            log.warning("collector: %s (retrying every %.0fs)", message, RETRY_SECONDS)
        self._failed_at = self.clock.monotonic()


# -- command line: outcomes from load tests or monitoring ------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring.collector", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    outcome = commands.add_parser("outcome", help="append an observed outcome for a placed pod")
    outcome.add_argument("--path", required=True, help="the collector's JSONL file (collector.path)")
    outcome.add_argument("--pod", required=True, help="namespace/name")
    outcome.add_argument("--uid", default="", help="the pod's uid (joins exactly when the name was reused)")
    outcome.add_argument("--p99-ms", type=float, help="observed P99 latency")
    outcome.add_argument("--baseline-p99-ms", type=float, help="the pod's P99 alone (makes a slowdown label)")
    summary = commands.add_parser("summary", help="count decisions, outcomes and labelled decisions")
    summary.add_argument("paths", nargs="+")
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    args = _parser().parse_args(argv)
    clock = clock or SystemClock()
    try:
        if args.command == "outcome":
            facts = {k: v for k, v in (("p99_ms", args.p99_ms), ("baseline_p99_ms", args.baseline_p99_ms)) if v}
            if not facts:
                print("error: give --p99-ms (and --baseline-p99-ms for a slowdown label)", file=sys.stderr)
                return 2
            record = outcome_record(pod=args.pod, uid=args.uid, node="", now=clock.now(), **facts)
            with Path(args.path).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            return 0
        joined, bad = read(args.paths)
        with_outcome = sum(1 for j in joined if j.outcome)
        print(json.dumps({"decisions": len(joined), "with_outcome": with_outcome, "unreadable_lines": bad}))
        return 0
    except OSError as exc:
        print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
