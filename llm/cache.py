"""Reuse of LLM decisions: a TTL cache keyed by the pod's shape and the coarse cluster state, and
single-flight, so identical questions asked at once reach the LLM once.

The key is a SHA-256 digest of what the LLM's answer depends on: the pod's shape (requests, QoS and
workload class, sensitivities, noisy dimensions, P99 target, and a digest of its scheduling
constraints) and the candidate nodes with their free resources, pod slots and telemetry bucketed
coarsely, the declared neighbours that matter to this pod (noisy ones on the dimensions it is
sensitive to, sensitive ones on those it stresses), and the candidate's spread preference in tenths
(so a replica whose sibling just landed on the cached node asks again) — so replicas of one
Deployment, and a cluster that has not moved much, hit. No pod or
namespace name, label or other free text is part of it: replicas differ only there, and a digest
keeps even the constraints' text out of memory. What is cached is the node *name*; the caller
re-checks it against the current feasible set before use, because buckets hide small changes.

Thread-safe; expiry runs on the injected clock.
"""

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import TTLCache

from cluster.clock import Clock
from cluster.needs import DIMENSIONS
from cluster.nodestate import METRIC_NAMES, METRICS
from cluster.objects import Pod
from llm.prompt import Candidate, PodFacts, PromptFacts

T = TypeVar("T")

SHARE_BUCKETS = 10
"""Free resources and pod slots are compared in tenths of the node's allocatable."""
NEIGHBOUR_CAP = 3
"""Declared neighbours are counted up to this many (each one halves what is left, so more barely differ)."""


def constraints_digest(pod: Pod) -> str:
    """A digest of the pod's node selector, affinity, tolerations and spread constraints.

    They shape the feasible set and the hint, so pods that differ there must not share an answer; the
    text itself (label keys and values the pod's author wrote) stays out of the cache.
    """
    text = repr((sorted(pod.node_selector.items()), pod.affinity, pod.tolerations, pod.topology_spread))
    return hashlib.sha256(text.encode()).hexdigest()


def _share(free: int, allocatable: int) -> int:
    """The tenth of `allocatable` that `free` falls in (0..9; an empty node shares the top tenth)."""
    return -1 if allocatable <= 0 else min(int(SHARE_BUCKETS * free / allocatable), SHARE_BUCKETS - 1)


_BUCKET_SCALE = tuple(METRICS[m].prompt_factor / METRICS[m].cache_step for m in METRIC_NAMES)
"""Raw value → bucket number: the prompt's units over each metric's `cache_step`."""
SPREAD_STEP = 10.0
"""The spread/affinity preference score (0..100) is compared in buckets of 10 points."""


def _metric_buckets(values: tuple[float | None, ...]) -> list[int | None]:
    return [None if v is None else math.floor(v * k) for v, k in zip(values, _BUCKET_SCALE, strict=True)]


def _relevant(counts: tuple[int, ...], dimensions: tuple[str, ...]) -> list[int]:
    """Neighbour counts on `dimensions` only, capped at NEIGHBOUR_CAP."""
    return [min(c, NEIGHBOUR_CAP) for d, c in zip(DIMENSIONS, counts, strict=True) if d.value in dimensions]


def _candidate_state(c: Candidate, pod: PodFacts) -> list[object]:
    free = [max(a - r, 0) for a, r in zip(c.allocatable, c.requested, strict=True)]
    return [
        c.node,
        [_share(f, a) for f, a in zip(free, c.allocatable, strict=True)],
        _share(max(c.max_pods - c.pods, 0), c.max_pods),
        _relevant(c.noisy_neighbours, pod.sensitivity),
        _relevant(c.sensitive_neighbours, pod.noisy),
        _metric_buckets(c.mean),
        _metric_buckets(c.p95),
        None if c.spread is None else math.floor(c.spread / SPREAD_STEP),
    ]


def cache_key(prompt_facts: PromptFacts, *, constraints: str) -> str:
    """The digest of the pod's shape and the bucketed state of its candidates (order-independent)."""
    pod = prompt_facts.pod
    shape = [
        pod.workload_class,
        pod.qos,
        list(pod.sensitivity),
        list(pod.noisy),
        pod.p99_target_ms,
        [list(r) for r in pod.requests],
        constraints,
    ]
    state = sorted((_candidate_state(c, pod) for c in prompt_facts.candidates), key=lambda s: str(s[0]))
    text = json.dumps([shape, list(prompt_facts.resources), state], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Cached:
    node: str
    reason: str


class DecisionCache:
    """`cachetools.TTLCache` behind a lock, timed by the injected clock."""

    def __init__(self, *, ttl: float, max_size: int, clock: Clock) -> None:
        self._lock = threading.Lock()
        self._entries: TTLCache[str, Cached] = TTLCache(maxsize=max_size, ttl=ttl, timer=clock.monotonic)

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def get(self, key: str) -> Cached | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value: Cached) -> None:
        with self._lock:
            self._entries[key] = value

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class Flight(Generic[T]):
    """One call in progress that others with the same key wait for instead of calling again."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self._outcome: T | None = None

    def finish(self, outcome: T) -> None:
        self._outcome = outcome
        self.done.set()

    @property
    def outcome(self) -> T | None:
        """The outcome once `done` is set, None before."""
        return self._outcome if self.done.is_set() else None


class Flights(Generic[T]):
    """Calls in flight by key (single-flight)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flying: dict[str, Flight[T]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._flying)

    def lead_or_join(self, key: str) -> tuple[Flight[T], bool]:
        """The flight already asking this question, or a new one; True when the caller must start it.

        A leader must `finish` and `land` its flight whatever happens, or its followers wait until
        their deadlines.
        """
        with self._lock:
            existing = self._flying.get(key)
            if existing is not None:
                return existing, False
            flight: Flight[T] = Flight()
            self._flying[key] = flight
            return flight, True

    def land(self, key: str, flight: Flight[T]) -> None:
        """The flight for `key` is over; later callers start their own."""
        with self._lock:
            if self._flying.get(key) is flight:
                del self._flying[key]
