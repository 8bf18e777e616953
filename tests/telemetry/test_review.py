"""`scheduler.py stats`: log lines round-trip (text or JSON), every number is counted from the per-event
lines (a log cut short or spanning restarts still adds up), and a file with no scheduler lines is refused."""

import io
import json
import logging
from pathlib import Path

import pytest

import scheduler
from telemetry import logs
from telemetry.review import parse_line, report_json, review, rows

SECRET = "hf_" + "x" * 34


@pytest.fixture
def logger():
    def make(fmt: str) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        logs.setup(level="INFO", fmt=fmt, secrets=[SECRET], stream=stream)
        return logging.getLogger("scheduler"), stream

    yield make
    logs.setup(level="WARNING")


def emit(log: logging.Logger) -> None:
    """One short process: start, three decisions, two bindings (one failed first), the LLM's calls, a trip."""
    log.info("scheduler starting", extra=logs.fields(event="start", scheduler="s", workers=1, shadow=False))
    placed = {"event": "decision", "pod": "default/p0", "node": "w1", "tier": "llm", "latency_ms": 900.0}
    placed |= {"reason": 'quiet node, balanced "resources" = fine', "llm": {"source": "answer", "candidates": 3}}
    log.info("decision", extra=logs.fields(**placed))
    log.info("retrying the LLM call", extra=logs.fields(event="llm_retry", kind="server_error", status=500, wait_s=0.5))
    log.info("LLM call", extra=logs.fields(event="llm_call", outcome="server_error", latency_ms=20.0))
    log.info("LLM call", extra=logs.fields(event="llm_call", outcome="ok", latency_ms=880.0))
    fallback = {"event": "decision", "pod": "default/p1", "node": "w2", "tier": "heuristic", "latency_ms": 1.5}
    fallback |= {"reason": "least loaded", "fallbacks": {"llm": "breaker_open: circuit breaker is open (trial in 9s)"}}
    log.info("decision", extra=logs.fields(**fallback))
    log.warning(
        "%s %s -> %s", "LLM circuit breaker", "closed", "open",
        extra=logs.fields(event="breaker", tier="llm", state="open", failures=5),
    )  # fmt: skip
    refused = {"event": "decision", "pod": "default/big", "node": None, "tier": "heuristic", "latency_ms": 0.8}
    refused["reason"] = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
    log.info("unschedulable", extra=logs.fields(**refused))
    log.warning(
        "binding %s to %s failed: %s", "default/p0", "w1", "HTTP 500",
        extra=logs.fields(event="binding_failed", pod="default/p0", node="w1", error="HTTP 500"),
    )  # fmt: skip
    log.info("bound", extra=logs.fields(event="bound", pod="default/p0", node="w1", attempts=2))
    log.info("bound", extra=logs.fields(event="bound", pod="default/p1", node="w2", attempts=1))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_count_comes_from_the_per_event_lines_in_either_format(logger, fmt):
    log, stream = logger(fmt)
    emit(log)
    log.info("something else happened")
    result = review(stream.getvalue().splitlines())
    (process,) = result.processes
    assert process.started and process.lines == 11 and result.skipped == 1
    assert process.decisions == {"llm": 1, "heuristic": 1} and process.unschedulable == 1
    assert process.unschedulable_reasons == {"node(s) had untolerated taint {dedicated: gpu}": 1, "Insufficient cpu": 1}
    assert process.fallbacks == {"llm: breaker_open": 1}
    assert process.bound == 2 and process.placements == {"w1": 1, "w2": 1}
    assert process.binding_failures == {"HTTP 500": 1}
    assert process.llm_calls == {"ok": 1, "server_error": 1} and process.llm_retries == 1
    assert process.llm_sources == {"answer": 1}
    assert process.breaker == {"llm -> open": 1}
    assert sorted(process.latencies_ms) == pytest.approx([0.8, 1.5, 900.0])
    table = dict(rows(process))
    assert table["scheduled (bound)"] == "2" and table["LLM calls"] == "2" and table["breaker trips"] == "1"
    assert table["unschedulable: Insufficient cpu"] == "1" and table["fallback from llm: breaker_open"] == "1"


def test_a_log_spanning_a_restart_gets_a_section_per_process_and_a_total(logger):
    log, stream = logger("json")
    emit(log)
    log.info("stats", extra=logs.fields(event="stats", bound=2, llm_calls=2, failed_bindings=1))
    emit(log)
    log.info("final stats", extra=logs.fields(event="stats", bound=2, llm_calls=2, failed_bindings=1))
    result = review(stream.getvalue().splitlines())
    assert [(p.bound, sum(p.llm_calls.values()), p.final) for p in result.processes] == [(2, 2, False), (2, 2, True)]
    total = report_json(result, source="scheduler.log")["total"]
    assert total["scheduled"] == 4 and total["pods_seen"] == 3
    assert total["llm"]["calls"] == 4 and total["llm"]["successes"] == 2 and total["llm"]["retries"] == 2
    assert total["bindings"] == {"bound": 4, "failed": 2, "failures": {"HTTP 500": 2}}
    assert total["placements"] == {"w1": 2, "w2": 2} and total["breaker"]["trips"] == 2
    assert total["mismatches"] == []


@pytest.mark.parametrize(
    "lines, expected",
    [
        pytest.param(
            ['{"time":"2026-11-22T10:00:00.000+00:00","event":"bound","pod":"a/b","node":"w1"}'],
            {"processes": 1, "started": False, "bound": 1},
            id="a log that begins mid-process is one section that did not see its start",
        ),
        pytest.param(
            ['2026-11-22T10:00:00.5Z {"time":"2026-11-22T10:00:00.000+00:00","event":"bound","pod":"a/b","node":"w"}'],
            {"processes": 1, "started": False, "bound": 1},
            id="kubectl logs --timestamps in front of a JSON line",
        ),
        pytest.param(
            [
                "2026-11-22T10:00:00.000Z INFO scheduler: scheduler starting event=start scheduler=s workers=1",
                "2026-11-22T10:00:00.001Z INFO scheduler: bound event=bound pod=a/b node=w1 attempts=1",
                "Traceback (most recent call last):",
                "2026-11-22T10:05:00.000Z INFO scheduler: scheduler starting event=start scheduler=s workers=1",
                "2026-11-22T10:05:01.000Z INFO scheduler: bound event=bound pod=a/c node=w1 attempts=1",
            ],
            {"processes": 2, "started": True, "bound": 2},
            id="two text start lines are two processes, a traceback line is skipped",
        ),
        pytest.param(
            [
                '{"time":"2026-11-22T10:00:00.000+00:00","message":"final stats","event":"stats","bound":3}',
            ],
            {"processes": 1, "started": False, "bound": 0, "mismatch": "bound=3"},
            id="a final summary counting more than the log shows is reported as a mismatch",
        ),
    ],
)
def test_edge_cases_of_real_logs(lines, expected):
    result = review(lines)
    total = result.total()
    assert len(result.processes) == expected["processes"]
    assert result.processes[0].started is expected["started"]
    assert total.bound == expected["bound"]
    mismatches = " ".join(result.processes[-1].mismatches())
    assert (expected.get("mismatch") or "") in mismatches and bool(mismatches) is ("mismatch" in expected)


LLM_CALL = '{"time":"2026-11-22T10:00:01.000+00:00","event":"llm_call","outcome":"ok","latency_ms":%s}'


@pytest.mark.parametrize(
    "lines, expected",
    [
        pytest.param(
            ['{"time":"2024-01-01T00:00:00Z","event":"start"}', '{"time":"2024-01-01 00:00:01"}'],
            {"processes": 1, "skipped": 1, "span": 1.0},
            id="a time without a zone is UTC, comparable with the scheduler's",
        ),
        pytest.param(
            ['{"event":{"type":"Normal","reason":"Scheduled"}}', '{"event":["start"]}'],
            {"processes": 0, "skipped": 2, "span": None},
            id="a JSON line whose event is no string is another program's",
        ),
        pytest.param(
            ['2026-11-22T10:00:00.000Z INFO kubelet: synced event="{\\"type\\": \\"Normal\\"}"'],
            {"processes": 0, "skipped": 1, "span": None},
            id="a text line whose event is a mapping is another program's",
        ),
        pytest.param(
            [LLM_CALL % ("1" * 400), LLM_CALL % "NaN", LLM_CALL % "Infinity", LLM_CALL % "-5", LLM_CALL % "12.5"],
            {"processes": 1, "skipped": 0, "span": 0.0, "llm_calls": 5, "llm_latencies": [12.5]},
            id="a latency too long for a float, NaN, infinite or negative is left out, the call still counted",
        ),
        pytest.param(
            ["2026-11-22T10:00:00.000Z INFO scheduler.llm: LLM call event=llm_call outcome=ok latency_ms=1e999"],
            {"processes": 1, "skipped": 0, "span": 0.0, "llm_calls": 1, "llm_latencies": []},
            id="a text latency that overflows a float is left out",
        ),
    ],
)
def test_lines_no_scheduler_writes_never_break_the_counts(lines, expected):
    result = review(lines)
    total = result.total()
    assert (len(result.processes), result.skipped) == (expected["processes"], expected["skipped"])
    assert total.span_seconds() == expected["span"]
    assert sum(total.llm_calls.values()) == expected.get("llm_calls", 0)
    assert total.llm_latencies_ms == expected.get("llm_latencies", [])
    json.dumps(report_json(result, source="x.log"), allow_nan=False)


def test_the_time_span_runs_from_the_first_to_the_last_line_of_a_process():
    result = review(
        [
            "2026-11-22T10:00:00.000Z INFO scheduler: scheduler starting event=start scheduler=s workers=1",
            "2026-11-22T10:00:00.500Z WARNING runtime.writer: could not write event for pod a/b: 403",
            "2026-11-22T11:01:30.250Z INFO scheduler: bound event=bound pod=a/b node=w1 attempts=1",
        ]
    )
    (process,) = result.processes
    assert process.span_seconds() == pytest.approx(3690.25)
    assert dict(rows(process))["time span"] == "1h 01m 30.250s"


def test_a_breaker_line_whose_message_has_an_arrow_still_parses_as_text():
    record = parse_line(
        "2026-11-22T10:00:00.000Z WARNING scheduler.llm: LLM circuit breaker half-open -> open "
        "event=breaker tier=llm state=open failures=1"
    )
    assert record is not None
    assert record["message"] == "LLM circuit breaker half-open -> open"
    assert (record["event"], record["state"], record["failures"]) == ("breaker", "open", 1)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_command_prints_a_table_or_json_with_numbers_as_numbers(logger, fmt, tmp_path: Path, capsys):
    log, stream = logger(fmt)
    emit(log)
    emit(log)
    path = tmp_path / "scheduler.log"
    path.write_text(stream.getvalue())
    logs.setup(level="WARNING")
    assert scheduler.main(["stats", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["processes"]) == 2 and data["total"]["scheduled"] == 4
    assert data["total"]["decisions"]["latency_ms_p99"] == pytest.approx(900.0, rel=0.01)
    assert isinstance(data["total"]["span_seconds"], float) and data["lines"] == 22
    assert scheduler.main(["stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "process 1" in out and "process 2" in out and "total" in out
    assert "scheduled (bound)" in out and "bound on w1" in out


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="an empty file"),
        pytest.param("hello\nworld\n", id="free text"),
        pytest.param('{"level":"INFO","message":"GET /healthz"}\n', id="JSON lines of some other program"),
        pytest.param('{"kind":"Event","event":{"type":"Normal"}}\n', id="JSON lines whose event is no string"),
    ],
)
def test_a_file_with_no_scheduler_lines_is_one_line_and_exit_2(text, tmp_path: Path, capsys):
    path = tmp_path / "other.log"
    path.write_text(text)
    assert scheduler.main(["stats", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert str(path) in line and "no scheduler log lines" in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_the_log(logger, fmt):
    log, stream = logger(fmt)
    log.warning("calling with token %s", SECRET)
    log.info("decision", extra=logs.fields(reason=f"auth {SECRET}"))
    try:
        raise RuntimeError(f"401 for token {SECRET}")
    except RuntimeError:
        log.exception("request failed")
    log.info("another token shape hf_%s", "A" * 30)
    text = stream.getvalue()
    assert SECRET not in text and "hf_" + "A" * 30 not in text
    assert text.count(logs.REDACTED) >= 4
