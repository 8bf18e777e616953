"""`/metrics`, `/healthz` and `/readyz` on one small HTTP server (config `metrics.port`).

`/metrics` renders the scheduler's Prometheus registry; `/healthz` answers 200 while the scheduler makes
progress and 503 with the reason when `unhealthy` names one (dead workers or informers, a stuck queue), so
the kubelet restarts it; `/readyz` answers 200 once the informers have synced and while they run, 503
otherwise. Runs on its own daemon thread.
"""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class MetricsServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        ready: Callable[[], bool],
        address: str,
        port: int,
        unhealthy: Callable[[], str | None] = lambda: None,
    ) -> None:
        handler = _handler(registry, ready, unhealthy)
        self._server = ThreadingHTTPServer((address, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(
    registry: CollectorRegistry, ready: Callable[[], bool], unhealthy: Callable[[], str | None]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                why = unhealthy()
                self._reply(503 if why else 200, (why or "ok").encode(), "text/plain")
            elif path == "/readyz":
                ok = ready()
                self._reply(200 if ok else 503, b"ok" if ok else b"informers not synced", "text/plain")
            else:
                self._reply(404, b"not found", "text/plain")

        def _reply(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
