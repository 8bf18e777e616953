"""The transformer tier loaded on a thread of its own, so that start-up does not wait for torch.

`runtime.assemble.build_decider(..., background=True)` (what `runtime.app.build` asks for) wraps the
tier in a `BackgroundTier` and starts the load at once: importing torch and reading and tracing the
weights take two to three seconds of CPU, which then overlap the informers' first lists instead of
coming before them, so `/readyz` turns ready that much sooner. Importing this module never imports
torch; the load does.

Until the load is done, a pod that reaches this tier waits for it, for at most `wait_seconds` after
the load began in all (and never past the pod's decision deadline), then the tier declines it ("still
loading") and the next tier decides. Waiting rather than declining at once is the choice for users:
the pods pending at start are placed as a synchronous load would place them (same tier, same node,
so the chain stays deterministic for `demo` and the tests), and what they wait for is only what is
left of the load once the lists are through; a load that hangs costs the bounded wait once, never per
pod. A load that fails (a corrupt checkpoint) logs the same warning as at start before, and the tier
then declines every pod with that cause.

A process that exits while a load runs (a scheduler stopped in its first seconds) waits for it first, for
`EXIT_WAIT_SECONDS` at most: the interpreter's exit halts a daemon thread wherever it is, and torch halted
mid-load aborts the process (SIGABRT, "terminate called without an active exception") in place of its exit
status.
"""

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable

from cluster.clock import Clock
from scoring.tiers import Choice, DeclineCause, Request, Tier, TierDecider, TierDeclinedError
from scoring.transformer import ModelUnavailableError

log = logging.getLogger("scheduler")

WAIT_SECONDS = 30.0
"""How long after the load began decisions wait for it, in all, before the tier declines instead."""
EXIT_WAIT_SECONDS = WAIT_SECONDS
"""How long the process's exit waits for loads still running, in all."""


class BackgroundTier:
    """A `TierDecider` for `Tier.TRANSFORMER` whose real tier `load()` builds on a daemon thread."""

    tier = Tier.TRANSFORMER

    def __init__(self, load: Callable[[], TierDecider], *, clock: Clock, wait_seconds: float = WAIT_SECONDS) -> None:
        self._clock = clock
        self._loaded = threading.Event()
        self._tier: TierDecider | None = None
        self._failure = ""
        self._give_up_at = clock.monotonic() + wait_seconds
        self._thread = threading.Thread(target=self._load, args=(load,), name="transformer-load", daemon=True)
        _LOADING.add(self)
        self._thread.start()

    def __repr__(self) -> str:
        state = repr(self._tier) if self._tier is not None else self._failure or "loading"
        return f"BackgroundTier({state})"

    @property
    def loaded(self) -> TierDecider | None:
        """The tier once loaded (None while loading or after a failed load)."""
        return self._tier

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the load has finished, loaded or failed (False on timeout); for callers that must see
        the chain whole (a test, a what-if), whatever the clock."""
        return self._loaded.wait(timeout)

    def choose(self, request: Request) -> Choice:
        if not self._loaded.is_set():
            left = min(self._give_up_at, request.deadline) - self._clock.monotonic()
            if left <= 0 or not self._clock.wait(self._loaded, left):
                raise TierDeclinedError(DeclineCause.LOADING, "the transformer tier is still loading")
        if self._tier is None:
            raise TierDeclinedError(DeclineCause.UNAVAILABLE, f"the transformer tier did not load: {self._failure}")
        return self._tier.choose(request)

    def _load(self, load: Callable[[], TierDecider]) -> None:
        began = self._clock.monotonic()
        try:
            self._tier = load()
            log.info("transformer tier loaded in %.1f s", self._clock.monotonic() - began)
        except ModelUnavailableError as exc:
            self._failure = str(exc)
            log.warning("transformer tier disabled: %s; deciding without it", exc)
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            log.exception("transformer tier disabled: its load failed; deciding without it")
        finally:
            self._loaded.set()


_LOADING: "weakref.WeakSet[BackgroundTier]" = weakref.WeakSet()
"""Every tier built; one whose load is done is skipped at exit at once, and a collected one drops out."""


@atexit.register
def _wait_for_loads() -> None:
    """At exit, before daemon threads are halted: let running loads finish (the module docstring says why)."""
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    for tier in list(_LOADING):
        tier.wait(max(0.0, deadline - time.monotonic()))
