"""`scheduler.py stats LOGFILE`: read a scheduler log back into numbers an operator can review.

Understands both formats `telemetry.logs` writes: JSON objects, and text lines whose structured part
is `key=value` pairs (values JSON-quoted when they hold spaces). Decision lines give the per-tier
counts and the latency percentiles; the last stats line gives the counters only the process knew
(LLM calls, cache, breaker, bindings). Lines it does not understand are counted and skipped. Pure.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from telemetry.stats import percentile

_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
_TEXT = re.compile(r"^\S+ [A-Z]+ [\w.]+: (?P<message>[\w ]+?)(?: (?P<pairs>\w+=.*))?$")


@dataclass
class Review:
    lines: int = 0
    skipped: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    unschedulable: int = 0
    pods: set[str] = field(default_factory=set)
    placed_pods: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    fallbacks: Counter[str] = field(default_factory=Counter)
    last_stats: dict[str, Any] = field(default_factory=dict)

    def table(self) -> list[tuple[str, str]]:
        """(metric, value) rows for the report."""
        stats = self.last_stats
        rows = [
            ("log lines read", str(self.lines)),
            ("lines skipped", str(self.skipped)),
            ("pods seen", str(len(self.pods))),
            ("pods scheduled", str(len(self.placed_pods))),
            ("unschedulable attempts", str(self.unschedulable)),
        ]
        rows += [(f"decisions by {tier}", str(n)) for tier, n in sorted(self.decisions.items())]
        rows += [(f"fallbacks from {tier}", str(n)) for tier, n in sorted(self.fallbacks.items())]
        rows += [
            ("decision latency p50 (ms)", f"{percentile(self.latencies_ms, 50):.3f}"),
            ("decision latency p99 (ms)", f"{percentile(self.latencies_ms, 99):.3f}"),
        ]
        for key, label in (
            ("llm_calls", "LLM calls"),
            ("llm_successes", "LLM successes"),
            ("llm_retries", "LLM retries"),
            ("cache_hit_rate", "LLM cache hit rate"),
            ("breaker_trips", "breaker trips"),
            ("failed_bindings", "failed bindings"),
            ("llm_latency_ms_p50", "LLM latency p50 (ms)"),
            ("llm_latency_ms_p99", "LLM latency p99 (ms)"),
        ):
            if key in stats:
                rows.append((label, str(stats[key])))
        return rows


def parse_line(line: str) -> dict[str, Any] | None:
    """The structured fields of one log line (JSON or text), or None when it has none."""
    line = line.strip()
    if not line:
        return None
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record if isinstance(record, dict) else None
    match = _TEXT.match(line)
    if match is None or not match.group("pairs"):
        return None
    record: dict[str, Any] = {"message": match.group("message")}
    for key, raw in _PAIR.findall(match.group("pairs")):
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
    try:
        return float(raw) if any(c in raw for c in ".e") else int(raw)
    except ValueError:
        return raw


def review(lines: Iterable[str]) -> Review:
    result = Review()
    for line in lines:
        result.lines += 1
        record = parse_line(line)
        event = record.get("event") if record else None
        if event == "decision":
            _decision(result, record)
        elif event == "stats":
            result.last_stats = dict(record)
        else:
            result.skipped += 1
    return result


def _decision(result: Review, record: Mapping[str, Any]) -> None:
    pod = str(record.get("pod"))
    result.pods.add(pod)
    latency = record.get("latency_ms")
    if isinstance(latency, int | float):
        result.latencies_ms.append(float(latency))
    fallbacks = record.get("fallbacks")
    if isinstance(fallbacks, Mapping):
        result.fallbacks.update(fallbacks.keys())
    if record.get("node") in (None, "None"):
        result.unschedulable += 1
        return
    result.placed_pods.add(pod)
    result.decisions[str(record.get("tier"))] += 1
