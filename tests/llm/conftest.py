"""Fixtures of the LLM tier's tests: the fake endpoint, settings pointing at it, a clock whose sleeps are instant."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cluster.config import Settings
from cluster.manifests import load_pods, load_snapshot
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from llm import formats
from runtime.assemble import build_decider
from scoring.framework import PodInfo
from scoring.tiers import Request
from tests.llm.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "examples" / "cluster-6-workers.json"
PODS = ROOT / "ai-test-pods.yaml"
TOKEN = "hf_" + "Zq7" * 12
"""A token-shaped secret; no test may find it in a log, an exception or a decision."""


class SteppedClock:
    """Real time, except that `sleep` returns at once and moves this clock forward instead.

    Retries and backoffs then cost nothing while HTTP timeouts and waits for the server stay real;
    `slept` lists every backoff the code asked for, and `advance` jumps ahead (a breaker's open period).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._offset += max(seconds, 0.0)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)


def llm_settings(url: str | None, *, token: str | None = None, **sections: dict[str, Any]) -> Settings:
    """Settings with the LLM at `url`, short timeouts for tests, and any section overrides.

    The transformer tier is left out (its weights path does not exist), so the LLM falls back straight to
    the heuristic tier and these tests watch the LLM tier alone.
    """
    tree: dict[str, Any] = {
        "llm": {"endpoint": url, "timeout": 2.0, "deadline_seconds": 5.0, "max_retries": 2},
        "circuit_breaker": {"failure_threshold": 50},
        "scoring": {"model_path": "tests/llm/no-transformer-weights.pt"},
    }
    for section, values in sections.items():
        tree[section] = {**tree.get(section, {}), **values}
    if token is not None:
        tree["huggingface_token"] = SecretStr(token)
    return Settings.model_validate(tree)


@pytest.fixture(autouse=True)
def fresh_format_memory(monkeypatch: pytest.MonkeyPatch) -> formats.FormatMemory:
    """Each test starts with a process that has negotiated nothing: a later FakeLLM may get an earlier one's port."""
    memory = formats.FormatMemory()
    monkeypatch.setattr(formats, "PROCESS_MEMORY", memory)
    return memory


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def stepped() -> SteppedClock:
    return SteppedClock()


@pytest.fixture(scope="session")
def snapshot() -> Snapshot:
    return load_snapshot(str(SNAPSHOT))


@pytest.fixture(scope="session")
def sample_pods() -> dict[str, Pod]:
    return {p.key: p for p in load_pods(str(PODS))}


def request_for(pod: Pod, snapshot: Snapshot, *, deadline: float = float("inf")) -> Request:
    """The decision request the chain would hand a tier: filters run, heuristic scores as the hint."""
    decider = build_decider(Settings(), tier="heuristic")
    info = PodInfo.of(pod, snapshot)
    outcome = decider.filter(info, snapshot)
    hint = decider.heuristic.score(info, snapshot, outcome.feasible)
    return Request(info, snapshot, outcome.feasible, hint, deadline)
