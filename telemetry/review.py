"""`scheduler.py stats LOGFILE`: read a scheduler log back into numbers an operator can review.

Understands both formats `telemetry.logs` writes: JSON objects, and text lines whose structured part
is `key=value` pairs after the message (values JSON-quoted when they hold spaces), each optionally
behind the timestamp `kubectl logs --timestamps` adds. Every number is counted from the per-event
lines (decisions, bindings, breaker transitions, LLM calls and retries), so a killed process or a log
cut short still adds up; the periodic `stats` summary only cross-checks them. A `start` line opens a
new process, so a log spanning restarts gets one section per process and a total. A line whose
`event` is no scheduler event's name (or no string at all) is another program's and is skipped; a
time without a zone is UTC, as `telemetry.logs` writes every time; a latency that is no usable
number (NaN, infinite, negative, too long for a float) is left out. Pure.
"""

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telemetry.stats import percentile

EVENTS = frozenset(
    {
        "start",
        "decision",
        "bound",
        "binding_failed",
        "breaker",
        "llm_call",
        "llm_retry",
        "llm_call_failed",
        "llm_answer_rejected",
        "stats",
    }
)
"""The structured lines the scheduler writes (docs/operations.md#logs); any of them makes a log a scheduler's."""
_VALUE = r'(?:"(?:[^"\\]|\\.)*"|\S+)'
_PAIR = re.compile(rf"(\w+)=({_VALUE})")
_PAIRS = re.compile(rf"(?:^| )(\w+={_VALUE}(?: \w+={_VALUE})*)$")
_TEXT = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\S+) (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<rest>.*)$")
_KUBECTL_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d) (?=\{|\d{4}-)")
_FIT_ERROR = re.compile(r"^0/\d+ nodes are available: (?P<reasons>.*?)\.?$")
_NODE_COUNT = re.compile(r", (?=\d+ )")
_CAUSE = re.compile(r"^(?P<cause>[\w-]+): ")
# The final summary's counters that per-event lines also count: summary key → Process attribute.
_CROSS_CHECKED = {"bound": "bound", "failed_bindings": "binding_failures", "llm_calls": "llm_calls"}


@dataclass
class Process:
    """One scheduler process's numbers (or the total of several), counted from its per-event lines."""

    started: bool = False
    """The section opened with the process's `start` line (False: the log begins mid-process)."""
    first: datetime | None = None
    last: datetime | None = None
    lines: int = 0
    pods: set[str] = field(default_factory=set)
    decisions: Counter[str] = field(default_factory=Counter)
    """Placements decided, by tier."""
    unschedulable: int = 0
    unschedulable_reasons: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    """`tier: cause` of each tier that declined a pod."""
    latencies_ms: list[float] = field(default_factory=list)
    bound: int = 0
    placements: Counter[str] = field(default_factory=Counter)
    """Successful bindings by node."""
    binding_failures: Counter[str] = field(default_factory=Counter)
    breaker: Counter[str] = field(default_factory=Counter)
    """`tier -> state` transitions."""
    llm_calls: Counter[str] = field(default_factory=Counter)
    """HTTP attempts by outcome (`ok`, `timeout`, `rate_limited`, ...)."""
    llm_latencies_ms: list[float] = field(default_factory=list)
    llm_retries: int = 0
    llm_failures: Counter[str] = field(default_factory=Counter)
    llm_rejections: Counter[str] = field(default_factory=Counter)
    llm_sources: Counter[str] = field(default_factory=Counter)
    """Where the LLM tier's placements came from: `answer`, `cache`, `shared`."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The last `stats` line, kept only to cross-check the counts."""
    final: bool = False
    """`summary` is the `final stats` line of a clean shutdown."""

    def span_seconds(self) -> float | None:
        return (self.last - self.first).total_seconds() if self.first and self.last else None

    def mismatches(self) -> list[str]:
        """Where a clean shutdown's final summary counts more than the per-event lines show (lines lost,
        a log level above INFO, or a scheduler version that did not log them)."""
        if not self.final:
            return []
        notes = []
        for key, attribute in _CROSS_CHECKED.items():
            counted = _total(getattr(self, attribute))
            claimed = self.summary.get(key)
            if isinstance(claimed, int) and claimed > counted:
                notes.append(f"the final summary says {key}={claimed}, the log has {counted} such lines")
        return notes


@dataclass
class Review:
    """A whole log: its processes in order, and the lines that were no scheduler event."""

    lines: int = 0
    skipped: int = 0
    """Lines that are no scheduler event: other loggers, tracebacks, free text."""
    processes: list[Process] = field(default_factory=list)

    def total(self) -> Process:
        """Every process's numbers together."""
        total = Process(started=bool(self.processes) and all(p.started for p in self.processes))
        for process in self.processes:
            _merge(total, process)
        return total


def parse_line(line: str) -> dict[str, Any] | None:
    """The fields of one log line (JSON or text), or None when it is no log line of ours."""
    line = _KUBECTL_TIMESTAMP.sub("", line.strip(), count=1)
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record if isinstance(record, dict) else None
    match = _TEXT.match(line)
    if match is None:
        return None
    record: dict[str, Any] = {"time": match["time"], "level": match["level"], "logger": match["logger"]}
    rest = match["rest"]
    pairs = _PAIRS.search(rest)
    record["message"] = rest[: pairs.start()] if pairs else rest
    if pairs:
        for key, raw in _PAIR.findall(pairs.group(1)):
            record[key] = _value(raw)
    return record


def _value(raw: str) -> Any:
    if raw.startswith('"'):
        try:
            text = json.loads(raw)
        except ValueError:
            return raw
        if text[:1] in "{[":  # a mapping or list, written as a quoted JSON string
            try:
                return json.loads(text)
            except ValueError:
                return text
        return text
    if raw == "None":
        return None
    if raw in ("True", "False"):
        return raw == "True"
    try:
        return float(raw) if any(c in raw for c in ".e") else int(raw)
    except ValueError:
        return raw


def review(lines: Iterable[str]) -> Review:
    """Count a log's per-event lines, a section per process."""
    result = Review()
    current: Process | None = None
    for line in lines:
        result.lines += 1
        record = parse_line(line)
        event = record.get("event") if record else None
        if record is None or not isinstance(event, str) or event not in EVENTS:
            result.skipped += 1
            if record is not None and current is not None:
                _seen_at(current, record)
            continue
        if event == "start" or current is None:
            current = Process(started=event == "start")
            result.processes.append(current)
        current.lines += 1
        _seen_at(current, record)
        _count(current, str(event), record)
    return result


def _seen_at(process: Process, record: Mapping[str, Any]) -> None:
    when = _time(record.get("time"))
    if when is None:
        return
    process.first = min(process.first, when) if process.first else when
    process.last = max(process.last, when) if process.last else when


def _time(value: Any) -> datetime | None:
    """A line's time; one without a zone is UTC, as the scheduler writes every time, so another writer's stamp
    stays comparable with ours."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _count(process: Process, event: str, record: Mapping[str, Any]) -> None:
    if event == "decision":
        _decision(process, record)
    elif event == "bound":
        process.bound += 1
        process.placements[str(record.get("node"))] += 1
    elif event == "binding_failed":
        process.binding_failures[str(record.get("error"))] += 1
    elif event == "breaker":
        process.breaker[f"{record.get('tier')} -> {record.get('state')}"] += 1
    elif event == "llm_call":
        process.llm_calls[str(record.get("outcome"))] += 1
        _sample(process.llm_latencies_ms, record.get("latency_ms"))
    elif event == "llm_retry":
        process.llm_retries += 1
    elif event == "llm_call_failed":
        process.llm_failures[str(record.get("kind"))] += 1
    elif event == "llm_answer_rejected":
        process.llm_rejections[str(record.get("cause"))] += 1
    elif event == "stats":
        process.summary = dict(record)
        process.final = str(record.get("message", "")).strip() == "final stats"


def _decision(process: Process, record: Mapping[str, Any]) -> None:
    process.pods.add(str(record.get("pod")))
    _sample(process.latencies_ms, record.get("latency_ms"))
    fallbacks = record.get("fallbacks")
    if isinstance(fallbacks, Mapping):
        process.fallbacks.update(f"{tier}: {_cause(str(why))}" for tier, why in fallbacks.items())
    if record.get("node") in (None, "None"):
        process.unschedulable += 1
        process.unschedulable_reasons.update(_fit_reasons(str(record.get("reason"))))
        return
    process.decisions[str(record.get("tier"))] += 1
    llm = record.get("llm")
    if isinstance(llm, Mapping) and "source" in llm:
        process.llm_sources[str(llm["source"])] += 1


def _sample(samples: list[float], value: Any) -> None:
    """Add a latency when it is one: NaN, infinity, a negative or an integer too long for a float would make every
    percentile meaningless (or the conversion raise)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= sys.float_info.max:
        samples.append(float(value))


def _fit_reasons(reason: str) -> set[str]:
    """kube-scheduler's `0/N nodes are available: 2 Insufficient cpu, 1 node(s) ...` as its reasons, without
    the node counts (they change with the cluster); any other text as it is."""
    match = _FIT_ERROR.match(reason)
    if match is None:
        return {reason}
    return {part.split(" ", 1)[-1] for part in _NODE_COUNT.split(match["reasons"])}


def _cause(why: str) -> str:
    """A fallback's cause code (`breaker_open: circuit breaker is open (…)` → `breaker_open`)."""
    match = _CAUSE.match(why)
    return match["cause"] if match else why


def _total(value: int | Counter[str]) -> int:
    return sum(value.values()) if isinstance(value, Counter) else value


def _merge(into: Process, other: Process) -> None:
    into.lines += other.lines
    if other.first:
        into.first = min(into.first, other.first) if into.first else other.first
    if other.last:
        into.last = max(into.last, other.last) if into.last else other.last
    into.pods |= other.pods
    into.unschedulable += other.unschedulable
    into.bound += other.bound
    into.llm_retries += other.llm_retries
    into.latencies_ms += other.latencies_ms
    into.llm_latencies_ms += other.llm_latencies_ms
    for name in (
        "decisions",
        "unschedulable_reasons",
        "fallbacks",
        "placements",
        "binding_failures",
        "breaker",
        "llm_calls",
        "llm_failures",
        "llm_rejections",
        "llm_sources",
    ):
        getattr(into, name).update(getattr(other, name))


# -- the report ------------------------------------------------------------------------------------------


def to_json(process: Process) -> dict[str, Any]:
    """One section's numbers as numbers, for `stats --json`."""
    return {
        "start": process.first.isoformat(timespec="milliseconds") if process.first else None,
        "end": process.last.isoformat(timespec="milliseconds") if process.last else None,
        "span_seconds": process.span_seconds(),
        "from_process_start": process.started,
        "lines": process.lines,
        "pods_seen": len(process.pods),
        "scheduled": process.bound,
        "decisions": {
            "placed": sum(process.decisions.values()),
            "unschedulable": process.unschedulable,
            "by_tier": dict(sorted(process.decisions.items())),
            "latency_ms_p50": round(percentile(process.latencies_ms, 50), 3),
            "latency_ms_p99": round(percentile(process.latencies_ms, 99), 3),
        },
        "placements": _by_count(process.placements),
        "unschedulable_reasons": _by_count(process.unschedulable_reasons),
        "fallbacks": _by_count(process.fallbacks),
        "bindings": {
            "bound": process.bound,
            "failed": sum(process.binding_failures.values()),
            "failures": _by_count(process.binding_failures),
        },
        "llm": {
            "calls": sum(process.llm_calls.values()),
            "successes": process.llm_calls["ok"],
            "calls_by_outcome": _by_count(process.llm_calls),
            "retries": process.llm_retries,
            "failures": _by_count(process.llm_failures),
            "rejections": _by_count(process.llm_rejections),
            "placements_by_source": _by_count(process.llm_sources),
            "latency_ms_p50": round(percentile(process.llm_latencies_ms, 50), 3),
            "latency_ms_p99": round(percentile(process.llm_latencies_ms, 99), 3),
        },
        "breaker": {"trips": _trips(process.breaker), "transitions": _by_count(process.breaker)},
        "mismatches": process.mismatches(),
    }


def report_json(result: Review, *, source: str) -> dict[str, Any]:
    """The whole review for `stats --json`: each process and the total."""
    return {
        "file": source,
        "lines": result.lines,
        "skipped": result.skipped,
        "processes": [to_json(process) for process in result.processes],
        "total": to_json(result.total()),
    }


def rows(process: Process) -> list[tuple[str, str]]:
    """(metric, value) rows of one section of the table."""
    data = to_json(process)
    span = data["span_seconds"]
    decided, bindings, llm = data["decisions"], data["bindings"], data["llm"]
    out = [
        ("from", data["start"] or "?"),
        ("to", data["end"] or "?"),
        ("time span", _duration(span) if span is not None else "?"),
        ("scheduler lines", str(data["lines"])),
        ("pods seen", str(data["pods_seen"])),
        ("scheduled (bound)", str(data["scheduled"])),
        ("placements decided", str(decided["placed"])),
    ]
    out += [(f"  by {tier}", str(n)) for tier, n in decided["by_tier"].items()]
    out += [
        ("unschedulable attempts", str(decided["unschedulable"])),
        ("decision latency p50 (ms)", f"{decided['latency_ms_p50']:.3f}"),
        ("decision latency p99 (ms)", f"{decided['latency_ms_p99']:.3f}"),
    ]
    out += [(f"bound on {node}", str(n)) for node, n in data["placements"].items()]
    out += [(f"unschedulable: {reason}", str(n)) for reason, n in data["unschedulable_reasons"].items()]
    out += [(f"fallback from {cause}", str(n)) for cause, n in data["fallbacks"].items()]
    out += [("failed bindings", str(bindings["failed"]))]
    out += [(f"  {error}", str(n)) for error, n in bindings["failures"].items()]
    out += [("LLM calls", str(llm["calls"])), ("LLM successes", str(llm["successes"]))]
    out += [("LLM retries", str(llm["retries"]))]
    out += [(f"LLM calls failed: {kind}", str(n)) for kind, n in llm["failures"].items()]
    out += [(f"LLM answers rejected: {cause}", str(n)) for cause, n in llm["rejections"].items()]
    out += [(f"LLM placements from {source}", str(n)) for source, n in llm["placements_by_source"].items()]
    if llm["calls"]:
        out += [
            ("LLM latency p50 (ms)", f"{llm['latency_ms_p50']:.3f}"),
            ("LLM latency p99 (ms)", f"{llm['latency_ms_p99']:.3f}"),
        ]
    out += [("breaker trips", str(data["breaker"]["trips"]))]
    out += [(f"breaker {change}", str(n)) for change, n in data["breaker"]["transitions"].items()]
    out += [("mismatch", note) for note in data["mismatches"]]
    return out


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _trips(transitions: Counter[str]) -> int:
    return sum(n for change, n in transitions.items() if change.endswith("-> open"))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}h {minutes:02d}m {secs:06.3f}s" if hours else f"{minutes}m {secs:06.3f}s"
