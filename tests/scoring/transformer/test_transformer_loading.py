"""The transformer tier loaded in the background: decisions wait for it (bounded), a failed load declines."""

import logging
import subprocess
import sys
import textwrap
import threading

import pytest

from cluster.clock import FakeClock
from cluster.config import Settings
from runtime.assemble import build_decider
from scoring.tiers import Choice, Request, Tier, TierDeclinedError
from scoring.transformer.loading import BackgroundTier
from scoring.transformer.model import ModelUnavailableError
from scoring.transformer.tier import TransformerTier
from tests.scoring.transformer.helpers import (
    QUIET,
    THRASHED,
    latency_critical,
    request,
    shipped,
    snapshot,
    state,
    vouched,
)


class Picks:
    """A loaded tier that picks the first feasible node."""

    tier = Tier.TRANSFORMER

    def choose(self, r: Request) -> Choice:
        return Choice(node=r.names[0], reason="first", scores={})


class GatedLoad:
    """A load that runs until the test opens its gate, then returns `tier` or raises `error`."""

    def __init__(self, tier: object = None, error: Exception | None = None) -> None:
        self.gate = threading.Event()
        self.tier, self.error = tier or Picks(), error

    def __call__(self) -> object:
        self.gate.wait(10)
        if self.error is not None:
            raise self.error
        return self.tier


class OpensGateOnWait(FakeClock):
    """A fake clock whose `wait` lets the load finish first: the decision waited, and no test sleeps."""

    def __init__(self, load: GatedLoad) -> None:
        super().__init__()
        self.load = load
        self.waited: list[float | None] = []

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        self.waited.append(timeout)
        self.load.gate.set()
        return event.wait(10)


def a_request(deadline: float = float("inf")) -> Request:
    return request(latency_critical(), snapshot([state("a", **QUIET), state("b", **QUIET)]), deadline=deadline)


def test_a_decision_during_the_load_waits_for_it_and_is_decided_by_the_loaded_tier():
    load = GatedLoad()
    clock = OpensGateOnWait(load)
    tier = BackgroundTier(load, clock=clock, wait_seconds=30)
    assert tier.choose(a_request()).node == "a"
    assert clock.waited == [30]


def test_the_wait_never_runs_past_the_pods_deadline():
    load = GatedLoad()
    clock = OpensGateOnWait(load)
    tier = BackgroundTier(load, clock=clock, wait_seconds=30)
    tier.choose(a_request(deadline=clock.monotonic() + 4))
    assert clock.waited == [4]


def test_a_load_that_outlasts_the_wait_declines_once_the_wait_is_spent_then_decides_once_loaded():
    load, clock = GatedLoad(), FakeClock()
    tier = BackgroundTier(load, clock=clock, wait_seconds=30)
    with pytest.raises(TierDeclinedError, match="still loading"):
        tier.choose(a_request())  # the fake clock's wait times out: 30 s pass
    assert clock.monotonic() == FakeClock().monotonic() + 30
    with pytest.raises(TierDeclinedError, match="still loading"):
        tier.choose(a_request())  # no second wait
    assert clock.monotonic() == FakeClock().monotonic() + 30
    load.gate.set()
    assert tier.wait(10)
    assert tier.choose(a_request()).node == "a"


def test_a_failed_load_warns_once_and_declines_with_its_cause(caplog):
    caplog.set_level(logging.WARNING)
    load = GatedLoad(error=ModelUnavailableError("transformer weights 'w.pt': unreadable (BadZipFile)"))
    tier = BackgroundTier(load, clock=FakeClock())
    load.gate.set()
    assert tier.wait(10)
    with pytest.raises(TierDeclinedError, match=r"did not load: transformer weights 'w\.pt': unreadable"):
        tier.choose(a_request())
    (warning,) = [r for r in caplog.records if "transformer tier disabled" in r.getMessage()]
    assert "unreadable" in warning.getMessage()


def test_the_background_chain_decides_as_the_synchronous_one(tmp_path):
    settings = Settings.model_validate({"scoring": {"model_path": str(vouched(tmp_path))}})
    background = build_decider(settings, background=True)
    (tier,) = background.tiers
    assert isinstance(tier, BackgroundTier)
    pod, snap = latency_critical(), snapshot([state("a", **THRASHED), state("b", **QUIET)])
    decided = background.decide(pod, snap)
    assert isinstance(tier.loaded, TransformerTier)
    assert decided.to_json() | {"latency_ms": 0} == build_decider(settings).decide(pod, snap).to_json() | {
        "latency_ms": 0
    }


@pytest.mark.parametrize(
    "tier_choice", [pytest.param("transformer", id="a forced tier"), pytest.param("heuristic", id="no transformer")]
)
def test_only_the_auto_chain_loads_in_the_background(tier_choice):
    settings = Settings.model_validate({"scoring": {"model_path": str(shipped())}})
    decider = build_decider(settings, tier=tier_choice, background=True)
    assert not any(isinstance(t, BackgroundTier) for t in decider.tiers)


def exit_during_load(load_body: str, *, exit_wait: float = 30.0) -> subprocess.CompletedProcess:
    """A process that starts a background load and returns from its main at once."""
    code = textwrap.dedent(f"""
        import time
        from cluster.clock import SystemClock
        from scoring.transformer import loading

        loading.EXIT_WAIT_SECONDS = {exit_wait}

        def load():
            {load_body}

        loading.BackgroundTier(load, clock=SystemClock())
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_a_process_exiting_mid_load_waits_for_the_load_first():
    """Halted mid-load by the interpreter's exit, torch aborts the process (SIGABRT) instead of exiting 0."""
    done = exit_during_load('time.sleep(1.0); print("loaded", flush=True)')
    assert (done.returncode, done.stdout) == (0, "loaded\n"), done.stderr


def test_a_hung_load_holds_the_exit_for_the_bound_only():
    done = exit_during_load("time.sleep(3600)", exit_wait=0.5)
    assert done.returncode == 0, done.stderr
