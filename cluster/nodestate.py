"""The NodeState contract (CONTRACTS §1): one node's interference telemetry, parsed and validated.

Every reader (node annotation, Prometheus, file) and the node agent go through this module so the
contract's rules hold in one place:
- an absent metric is unknown, never zero;
- a NaN, infinite, negative or out-of-range value makes that metric unknown, with a warning;
- a state that is too old, unparsable, of another version or about another node is wholly unknown.
Whatever the annotation holds (a 400-digit integer, nesting deeper than the parser recurses, numbers
beyond a float, wrong types) ends as unknown with a warning of bounded length, never as an exception:
the informer that reads it must still apply the rest of the node's update.

Pure: no I/O; the current time and the warning sink are passed in.
"""

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

VERSION = 1
ANNOTATION = "ai-scheduler.io/node-state"
STATS = ("mean", "std", "p95")
SOURCES = ("perf", "resctrl", "psi", "cgroup")


FeatureScale = Literal["fraction", "percent", "log", "log1p", "log_fraction"]
"""How the transformer's features read a metric: 0..1 as is, 0..100 / 100, ln(x), ln(1 + x), or
ln(LOG_FRACTION_OFFSET + x) for a fraction whose small values differ by orders of magnitude (CPU use)."""
LOG_FRACTION_OFFSET = 0.003
"""Added to a `log_fraction` metric before its log. On lightly loaded nodes what orders interference is the ratio of
their CPU use (the KubeMarla rig reads under 1 % with nginx alone and 1-3 % beside one to four CPU hogs), which a
fraction's scale flattens; the offset keeps an idle node finite, and left-out campaigns order their pairs alike with
any from 0.01 % to 0.3 %."""


@dataclass(frozen=True)
class MetricSpec:
    """Everything about one metric, in one row: its valid range (`low` inclusive unless `low_open`; `high`
    None when unbounded) and unit, and how each reader shows it — the LLM prompt (label, factor, decimals),
    the transformer's features (scale) and the LLM decision cache (bucket width in the prompt's units)."""

    name: str
    low: float
    high: float | None
    low_open: bool = False
    unit: str = ""
    prompt_label: str = ""
    """The metric's name in the prompt, with the unit its factor gives (`_pct` for a fraction × 100)."""
    prompt_factor: float = 1.0
    prompt_decimals: int = 0
    """Whole numbers wherever that keeps the signal: a decimal costs Llama three tokens, a small integer one."""
    feature_scale: FeatureScale = "fraction"
    cache_step: float = 10.0
    """Bucket width in the prompt's units: pods whose candidates differ by less share a cached answer."""

    def accepts(self, value: float) -> bool:
        if not math.isfinite(value) or value < 0:
            return False
        if value < self.low or (self.low_open and value == self.low):
            return False
        return self.high is None or value <= self.high


def _fraction(name: str, label: str, scale: FeatureScale = "fraction") -> MetricSpec:
    """A 0..1 metric, shown in the prompt as a whole percent."""
    return MetricSpec(name, 0.0, 1.0, unit="fraction", prompt_label=label, prompt_factor=100.0, feature_scale=scale)


def _rate(name: str, unit: str) -> MetricSpec:
    """An unbounded rate: read on a log scale, whole numbers in the prompt, cached in buckets of 2."""
    return MetricSpec(name, 0.0, None, unit=unit, prompt_label=name, feature_scale="log1p", cache_step=2.0)


def _psi(name: str) -> MetricSpec:
    """A PSI some-stall share, 0..100 percent already."""
    return MetricSpec(name, 0.0, 100.0, unit="percent", prompt_label=f"{name}_pct", feature_scale="percent")


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        _fraction("cpu_utilization", "cpu_utilization_pct", "log_fraction"),
        _fraction("cpu_throttling_ratio", "cpu_throttling_pct"),
        MetricSpec(
            "cpi",
            0.0,
            None,
            low_open=True,
            unit="cycles/instruction",
            prompt_label="cpi",
            prompt_decimals=1,
            feature_scale="log",
            cache_step=0.25,
        ),
        _fraction("llc_miss_rate", "llc_miss_rate_pct"),
        _rate("llc_mpki", "misses/kilo-instruction"),
        _fraction("llc_occupancy_ratio", "llc_occupancy_pct"),
        _rate("memory_bandwidth_gbps", "GB/s"),
        _fraction("memory_bandwidth_ratio", "memory_bandwidth_of_peak_pct"),
        _psi("psi_cpu_some"),
        _psi("psi_memory_some"),
        _psi("psi_io_some"),
    )
}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)


@dataclass(frozen=True)
class Summary:
    """A metric summarised over the window."""

    mean: float
    std: float
    p95: float


@dataclass(frozen=True)
class NodeState:
    """A node's validated telemetry; metrics missing from `metrics` are unknown."""

    node: str
    timestamp: float | None = None
    window_seconds: float | None = None
    metrics: Mapping[str, Summary] = field(default_factory=dict)
    sources: Mapping[str, bool] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """True when at least one metric is known."""
        return bool(self.metrics)

    def value(self, metric: str, stat: str = "mean") -> float | None:
        """One statistic of one metric, or None when unknown."""
        summary = self.metrics.get(metric)
        return None if summary is None else getattr(summary, stat)

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON form."""
        return {
            "version": VERSION,
            "node": self.node,
            "timestamp": format_timestamp(self.timestamp) if self.timestamp is not None else None,
            "window_seconds": self.window_seconds,
            "metrics": {name: {"mean": s.mean, "std": s.std, "p95": s.p95} for name, s in self.metrics.items()},
            "sources": {name: bool(self.sources.get(name, False)) for name in SOURCES},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


def unknown(node: str) -> NodeState:
    """A node about which nothing is known."""
    return NodeState(node=node)


Warn = Callable[[str], None]


def _ignore(_: str) -> None:
    return None


_SHOWN = 80
"""Characters of a bad value quoted in a warning."""


def _show(value: Any) -> str:
    """A bad value for a warning: its repr, cut to `_SHOWN` characters (an annotation can be 256 KiB)."""
    try:
        text = repr(value)
    except RecursionError:
        return f"a deeply nested {type(value).__name__}"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _float(value: Any) -> float | None:
    """A JSON number as a float; None for other types and for integers beyond a float's range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def format_timestamp(epoch: float) -> str:
    """RFC 3339 in UTC with a `Z`, as the contract's example."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    """RFC 3339 (a trailing `Z` or an offset) to epoch seconds; ValueError when malformed."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse(
    raw: str | bytes | Mapping[str, Any] | None,
    *,
    node: str,
    now: float | None = None,
    max_age_seconds: float | None = None,
    warn: Warn = _ignore,
) -> NodeState:
    """Validate a NodeState (JSON text or decoded) published for `node`.

    `now` and `max_age_seconds` enable the staleness rule; leave them None where age does not matter
    (the offline `decide` command). Never raises on bad input: what is bad becomes unknown, and each
    problem is reported once through `warn`.
    """
    if raw is None or raw == "":
        return unknown(node)
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except RecursionError:
        warn(f"node {node}: NodeState is nested too deeply to parse; all metrics unknown")
        return unknown(node)
    except (ValueError, TypeError) as exc:
        warn(f"node {node}: NodeState is not valid JSON ({str(exc)[:_SHOWN]}); all metrics unknown")
        return unknown(node)
    if not isinstance(data, Mapping):
        warn(f"node {node}: NodeState is not a JSON object; all metrics unknown")
        return unknown(node)
    version = data.get("version")
    if isinstance(version, bool) or version != VERSION:
        warn(f"node {node}: NodeState version {_show(version)} is not {VERSION}; all metrics unknown")
        return unknown(node)
    if data.get("node") not in (None, node):
        warn(f"node {node}: NodeState names node {_show(data.get('node'))}; all metrics unknown")
        return unknown(node)
    stamp = data.get("timestamp")
    try:
        if stamp and not isinstance(stamp, str):
            raise ValueError(stamp)
        timestamp = parse_timestamp(stamp) if stamp else None
    except (ValueError, OverflowError, OSError):
        warn(f"node {node}: NodeState timestamp {_show(stamp)} is not RFC 3339; all metrics unknown")
        return unknown(node)
    window = _float(data.get("window_seconds"))
    window = window if window is not None and math.isfinite(window) else None
    metrics = _parse_metrics(data.get("metrics"), node=node, warn=warn)
    raw_sources = data.get("sources")
    sources = {name: raw_sources.get(name) is True for name in SOURCES} if isinstance(raw_sources, Mapping) else {}
    state = NodeState(node=node, timestamp=timestamp, window_seconds=window, metrics=metrics, sources=sources)
    if max_age_seconds is not None and now is not None:
        return age_out(state, now=now, max_age_seconds=max_age_seconds, warn=warn)
    return state


def _parse_metrics(raw: Any, *, node: str, warn: Warn) -> dict[str, Summary]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        warn(f"node {node}: NodeState metrics is not an object; all metrics unknown")
        return {}
    metrics: dict[str, Summary] = {}
    for name, stats in raw.items():
        spec = METRICS.get(name)
        if spec is None:
            continue  # a newer agent may publish more; the contract's eleven are what we read
        summary = _parse_summary(spec, stats)
        if summary is None:
            warn(f"node {node}: metric {name} has an invalid value {_show(stats)}; treated as unknown")
            continue
        metrics[name] = summary
    return metrics


def _parse_summary(spec: MetricSpec, stats: Any) -> Summary | None:
    if not isinstance(stats, Mapping):
        return None
    values: list[float] = []
    for stat in STATS:
        value = _float(stats.get(stat))
        if value is None:
            return None
        if stat == "std":
            if not math.isfinite(value) or value < 0:
                return None
        elif not spec.accepts(value):
            return None
        values.append(value)
    return Summary(*values)


def age_out(state: NodeState, *, now: float, max_age_seconds: float, warn: Warn = _ignore) -> NodeState:
    """The contract's staleness rule applied at read time: a state older than the limit is wholly unknown."""
    if not state.known:
        return state
    if state.timestamp is None:
        warn(f"node {state.node}: NodeState has no timestamp; all metrics unknown")
        return unknown(state.node)
    age = now - state.timestamp
    if age > max_age_seconds or age < -max_age_seconds:
        warn(f"node {state.node}: NodeState is {age:.0f}s old (max {max_age_seconds:g}s); all metrics unknown")
        return unknown(state.node)
    return state
