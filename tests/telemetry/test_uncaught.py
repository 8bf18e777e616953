"""Exceptions nobody caught, in a thread or the main thread, go through the redacting handler in the
configured format instead of raw to stderr (issue 14, item 9)."""

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from telemetry import logs

TOKEN = "hf_" + "Xy9" * 12
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Where the handler writes; the hooks `setup` installs are put back after the test."""
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    return io.StringIO()


def crash_a_thread() -> None:
    def work() -> None:
        raise RuntimeError(f"could not reach the endpoint with Authorization: Bearer {TOKEN}")

    thread = threading.Thread(target=work, name="decision-worker-3")
    thread.start()
    thread.join()


@pytest.mark.parametrize(
    "fmt",
    [pytest.param("json", id="as one JSON object"), pytest.param("text", id="as a text line")],
)
def test_an_exception_in_a_thread_is_logged_redacted_in_the_configured_format(stream: io.StringIO, fmt: str) -> None:
    logs.setup(fmt=fmt, secrets=[TOKEN], stream=stream)
    crash_a_thread()
    written = stream.getvalue()
    assert TOKEN not in written and TOKEN[3:15] not in written
    assert "RuntimeError" in written and logs.REDACTED in written
    if fmt == "json":
        (record,) = [json.loads(line) for line in written.splitlines()]
        assert record["level"] == "CRITICAL"
        assert record["event"] == "uncaught_exception" and record["thread"] == "decision-worker-3"
        assert "Traceback" in record["exception"]


def test_a_thread_that_exits_on_purpose_logs_nothing(stream: io.StringIO) -> None:
    logs.setup(fmt="json", stream=stream)
    thread = threading.Thread(target=sys.exit, args=(0,))
    thread.start()
    thread.join()
    assert stream.getvalue() == ""


def test_an_uncaught_exception_in_the_main_thread_is_one_redacted_json_line() -> None:
    """A real interpreter, so the real `sys.excepthook` runs when the main thread dies."""
    program = (
        "from telemetry import logs\n"
        f"logs.setup(fmt='json', secrets=[{TOKEN!r}])\n"
        f"raise ValueError('bad config near ' + {TOKEN!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    (record,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert record["level"] == "CRITICAL" and record["thread"] == "MainThread"
    assert TOKEN not in result.stderr and "ValueError" in record["exception"]
