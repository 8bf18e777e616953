"""Long lists are written in chunks as they are encoded (kube-apiserver 1.33's streaming list encoding): the same
JSON as one encoding of the whole, read by the real client like any other list."""

import io
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from runtime.listing import Listing
from sim import api_stream
from sim.apiserver import Emulator

PODS = 2 * api_stream.LIST_BATCH + 1


def _dechunk(data: bytes) -> tuple[dict[str, str], list[bytes], bytes]:
    """A raw chunked response: its headers, its chunks and what followed the last one."""
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    chunks = []
    while True:
        size, _, body = body.partition(b"\r\n")
        length = int(size, 16)
        if not length:
            return headers, chunks, body
        chunks.append(body[:length])
        assert body[length : length + 2] == b"\r\n"
        body = body[length + 2 :]


def test_a_long_list_is_written_in_chunks_of_a_batch_with_the_bytes_of_one_encoding() -> None:
    payload = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": f"p-{i}", "labels": {"n": str(i)}}} for i in range(PODS)],
    }
    out = io.BytesIO()
    size = api_stream.write_list(out, payload, close=False)
    headers, chunks, rest = _dechunk(out.getvalue())
    assert headers["transfer-encoding"] == "chunked"
    assert "connection" not in headers
    assert b"".join(chunks) == api_stream.encode(payload)
    assert size == len(api_stream.encode(payload))
    assert len(chunks) == 4  # two full batches, one item, then the closing brackets
    assert rest == b"\r\n"  # no trailers: the last chunk, then the blank line


def test_only_lists_longer_than_a_batch_with_their_items_last_are_streamed() -> None:
    items = [{}] * (api_stream.LIST_BATCH + 1)
    assert api_stream.streams({"kind": "PodList", "metadata": {}, "items": items})
    assert not api_stream.streams({"kind": "PodList", "metadata": {}, "items": items[:-1]})
    assert not api_stream.streams({"kind": "PodList", "items": items, "metadata": {}})
    assert not api_stream.streams({"kind": "Pod", "metadata": {}, "spec": {}})


@pytest.fixture
def crowded(make_node: Callable[..., Any], make_pod: Callable[..., Any]) -> Iterator[Emulator]:
    """An emulator with `PODS` pods, one more than two batches."""
    emulator = Emulator([make_node("node-1"), *(make_pod(f"pod-{i:04d}") for i in range(PODS))], kubelet=False)
    emulator.start()
    yield emulator
    emulator.stop()


def _get(emulator: Emulator, path: str) -> bytes:
    """The raw response to a GET that asks the server to close the connection after it."""
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        return conn.makefile("rb").read()


def test_the_emulator_streams_a_long_list_and_the_client_reads_every_item(crowded: Emulator) -> None:
    headers, chunks, _ = _dechunk(_get(crowded, "/api/v1/namespaces/default/pods"))
    assert (headers["transfer-encoding"], headers["connection"]) == ("chunked", "close")
    listed = json.loads(b"".join(chunks))
    assert [p["metadata"]["name"] for p in listed["items"]] == [f"pod-{i:04d}" for i in range(PODS)]
    assert listed["metadata"]["resourceVersion"]
    configuration = client.Configuration()
    configuration.host = crowded.url
    with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)
        assert len(core.list_namespaced_pod("default").items) == PODS
        raw = core.list_pod_for_all_namespaces(_preload_content=False)
        streamed = list(Listing(raw.stream(4096)))
    assert [p["metadata"]["name"] for p in streamed] == [p["metadata"]["name"] for p in listed["items"]]


def test_a_page_no_longer_than_a_batch_keeps_its_content_length(crowded: Emulator) -> None:
    data = _get(crowded, f"/api/v1/pods?limit={api_stream.LIST_BATCH}")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-length" in head.lower() and b"transfer-encoding" not in head.lower()
    assert len(json.loads(body)["items"]) == api_stream.LIST_BATCH
