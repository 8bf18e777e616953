"""Means and 95 % confidence intervals across seeds, for the placement benchmark's report.

The interval is Student's t on the per-seed values (the seeds are independent replays); with one seed
it collapses to the value itself. The t quantile is computed here with numpy (numerical integration of
the density and bisection) so the benchmark needs nothing beyond the project's requirements. Pure.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95

# Flattened metric name -> path into a run's summary.
METRICS: Mapping[str, tuple[str, ...]] = {
    "p50_ms": ("latency_ms", "all", "p50_ms"),
    "p90_ms": ("latency_ms", "all", "p90_ms"),
    "p95_ms": ("latency_ms", "all", "p95_ms"),
    "p99_ms": ("latency_ms", "all", "p99_ms"),
    "mean_pod_p99_ms": ("mean_pod_p99_ms",),
    "mean_slowdown": ("mean_slowdown",),
    "noisy_share": ("noisy_share",),
    "slo_violation_share": ("slo_violation_share",),
    "mean_regret_ms": ("mean_regret_ms",),
    "max_regret_ms": ("max_regret_ms",),
    "suboptimal_share": ("suboptimal_share",),
    "decision_latency_ms_p50": ("decision_latency_ms_p50",),
    "decision_latency_ms_p99": ("decision_latency_ms_p99",),
    "pods_per_second": ("burst", "pods_per_second"),
}


def t_quantile(probability: float, df: int) -> float:
    """The `probability` quantile (> 0.5) of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(t: float) -> float:
        x = np.linspace(0.0, t, 20_001)
        return 0.5 + float(np.trapezoid(scale * (1 + x * x / df) ** (-(df + 1) / 2), x))

    low, high = 0.0, 1000.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < probability else (low, middle)
    return (low + high) / 2


def interval(values: Sequence[float]) -> dict[str, float]:
    """Mean and the 95 % t interval of `values` (one value: the interval is that value)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    mean = float(data.mean())
    if data.size == 1:
        return {"mean": round(mean, 4), "lo": round(mean, 4), "hi": round(mean, 4), "n": 1}
    half = t_quantile(1 - (1 - CONFIDENCE) / 2, data.size - 1) * float(data.std(ddof=1)) / math.sqrt(data.size)
    return {"mean": round(mean, 4), "lo": round(mean - half, 4), "hi": round(mean + half, 4), "n": int(data.size)}


def lookup(summary: Mapping[str, Any], path: Iterable[str]) -> float | None:
    value: Any = summary
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) else None


def across_seeds(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per policy, per metric: mean and 95 % interval over the runs (one run per seed)."""
    by_policy: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        by_policy.setdefault(run["policy"], []).append(run["summary"])
    result = {}
    for policy, summaries in by_policy.items():
        metrics = {}
        for name, path in METRICS.items():
            values = [v for v in (lookup(s, path) for s in summaries) if v is not None]
            if values:
                metrics[name] = interval(values)
        profiles = sorted({p for s in summaries for p in s["latency_ms"] if p != "all"})
        for profile in profiles:
            values = [s["latency_ms"][profile]["p99_ms"] for s in summaries if profile in s["latency_ms"]]
            metrics[f"p99_ms[{profile}]"] = interval(values)
        result[policy] = metrics
    return result
