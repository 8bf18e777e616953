"""Liveness means progress: `/healthz` fails when the workers are wedged or an informer is dead."""

import threading
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from runtime import app
from runtime.assemble import build_decider
from runtime.kube import Kube
from runtime.loop import Scheduler
from scoring.decide import Decider
from scoring.tiers import Decision
from sim.apiserver import Emulator
from telemetry.server import MetricsServer
from tests.e2e.cluster import bound, node, pod, settings, wait_until


class Wedging(Decider):
    """The real decision chain, except that pod `wedge` blocks its worker until released (a hung call)."""

    def __init__(self, inner: Decider, release: threading.Event) -> None:
        self.__dict__.update(inner.__dict__)
        self._release = release

    def decide(self, pod, snapshot) -> Decision:
        if pod.name == "wedge":
            self._release.wait(timeout=30)
        return super().decide(pod, snapshot)


class FailingOnce(Decider):
    """The real decision chain, except that deciding pod `boom` raises the first time (a bug on one pod)."""

    def __init__(self, inner: Decider) -> None:
        self.__dict__.update(inner.__dict__)
        self.failed = False

    def decide(self, pod, snapshot) -> Decision:
        if pod.name == "boom" and not self.failed:
            self.failed = True
            raise RuntimeError("a bug that only this pod reaches")
        return super().decide(pod, snapshot)


def running(emulator: Emulator, decider: Decider | None = None) -> Scheduler:
    configured = settings(scoring={"model_path": "no-weights.pt"}, llm={"enabled": False})
    scheduler = app.build(configured, Kube.connect(server=emulator.url, timeout=5), decider=decider)
    scheduler.settings = replace(scheduler.settings, stall_seconds=0.5)
    scheduler.start()
    assert scheduler.wait_ready(30), "informers did not sync"
    return scheduler


def test_a_wedged_worker_fails_liveness_until_it_moves_again():
    release = threading.Event()
    configured = settings(scoring={"model_path": "no-weights.pt"}, llm={"enabled": False})
    with Emulator(objects=[node("n1")]) as emulator:
        scheduler = running(emulator, Wedging(build_decider(configured, tier="heuristic"), release))
        try:
            assert scheduler.health() is None
            emulator.store.create("pods", pod("wedge"))
            emulator.store.create("pods", pod("next"))
            wait_until(lambda: (scheduler.health() or "").startswith("stuck"), timeout=10, what="a stuck verdict")
            assert scheduler.ready(), "a wedged worker is a liveness failure, not a readiness one"
            release.set()
            wait_until(lambda: len(bound(emulator)) == 2, timeout=10, what="both pods bound once released")
            assert scheduler.health() is None
        finally:
            release.set()
            scheduler.stop()


def test_an_exception_on_one_pod_is_counted_and_the_pod_backs_off_while_the_worker_goes_on():
    configured = settings(scoring={"model_path": "no-weights.pt"}, llm={"enabled": False})
    with Emulator(objects=[node("n1")]) as emulator:
        scheduler = running(emulator, FailingOnce(build_decider(configured, tier="heuristic")))
        try:
            emulator.store.create("pods", pod("boom"))
            emulator.store.create("pods", pod("fine"))
            wait_until(lambda: len(bound(emulator)) == 2, timeout=15, what="both pods bound, boom after its backoff")
            sample = {"where": "decision_worker"}
            assert scheduler.stats.registry.get_sample_value("ai_scheduler_internal_errors_total", sample) == 1
            assert scheduler.health() is None
        finally:
            scheduler.stop()


def test_a_dead_informer_fails_liveness_and_readiness():
    with Emulator(objects=[node("n1")]) as emulator:
        scheduler = running(emulator)
        try:
            scheduler._informers[-1].stop()  # the pod informer's thread ends
            assert scheduler.health() == "dead: pods informer"
            assert not scheduler.ready()
        finally:
            scheduler.stop()


@pytest.mark.parametrize(
    ("why", "expected"),
    [
        pytest.param(None, (200, "ok"), id="progressing answers 200 ok"),
        pytest.param("dead: decide-0", (503, "dead: decide-0"), id="a dead worker answers 503 with the reason"),
    ],
)
def test_healthz_answers_what_the_scheduler_says(why: str | None, expected: tuple[int, str]) -> None:
    server = MetricsServer(
        CollectorRegistry(), ready=lambda: True, unhealthy=lambda: why, address="127.0.0.1", port=0
    ).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as answer:
            got = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        got = error.code, error.read().decode()
    finally:
        server.stop()
    assert got == expected
