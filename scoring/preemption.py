"""DefaultPreemption's PostFilter, pure: which pods to evict, and on which node, so an unschedulable pod fits.

Mirrors kube-scheduler's `framework/plugins/defaultpreemption/default_preemption.go` and
`framework/preemption/preemption.go` (read at kubernetes commits e4d77d92 and 98be7dfc):
- eligibility (`PodEligibleToPreemptOthers`): `preemptionPolicy: Never` never preempts, and a pod whose
  nominated node still has lower-priority pods terminating waits for them instead of evicting more;
- candidates: only nodes whose filter failures removing pods can resolve (upstream's `Unschedulable`, not
  `UnschedulableAndUnresolvable`), dry-run from an offset (upstream's is random, this one a hash of the pod's
  key, so a decision is reproducible) until 10% of them, at least 100, are found and one violates no PDB;
- victims per node (`SelectVictimsOnNode`): remove every lower-priority pod; if the pod fits, add them back,
  most important first, PDB-violating ones before the others, keeping as evicted only those it cannot fit with;
- the node (`pickOneNodeForPreemption`): fewest PDB violations, lowest highest-victim priority, smallest
  priority sum, fewest victims, latest start of the highest-priority victims; a tie after all of those
  goes to `tie_break` (the interference-aware heuristic), upstream's "first node" otherwise.
The decision names the victims it chose knowing they violate a PDB (upstream counts them, `NumPDBViolations`);
the shell (`runtime.preemption`) evicts, deletes such victims, nominates and records; this module decides only.
"""

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cluster.disruption import Budget
from cluster.labels import selector_matches
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from scoring.framework import Failures, FilterPlugin, PodInfo, fit_error
from scoring.plugins import (
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_unschedulable,
    pod_topology_spread,
    volume_binding,
)

NEVER = "Never"
POST_FILTER_PREFIX = "preemption: "
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
_INT32_SPAN = 2**31
"""MaxInt32+1, added to every priority in the sum so negative priorities do not favour more victims."""

_UNRESOLVABLE = frozenset(
    {
        node_unschedulable.ERR_REASON_UNSCHEDULABLE,
        node_name.ERR_REASON,
        node_affinity.ERR_REASON_POD,
        node_affinity.ERR_REASON_CONFLICT,
        inter_pod_affinity.ERR_REASON_AFFINITY,
        pod_topology_spread.ERR_REASON_NODE_LABEL,
        volume_binding.ERR_REASON_BIND_CONFLICT,
        volume_binding.ERR_REASON_NODE_CONFLICT,
        volume_binding.ERR_REASON_PV_NOT_EXIST,
        volume_binding.ERR_REASON_NOT_ENOUGH_SPACE,
    }
)
_UNRESOLVABLE_PREFIXES = ("node(s) had untolerated taint", "node(s) didn't satisfy plugin(s)")


def resolvable(reasons: Sequence[str]) -> bool:
    """Could evicting pods resolve these filter failures? The reasons upstream's filters return as
    `UnschedulableAndUnresolvable` (node name, affinity, taints, cordon, a missing topology label, every
    VolumeBinding reason) cannot."""
    return not any(r in _UNRESOLVABLE or r.startswith(_UNRESOLVABLE_PREFIXES) for r in reasons)


def importance(pod: Pod) -> tuple[int, float]:
    """Sort key, most important first (`util.MoreImportantPod`): higher priority, then the earlier start;
    a pod not started yet counts as starting now, i.e. after every started one."""
    return -pod.priority, pod.start_time if pod.start_time is not None else math.inf


def candidate_count(nodes: int) -> int:
    """How many candidate nodes to dry-run before choosing (`calculateNumCandidates` with DefaultPreemptionArgs'
    defaults: 10% of the nodes, at least 100); the search goes on past it until one violates no PDB."""
    return min(nodes, max(nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE))


def eligible(pod: Pod, snapshot: Snapshot, failures: Failures) -> str | None:
    """Why `pod` may not preempt (`PodEligibleToPreemptOthers`), or None when it may.

    A pod evicts through the Eviction API here, so a victim it is waiting for carries the API's own
    `DisruptionTarget` reason; any lower-priority pod terminating on the nominated node counts.
    """
    if pod.preemption_policy == NEVER:
        return NOT_ELIGIBLE_NEVER
    index = snapshot.node_index(pod.nominated_node_name) if pod.nominated_node_name else None
    if index is None or not resolvable(failures.get(index, ())):
        return None
    if any(p.deleting and p.priority < pod.priority for p in snapshot.pods_on[index]):
        return NOT_ELIGIBLE_TERMINATING
    return None


def split_by_budget(pods: Sequence[Pod], budgets: Sequence[Budget]) -> tuple[list[Pod], list[Pod]]:
    """(violating, non-violating), order kept (`filterPodsWithPDBViolation`): evicting the pods in order, which
    would take a budget below zero? A pod the API server already counted (`disruptedPods`) takes nothing."""
    allowed = [b.disruptions_allowed for b in budgets]
    violating: list[Pod] = []
    non_violating: list[Pod] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, budget in enumerate(budgets):
                if budget.namespace != pod.namespace or budget.selector is None or budget.selector.empty:
                    continue
                if not selector_matches(budget.selector, pod.labels) or pod.name in budget.disrupted_pods:
                    continue
                allowed[i] -= 1
                violated = violated or allowed[i] < 0
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


@dataclass(frozen=True)
class Victims:
    """The pods to evict on one node, most important first, and which of them violate a budget."""

    node: str
    pods: tuple[Pod, ...]
    violating: frozenset[str] = frozenset()
    """Keys of the victims whose eviction takes a PodDisruptionBudget below zero (upstream's `numViolatingVictim`
    counts them): the eviction API would refuse them, so the shell deletes them as kube-scheduler does."""

    @property
    def pdb_violations(self) -> int:
        return len(self.violating)


class Check:
    """The filters for one pod on one node, against any variant of the snapshot (victims removed or back)."""

    def __init__(self, filters: Sequence[FilterPlugin], info: PodInfo, index: int) -> None:
        self._filters = filters
        self._info = info
        self._candidates = np.array([index], dtype=np.int64)
        self.index = index

    def reasons(self, snapshot: Snapshot) -> tuple[str, ...]:
        """The first failing filter's reasons; empty when the pod fits."""
        for plugin in self._filters:
            failed = plugin.filter(self._info, snapshot, self._candidates)
            if failed:
                return failed[self.index]
        return ()


def select_victims(pod: Pod, snapshot: Snapshot, check: Check, budgets: Sequence[Budget]) -> Victims | str:
    """The fewest pods on the node to evict (`SelectVictimsOnNode`), or why preemption there cannot help."""
    potential = sorted((p for p in snapshot.pods_on[check.index] if p.priority < pod.priority), key=importance)
    if not potential:
        return NO_VICTIMS
    current = snapshot
    for victim in potential:
        current = current.without_pod(victim)
    reasons = check.reasons(current)
    if reasons:
        return ", ".join(reasons)
    violating, non_violating = split_by_budget(potential, budgets)
    victims: list[Pod] = []
    violators: set[str] = set()
    for group, violates in ((violating, True), (non_violating, False)):
        for candidate in group:
            trial = current.with_pod(candidate)
            if check.reasons(trial):
                victims.append(candidate)
                if violates:
                    violators.add(candidate.key)
            else:
                current = trial
    if violating and non_violating:
        victims.sort(key=importance)
    node = snapshot.names[check.index]
    if not victims:
        return f"expected at least one victim pod on node {node!r}"
    return Victims(node, tuple(victims), frozenset(violators))


def _earliest_start(victims: Victims, now: float) -> float:
    """`util.GetEarliestPodStartTime`: the earliest start among the highest-priority victims."""
    highest = victims.pods[0].priority
    return min(p.start_time if p.start_time is not None else now for p in victims.pods if p.priority == highest)


def pick_one(
    candidates: Sequence[Victims], *, now: float, tie_break: Callable[[list[str]], str] | None = None
) -> Victims:
    """The candidate to preempt on (`pickOneNodeForPreemption`); `candidates` in node order, at least one."""
    criteria: tuple[Callable[[Victims], float], ...] = (
        lambda c: -c.pdb_violations,
        lambda c: -c.pods[0].priority,
        lambda c: -sum(p.priority + _INT32_SPAN for p in c.pods),
        lambda c: -len(c.pods),
        lambda c: _earliest_start(c, now),
    )
    remaining = list(candidates)
    for score in criteria:
        best = max(score(c) for c in remaining)
        remaining = [c for c in remaining if score(c) == best]
        if len(remaining) == 1:
            return remaining[0]
    if tie_break is not None:
        chosen = tie_break([c.node for c in remaining])
        return next((c for c in remaining if c.node == chosen), remaining[0])
    return remaining[0]


@dataclass(frozen=True)
class Preemption:
    """The PostFilter's result: a node and its victims, or (node None) the message to append to the FitError."""

    node: str | None
    victims: tuple[Pod, ...] = ()
    message: str = ""
    clear_nomination: bool = False
    """Preemption cannot help anywhere: a nomination the pod carries is to be cleared (upstream does)."""
    violating: frozenset[str] = frozenset()
    """Keys of the victims chosen knowing their eviction violates a PodDisruptionBudget (no candidate without
    violations was found): the eviction API refuses them with 429, so they are deleted the upstream way."""


def preempt(
    pod: Pod,
    snapshot: Snapshot,
    failures: Failures,
    *,
    filters: Sequence[FilterPlugin],
    info: PodInfo,
    budgets: Sequence[Budget],
    now: float,
    tie_break: Callable[[list[str]], str] | None = None,
    rejected: bool = False,
) -> Preemption:
    """Where `pod`, which no node fits, fits once lower-priority pods are evicted (`Evaluator.Preempt`).

    `failures` are the filter reasons of the decision (node index → reasons); `snapshot` already holds the
    pods nominated to nodes with a priority at least the pod's. `rejected`: a PreFilter turned every node
    down, which no eviction resolves.
    """
    refusal = eligible(pod, snapshot, failures)
    if refusal is not None:
        return Preemption(None, message=POST_FILTER_PREFIX + refusal)
    potential = [] if rejected else [i for i in range(len(snapshot)) if resolvable(failures.get(i, ()))]
    statuses: dict[int, tuple[str, ...]] = {i: (NOT_HELPFUL,) for i in range(len(snapshot)) if i not in potential}
    if not potential:
        return Preemption(
            None,
            message=POST_FILTER_PREFIX + fit_error(len(snapshot), statuses),
            clear_nomination=bool(pod.nominated_node_name),
        )
    candidates: list[Victims] = []
    offset = zlib.crc32(pod.key.encode()) % len(potential)
    wanted = candidate_count(len(potential))
    for index in potential[offset:] + potential[:offset]:
        found = select_victims(pod, snapshot, Check(filters, info, index), budgets)
        if isinstance(found, str):
            statuses[index] = (found,)
            continue
        candidates.append(found)
        if len(candidates) >= wanted and any(not c.pdb_violations for c in candidates):
            break
    if not candidates:
        return Preemption(None, message=POST_FILTER_PREFIX + fit_error(len(snapshot), statuses))
    chosen = pick_one(
        [c for c in candidates if not c.pdb_violations] + [c for c in candidates if c.pdb_violations],
        now=now,
        tie_break=tie_break,
    )
    return Preemption(chosen.node, chosen.pods, violating=chosen.violating)
