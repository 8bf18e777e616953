"""Helpers for end-to-end tests: an emulated cluster, the real scheduler against it, and waiting."""

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from cluster import config
from runtime import app
from runtime.kube import Kube
from runtime.loop import Scheduler
from sim.apiserver import Emulator

JSON = dict[str, Any]
SCHEDULER = "ai-llama-scheduler"


def node(name: str, *, cpu: str = "16", memory: str = "64Gi", pods: int = 110, labels: dict | None = None) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": str(pods)},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str, *, cpu: str = "100m", memory: str = "128Mi", namespace: str = "default", **spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedulerName": SCHEDULER,
            "containers": [{"name": "c", "image": "app:1", "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
            **spec,
        },
    }


def settings(**sections: dict[str, Any]) -> config.Settings:
    """Defaults with the given sections overridden (no config file, no environment)."""
    return config.Settings.model_validate({"metrics": {"port": 0}, **sections})


@contextlib.contextmanager
def scheduler(emulator: Emulator, configured: config.Settings | None = None) -> Iterator[Scheduler]:
    """The production scheduler (`runtime.app.build`) running against the emulator over HTTP."""
    running = app.build(configured or settings(), Kube.connect(server=emulator.url, timeout=5))
    running.start()
    assert running.wait_ready(30), "informers did not sync"
    try:
        yield running
    finally:
        running.stop()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def pods(emulator: Emulator) -> list[JSON]:
    return [p for p in emulator.store.list("pods").items if p["spec"].get("schedulerName") == SCHEDULER]


def bound(emulator: Emulator) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods(emulator) if p["spec"].get("nodeName")}


def events(emulator: Emulator, reason: str) -> list[JSON]:
    return [e for e in emulator.store.list("events").items if e.get("reason") == reason]


def scheduled_counts(emulator: Emulator) -> Counter[str]:
    return Counter(e["involvedObject"]["name"] for e in events(emulator, "Scheduled"))
