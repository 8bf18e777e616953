"""What the scheduler counts, for the periodic summary line, `scheduler.py stats` and `/metrics`.

One `Stats` object per scheduler holds the counters and a Prometheus registry whose metrics use
kube-scheduler's names where one exists (`scheduler_schedule_attempts_total{result,profile}`,
`scheduler_scheduling_attempt_duration_seconds`, `scheduler_pending_pods{queue}`,
`scheduler_pod_scheduling_attempts`) and `ai_scheduler_*` for the rest. Every tier reports through
the methods here, so the log line and the metrics can never disagree. Thread-safe.
"""

import threading
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

LATENCY_WINDOW = 10_000
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


def percentile(values: Any, q: float) -> float:
    """The q-th percentile of the samples (0 when there are none)."""
    data = np.asarray(values, dtype=float)
    return float(np.percentile(data, q)) if data.size else 0.0


class Stats:
    def __init__(self, *, profile: str = "ai-llama-scheduler", registry: CollectorRegistry | None = None) -> None:
        self.profile = profile
        self.registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._tiers: Counter[str] = Counter()
        self._fallbacks: Counter[str] = Counter()
        self._llm_rejections: Counter[str] = Counter()
        self._seen: set[str] = set()
        self._answer_format: str | None = None
        self._latency_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._llm_latency_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        r = self.registry
        self.attempts = PromCounter(
            "scheduler_schedule_attempts", "Scheduling attempts by result.", ["result", "profile"], registry=r
        )
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency (filters, scores, tiers).",
            ["result", "profile"],
            buckets=BUCKETS,
            registry=r,
        )
        self.pending = Gauge("scheduler_pending_pods", "Pending pods by queue.", ["queue"], registry=r)
        self.pod_attempts = Histogram(
            "scheduler_pod_scheduling_attempts",
            "Attempts it took to schedule a pod.",
            buckets=(1, 2, 4, 8, 16),
            registry=r,
        )
        self.decisions = PromCounter("ai_scheduler_decisions", "Decisions by tier.", ["tier"], registry=r)
        self.fallbacks = PromCounter(
            "ai_scheduler_tier_fallbacks", "Times a tier declined a pod, by tier.", ["tier"], registry=r
        )
        self.slo_unmet = PromCounter(
            "ai_scheduler_slo_unmet",
            "Pods placed where their P99 target is predicted to be missed, because no feasible node meets it, by tier.",
            ["tier"],
            registry=r,
        )
        self.decision_latency = Histogram(
            "ai_scheduler_decision_latency_seconds", "Per-pod decision latency by tier.", ["tier"], buckets=BUCKETS,
            registry=r,
        )  # fmt: skip
        self.binding_failures = PromCounter("ai_scheduler_binding_failures", "Failed bindings.", registry=r)
        self.preemption_attempts = PromCounter(
            "scheduler_preemption_attempts", "Total preemption attempts in the cluster till now", registry=r
        )
        self.preemption_victims = Histogram(
            "scheduler_preemption_victims", "Number of selected preemption victims", buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )  # fmt: skip
        self.internal_errors = PromCounter(
            "ai_scheduler_internal_errors",
            "Unexpected exceptions caught so one object could not stop the scheduler, by where they were caught.",
            ["where"],
            registry=r,
        )
        self.llm_requests = PromCounter(
            "ai_scheduler_llm_requests", "LLM requests by outcome.", ["outcome"], registry=r
        )
        self.llm_retries = PromCounter("ai_scheduler_llm_retries", "LLM request retries.", registry=r)
        self.llm_latency = Histogram(
            "ai_scheduler_llm_latency_seconds", "LLM request latency.", buckets=BUCKETS, registry=r
        )
        self.llm_rejections = PromCounter(
            "ai_scheduler_llm_rejections", "LLM answers or calls rejected, by cause.", ["cause"], registry=r
        )
        self.answer_format = Gauge(
            "ai_scheduler_llm_answer_format",
            "1 for the answer format the LLM endpoint accepts (llm.structured_output), 0 for one it no longer does.",
            ["format"],
            registry=r,
        )
        self.cache_lookups = PromCounter(
            "ai_scheduler_llm_cache_lookups", "LLM decision cache lookups.", ["result"], registry=r
        )
        self.breaker_state = Gauge(
            "ai_scheduler_circuit_breaker_state", "Breaker state (0 closed, 1 half-open, 2 open).", ["tier"], registry=r
        )
        self.breaker_trips = PromCounter(
            "ai_scheduler_circuit_breaker_trips", "Times a breaker opened.", ["tier"], registry=r
        )
        self.ready = Gauge("ai_scheduler_ready", "1 once the informers have synced.", registry=r)
        self.leader = Gauge(
            "ai_scheduler_leader",
            "1 while this replica schedules (holds the lease, or runs without leader election).",
            registry=r,
        )

    # -- the scheduling loop --------------------------------------------------------------------------

    def pod_seen(self, key: str) -> None:
        with self._lock:
            self._seen.add(key)

    def decided(
        self,
        *,
        tier: str,
        placed: bool,
        latency_ms: float,
        fallbacks: Mapping[str, str] | None = None,
        slo_unmet: bool = False,
    ) -> None:
        fallbacks = fallbacks or {}
        result = "scheduled" if placed else "unschedulable"
        seconds = latency_ms / 1000
        with self._lock:
            self._counts[result] += 1
            self._latency_ms.append(latency_ms)
            if placed:
                self._tiers[tier] += 1
            for declined in fallbacks:
                self._fallbacks[declined] += 1
        self.attempts.labels(result, self.profile).inc()
        self.attempt_duration.labels(result, self.profile).observe(seconds)
        if placed:
            self.decisions.labels(tier).inc()
            self.decision_latency.labels(tier).observe(seconds)
            if slo_unmet:
                self.slo_unmet.labels(tier).inc()
        for declined in fallbacks:
            self.fallbacks.labels(declined).inc()

    def error(self) -> None:
        with self._lock:
            self._counts["error"] += 1
        self.attempts.labels("error", self.profile).inc()

    def bound(self, attempts: int) -> None:
        with self._lock:
            self._counts["bound"] += 1
        self.pod_attempts.observe(attempts)

    def binding_failed(self) -> None:
        with self._lock:
            self._counts["failed_bindings"] += 1
        self.binding_failures.inc()

    def preemption(self, victims: int | None) -> None:
        """One PostFilter run; `victims` evicted when it nominated a node, None when it could not help."""
        self.preemption_attempts.inc()
        if victims is not None:
            self.preemption_victims.observe(victims)

    def internal_error(self, where: str) -> None:
        """An unexpected exception was caught at `where` (a decision worker, an informer handler) and contained."""
        with self._lock:
            self._counts["internal_errors"] += 1
        self.internal_errors.labels(where).inc()

    def queue_lengths(self, lengths: Mapping[str, int]) -> None:
        for queue, length in lengths.items():
            self.pending.labels(queue).set(length)

    # -- the LLM tier ---------------------------------------------------------------------------------

    def llm_call(self, *, outcome: str, latency_ms: float | None = None) -> None:
        """One LLM request finished: `ok`, `error`, `timeout`, `rate_limited`, ..."""
        with self._lock:
            self._counts["llm_calls"] += 1
            if outcome == "ok":
                self._counts["llm_successes"] += 1
            if latency_ms is not None:
                self._llm_latency_ms.append(latency_ms)
        self.llm_requests.labels(outcome).inc()
        if latency_ms is not None:
            self.llm_latency.observe(latency_ms / 1000)

    def llm_retry(self) -> None:
        with self._lock:
            self._counts["llm_retries"] += 1
        self.llm_retries.inc()

    def llm_rejected(self, cause: str) -> None:
        with self._lock:
            self._llm_rejections[cause] += 1
        self.llm_rejections.labels(cause).inc()

    def llm_answer_format(self, form: str) -> None:
        """The LLM endpoint answers requests in `form` now (and so no longer in the one reported before)."""
        with self._lock:
            previous, self._answer_format = self._answer_format, form
        if previous is not None and previous != form:
            self.answer_format.labels(previous).set(0)
        self.answer_format.labels(form).set(1)

    def cache_lookup(self, *, hit: bool) -> None:
        with self._lock:
            self._counts["cache_hits" if hit else "cache_misses"] += 1
        self.cache_lookups.labels("hit" if hit else "miss").inc()

    def breaker(self, tier: str, state: str, *, tripped: bool) -> None:
        """A breaker changed state; `tripped` when it opened."""
        with self._lock:
            if tripped:
                self._counts[f"{tier}_breaker_trips"] += 1
        self.breaker_state.labels(tier).set(BREAKER_STATES[state])
        if tripped:
            self.breaker_trips.labels(tier).inc()

    # -- reading --------------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The numbers of the periodic stats line."""
        with self._lock:
            counts = dict(self._counts)
            latencies = list(self._latency_ms)
            llm_latencies = list(self._llm_latency_ms)
            hits, misses = counts.get("cache_hits", 0), counts.get("cache_misses", 0)
            return {
                "pods_seen": len(self._seen),
                "scheduled": counts.get("scheduled", 0),
                "bound": counts.get("bound", 0),
                "unschedulable": counts.get("unschedulable", 0),
                "errors": counts.get("error", 0),
                "decisions": dict(sorted(self._tiers.items())),
                "fallbacks": dict(sorted(self._fallbacks.items())),
                "llm_calls": counts.get("llm_calls", 0),
                "llm_successes": counts.get("llm_successes", 0),
                "llm_retries": counts.get("llm_retries", 0),
                "llm_rejections": dict(sorted(self._llm_rejections.items())),
                "llm_latency_ms_p50": round(percentile(llm_latencies, 50), 3),
                "llm_latency_ms_p99": round(percentile(llm_latencies, 99), 3),
                "cache_hits": hits,
                "cache_misses": misses,
                "cache_hit_rate": round(hits / (hits + misses), 3) if hits + misses else 0.0,
                "breaker_trips": sum(v for k, v in counts.items() if k.endswith("_breaker_trips")),
                "failed_bindings": counts.get("failed_bindings", 0),
                "internal_errors": counts.get("internal_errors", 0),
                "latency_ms_p50": round(percentile(latencies, 50), 3),
                "latency_ms_p99": round(percentile(latencies, 99), 3),
            }
