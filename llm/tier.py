"""The LLM tier of the decision chain: ask Llama which feasible node fits the pod, or decline fast.

`LLMTier.choose` is called by `scoring.decide.Decider` from several decision workers at once. For
each pod it builds the prompt's facts (the local tiers' best candidates), looks the pod's shape up in
the decision cache (a hit is re-checked against the feasible set), joins an identical question
already in flight, or starts a call on a background thread and waits for it until the pod's deadline.
It declines — `TierDeclinedError`, and the next tier decides that pod — at once when every one of
the `llm.max_concurrency` call slots is busy or the circuit breaker is open, and otherwise when the
call fails, the answer is rejected or the deadline passes. A call that outlives its pod's deadline
finishes in the background (its slot stays taken, so the endpoint never sees more than
`max_concurrency` requests), and its answer still feeds the cache and the breaker.

Each request goes out in the answer format the route is known to accept (`llm.formats`); a request the
server refuses for its format is sent again at once in the next form. Those refusals are neither
retries nor failures for the breaker: only the outcome in a form the server knows counts.

It never lets a slow LLM hold a decision worker past the pod's deadline, never calls the LLM while
the breaker is open, and never puts pod text into a prompt (see `llm.prompt`).
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NoReturn

import numpy as np
from pydantic import SecretStr

from cluster.clock import Clock
from cluster.config import Settings
from llm import answer, formats, prompt, retry
from llm.cache import Cached, DecisionCache, Flight, Flights, cache_key, constraints_digest
from llm.client import (
    AnswerFormat,
    CallErrorKind,
    ChatClient,
    ChatRequest,
    Completion,
    HubChatClient,
    LLMCallError,
    cleartext_risk,
)
from scoring.breaker import CircuitBreaker, Permit, State, reporting_listener
from scoring.tiers import Choice, Request, Tier, TierDeclinedError
from telemetry.logs import fields
from telemetry.stats import Stats

log = logging.getLogger("scheduler.llm")


class Decline(StrEnum):
    """Why the tier left a pod to the next one, besides a failed call (`CallErrorKind`) or a refused answer."""

    BREAKER_OPEN = "breaker_open"
    BUSY = "busy"
    DEADLINE = "deadline"
    INTERNAL = "internal"


Cause = Decline | CallErrorKind | answer.Rejection
"""Every code a decline is counted and reported under (`ai_scheduler_llm_rejections_total{cause}`)."""


@dataclass(frozen=True)
class Outcome:
    """How one question to the LLM ended: a node, or a cause (a short code) and its detail."""

    node: str | None = None
    reason: str = ""
    cause: Cause | None = None
    detail: str = ""
    attempts: int = 0
    offered: int = 0
    """Candidates the prompt offered (fewer than the facts' when the token budget dropped some)."""


class LLMTier:
    """The `TierDecider` for `Tier.LLM`; thread-safe."""

    tier = Tier.LLM

    def __init__(
        self,
        *,
        client: ChatClient,
        clock: Clock,
        stats: Stats | None = None,
        cache: DecisionCache | None = None,
        breaker: CircuitBreaker | None = None,
        max_concurrency: int = 8,
        max_candidates: int = 20,
        token_budget: int = 3000,
        timeout: float = 10.0,
        deadline_seconds: float = 20.0,
        max_retries: int = 3,
        max_tokens: int = 200,
        temperature: float = 0.0,
        seed: int | None = 0,
        secrets: Sequence[SecretStr] = (),
        route: formats.Route | None = None,
        answer_formats: tuple[AnswerFormat, ...] = (AnswerFormat.NONE,),
        format_memory: formats.FormatMemory | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.stats = stats or Stats()
        self.cache = cache
        self.breaker = breaker
        self.max_concurrency = max_concurrency
        self.max_candidates = max_candidates
        self.token_budget = token_budget
        self.timeout = timeout
        self.deadline_seconds = deadline_seconds
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self._secrets = tuple(secrets)
        """Redacted from every answer (an endpoint may echo the request's Authorization header)."""
        self.route = route or formats.Route(endpoint=None, provider="", model="")
        self.answer_formats = answer_formats
        """The forms to try, best first (`formats.candidates`); one form is pinned, never negotiated."""
        self.format_memory = format_memory or formats.FormatMemory()
        known = self.format_memory.accepted(self.route)
        if known is not None:
            self.stats.llm_answer_format(known.value)
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._waiting = threading.BoundedSemaphore(max_concurrency)
        """Decision workers waiting for an answer (their own call's or a shared one): the rest decide by
        the next tier at once, so pods asking the same question cannot tie up every worker."""
        self._flights: Flights[Outcome] = Flights()
        if breaker is not None:
            self.stats.breaker("llm", State.CLOSED.value, tripped=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock, stats: Stats | None = None) -> "LLMTier":
        """The tier as configured: the Hugging Face client, the cache and the breaker per the settings."""
        llm = settings.llm
        stats = stats or Stats()
        token = settings.huggingface_token
        risk = cleartext_risk(llm.endpoint, token_set=bool(token and token.get_secret_value()))
        if risk:
            log.warning(risk, extra=fields(event="llm_token_cleartext"))
        client = HubChatClient(
            model=llm.model, endpoint=llm.endpoint, provider=llm.provider, token=settings.huggingface_token
        )
        cache = (
            DecisionCache(ttl=settings.cache.ttl, max_size=settings.cache.max_size, clock=clock)
            if settings.cache.enabled
            else None
        )
        breaker = None
        if settings.circuit_breaker.enabled:
            breaker = CircuitBreaker(
                name="llm",
                failure_threshold=settings.circuit_breaker.failure_threshold,
                reset_timeout=settings.circuit_breaker.timeout,
                clock=clock,
                listener=reporting_listener(stats, "llm", "LLM circuit breaker", log),
            )
        return cls(
            client=client,
            clock=clock,
            stats=stats,
            cache=cache,
            breaker=breaker,
            max_concurrency=llm.max_concurrency,
            max_candidates=llm.max_candidates,
            token_budget=llm.prompt_token_budget,
            timeout=llm.timeout,
            deadline_seconds=llm.deadline_seconds,
            max_retries=llm.max_retries,
            max_tokens=llm.max_tokens,
            temperature=llm.temperature,
            seed=llm.seed,
            secrets=[settings.huggingface_token] if settings.huggingface_token else [],
            route=formats.Route(endpoint=llm.endpoint, provider=llm.provider, model=llm.model),
            answer_formats=formats.candidates(llm.structured_output, self_hosted=bool(llm.endpoint)),
            format_memory=formats.PROCESS_MEMORY,
        )

    def __repr__(self) -> str:
        return f"LLMTier(client={self.client!r}, max_concurrency={self.max_concurrency})"

    # -- deciding (the decision worker's thread) ------------------------------------------------------

    def choose(self, request: Request) -> Choice:
        """The LLM's pick among `request.feasible`, or TierDeclinedError with the cause."""
        deadline = min(request.deadline, self.clock.monotonic() + self.deadline_seconds)
        if self.clock.monotonic() >= deadline:
            self._decline(Decline.DEADLINE, "the pod's decision deadline had passed before the LLM tier ran")
        facts = prompt.facts(request, max_candidates=self.max_candidates)
        key = None
        if self.cache is not None:
            key = cache_key(facts, constraints=constraints_digest(request.pod.pod))
            hit = self.cache.get(key)
            if hit is not None and _feasible(request, hit.node):
                self.stats.cache_lookup(hit=True)
                return self._choice(request, hit.node, hit.reason, source="cache", candidates=len(facts.candidates))
            if hit is not None:
                self.cache.discard(key)  # its node no longer fits: ask again
            self.stats.cache_lookup(hit=False)
        if not self._waiting.acquire(blocking=False):
            self._decline(Decline.BUSY, f"{self.max_concurrency} pods are already waiting for the LLM")
        try:
            flight: Flight[Outcome] = Flight()
            leader = True
            if key is not None:
                flight, leader = self._flights.lead_or_join(key)
            if leader:
                self._launch(flight, key, facts, deadline)
            outcome = self._wait(flight, deadline)
        finally:
            self._waiting.release()
        if outcome.node is None:
            self._decline(outcome.cause or Decline.INTERNAL, outcome.detail)
        if not _feasible(request, outcome.node):
            self._decline(answer.Rejection.UNKNOWN_NODE, "the shared answer's node does not fit this pod")
        return self._choice(
            request,
            outcome.node,
            outcome.reason,
            source="answer" if leader else "shared",
            candidates=outcome.offered or len(facts.candidates),
            attempts=outcome.attempts,
        )

    def _launch(self, flight: Flight[Outcome], key: str | None, facts: prompt.PromptFacts, deadline: float) -> None:
        """Start the call on its own thread, or end the flight at once when no slot or no permit."""
        if not self._slots.acquire(blocking=False):
            busy = f"all {self.max_concurrency} LLM call slots are busy"
            self._ground(flight, key, Outcome(cause=Decline.BUSY, detail=busy))
            return
        permit = Permit(0)
        if self.breaker is not None:
            admitted = self.breaker.acquire()
            if admitted is None:
                self._slots.release()
                wait = self.breaker.reopens_in()
                detail = "circuit breaker is open" + (f" (trial call in {wait:.0f}s)" if wait else " (trial in flight)")
                self._ground(flight, key, Outcome(cause=Decline.BREAKER_OPEN, detail=detail))
                return
            permit = admitted
        thread = threading.Thread(
            target=self._fly, args=(flight, key, facts, permit, deadline), name="llm-call", daemon=True
        )
        try:
            thread.start()
        except RuntimeError as exc:  # the process is out of threads: give everything back
            self._slots.release()
            if self.breaker is not None:
                self.breaker.release(permit)
            self._ground(flight, key, Outcome(cause=Decline.INTERNAL, detail=f"cannot start the LLM call ({exc})"))

    def _ground(self, flight: Flight[Outcome], key: str | None, outcome: Outcome) -> None:
        if key is not None:
            self._flights.land(key, flight)
        flight.finish(outcome)

    def _wait(self, flight: Flight[Outcome], deadline: float) -> Outcome:
        while not flight.done.is_set():
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                late = f"no LLM answer within the {self.deadline_seconds:g}s decision deadline"
                self._decline(Decline.DEADLINE, late)
            self.clock.wait(flight.done, remaining)
        outcome = flight.outcome
        ended = "the LLM call ended without result"
        return outcome if outcome is not None else Outcome(cause=Decline.INTERNAL, detail=ended)

    def _decline(self, cause: Cause, detail: str) -> NoReturn:
        self.stats.llm_rejected(cause)
        raise TierDeclinedError(cause, detail)

    def _choice(
        self, request: Request, node: str, reason: str, *, source: str, candidates: int, attempts: int = 0
    ) -> Choice:
        facts: dict[str, object] = {"source": source, "candidates": candidates}
        if attempts:
            facts["attempts"] = attempts
        return Choice(
            node=node,
            reason=reason,
            scores=request.heuristic.by_node(request.snapshot.names),
            extra={"llm": facts},
        )

    # -- calling (the background thread) --------------------------------------------------------------

    def _fly(
        self,
        flight: Flight[Outcome],
        key: str | None,
        facts: prompt.PromptFacts,
        permit: Permit,
        deadline: float,
    ) -> None:
        attempts = 0
        ok = False
        outcome = Outcome(cause=Decline.INTERNAL, detail="the LLM call failed unexpectedly")

        def attempt(chat: ChatRequest) -> Completion:
            nonlocal attempts
            if deadline - self.clock.monotonic() < retry.MIN_ATTEMPT_SECONDS:
                raise LLMCallError(CallErrorKind.TIMEOUT, "no time left before the pod's decision deadline")
            attempts += 1
            return self._send(chat, deadline)

        try:
            built = prompt.render(facts, token_budget=self.token_budget)
            chat = ChatRequest(
                messages=built.messages,
                schema=built.schema,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                seed=self.seed,
            )
            completion = retry.call(
                lambda: attempt(chat),
                clock=self.clock,
                deadline=deadline,
                max_retries=self.max_retries,
                on_retry=self._on_retry,
            )
            parsed = answer.parse(completion, built.ids, [s.get_secret_value() for s in self._secrets])
            ok = True
            outcome = Outcome(node=parsed.node, reason=parsed.reason, attempts=attempts, offered=len(built.ids))
            if key is not None and self.cache is not None:
                self.cache.put(key, Cached(parsed.node, parsed.reason))
        except LLMCallError as exc:
            outcome = Outcome(cause=exc.kind, detail=str(exc), attempts=attempts)
            log.info("LLM call failed", extra=fields(event="llm_call_failed", kind=exc.kind.value, status=exc.status))
        except answer.AnswerRejectedError as exc:
            outcome = Outcome(cause=exc.cause, detail=str(exc), attempts=attempts)
            log.info("LLM answer rejected", extra=fields(event="llm_answer_rejected", cause=exc.cause.value))
        except Exception:  # a bug here must not leave a slot taken or followers waiting
            log.exception("LLM call crashed")
        finally:
            if self.breaker is not None:
                self.breaker.record(permit, ok=ok)
            self._slots.release()
            self._ground(flight, key, outcome)

    def _send(self, chat: ChatRequest, deadline: float) -> Completion:
        """One attempt: the request in the form the route accepts, sent again in the next form on a refusal."""
        while True:
            remaining = deadline - self.clock.monotonic()
            if remaining < retry.MIN_ATTEMPT_SECONDS:
                raise LLMCallError(CallErrorKind.TIMEOUT, "no time left before the pod's decision deadline")
            form = self.format_memory.current(self.route, self.answer_formats)
            started = self.clock.monotonic()
            try:
                completion = self.client.complete(
                    replace(chat, answer_format=form), timeout=min(self.timeout, remaining)
                )
            except LLMCallError as exc:
                self._count_call(exc.kind.value, started)
                if exc.kind is not CallErrorKind.FORMAT_REFUSED or not self._refused(form, exc):
                    raise
                continue
            self._count_call("ok", started)
            self._accepted(form)
            return completion

    def _refused(self, form: AnswerFormat, error: LLMCallError) -> bool:
        """Record that the route refused `form`; whether there is another form to send the request in."""
        following = self.format_memory.refuse(self.route, self.answer_formats, form)
        if following is None:
            return False
        log.info(
            "the LLM endpoint refused the answer format, trying the next",
            extra=fields(event="llm_format_refused", format=form.value, next=following.value, status=error.status),
        )
        return True

    def _accepted(self, form: AnswerFormat) -> None:
        """Report the form the route answers in, once per change."""
        if self.format_memory.accept(self.route, form):
            self.stats.llm_answer_format(form.value)
            log.info(
                f"the LLM endpoint accepts the answer format {form.value}",
                extra=fields(event="llm_answer_format", format=form.value),
            )

    def _count_call(self, outcome: str, started: float) -> None:
        latency_ms = (self.clock.monotonic() - started) * 1000
        self.stats.llm_call(outcome=outcome, latency_ms=latency_ms)
        log.info("LLM call", extra=fields(event="llm_call", outcome=outcome, latency_ms=round(latency_ms, 3)))

    def _on_retry(self, error: LLMCallError, wait: float) -> None:
        self.stats.llm_retry()
        log.info(
            "retrying the LLM call",
            extra=fields(event="llm_retry", kind=error.kind.value, status=error.status, wait_s=round(wait, 3)),
        )


def _feasible(request: Request, node: str) -> bool:
    """Is `node` among the nodes the filters let through for this pod (without listing them all)?"""
    index = request.snapshot.node_index(node)
    return index is not None and bool(np.any(request.feasible == index))
