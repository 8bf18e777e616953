"""A chat-completions server on loopback that the real `InferenceClient` talks to, told how to misbehave.

`FakeLLM` serves `POST /v1/chat/completions` (the path `InferenceClient` posts to in `base_url` mode,
and the router's path) on 127.0.0.1 and a free port, records every request (path, headers, JSON
body), and answers according to a script of `Reply`s — one per request, the last repeated — or to
`answer`, a function of the request body (by default: the first candidate id offered in the schema).
`refuse` maps answer formats (`wire_format`) to the reply a server that does not know them gives
(`Reply.groq_refusal`, `Reply.llamacpp_refusal`), ahead of the script.

    with FakeLLM() as llm:
        llm.script(Reply.status(429, retry_after="1"), Reply.good())
        ... LLM_ENDPOINT=llm.url ...
        llm.requests[0].body["messages"]
"""

import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = dict[str, Any]
LLAMACPP_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n"
    '  File "llama_cpp/server/app.py", line 376, in create_chat_completion\n    POST /v1/chat/completions'
)
"""llama-cpp-python 0.3.36's error message for `"response_format": {"type": "json_schema", ...}` (measured)."""


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: Mapping[str, str]
    body: JSON | None
    raw: bytes

    @property
    def offered_ids(self) -> list[str]:
        """The candidate ids the request's schema allows (from whichever constraint it carries)."""
        return offered_ids(self.body or {})

    @property
    def text(self) -> str:
        """Everything the request carried, as one string (for "this text never reached the LLM")."""
        return self.raw.decode("utf-8", errors="replace") + json.dumps(dict(self.headers))


def wire_format(body: Mapping[str, Any]) -> str:
    """The answer format a request body carries, named as `llm.client.AnswerFormat` names it."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return "json_schema"
    if response_format.get("type") == "json_object":
        return "llamacpp" if "schema" in response_format else "tgi"
    return "vllm" if "structured_outputs" in body else "none"


def offered_ids(body: Mapping[str, Any]) -> list[str]:
    response_format = body.get("response_format") or {}
    schema: Mapping[str, Any] = {
        "json_schema": response_format.get("json_schema", {}).get("schema", {}),
        "tgi": response_format.get("value", {}),
        "llamacpp": response_format.get("schema", {}),
        "vllm": body.get("structured_outputs", {}).get("json", {}),
        "none": {},
    }[wire_format(body)]
    enum = schema.get("properties", {}).get("node", {}).get("enum")
    if enum:
        return list(enum)
    user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "{}")
    return [c["id"] for c in json.loads(user).get("candidates", [])]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an HTTP status and body, a delay, or a dropped connection."""

    status: int = 200
    content: str | None = None
    """The assistant message's text; None asks `FakeLLM.answer` for it."""
    body: bytes | None = None
    """A raw response body, instead of a chat completion around `content`."""
    choices: bool = True
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False
    echo: bool = False
    """Answer the first offered id with a reason quoting the request's Authorization header (a hostile or
    buggy endpoint: the scheduler must not pass the token on)."""

    @classmethod
    def good(cls, node: str | None = None, reason: str = "lowest pressure on its sensitive dimensions") -> "Reply":
        return cls(content=None if node is None else json.dumps({"node": node, "reason": reason}))

    @classmethod
    def text(cls, content: str) -> "Reply":
        return cls(content=content)

    @classmethod
    def error(cls, status: int, *, retry_after: str | None = None) -> "Reply":
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls(status=status, body=json.dumps({"error": f"status {status}"}).encode(), headers=headers)

    @classmethod
    def slow(cls, seconds: float) -> "Reply":
        return cls(delay=seconds)

    @classmethod
    def no_choices(cls) -> "Reply":
        return cls(choices=False)

    @classmethod
    def garbage(cls) -> "Reply":
        return cls(body=b"<html>upstream hiccup</html>")

    @classmethod
    def dropped(cls) -> "Reply":
        return cls(drop=True)

    @classmethod
    def echoing(cls) -> "Reply":
        return cls(echo=True)

    @classmethod
    def groq_refusal(cls) -> "Reply":
        """Groq's answer to a structured-output format the model does not support (an OpenAI-style 400)."""
        error = {
            "message": "response_format `json_schema` is not supported with this model",
            "type": "invalid_request_error",
            "param": "response_format",
        }
        return cls(status=400, body=json.dumps({"error": error}).encode())

    @classmethod
    def tgi_refusal(cls) -> "Reply":
        """TGI's answer to a `json_object` without its `value` (its request validation, HTTP 422)."""
        message = "Failed to deserialize the JSON body into the target type: response_format: missing field `value`"
        return cls(status=422, body=json.dumps({"error": message, "error_type": "validation"}).encode())

    @classmethod
    def llamacpp_refusal(cls) -> "Reply":
        """llama-cpp-python's answer to a `response_format` type it does not know: its request validation
        error, reported as an internal error (measured with llama-cpp-python 0.3.36)."""
        error = {"message": LLAMACPP_REFUSAL, "type": "internal_server_error", "param": None, "code": None}
        return cls(status=500, body=json.dumps({"error": error}).encode())


def first_offered(body: Mapping[str, Any]) -> str:
    ids = offered_ids(body)
    return json.dumps({"node": ids[0] if ids else "n1", "reason": "first candidate offered"})


class FakeLLM:
    """The server; thread-safe; use as a context manager."""

    def __init__(
        self,
        *,
        answer: Callable[[Mapping[str, Any]], str] = first_offered,
        refuse: Mapping[str, Reply] | None = None,
    ) -> None:
        self.answer = answer
        self.refuse = dict(refuse or {})
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._script: list[Reply] = [Reply.good()]
        self._served = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with `replies` in order, then keep repeating the last one."""
        with self._lock:
            self._script = list(replies) or [Reply.good()]
            self._served = 0

    def _next(self) -> Reply:
        with self._lock:
            reply = self._script[min(self._served, len(self._script) - 1)]
            self._served += 1
            return reply

    def start(self) -> "FakeLLM":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                fake._record(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw))
                body = body if isinstance(body, dict) else {}
                refusal = fake.refuse.get(wire_format(body))
                try:
                    self._reply(refusal or fake._next(), body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (its timeout): nothing to answer
                finally:
                    fake._done()

            def _reply(self, reply: Reply, body: JSON) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    return self._send(404, b'{"error":"not found"}', {})
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                data = reply.body if reply.body is not None else self._completion(reply, body)
                return self._send(reply.status, data, reply.headers)

            def _completion(self, reply: Reply, body: JSON) -> bytes:
                content = reply.content if reply.content is not None else fake.answer(body)
                if reply.echo:
                    ids = offered_ids(body) or ["n1"]
                    header = self.headers.get("authorization", "")
                    content = json.dumps({"node": ids[0], "reason": f"you sent Authorization: {header}\n{header}"})
                choices = [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
                return json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 1_800_000_000,
                        "model": body.get("model", "fake"),
                        "choices": choices if reply.choices else [],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    }
                ).encode()

            def _send(self, status: int, data: bytes, headers: Mapping[str, str]) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
