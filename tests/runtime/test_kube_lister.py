"""The informers' list function and list: raw JSON for both the list and the client's watch, each listed object
to the handlers as it is decoded, connections given back, keys only in the store."""

import json
import threading
from typing import Any

import pytest
from kubernetes.informer import ADDED, DELETED, MODIFIED
from kubernetes.watch import Watch

from runtime import kube as kube_module
from runtime.kube import Kube
from sim.apiserver import Emulator
from tests.builders import pod_json


class Response:
    """A raw (`_preload_content=False`) response: its body, and whether its connection went back to the pool."""

    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body).encode()
        self.released = self.closed = self.read_through = False

    def stream(self, amt: int):
        yield from (self.data[i : i + amt] for i in range(0, len(self.data), amt))
        self.read_through = True

    def release_conn(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True


def lister(responses: list[Response]):
    def method(**_: Any) -> Response:
        return responses.pop(0)

    return Kube(api=None).raw_lister(method)  # type: ignore[arg-type]


def test_a_list_read_through_gives_its_connection_back():
    response = Response({"kind": "PodList", "metadata": {"resourceVersion": "9"}, "items": [pod_json("a")]})
    listing = lister([response])()
    assert list(listing) == [pod_json("a")]
    assert listing.resource_version == "9"
    assert response.released and not response.closed


def test_a_list_abandoned_half_way_closes_its_connection():
    response = Response({"items": [pod_json(f"p{i}") for i in range(1000)]})
    items = iter(lister([response])())
    assert next(items) == pod_json("p0")
    items.close()
    assert response.closed and not response.released


def informer_over(*responses: Response):
    """`Kube.informer("pods")` listing `responses` in turn, and the (event, name) pairs its handlers saw."""
    kube = Kube(api=None)  # type: ignore[arg-type]
    queue = list(responses)
    kube.get = lambda path, **query: queue.pop(0)  # type: ignore[method-assign]
    informer = kube.informer("pods")
    seen: list[tuple[str, str]] = []
    for kind in (ADDED, MODIFIED, DELETED):
        informer.add_event_handler(kind, lambda obj, kind=kind: seen.append((kind, obj["metadata"]["name"])))
    return informer, seen


def pods(*names: str, version: str = "10") -> dict[str, Any]:
    return {"kind": "PodList", "metadata": {"resourceVersion": version}, "items": [pod_json(n) for n in names]}


def test_each_listed_object_reaches_the_handlers_before_the_rest_of_the_list_is_read():
    response = Response(pods(*(f"p{i}" for i in range(3000))))
    informer, seen = informer_over(response)
    read_when_first_handled = []
    informer.add_event_handler(ADDED, lambda obj: read_when_first_handled.append(response.read_through))
    informer._initial_list()
    assert seen[:2] == [(ADDED, "p0"), (ADDED, "p1")] and len(seen) == 3000
    assert read_when_first_handled[0] is False
    assert informer._resource_version == "10"
    assert informer.cache.get_by_key("default/p0") == {"metadata": {"namespace": "default", "name": "p0"}}


def test_a_relist_reports_what_changed_since_the_last_one():
    informer, seen = informer_over(Response(pods("a", "b")), Response(pods("b", "c", version="20")))
    informer._initial_list()
    informer._initial_list()
    assert seen == [(ADDED, "a"), (ADDED, "b"), (MODIFIED, "b"), (ADDED, "c"), (DELETED, "a")]
    assert sorted(informer.cache.list_keys()) == ["default/b", "default/c"]
    assert informer._resource_version == "20"


def test_a_watched_object_passes_whole_and_its_resource_version_is_tracked():
    watch = Watch()
    raw = pod_json("a")
    raw["metadata"]["resourceVersion"] = "12"
    event = json.dumps({"type": "MODIFIED", "object": raw})
    decoded = watch.unmarshal_event(event, watch.get_return_type(lister([])))
    assert decoded["object"] == raw
    assert watch.resource_version == "12"


def test_the_informers_store_keeps_keys_not_objects():
    pod = pod_json("a")
    pod["metadata"]["resourceVersion"] = "7"
    informer = Kube(api=None).informer("pods")  # type: ignore[arg-type]
    informer.cache._put(pod)
    informer.cache._replace_all([pod, pod_json("b")])
    stored = informer.cache.get_by_key("default/a")
    assert stored == {"metadata": {"namespace": "default", "name": "a", "resourceVersion": "7"}}
    assert sorted(informer.cache.list_keys()) == ["default/a", "default/b"]


def test_the_clients_models_parse_like_the_apis_json():
    from kubernetes import client  # noqa: PLC0415 - only this test builds the client's models

    from cluster.parse import parse_node, parse_pod  # noqa: PLC0415
    from runtime.kube import to_plain  # noqa: PLC0415

    model = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web", namespace="shop", labels={"app": "web"}),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(name="c", resources=client.V1ResourceRequirements(requests={"cpu": "250m"}))
            ],
            tolerations=[client.V1Toleration(key="gpu", operator="Exists", effect="NoSchedule")],
        ),
    )
    pod = parse_pod(to_plain(model))
    assert (pod.key, pod.requests["cpu"], pod.labels) == ("shop/web", 250, {"app": "web"})
    assert pod.tolerations[0].key == "gpu"
    node = parse_node(
        to_plain(
            client.V1Node(
                metadata=client.V1ObjectMeta(name="n1"),
                status=client.V1NodeStatus(allocatable={"cpu": "4", "pods": "110"}),
            )
        )
    )
    assert (node.name, node.allocatable["cpu"]) == ("n1", 4000)


def test_a_list_cut_short_is_reconciled_by_the_next_one():
    broken = Response(pods("a", "b"))
    broken.data = broken.data[: broken.data.index(b'"name": "b"')]
    informer, seen = informer_over(broken, Response(pods("b", version="20")))
    with pytest.raises(ValueError):
        informer._initial_list()
    informer._initial_list()
    assert seen == [(ADDED, "a"), (ADDED, "b"), (DELETED, "a")]
    assert informer.cache.list_keys() == ["default/b"]


def test_a_stop_during_the_first_list_does_not_wait_for_the_watch_to_time_out() -> None:
    """SIGTERM right after start: the stop lands while the informer lists, before any watch exists to end."""
    listing, release, stopped = threading.Event(), threading.Event(), threading.Event()
    with Emulator([]) as emulator:
        informer = Kube.connect(server=emulator.url, timeout=5).informer("pods")
        real = informer._list_func

        def list_func(**kwargs: Any) -> object:
            if not kwargs.get("watch"):
                listing.set()
                release.wait(10)
            return real(**kwargs)

        informer._list_func = list_func
        informer.start()
        assert listing.wait(10)
        stopper = threading.Thread(target=lambda: (informer.stop(), stopped.set()), daemon=True)
        stopper.start()
        informer._stop_event.wait(10)
        release.set()  # the list ends after the stop: the client's loop now opens a watch anyway
        assert stopped.wait(10), "stop() waited for the watch's server-side timeout"


def test_a_stop_leaves_a_thread_wedged_in_a_handler_behind_with_a_warning(monkeypatch, caplog) -> None:
    """A handler that never returns must not hold the shutdown, and the lease, past the pod's grace period."""
    monkeypatch.setattr(kube_module, "STOP_SECONDS", 0.5)
    inside, release, stopped = threading.Event(), threading.Event(), threading.Event()
    with Emulator([pod_json("p1")]) as emulator:
        informer = Kube.connect(server=emulator.url, timeout=5).informer("pods")
        informer.add_event_handler(ADDED, lambda _: (inside.set(), release.wait(30)))
        informer.start()
        wedged = informer._thread
        try:
            assert inside.wait(10)
            stopper = threading.Thread(target=lambda: (informer.stop(), stopped.set()), daemon=True)
            stopper.start()
            assert stopped.wait(10), "stop() waited for the wedged handler"
            assert wedged is not None and wedged.is_alive()
        finally:
            release.set()
        # Released, the thread goes on to a watch; a second stop ends it while the server is up, so it never
        # logs a reconnect into a later test's output.
        monkeypatch.setattr(kube_module, "STOP_SECONDS", 10)
        informer.stop()
    assert wedged is not None and not wedged.is_alive()
    assert "the pods informer did not stop within 0.5s; leaving its thread" in caplog.text


def test_wedged_informers_are_stopped_together_not_one_after_another(monkeypatch, caplog) -> None:
    """Each wedged informer takes `STOP_SECONDS` to give up on; a dozen in a row would outlast the pod's grace
    period. Every stop must have begun before any ends: a barrier that sequential stops would break."""
    monkeypatch.setattr(kube_module, "STOP_SECONDS", 0.5)
    release = threading.Event()
    with Emulator([pod_json("p1")]) as emulator:
        kube = Kube.connect(server=emulator.url, timeout=5)
        informers = [kube.informer("pods"), kube.informer("pods")]
        inside = [threading.Event() for _ in informers]
        together = threading.Barrier(len(informers), timeout=10)
        for informer, entered in zip(informers, inside, strict=True):
            informer.add_event_handler(ADDED, lambda _, entered=entered: (entered.set(), release.wait(30)))
            stop = informer.stop
            monkeypatch.setattr(informer, "stop", lambda stop=stop: (together.wait(), stop()))
            informer.start()
        wedged = [informer._thread for informer in informers]
        try:
            assert all(entered.wait(10) for entered in inside)
            kube_module.stop_informers(informers)
        finally:
            release.set()
        monkeypatch.setattr(kube_module, "STOP_SECONDS", 10)
        kube_module.stop_informers(informers)
    assert not any(thread is not None and thread.is_alive() for thread in wedged)
    assert not together.broken
    assert caplog.text.count("the pods informer did not stop within 0.5s; leaving its thread") == 2
