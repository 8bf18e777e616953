"""The scheduler's `prometheus` telemetry source: a background poller of the Prometheus HTTP API.

By default it reads the node agent's gauges (`ai_scheduler_node_<metric>{node, stat}` plus the state's
timestamp, window and source flags) with one instant query per poll. For users whose counters come
from elsewhere (Intel PCM, node_exporter), `queries` maps a metric to a PromQL expression that gives
its instantaneous value per node; the source then summarises it over the window itself with
`avg_over_time`, `stddev_over_time` and `quantile_over_time(0.95, ...)` subqueries.

Every state passes `cluster.nodestate.parse`, so each value is validated as the contract says. A
failed poll is logged once and the previous states are kept: they age out by their timestamps at
decision time, so a Prometheus outage turns into unknown telemetry, never into stale values forever.
Runs on its own thread; never in the decision path, never writes to Prometheus.
"""

import json
import logging
import math
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cluster.clock import Clock
from cluster.nodestate import METRICS, SOURCES, STATS, VERSION, NodeState, format_timestamp, parse

log = logging.getLogger(__name__)

PREFIX = "ai_scheduler_node_"
AGENT_SELECTOR = '{__name__=~"ai_scheduler_node_.+"}'
TIMESTAMP = "state_timestamp_seconds"
WINDOW = "window_seconds"
SOURCE_UP = "source_up"
MAX_REMEMBERED_WARNINGS = 1000

Vector = list[Mapping[str, Any]]
Query = Callable[[str], Vector]


class PrometheusError(RuntimeError):
    """A query failed: Prometheus unreachable, an HTTP error, or an answer that is not a vector."""


@dataclass(frozen=True)
class PrometheusSettings:
    """Config `telemetry.prometheus`."""

    url: str
    """Base URL of the Prometheus server, e.g. `http://prometheus.monitoring:9090`."""
    interval_seconds: float = 15.0
    """Seconds between polls; default 15 (a typical scrape interval)."""
    timeout_seconds: float = 5.0
    """Per-request timeout in seconds; default 5."""
    queries: Mapping[str, str] = field(default_factory=dict)
    """Metric name -> PromQL giving its instantaneous value per node; replaces the agent's gauges for that metric."""
    node_label: str = "node"
    """The label that names the node in the `queries` results; default `node`."""
    window_seconds: float = 30.0
    """Window over which `queries` expressions are summarised; default 30, as the agent's."""
    step_seconds: float = 5.0
    """Subquery resolution for `queries`, seconds; default 5."""
    bearer_token_file: str | None = None
    """A file whose content is sent as `Authorization: Bearer`; re-read per poll, never logged."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.queries) - set(METRICS))
        if unknown:
            raise ValueError(f"telemetry.prometheus.queries: unknown metric(s) {unknown}; allowed: {sorted(METRICS)}")
        for name, value in (
            ("interval_seconds", self.interval_seconds),
            ("timeout_seconds", self.timeout_seconds),
            ("window_seconds", self.window_seconds),
            ("step_seconds", self.step_seconds),
        ):
            if not value > 0:
                raise ValueError(f"telemetry.prometheus.{name}: {value!r} is not a positive number of seconds")


def summary_queries(expression: str, *, window_seconds: float, step_seconds: float) -> dict[str, str]:
    """The three PromQL subqueries that summarise an instantaneous expression over the window."""
    series = f"({expression})[{window_seconds:g}s:{step_seconds:g}s]"
    return {
        "mean": f"avg_over_time({series})",
        "std": f"stddev_over_time({series})",
        "p95": f"quantile_over_time(0.95, {series})",
    }


def _sample(item: Mapping[str, Any]) -> tuple[float, float]:
    """(timestamp, value) of a vector element; Prometheus sends values as strings (NaN and ±Inf included)."""
    timestamp, value = item["value"]
    return float(timestamp), float(value)


def assemble(
    agent: Vector,
    custom: Mapping[str, Mapping[str, Vector]],
    *,
    node_label: str = "node",
    custom_window_seconds: float = 30.0,
) -> dict[str, dict[str, Any]]:
    """Raw NodeState dicts per node from query results (pure; `parse` validates them afterwards).

    The state's timestamp is the agent's own where it exported one, and never newer than the oldest
    sample it is built from, so it ages out no later than its oldest input.
    """
    nodes: dict[str, dict[str, Any]] = {}
    latest: dict[tuple[str, str, str], float] = {}

    def entry(node: str) -> dict[str, Any]:
        return nodes.setdefault(node, {"metrics": {}, "sources": {}, "times": [], "timestamp": None, "window": None})

    for item in agent:
        labels = item.get("metric", {})
        node, name = labels.get("node"), str(labels.get("__name__", "")).removeprefix(PREFIX)
        if not node:
            continue
        timestamp, value = _sample(item)
        state = entry(node)
        if name == TIMESTAMP:
            state["timestamp"] = value
        elif name == WINDOW:
            state["window"] = value
        elif name == SOURCE_UP and labels.get("source") in SOURCES:
            state["sources"][labels["source"]] = value == 1.0
        elif name in METRICS and name not in custom and labels.get("stat") in STATS:
            key = (node, name, labels["stat"])
            if timestamp >= latest.get(key, float("-inf")):  # two Prometheus targets for one agent: the newest
                latest[key] = timestamp
                state["metrics"].setdefault(name, {})[labels["stat"]] = value
                state["times"].append(timestamp)
    for metric, by_stat in custom.items():
        for stat, vector in by_stat.items():
            for item in vector:
                node = item.get("metric", {}).get(node_label)
                if not node:
                    continue
                timestamp, value = _sample(item)
                state = entry(node)
                state["metrics"].setdefault(metric, {})[stat] = value
                state["times"].append(timestamp)
                state["window"] = state["window"] or custom_window_seconds
    result: dict[str, dict[str, Any]] = {}
    for node, state in nodes.items():
        candidates = [t for t in (state["timestamp"], *state["times"]) if t is not None]
        result[node] = {
            "version": VERSION,
            "node": node,
            "timestamp": _stamp(candidates),
            "window_seconds": state["window"],
            "metrics": state["metrics"],
            "sources": state["sources"],
        }
    return result


def _stamp(epochs: list[float]) -> str | None:
    """The oldest of `epochs` in RFC 3339; None (no timestamp: every metric unknown, as `parse` warns) when there
    is none or one no clock reads, NaN, ±Inf or past the year 9999 (a foreign exporter's gauge, not an agent's)."""
    if not epochs or not all(math.isfinite(t) for t in epochs):
        return None
    try:
        return format_timestamp(min(epochs))
    except (OverflowError, ValueError, OSError):
        return None


def http_query(settings: PrometheusSettings) -> Query:
    """An instant query against `/api/v1/query` with urllib; raises PrometheusError with Prometheus's own message."""
    endpoint = settings.url.rstrip("/") + "/api/v1/query"

    def query(expression: str) -> Vector:
        request = urllib.request.Request(f"{endpoint}?{urllib.parse.urlencode({'query': expression})}")
        if settings.bearer_token_file:
            try:
                with open(settings.bearer_token_file, encoding="utf-8") as handle:
                    request.add_header("Authorization", f"Bearer {handle.read().strip()}")
            except OSError as exc:
                raise PrometheusError(
                    f"cannot read bearer_token_file {settings.bearer_token_file}: {exc.strerror}"
                ) from exc
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read() or b"{}"  # Prometheus explains 400/422/503 in a JSON body
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusError(f"cannot reach Prometheus at {settings.url}: {exc}") from exc
        return decode(body, expression)

    return query


def decode(body: bytes, expression: str) -> Vector:
    """The result vector of a `/api/v1/query` answer; PrometheusError for an error or a non-vector result."""
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise PrometheusError(f"query {expression!r}: the answer is not JSON") from exc
    if not isinstance(answer, Mapping) or answer.get("status") != "success":
        detail = answer.get("error", "no error text") if isinstance(answer, Mapping) else "not an object"
        kind = answer.get("errorType", "error") if isinstance(answer, Mapping) else "error"
        raise PrometheusError(f"query {expression!r} failed: {kind}: {detail}")
    data = answer.get("data") or {}
    kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
    if kind != "vector":
        raise PrometheusError(f"query {expression!r} returned {kind!r}, not an instant vector")
    result = data.get("result") or []
    if not isinstance(result, list) or not all(
        isinstance(item, Mapping) and isinstance(item.get("metric", {}), Mapping) for item in result
    ):
        raise PrometheusError(f"query {expression!r} returned a vector whose elements are not series objects")
    return result


class PrometheusSource:
    """The `Source` protocol over Prometheus: `start` a poller thread, read `states`, `stop` it."""

    def __init__(self, settings: PrometheusSettings, *, clock: Clock, query: Query | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._query = query or http_query(settings)
        self._custom = {
            metric: summary_queries(expr, window_seconds=settings.window_seconds, step_seconds=settings.step_seconds)
            for metric, expr in settings.queries.items()
        }
        self._lock = threading.Lock()
        self._states: dict[str, NodeState] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._warned: set[str] = set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="prometheus-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def states(self) -> Mapping[str, NodeState]:
        with self._lock:
            return MappingProxyType(dict(self._states))

    def _run(self) -> None:
        """Poll until stopped; a poll that fails in a way nobody foresaw is logged and the next one runs anyway, as
        a dead poller would leave every node's telemetry to age out for good."""
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception(
                    "Prometheus telemetry poll crashed; polling again in %gs", self._settings.interval_seconds
                )
            if self._clock.wait(self._stop, self._settings.interval_seconds):
                return

    def poll_once(self) -> bool:
        """One poll; True when it succeeded. On failure the previous states stay, to age out on their own."""
        try:
            agent = self._query(AGENT_SELECTOR) if set(self._settings.queries) != set(METRICS) else []
            custom = {
                metric: {stat: self._query(expression) for stat, expression in stats.items()}
                for metric, stats in self._custom.items()
            }
            raw = assemble(
                agent, custom, node_label=self._settings.node_label, custom_window_seconds=self._settings.window_seconds
            )
        except (PrometheusError, KeyError, TypeError, ValueError, OverflowError) as exc:
            if not self._failing:
                log.warning("Prometheus telemetry poll failed; keeping the last states until they age out: %s", exc)
            self._failing = True
            return False
        states = {node: parse(data, node=node, warn=self._warn) for node, data in raw.items()}
        with self._lock:
            self._states = states
        if self._failing:
            log.info("Prometheus telemetry poll works again (%d nodes)", len(states))
        self._failing = False
        return True

    def _warn(self, message: str) -> None:
        """Log each distinct validation problem once, not on every poll."""
        if message in self._warned:
            return
        if len(self._warned) >= MAX_REMEMBERED_WARNINGS:
            self._warned.clear()
        self._warned.add(message)
        log.warning("%s", message)
