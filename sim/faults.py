"""Fault injection for tests: failing requests, added latency, dropped watches, expired history, denied verbs.

Tests and benchmarks reach it as `Emulator.faults`; the HTTP facade consults `before_request` for every
request it serves (after routing, before any work), so an injected failure never touches the store. Rules
match on the verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`) and the
resource (`pods`, `pods/binding`, `leases`, ...), either left out to match all. Latency is spent through the
clock, so a `FakeClock` records it instead of sleeping.

`deny` plays a missing RBAC rule: matching requests get 403 `Forbidden` and a SelfSubjectAccessReview asking
about them answers `allowed: false` (the facade asks `denied`); everything else stays allowed, as for a
cluster admin.
"""

import threading
from dataclasses import dataclass

from cluster.clock import Clock
from sim import api_errors
from sim.store import Store

__all__ = ["Faults"]


@dataclass
class _Rule:
    verb: str | None
    resource: str | None
    remaining: int | None  # None: until cleared
    code: int = 500
    message: str | None = None
    seconds: float = 0.0

    def matches(self, verb: str, resource: str) -> bool:
        return (self.verb in (None, verb)) and (self.resource in (None, resource))


class Faults:
    """Switches a test flips on a running emulator; all methods are thread-safe."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._denied: list[tuple[str, str]] = []
        self.injected = 0  # how many requests were failed so far

    def fail_next(
        self,
        count: int = 1,
        *,
        verb: str | None = None,
        resource: str | None = None,
        code: int = 500,
        message: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with a `Status` error of `code` (its real reason)."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        if code < 400:
            raise ValueError(f"code must be an HTTP error status (>= 400), not {code}")
        with self._lock:
            self._failures.append(_Rule(verb, resource, count, code, message))

    def add_latency(
        self, seconds: float, *, verb: str | None = None, resource: str | None = None, count: int | None = None
    ) -> None:
        """Delay matching requests by `seconds` (the next `count` of them, or all until `clear`)."""
        if seconds < 0:
            raise ValueError(f"latency must not be negative, not {seconds}")
        with self._lock:
            self._delays.append(_Rule(verb, resource, count, seconds=seconds))

    def drop_watches(self) -> int:
        """End every open watch stream now (as a restarting server would); returns how many were open."""
        return self._store.drop_watches()

    def expire_history(self) -> None:
        """Forget the event history: resuming a watch (or continuing a list) from an older version gets 410."""
        self._store.expire_history()

    def reset_store(self) -> int:
        """Come back with the state reset, as a server restored onto a fresh etcd: same objects, resourceVersions
        restarted from 1, every watch ended; resuming from a version seen before gets 504
        `ResourceVersionTooLarge`. Returns the new resourceVersion."""
        return self._store.reset()

    def deny(self, verb: str, resource: str) -> None:
        """Refuse `verb` on `resource` (`pods/binding`, `leases`; `*` for any) until `clear`, as RBAC without
        that rule would: the requests get 403 and access reviews about them `allowed: false`, in every
        namespace and API group."""
        if not verb or not resource:
            raise ValueError(f"deny needs a verb and a resource, not {verb!r} and {resource!r}")
        with self._lock:
            self._denied.append((verb, resource))

    def denied(self, verb: str, resource: str) -> str | None:
        """The deny rule that refuses `verb` on `resource` as `verb:resource`, or None when it is allowed.

        Either side may be `*`: asking whether `*` is allowed on `pods` finds any rule about pods.
        """
        if not self._denied:
            return None  # the common case: everything allowed
        with self._lock:
            for rule_verb, rule_resource in self._denied:
                verb_matches = "*" in (rule_verb, verb) or rule_verb == verb
                if verb_matches and ("*" in (rule_resource, resource) or rule_resource == resource):
                    return f"{rule_verb}:{rule_resource}"
        return None

    def clear(self) -> None:
        """Remove every pending failure and latency rule, and every denied verb."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self._denied.clear()

    def before_request(self, verb: str, resource: str) -> None:
        """Spend injected latency, then raise the injected error if a failure rule matches."""
        if not self._delays and not self._failures:
            return  # the common case: no faults armed
        delay = self._take(self._delays, verb, resource)
        if delay is not None:
            self._clock.sleep(delay.seconds)
        failure = self._take(self._failures, verb, resource)
        if failure is not None:
            with self._lock:
                self.injected += 1
            raise api_errors.status_error(failure.code, failure.message)

    def _take(self, rules: list[_Rule], verb: str, resource: str) -> _Rule | None:
        with self._lock:
            for rule in rules:
                if rule.matches(verb, resource):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            rules.remove(rule)
                    return rule
        return None
