"""The emulator's fault controls over HTTP on loopback, so experiments can be run from a shell.

`python -m sim.apiserver --control-port N` serves these next to the API (each a POST, answered with JSON):

    /fail?count=10&verb=create&resource=pods/binding&code=409[&message=...]   the next matching requests fail
    /latency?seconds=2[&verb=...&resource=...&count=...]                       delay matching requests
    /deny?verb=create&resource=pods/binding                                    403, and access reviews say no
    /drop-watches                                                              end every open watch stream
    /expire-history                                                            resuming watches get 410
    /reset                                                                     resourceVersions restart (504 on resume)
    /clear                                                                     remove every rule

e.g. `curl -X POST 'http://127.0.0.1:N/fail?count=10&verb=create&resource=pods/binding&code=409'`. Each maps to
one `sim.faults.Faults` method; bad parameters get 400 with the reason. The server refuses to bind anywhere
but loopback: whoever can reach it can break the cluster.
"""

import ipaddress
import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sim.faults import Faults

__all__ = ["ControlServer", "apply"]


def _optional(query: Mapping[str, str], name: str) -> str | None:
    return query.get(name) or None


def _number(query: Mapping[str, str], name: str, default: float | None = None) -> float:
    value = query.get(name)
    if value is None or value == "":
        if default is None:
            raise ValueError(f"{name} is required")
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


def _count(query: Mapping[str, str], default: int | None) -> int | None:
    if not query.get("count"):
        return default
    value = _number(query, "count")
    if value != int(value):
        raise ValueError(f"count must be a whole number, not {query['count']!r}")
    return int(value)


def apply(faults: Faults, action: str, query: Mapping[str, str]) -> dict[str, Any]:
    """Run one control action on `faults`; what it did, as JSON. ValueError for an unknown action or bad input."""
    verb, resource = _optional(query, "verb"), _optional(query, "resource")
    if action == "fail":
        count = _count(query, 1)
        assert count is not None  # the default
        code = int(_number(query, "code", 500))
        faults.fail_next(count, verb=verb, resource=resource, code=code, message=_optional(query, "message"))
        return {"failing": count, "verb": verb, "resource": resource, "code": code}
    if action == "latency":
        seconds = _number(query, "seconds")
        faults.add_latency(seconds, verb=verb, resource=resource, count=_count(query, None))
        return {"latency": seconds, "verb": verb, "resource": resource}
    if action == "deny":
        faults.deny(verb or "", resource or "")
        return {"denied": f"{verb}:{resource}"}
    if action == "drop-watches":
        return {"dropped": faults.drop_watches()}
    if action == "expire-history":
        faults.expire_history()
        return {"expired": True}
    if action == "reset":
        return {"resourceVersion": faults.reset_store()}
    if action == "clear":
        faults.clear()
        return {"cleared": True}
    known = "fail, latency, deny, drop-watches, expire-history, reset, clear"
    raise ValueError(f"unknown control {action!r}; one of {known}")


class ControlServer:
    """The control endpoints on `host:port` (loopback only), on a daemon thread."""

    def __init__(self, faults: Faults, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the fault controls serve loopback only, not {host}")
        self._server = ThreadingHTTPServer((host, port), _handler(lambda action, query: apply(faults, action, query)))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-control", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "ControlServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(run: Callable[[str, Mapping[str, str]], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                self._reply(200, run(url.path.strip("/"), query))
            except ValueError as exc:
                self._reply(400, {"error": str(exc)})

        def _reply(self, code: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode() + b"\n"
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
