"""JSON merge patch, strategic merge patch and JSON patch, as the API server applies them."""

import copy
from typing import Any

import pytest

from sim.patch import PatchError, PatchTestError, json_patch, merge_patch, strategic_merge_patch

POD: dict[str, Any] = {
    "metadata": {"name": "web", "annotations": {"a": "1", "b": "2"}, "finalizers": ["x"]},
    "spec": {
        "containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "side:1"},
        ],
        "tolerations": [{"key": "t1"}],
    },
    "status": {
        "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
            {"type": "Ready", "status": "False"},
        ]
    },
}


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param({"a": 1}, {"b": 2}, {"a": 1, "b": 2}, id="new keys are added"),
        pytest.param({"a": 1, "b": 2}, {"a": None}, {"b": 2}, id="null deletes a key"),
        pytest.param({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, {"a": {"x": 1, "y": 3}}, id="objects merge recursively"),
        pytest.param({"a": [1, 2]}, {"a": [3]}, {"a": [3]}, id="lists are replaced"),
        pytest.param({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="a scalar is replaced by an object"),
        pytest.param({"a": 1}, [1], [1], id="a non-object patch replaces the document"),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == before


def _conditions(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in pod["status"]["conditions"]}


def test_strategic_patch_merges_pod_conditions_by_type() -> None:
    patch = {"status": {"conditions": [{"type": "PodScheduled", "status": "True", "reason": None}]}}
    merged = strategic_merge_patch(POD, patch, kind="Pod")
    assert _conditions(merged)["PodScheduled"] == {"type": "PodScheduled", "status": "True"}
    assert _conditions(merged)["Ready"] == {"type": "Ready", "status": "False"}
    assert _conditions(POD)["PodScheduled"]["status"] == "False", "the input is not mutated"


def test_strategic_patch_appends_a_new_condition_type() -> None:
    merged = strategic_merge_patch(
        POD, {"status": {"conditions": [{"type": "Initialized", "status": "True"}]}}, kind="Pod"
    )
    assert [c["type"] for c in merged["status"]["conditions"]] == ["PodScheduled", "Ready", "Initialized"]


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        pytest.param(
            {"spec": {"containers": [{"name": "app", "image": "app:2"}]}},
            lambda p: [c["image"] for c in p["spec"]["containers"]] == ["app:2", "side:1"],
            id="containers merge by name",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "3"}]}]}},
            lambda p: p["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}],
            id="env inside a container merges by name",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}},
            lambda p: [c["name"] for c in p["spec"]["containers"]] == ["app"],
            id="a $patch delete item removes the element with that key",
        ),
        pytest.param(
            {"spec": {"tolerations": [{"key": "t2"}]}},
            lambda p: p["spec"]["tolerations"] == [{"key": "t2"}],
            id="lists without a strategy are replaced",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["y", "x"]}},
            lambda p: p["metadata"]["finalizers"] == ["x", "y"],
            id="finalizers merge as a set",
        ),
        pytest.param(
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
            lambda p: p["metadata"]["finalizers"] == [],
            id="deleteFromPrimitiveList removes values",
        ),
        pytest.param(
            {"metadata": {"annotations": {"$patch": "replace", "c": "3"}}},
            lambda p: p["metadata"]["annotations"] == {"c": "3"},
            id="a $patch replace map replaces the map",
        ),
        pytest.param(
            {"metadata": {"annotations": {"b": None, "c": "3"}}},
            lambda p: p["metadata"]["annotations"] == {"a": "1", "c": "3"},
            id="annotations merge and null deletes one",
        ),
        pytest.param(
            {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}},
            lambda p: [c["name"] for c in p["spec"]["containers"]] == ["sidecar", "app"],
            id="setElementOrder reorders a merged list",
        ),
        pytest.param(
            {"spec": {"$retainKeys": ["containers"], "containers": [{"name": "app"}]}},
            lambda p: set(p["spec"]) == {"containers"},
            id="retainKeys drops the keys not listed",
        ),
        pytest.param(
            {"status": {"conditions": [{"$patch": "replace"}, {"type": "Ready", "status": "True"}]}},
            lambda p: p["status"]["conditions"] == [{"type": "Ready", "status": "True"}],
            id="a $patch replace item replaces the whole list",
        ),
    ],
)
def test_strategic_merge_patch_directives(patch: dict[str, Any], check: Any) -> None:
    assert check(strategic_merge_patch(POD, patch, kind="Pod"))


def test_strategic_patch_needs_the_merge_key() -> None:
    with pytest.raises(PatchError, match="merge key"):
        strategic_merge_patch(POD, {"status": {"conditions": [{"status": "True"}]}}, kind="Pod")


def test_node_conditions_merge_by_type_too() -> None:
    node = {
        "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]}
    }
    merged = strategic_merge_patch(
        node, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, kind="Node"
    )
    assert merged["status"]["conditions"] == [
        {"type": "Ready", "status": "False"},
        {"type": "DiskPressure", "status": "False"},
    ]


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        pytest.param([{"op": "add", "path": "/b", "value": 2}], {"a": [1, 2], "b": 2}, id="add a key"),
        pytest.param([{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3]}, id="append to a list"),
        pytest.param([{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2]}, id="insert into a list"),
        pytest.param([{"op": "remove", "path": "/a/1"}], {"a": [1]}, id="remove a list item"),
        pytest.param([{"op": "replace", "path": "/a", "value": []}], {"a": []}, id="replace a value"),
        pytest.param([{"op": "move", "from": "/a", "path": "/b"}], {"b": [1, 2]}, id="move a value"),
        pytest.param([{"op": "copy", "from": "/a/0", "path": "/c"}], {"a": [1, 2], "c": 1}, id="copy a value"),
        pytest.param([{"op": "test", "path": "/a/1", "value": 2}], {"a": [1, 2]}, id="a passing test changes nothing"),
        pytest.param([{"op": "add", "path": "/m~1n", "value": 1}], {"a": [1, 2], "m/n": 1}, id="pointer escapes"),
    ],
)
def test_json_patch(ops: list[dict[str, Any]], expected: Any) -> None:
    doc = {"a": [1, 2]}
    assert json_patch(doc, ops) == expected
    assert doc == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("ops", "error"),
    [
        pytest.param([{"op": "test", "path": "/a/0", "value": 9}], PatchTestError, id="a failing test"),
        pytest.param([{"op": "remove", "path": "/zzz"}], PatchError, id="removing a missing key"),
        pytest.param([{"op": "replace", "path": "/zzz", "value": 1}], PatchError, id="replacing a missing key"),
        pytest.param([{"op": "add", "path": "/a/9", "value": 1}], PatchError, id="an index out of bounds"),
        pytest.param([{"op": "jump", "path": "/a"}], PatchError, id="an unknown operation"),
        pytest.param({"op": "add"}, PatchError, id="a patch that is not a list"),
        pytest.param([{"op": "add", "path": "a", "value": 1}], PatchError, id="a pointer without a slash"),
    ],
)
def test_json_patch_errors(ops: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        json_patch({"a": [1, 2]}, ops)
