"""The informers' list function: raw JSON for both the list and the client's watch, connections given back."""

import json
from typing import Any

from kubernetes.watch import Watch

from cluster.kube import Kube
from tests.builders import pod_json


class Response:
    """A raw (`_preload_content=False`) response: its body, and whether its connection went back to the pool."""

    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body).encode()
        self.released = self.closed = False

    def stream(self, amt: int):
        yield from (self.data[i : i + amt] for i in range(0, len(self.data), amt))

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
    assert listing.items == [pod_json("a")]
    assert listing.metadata.resource_version == "9"
    assert response.released and not response.closed


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

    from cluster.kube import to_plain  # noqa: PLC0415
    from cluster.parse import parse_node, parse_pod  # noqa: PLC0415

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
