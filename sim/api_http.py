"""The HTTP facade: a threading HTTP/1.1 server that speaks the kube-apiserver's REST protocol.

One thread per connection (clients keep connections alive), JSON in and out, `Status` objects for errors, watch
streams as chunked newline-delimited JSON fed from the store's per-watcher queues, and long lists in chunks as
they are encoded. Requests pass fault injection first. The server never blocks store writers: a watch stream that
cannot keep up is closed by its queue, and a client that goes away only ends its own thread. Sits between the
socket and `api_handlers`.
"""

import contextlib
import json
import logging
import socket
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cluster.clock import Clock
from sim import api_authz, api_discovery, api_errors, api_handlers, api_protobuf
from sim.api_resources import REVIEWS
from sim.api_routes import Route, parse_route
from sim.api_stream import WatchStream, encode, streams, write_list
from sim.faults import Faults
from sim.store import Store

__all__ = ["ApiServer", "ServerSettings"]

log = logging.getLogger(__name__)
JSON = dict[str, Any]
_MAX_BODY = 16 * 1024 * 1024
_MAX_HEADERS = 100
_MAX_LINE = 65536


class _Headers(dict[str, str]):
    """Request headers by lower-cased name (what the handler reads: a few lookups per request)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class ServerSettings:
    """How the facade behaves where the real server is configurable."""

    git_version: str = "v1.32.0"
    watch_timeout: float = 1800.0  # seconds a watch without timeoutSeconds stays open (--min-request-timeout)
    bookmark_interval: float = 60.0  # seconds between BOOKMARK events on watches that allow them
    fresh_timeout: float = 3.0  # seconds a watch from a future resourceVersion waits before its 504 (the cacher's)


class ApiServer(ThreadingHTTPServer):
    """The listening socket and the shared state every request thread uses."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], *, store: Store, faults: Faults, clock: Clock, settings: ServerSettings
    ) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.faults = faults
        self.clock = clock
        self.settings = settings
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def track(self, conn: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke mid-request is the client's business: note it, never print a traceback."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut every client connection (idle keep-alives included) so their threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim-apiserver"
    server: ApiServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def parse_request(self) -> bool:
        """Request line and headers, without the stdlib's e-mail parser (a third of the cost of a bind)."""
        self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.close_connection = True
            self.request_version = "HTTP/1.0"
            self._send(400, encode(api_errors.bad_request(f"malformed request line {words!r}").status()))
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or len(line) > _MAX_LINE:
                self.close_connection = True
                self._send(400, encode(api_errors.bad_request("malformed request header").status()))
                return False
            headers[name.strip().lower()] = value.strip()
        else:
            self.close_connection = True
            self._send(431, encode(api_errors.ApiError(431, "", "too many request headers").status()))
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the base class detects itself (unknown method, oversized request line) as `Status` objects."""
        if code == 501:
            error = api_errors.method_not_allowed()
        else:
            error = api_errors.ApiError(code, api_errors.REASONS.get(code, ""), message or HTTPStatus(code).phrase)
        self.close_connection = True
        self._send(error.code, encode(error.status()))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- request handling -------------------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        server = self.server
        retry_after = None
        try:
            raw = self._read_body()
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            document = self._non_resource(method, url.path)
            if document is not None:
                self._send(200, document)
                return
            route = parse_route(method, url.path, query)
            server.faults.before_request(route.verb, route.fault_key)
            if server.faults.denied(route.verb, route.fault_key):
                raise api_errors.forbidden(
                    route.verb,
                    route.resource.plural,
                    subresource=route.subresource,
                    group=route.resource.group,
                    namespace=route.namespace,
                    name=route.name,
                )
            if route.verb == "watch":
                self._watch(route, query)
                return
            content_type = self.headers.get("Content-Type", "")
            if route.resource is REVIEWS:  # answered, not stored; kubectl sends this one as protobuf
                if api_protobuf.is_protobuf(content_type):
                    review = api_protobuf.self_subject_access_review(raw)
                else:
                    review = self._decode(raw, content_type)
                code, payload = api_authz.review(review, server.faults.denied)
                self._send(code, encode(payload))
                return
            body = self._decode(raw, content_type) if raw else None
            code, payload = api_handlers.handle(
                server.store,
                route,
                query,
                body,
                content_type=content_type,
                table="as=Table" in self.headers.get("Accept", ""),
                now=server.clock.now(),
            )
            if code == 200 and streams(payload):
                self.log_request(code, write_list(self.wfile, payload, close=self.close_connection))
                return
            self._send(code, encode(payload))
        except api_errors.ApiError as exc:
            retry_after = (exc.details or {}).get("retryAfterSeconds")
            self._send(exc.code, encode(exc.status()), retry_after=retry_after)
        except OSError:  # the client went away, or the server is stopping and cut the connection
            self.close_connection = True
        except Exception as exc:
            log.exception("emulator failed to serve %s %s", method, self.path)
            self._send(500, encode(api_errors.internal_error(f"{type(exc).__name__}: {exc}").status()))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not (length.isascii() and length.isdigit() and len(length) <= 19):
            self.close_connection = True
            raise api_errors.bad_request(f"invalid Content-Length: {length!r}")
        if int(length) > _MAX_BODY:
            self.close_connection = True
            raise api_errors.ApiError(413, "RequestEntityTooLarge", f"the request body exceeds {_MAX_BODY} bytes")
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            try:
                size = int(line.split(b";")[0].strip(), 16)
                if size < 0:
                    raise ValueError(size)
            except ValueError:
                self.close_connection = True
                raise api_errors.bad_request(f"malformed chunk size line {line[:40]!r}") from None
            total += size
            if total > _MAX_BODY:
                self.close_connection = True
                raise api_errors.ApiError(413, "RequestEntityTooLarge", f"the request body exceeds {_MAX_BODY} bytes")
            if size == 0:
                while self.rfile.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_MAX_LINE + 1)

    @staticmethod
    def _decode(raw: bytes, content_type: str) -> Any:
        """A JSON body; anything else (protobuf, YAML) is 415: the emulator speaks JSON only."""
        media = content_type.split(";", maxsplit=1)[0].strip().lower()
        if media and media not in ("application/json", "*/*") and not media.endswith("+json"):
            raise api_errors.unsupported_media_type(content_type)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise api_errors.bad_request(f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise api_errors.bad_request("the request body is not valid JSON: nested too deeply") from None

    def _non_resource(self, method: str, path: str) -> bytes | None:
        """Discovery and health documents, or None for a resource path."""
        path = path.rstrip("/") or "/"
        settings = self.server.settings
        if path in ("/healthz", "/livez", "/readyz"):
            return b"ok"
        if path == "/version":
            document: JSON | None = api_discovery.version_info(settings.git_version)
        elif path == "/api":
            document = api_discovery.api_versions(self.server.address)
        elif path == "/apis":
            document = api_discovery.api_group_list()
        elif path == "/api/v1":
            document = api_discovery.api_resource_list("v1")
        elif path.startswith("/apis/") and path.count("/") == 2:
            document = api_discovery.api_group(path.split("/")[2])
            if document is None:
                raise api_errors.path_not_found()
        elif path.startswith("/apis/") and path.count("/") == 3:
            document = api_discovery.api_resource_list(path[len("/apis/") :])
            if document is None:
                raise api_errors.path_not_found()
        elif path == "/openapi/v3":
            document = api_discovery.openapi_v3_index()
        elif path.startswith("/openapi/v3/"):
            document = api_discovery.openapi_v3(path[len("/openapi/v3/") :])
            if document is None:
                raise api_errors.path_not_found()
        elif path.startswith(("/api/", "/apis/")):
            return None
        else:
            raise api_errors.path_not_found()
        if method != "GET":
            raise api_errors.method_not_allowed()
        return encode(document)

    def _send(self, code: int, payload: bytes, *, retry_after: int | None = None) -> None:
        reason = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
        content_type = "text/plain" if payload == b"ok" else "application/json"
        head = [f"HTTP/1.1 {code} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(payload)}"]
        if retry_after is not None:
            head.append(f"Retry-After: {retry_after}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        self.log_request(code, len(payload))

    def _watch(self, route: Route, query: dict[str, str]) -> None:
        server = self.server
        stream = WatchStream(
            self.wfile,
            store=server.store,
            clock=server.clock,
            settings=server.settings,
            table="as=Table" in self.headers.get("Accept", ""),
        )
        try:
            self.log_request(200)
            stream.serve(route, query)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
