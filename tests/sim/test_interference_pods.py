"""Which profile and size the simulator gives a pod, from its image, arguments, annotations and resources."""

import pytest

from sim import manifests, pods
from sim.pods import WorkloadError

LC = {"ai-scheduler.io/workload-class": "latency-critical"}


def with_request(manifest: dict, **requests: str) -> dict:
    """A manifest with requests no builder would accept."""
    manifest["spec"]["containers"][0]["resources"] = {"requests": requests}
    return manifest


def pod(image: str = "busybox:1.36", **kwargs: object) -> dict:
    return manifests.pod("p", image, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("manifest", "profile"),
    [
        pytest.param(pod("redis:7"), "redis", id="redis:7 is redis"),
        pytest.param(pod("docker.io/bitnami/redis:7.2@sha256:abc"), "redis", id="registry, tag and digest are ignored"),
        pytest.param(pod("hashicorp/http-echo"), "http-echo", id="hashicorp/http-echo is http-echo"),
        pytest.param(pod("nginx"), "nginx", id="nginx is the calibrated nginx"),
        pytest.param(
            pod("alexeiled/stress-ng", args=["--cache", "2"]),
            "stress-cache",
            id="stress-ng --cache is a cache thrasher",
        ),
        pytest.param(
            pod("alexeiled/stress-ng", args=["--stream=4"]), "stress-membw", id="stress-ng --stream=4 streams memory"
        ),
        pytest.param(
            pod("ibench:latest", command=["./cpu", "60"]), "ibench-cpu", id="iBench ./cpu is the CPU antagonist"
        ),
        pytest.param(
            pod("ibench:latest", command=["./memBw", "60"]), "stress-membw", id="iBench ./memBw streams memory"
        ),
        pytest.param(
            pod("alexeiled/stress-ng", args=["--cpu", "1", "--cache", "3"]),
            "stress-cache",
            id="the busiest stressor wins",
        ),
        pytest.param(
            pod("myapp:1", annotations={"ai-scheduler.io/noisy": "llc,membw"}),
            "stress-membw",
            id="an unknown image declared noisy on membw is a bandwidth hog",
        ),
        pytest.param(pod("myapp:1", annotations=LC), "nginx", id="an unknown latency-critical image is nginx-like"),
        pytest.param(
            pod("myapp:1", annotations={**LC, "ai-scheduler.io/sensitivity": "cpu"}),
            "http-echo",
            id="latency-critical and sensitive to cpu only is http-echo-like",
        ),
        pytest.param(
            pod("myapp:1", annotations={**LC, "ai-scheduler.io/sensitivity": "llc,membw"}),
            "redis",
            id="latency-critical and cache-sensitive is redis-like",
        ),
        pytest.param(
            pod("myapp:1", requests={"cpu": "1"}, annotations={"ai-scheduler.io/workload-class": "batch"}),
            "batch-compute",
            id="an unknown batch image is batch-compute",
        ),
        pytest.param(pod("myapp:1"), "best-effort", id="an unknown image without resources is best-effort"),
        pytest.param(
            pod("myapp:1", requests={"cpu": "1"}), "web-backend", id="an unknown image defaults to throughput"
        ),
        pytest.param(
            pod("redis:7", annotations={"sim.ai-scheduler.io/profile": "memcached"}),
            "memcached",
            id="the sim profile annotation overrides the image",
        ),
    ],
)
def test_profile_is_chosen_by_image_arguments_then_annotations(manifest: dict, profile: str) -> None:
    assert pods.workload(manifest).profile.name == profile


@pytest.mark.parametrize(
    ("manifest", "scale", "cpu_used"),
    [
        pytest.param(
            pod("alexeiled/stress-ng", args=["--cache", "4"]), 4.0, 4.0, id="four stressor workers use four cores"
        ),
        pytest.param(
            pod("alexeiled/stress-ng", args=["--stream", "4"], limits={"cpu": "1"}),
            4.0,
            1.0,
            id="a CPU limit caps what the workers get",
        ),
        pytest.param(
            pod("alexeiled/stress-ng", args=["--cpu", "0"], requests={"cpu": "3"}),
            3.0,
            3.0,
            id="zero workers means one per CPU it may use",
        ),
        pytest.param(
            pod("redis:7", requests={"cpu": "1"}), 2.0, 1.0, id="twice the reference request is twice the load"
        ),
        pytest.param(pod("redis:7"), 1.0, 0.5, id="no request is one reference unit"),
        pytest.param(
            pod("ibench:latest", command=["./memBw"], requests={"cpu": "250m"}, limits={"cpu": "250m"}),
            1.0,
            0.25,
            id="KubeMarla's memBW pod is a quarter of a core",
        ),
    ],
)
def test_size_follows_workers_requests_and_limits(manifest: dict, scale: float, cpu_used: float) -> None:
    workload = pods.workload(manifest)
    assert workload.scale == pytest.approx(scale)
    assert workload.cpu_used == pytest.approx(cpu_used)


@pytest.mark.parametrize(
    ("manifest", "qos", "workload_class", "target"),
    [
        pytest.param(pod("nginx"), "BestEffort", "best-effort", None, id="no resources is BestEffort"),
        pytest.param(
            pod("nginx", requests={"cpu": "500m", "memory": "512Mi"}, limits={"cpu": "500m", "memory": "512Mi"}),
            "Guaranteed",
            "throughput",
            None,
            id="requests equal to limits is Guaranteed, default class throughput",
        ),
        pytest.param(
            pod("redis:7", requests={"cpu": "1"}, annotations={**LC, "ai-scheduler.io/p99-target-ms": "0.8"}),
            "Burstable",
            "latency-critical",
            0.8,
            id="annotations give class and target",
        ),
        pytest.param(
            pod(
                "redis:7",
                requests={"cpu": "1"},
                annotations={"ai-scheduler.io/workload-class": "urgent", "ai-scheduler.io/p99-target-ms": "-1"},
            ),
            "Burstable",
            "throughput",
            None,
            id="invalid annotations are ignored and defaults apply",
        ),
    ],
)
def test_declared_needs_follow_the_contract(
    manifest: dict, qos: str, workload_class: str, target: float | None
) -> None:
    workload = pods.workload(manifest)
    assert (workload.qos, workload.workload_class, workload.p99_target_ms) == (qos, workload_class, target)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        pytest.param(
            pod("redis:7", annotations={"sim.ai-scheduler.io/profile": "mongodb"}),
            "sim.ai-scheduler.io/profile='mongodb' is unknown",
            id="an unknown profile annotation names itself",
        ),
        pytest.param({"metadata": {"name": "x"}, "spec": {"containers": []}}, "spec.containers", id="no containers"),
        pytest.param(with_request(pod("redis:7"), cpu="lots"), "resources", id="a bad quantity names the resources"),
    ],
)
def test_unreadable_pods_raise_with_the_field(manifest: dict, message: str) -> None:
    with pytest.raises(WorkloadError, match=message.replace("[", r"\[")):
        pods.workload(manifest)


def test_bound_and_finished_pods() -> None:
    running = pods.workload(pod("redis:7", node="worker-1"))
    finished = pods.workload({**pod("redis:7", node="worker-1"), "status": {"phase": "Succeeded"}})
    pending = pods.workload(pod("redis:7"))
    assert (running.active, finished.active, pending.active) == (True, False, False)
    assert running.key == "default/p"
