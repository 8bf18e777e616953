"""`/metrics`, `/healthz` and `/readyz` of a running scheduler, with kube-scheduler's metric names."""

import re
import urllib.error
import urllib.request

from cluster.config import Settings
from runtime.writer import REASON
from scoring.transformer import model_path
from scoring.transformer.evidence import load_verdict
from sim.apiserver import Emulator
from telemetry.server import MetricsServer
from tests.e2e.cluster import bound, node, pod, scheduler, wait_until

LEADING_TIER = "transformer" if load_verdict(model_path(Settings().scoring.model_path)).lead else "heuristic"
"""The local tier the shipped evidence puts first (`scoring.transformer.evidence`); it decides every pod here."""


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def value(text: str, sample: str) -> float:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert found, f"{sample} not in /metrics"
    return float(found.group(1))


def test_metrics_health_and_readiness():
    with Emulator(objects=[node("n1", cpu="2"), node("n2", cpu="2")]) as emulator, scheduler(emulator) as running:
        ready = {"now": False}
        server = MetricsServer(running.stats.registry, ready=lambda: ready["now"], address="127.0.0.1", port=0)
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            assert get(f"{base}/healthz") == (200, "ok")
            assert get(f"{base}/readyz")[0] == 503
            ready["now"] = running.ready()
            assert get(f"{base}/readyz") == (200, "ok")
            for i in range(5):
                emulator.store.create("pods", pod(f"p{i}", cpu="500m"))
            emulator.store.create("pods", pod("huge", cpu="8"))
            wait_until(lambda: len(bound(emulator)) == 5, timeout=20, what="five bindings")
            scraped = {}

            def huge_pod_waits() -> bool:
                """The scheduler's tick publishes the queues each second; a binding's event during the huge pod's
                attempt sends it through backoff first, so it reaches the unschedulable queue in its own time."""
                scraped["status"], scraped["text"] = get(f"{base}/metrics")
                return 'scheduler_pending_pods{queue="unschedulable"} 1.0' in scraped["text"].splitlines()

            wait_until(huge_pod_waits, timeout=20, what="the huge pod in the unschedulable queue on /metrics")
            status, text = scraped["status"], scraped["text"]
        finally:
            server.stop()
    assert status == 200
    profile = 'profile="ai-llama-scheduler"'
    assert value(text, f'scheduler_schedule_attempts_total{{{profile},result="scheduled"}}') == 5
    assert value(text, f'scheduler_schedule_attempts_total{{{profile},result="unschedulable"}}') >= 1
    assert value(text, f'ai_scheduler_decisions_total{{tier="{LEADING_TIER}"}}') == 5
    assert value(text, f'scheduler_scheduling_attempt_duration_seconds_count{{{profile},result="scheduled"}}') == 5
    assert "ai_scheduler_binding_failures_total 0.0" in text
    assert value(text, "ai_scheduler_leader") == 1  # no leader election: this replica schedules


def test_a_pod_placed_against_its_p99_target_counts_on_metrics():
    """One node, four declared noisy hogs on it: the latency-critical pod's 1 ms target cannot be met there, the
    pod still goes there (the best there is), the reason says so and /metrics counts it."""
    noisy = {"ai-scheduler.io/noisy": "membw,llc,cpu", "ai-scheduler.io/workload-class": "batch"}
    hogs = [pod(f"hog-{i}", cpu="2", nodeName="n1") for i in range(4)]
    for hog in hogs:
        hog["metadata"]["annotations"] = noisy
    web = pod("web", cpu="500m")
    web["metadata"]["annotations"] = {
        "ai-scheduler.io/workload-class": "latency-critical",
        "ai-scheduler.io/p99-target-ms": "1",
    }
    with Emulator(objects=[node("n1", cpu="16"), *hogs]) as emulator, scheduler(emulator) as running:
        server = MetricsServer(running.stats.registry, ready=running.ready, address="127.0.0.1", port=0)
        server.start()
        try:
            emulator.store.create("pods", web)
            wait_until(lambda: "web" in bound(emulator), timeout=20, what="the web pod's binding")
            status, text = get(f"http://127.0.0.1:{server.port}/metrics")
        finally:
            server.stop()
        placed = emulator.store.get("pods", "web", namespace="default")
    assert status == 200
    assert value(text, f'ai_scheduler_slo_unmet_total{{tier="{LEADING_TIER}"}}') == 1
    assert placed["metadata"]["annotations"][REASON].startswith("no node meets the 1 ms P99 target; best predicted")
