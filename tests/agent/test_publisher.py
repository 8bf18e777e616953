import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.publisher import InClusterPatcher, Publisher, PublishError, moved, should_publish
from cluster.clock import FakeClock
from cluster.nodestate import ANNOTATION, NodeState, Summary
from runtime.kube import Kube


def state(**means: float) -> NodeState:
    return NodeState(
        node="worker-1",
        timestamp=1.8e9,
        window_seconds=30.0,
        metrics={name: Summary(mean, 0.0, mean) for name, mean in means.items()},
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(
            state(cpu_utilization=0.40), state(cpu_utilization=0.45), False, id="a fraction moving 0.05 is noise"
        ),
        pytest.param(
            state(cpu_utilization=0.40), state(cpu_utilization=0.55), True, id="a fraction moving 0.15 is news"
        ),
        pytest.param(
            state(psi_io_some=10.0), state(psi_io_some=25.0), True, id="percent metrics use their 0..100 range"
        ),
        pytest.param(state(cpi=1.0), state(cpi=1.05), False, id="an unbounded metric moving 5 percent is noise"),
        pytest.param(state(cpi=1.0), state(cpi=1.5), True, id="an unbounded metric moving 50 percent is news"),
        pytest.param(state(cpi=1.0), state(), True, id="a metric becoming unknown is news"),
        pytest.param(
            state(memory_bandwidth_gbps=0.0),
            state(memory_bandwidth_gbps=0.1),
            True,
            id="an unbounded metric leaving zero is news",
        ),
    ],
)
def test_moved(before: NodeState, after: NodeState, expected: bool) -> None:
    assert moved(before, after, threshold=0.1) is expected


@pytest.mark.parametrize(
    ("last", "since", "current", "expected"),
    [
        pytest.param(None, 0.0, state(), True, id="the first state is always published"),
        pytest.param(state(cpu_utilization=0.4), 30.0, state(cpu_utilization=0.4), True, id="the interval elapsed"),
        pytest.param(state(cpu_utilization=0.4), 10.0, state(cpu_utilization=0.4), False, id="nothing moved yet"),
        pytest.param(
            state(cpu_utilization=0.4), 10.0, state(cpu_utilization=0.9), True, id="a big move publishes early"
        ),
        pytest.param(
            state(cpu_utilization=0.4),
            2.0,
            state(cpu_utilization=0.9),
            False,
            id="but never more often than the minimum interval",
        ),
    ],
)
def test_should_publish(last: NodeState | None, since: float, current: NodeState, expected: bool) -> None:
    assert should_publish(last, current, since_last=since, interval=30.0, min_interval=5.0, threshold=0.1) is expected


class RecordingPatcher:
    def __init__(self, clock: FakeClock, *, failures: int = 0) -> None:
        self.clock = clock
        self.patches: list[tuple[str, dict]] = []
        self.calls: list[float] = []
        self.failures = failures

    def patch_node_annotations(self, node: str, annotations: dict) -> None:
        self.calls.append(self.clock.monotonic())
        if self.failures:
            self.failures -= 1
            raise PublishError("PATCH node worker-1: HTTP 503: apiserver is shutting down")
        self.patches.append((node, dict(annotations)))


def test_publisher_patches_only_the_annotation_on_its_cadence() -> None:
    clock = FakeClock()
    patcher = RecordingPatcher(clock)
    publisher = Publisher(patcher, node="worker-1", clock=clock, interval=30.0, min_interval=5.0, threshold=0.1)
    published = []
    for _ in range(61):
        published.append(publisher.offer(state(cpu_utilization=0.4)))
        clock.advance(1.0)
    assert [i for i, sent in enumerate(published) if sent] == [0, 30, 60]
    node, annotations = patcher.patches[0]
    assert node == "worker-1" and list(annotations) == [ANNOTATION]
    assert json.loads(annotations[ANNOTATION])["metrics"]["cpu_utilization"]["mean"] == 0.4


def test_failures_log_once_and_back_off(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    patcher = RecordingPatcher(clock, failures=3)
    publisher = Publisher(patcher, node="worker-1", clock=clock, interval=30.0, min_interval=5.0)
    start = clock.monotonic()
    with caplog.at_level(logging.INFO):
        for _ in range(40):
            publisher.offer(state(cpu_utilization=0.4))
            clock.advance(1.0)
    assert [at - start for at in patcher.calls] == [0, 5, 15, 35]  # retries after 5, 10, then 20 s
    assert len(patcher.patches) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot publish" in m for m in messages) == 1
    assert any("works again" in m for m in messages)


class FakeApiServer:
    """A loopback HTTP server that records PATCH requests and answers with a canned status."""

    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PATCH(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(self.rfile.read(length))}
                )
                payload = json.dumps(body or {"kind": "Node"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    yield server
    server.close()


def test_in_cluster_patcher_sends_a_merge_patch_with_the_token(api: FakeApiServer, tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n")
    InClusterPatcher(server=api.url, token_file=str(token)).patch_node_annotations("worker-1", {ANNOTATION: "{}"})
    (request,) = api.requests
    assert request["path"] == "/api/v1/nodes/worker-1"
    assert request["headers"]["Content-Type"] == "application/merge-patch+json"
    assert request["headers"]["Authorization"] == "Bearer s3cr3t-token"
    assert request["body"] == {"metadata": {"annotations": {ANNOTATION: "{}"}}}


def test_a_denial_surfaces_the_api_servers_message_but_never_the_token(tmp_path) -> None:
    message = 'nodes "worker-2" is forbidden: ValidatingAdmissionPolicy denied request'
    server = FakeApiServer(status=403, body={"kind": "Status", "message": message})
    token = tmp_path / "token"
    token.write_text("s3cr3t-token")
    try:
        with pytest.raises(PublishError) as caught:
            InClusterPatcher(server=server.url, token_file=str(token)).patch_node_annotations(
                "worker-2", {ANNOTATION: "x"}
            )
    finally:
        server.close()
    assert "HTTP 403" in str(caught.value) and message in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_unreachable_api_server_is_a_publish_error() -> None:
    server = FakeApiServer()
    url = server.url
    server.close()
    with pytest.raises(PublishError, match="cannot reach the API server"):
        InClusterPatcher(server=url, timeout=2.0).patch_node_annotations("n", {ANNOTATION: "x"})


def test_from_environment_needs_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(PublishError, match="--api-server or --kubeconfig"):
        InClusterPatcher.from_environment()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    assert InClusterPatcher.from_environment().server == "https://[fd00::1]:6443"


def test_the_publisher_drives_a_kube_client_pointed_at_any_url(api: FakeApiServer) -> None:
    publisher = Publisher(Kube.connect(server=api.url), node="worker-1", clock=FakeClock())
    assert publisher.offer(state(cpu_utilization=0.25))
    (request,) = api.requests
    assert request["path"] == "/api/v1/nodes/worker-1"
    assert request["headers"]["Content-Type"] == "application/merge-patch+json"
    assert json.loads(request["body"]["metadata"]["annotations"][ANNOTATION])["node"] == "worker-1"
