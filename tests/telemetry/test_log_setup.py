"""`logs.setup` keeps the libraries' chatter out of the operator's log: their INFO lines (torch's exit statistics
after a traced model, kubernetes' and the HTTP clients' per-request lines) stay out at the default level, their
warnings stay in; urllib3's per-retry warnings stay out too (the caller reports the failure once)."""

import io
import logging
import sys
import threading

import pytest

from telemetry import logs


@pytest.fixture(autouse=True)
def restored(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    yield
    logs.setup(level="WARNING")


@pytest.mark.parametrize(
    "library", ["torch._subclasses.fake_tensor", "kubernetes.client.rest", "httpx", "huggingface_hub.inference"]
)
def test_a_library_speaks_at_warning_and_above(library: str) -> None:
    logs.setup(level="INFO")
    logger = logging.getLogger(library)
    assert not logger.isEnabledFor(logging.INFO)
    assert logger.isEnabledFor(logging.WARNING)
    assert logging.getLogger("scheduler").isEnabledFor(logging.INFO)


def test_urllib3_retries_stay_out_and_errors_stay_in() -> None:
    logs.setup(level="INFO")
    logger = logging.getLogger("urllib3.connectionpool")
    assert not logger.isEnabledFor(logging.WARNING) and logger.isEnabledFor(logging.ERROR)


def test_lines_go_to_standard_error_as_it_is_when_they_are_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread that logs after stderr was swapped and the old one closed (a test's capture, a daemon's
    redirection) writes to the new one rather than failing on the closed file."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logs.setup(level="INFO")
    monkeypatch.setattr(sys, "stderr", second)
    first.close()
    logging.getLogger("scheduler").warning("after the swap")
    written = second.getvalue()
    assert "after the swap" in written
    assert "Logging error" not in written
