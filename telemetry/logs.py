"""Log lines for humans and for machines, with secrets scrubbed before anything is written.

`setup` configures the root logger as text or JSON (config `logging.format`, env LOG_FORMAT). A
record may carry structured `fields` (`log.info("decision", extra=fields(pod=..., node=...))`): the
text format prints them as `key=value`, the JSON format as keys of the object, and `scheduler.py
stats` reads both back. A filter on the handler replaces the Hugging Face token — and anything that
looks like one — wherever it would appear, including exception tracebacks. An exception nobody
caught, in any thread, is logged the same way (`sys.excepthook`, `threading.excepthook`) instead of
printed raw to stderr, where it would skip both the redactor and the JSON format.
"""

import functools
import json
import logging
import math
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

FIELDS = "fields"
REDACTED = "***"
# Secret shapes redacted even when nobody registered them: Hugging Face, OpenAI/Anthropic, GitHub,
# Slack and AWS keys, JWTs, private-key blocks and HTTP credentials (`Bearer …`, `Basic …`).
TOKEN_PATTERN = re.compile(
    r"\b(?:hf|api_org)_[A-Za-z0-9]{16,}"
    r"|\bsk-[A-Za-z0-9_-]{16,}"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|\b(?:Bearer|Basic)\s+(?=[\w.~+/=-]*[\d_.~+/=-])[\w.~+/=-]{8,}",
    re.IGNORECASE | re.DOTALL,
)
# `api_key=…`, `"password": "…"`, `Authorization: …`: the key stays, the value goes.
_ASSIGNED = re.compile(
    r"""(\b(?:authorization|api[_-]?key|access[_-]?token|token|secret|password|passwd)["']?\s*[:=]\s*["']?)"""
    r"""(?:(?:Bearer|Basic|Token)\s+)?[^\s"',;}]{6,}""",
    re.IGNORECASE,
)


_FRAGMENT = 12
"""A run this long of a registered secret is redacted wherever it appears: a token split by a line
break or cut by a length limit must not leave most of itself behind."""


@functools.lru_cache(maxsize=16)
def _windows(secret: str, width: int) -> frozenset[str]:
    return frozenset(secret[i : i + width] for i in range(len(secret) - width + 1))


def _without_fragments(text: str, secret: str) -> str:
    width = min(_FRAGMENT, len(secret))
    # Every run of `width` characters contains a probe-long slice starting at a multiple of `probe`:
    # those few lookups rule out almost every line before the full scan.
    probe = max(1, width // 2)
    probes = _windows(secret, probe)
    if not any(text[i : i + probe] in probes for i in range(0, len(text) - probe + 1, probe)):
        return text
    pieces = _windows(secret, width)
    spans: list[list[int]] = []
    for start in range(len(text) - width + 1):
        if text[start : start + width] in pieces:
            if spans and start <= spans[-1][1]:
                spans[-1][1] = start + width
            else:
                spans.append([start, start + width])
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


_MARKERS = ("hf_", "api_org_", "sk-", "gh", "github_pat_", "xox", "akia", "asia", "eyj", "-----begin", "bearer",
            "basic", "authorization", "api", "token", "secret", "passw")  # fmt: skip
"""A text without any of these (lowercased) cannot match TOKEN_PATTERN or _ASSIGNED: skip the regexes."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every registered secret (and any long run of one) and anything secret-shaped
    replaced by REDACTED.

    The one scrubber for everything that leaves the process: log lines here, and what an LLM answers
    (`llm.answer`) before it reaches an annotation, an event or the decision cache.
    """
    for secret in secrets:
        if secret:
            text = _without_fragments(text, secret)
    lowered = text.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return text
    text = TOKEN_PATTERN.sub(REDACTED, text)
    return _ASSIGNED.sub(lambda m: m.group(1) + REDACTED, text)


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a structured log line."""
    return {FIELDS: values}


class Redactor(logging.Filter):
    """Scrubs registered secrets and token-shaped strings from the message, fields and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def scrub(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        values = getattr(record, FIELDS, None)
        if isinstance(values, Mapping):
            setattr(record, FIELDS, {k: self.scrub(v) if isinstance(v, str) else v for k, v in values.items()})
        return True


_stopping: set[int] = set()


def stopping(thread_id: int | None) -> None:
    """The thread is being stopped on purpose: its informer's closing connection is no news."""
    if thread_id is not None:
        _stopping.add(thread_id)


class QuietReconnects(logging.Filter):
    """The kubernetes informer logs a full traceback each time a watch connection drops and it
    reconnects; that is routine (server restarts, timeouts), so keep one warning line with the cause,
    and nothing at all for an informer we are stopping."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread in _stopping:
            return False
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _plain(value: Any) -> Any:
    """`json.dumps`'s fallback: a mapping of another type as the dict it reads as, anything else as its text,
    so a field of an unexpected type never costs the whole line."""
    return dict(value) if isinstance(value, Mapping) else str(value)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value) if (not value or any(c in value for c in ' "=\n')) else value
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(json.dumps(value, default=_plain, separators=(",", ":"), sort_keys=True))
    return str(value)


class TextFormatter(logging.Formatter):
    """`2026-11-22T10:00:00.123Z INFO scheduler: decision pod=default/redis node=worker-1 ...`"""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{when} {record.levelname} {record.name}: {record.getMessage()}"
        values = getattr(record, FIELDS, None)
        if isinstance(values, Mapping) and values:
            line += " " + " ".join(f"{k}={_render(v)}" for k, v in values.items())
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        values = getattr(record, FIELDS, None)
        if isinstance(values, Mapping):
            body.update(values)
        if record.exc_text:
            body["exception"] = record.exc_text
        return json.dumps(body, default=_plain, separators=(",", ":"))


_uncaught = logging.getLogger("scheduler.uncaught")


def log_uncaught(
    kind: type[BaseException], error: BaseException | None, trace: TracebackType | None, *, thread: str
) -> None:
    """One CRITICAL record for an exception nobody caught: through the handler, so redacted and formatted."""
    _uncaught.critical(
        "uncaught %s in thread %s",
        kind.__name__,
        thread,
        exc_info=(kind, error, trace) if error is not None else None,
        extra=fields(event="uncaught_exception", thread=thread),
    )


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return  # as the default hook: a thread that exits on purpose is no news
    name = args.thread.name if args.thread is not None else "unknown"
    log_uncaught(args.exc_type, args.exc_value, args.exc_traceback, thread=name)


def _main_hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    log_uncaught(kind, error, trace, thread=threading.current_thread().name)


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever `sys.stderr` is when the record is emitted, not to the one it was made
    with: a thread that logs after its caller swapped stderr (and closed the old one) must not lose the line to
    "I/O operation on closed file"."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        """`StreamHandler` assigns its stream; this one always reads the current `sys.stderr`."""


def setup(*, level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Route every logger — and every uncaught exception, in any thread — to one handler with the chosen
    format and the redactor (on `stream`, or on standard error as it is at each line)."""
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    sys.excepthook = _main_hook
    threading.excepthook = _thread_hook
    informer = logging.getLogger("kubernetes.informer.informer")
    for old_filter in [f for f in informer.filters if isinstance(f, QuietReconnects)]:
        informer.removeFilter(old_filter)
    informer.addFilter(QuietReconnects())
    # torch among them: its exit hook logs FakeTensor cache statistics at INFO after every traced model.
    for noisy in ("kubernetes", "httpx", "httpx2", "httpcore", "httpcore2", "huggingface_hub", "torch"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # urllib3 warns on every connection retry; the callers report the failure that matters once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
