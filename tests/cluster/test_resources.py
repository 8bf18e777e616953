"""Pod requests computed as kube-scheduler computes them, and quantities parsed as Kubernetes parses them."""

import pytest

from cluster import resources
from cluster.parse import ManifestError, parse_pod
from tests.builders import pod_json

MI = 1024 * 1024


def spec(containers=(), init=(), overhead=None, pod_level=None):
    body = {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)]}
    if init:
        body["initContainers"] = [{"name": f"i{i}", **r} for i, r in enumerate(init)]
    if overhead:
        body["overhead"] = overhead
    if pod_level:
        body["resources"] = {"requests": pod_level}
    return body


def req(cpu=None, memory=None):
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"requests": requests}


@pytest.mark.parametrize(
    ("pod_spec", "expected"),
    [
        pytest.param(spec([req("100m", "64Mi"), req("250m", "128Mi")]), {"cpu": 350, "memory": 192 * MI}, id="sum"),
        pytest.param(
            spec([req("100m", "64Mi")], init=[{"resources": req("1", "32Mi")}]),
            {"cpu": 1000, "memory": 64 * MI},
            id="an init container raises each resource to its own need",
        ),
        pytest.param(
            spec(
                [req("100m", "64Mi")],
                init=[{"resources": req("200m", "16Mi"), "restartPolicy": "Always"}, {"resources": req("500m", "8Mi")}],
            ),
            {"cpu": 700, "memory": 80 * MI},
            id="a sidecar adds to the app and to every later init container",
        ),
        pytest.param(
            spec([req("100m", "64Mi")], overhead={"cpu": "50m", "memory": "10Mi"}),
            {"cpu": 150, "memory": 74 * MI},
            id="overhead is added",
        ),
        pytest.param(
            spec([req("100m", "64Mi")], pod_level={"cpu": "2"}),
            {"cpu": 2000, "memory": 64 * MI},
            id="pod-level requests win for the resources they name",
        ),
        pytest.param(
            spec([{"limits": {"cpu": "300m", "memory": "1Gi"}}]),
            {"cpu": 300, "memory": 1024 * MI},
            id="requests default to limits",
        ),
        pytest.param(spec([{}]), {"cpu": 0, "memory": 0}, id="nothing requested"),
    ],
)
def test_pod_requests(pod_spec, expected):
    assert resources.pod_requests(pod_spec) == expected


@pytest.mark.parametrize(
    ("pod_spec", "expected"),
    [
        pytest.param(spec([{}]), {"cpu": 100, "memory": 200 * MI}, id="missing requests get 100m and 200Mi"),
        pytest.param(spec([req("0", "0")]), {"cpu": 0, "memory": 0}, id="explicit zeros stay zero"),
        pytest.param(spec([{}, req("1")]), {"cpu": 1100, "memory": 400 * MI}, id="defaults apply per container"),
    ],
)
def test_non_zero_requests(pod_spec, expected):
    assert resources.pod_requests(pod_spec, non_missing=True) == expected


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        pytest.param([{}], "BestEffort", id="no requests or limits"),
        pytest.param([req("1", "1Gi")], "Burstable", id="requests only"),
        pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed", id="limits only (requests default)"),
        pytest.param(
            [{"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}],
            "Burstable",
            id="requests below limits",
        ),
    ],
)
def test_qos_class(containers, expected):
    assert resources.qos_class(spec(containers)) == expected


@pytest.mark.parametrize(
    ("quantity", "name", "expected"),
    [
        pytest.param("1.5", "cpu", 1500, id="fractional cores"),
        pytest.param("1m", "cpu", 1, id="millicores"),
        pytest.param("0.1m", "cpu", 1, id="sub-millicore rounds up"),
        pytest.param("1Gi", "memory", 1024**3, id="binary suffix"),
        pytest.param("1G", "memory", 10**9, id="decimal suffix"),
        pytest.param("1e3", "memory", 1000, id="exponent"),
    ],
)
def test_quantities(quantity, name, expected):
    assert resources.to_int(name, quantity) == expected


@pytest.mark.parametrize("quantity", ["lots", "1Ki2", "NaN", "-1", "1Zi"])
def test_bad_quantity_names_the_pod_and_the_value(quantity):
    raw = pod_json("greedy", requests={"cpu": quantity})
    with pytest.raises(ManifestError, match=r"pod default/greedy: .*cpu"):
        parse_pod(raw)
