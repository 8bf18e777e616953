"""The placement benchmark's policies: which decision chain the one real scheduler loop runs.

Every policy goes through `runtime.app.build` and the production loop against the emulator; only the
decision chain differs:
- `default`: kube-scheduler's default scoring (`scoring.runtime.KUBE_SCORE_WEIGHTS`: TaintToleration,
  NodeAffinity, NodeResourcesFit, PodTopologySpread, InterPodAffinity, BalancedAllocation, ImageLocality,
  at upstream's weights) behind the same filters, blind to interference;
- `heuristic`, `transformer`: our tiers forced alone (as `decide --tier`), from the run's settings;
- `auto`: the production chain; it asks the LLM only when an endpoint or token is configured;
- `loadaware`: Koordinator's LoadAwareScheduling filter and score (weight 1, as koord-scheduler's shipped
  profile) beside kube-scheduler's default scoring: measured CPU with its assigned-pod estimator
  (`scoring/plugins/load_aware.py`);
- `trimaran-lvrb`: scheduler-plugins' LoadVariationRiskBalancing beside the default scoring (its README's
  profile); `trimaran-tlp`: TargetLoadPacking with NodeResourcesFit and BalancedAllocation disabled (its
  README's profile) (`scoring/plugins/load_variation_risk_balancing.py`,
  `scoring/plugins/target_load_packing.py`). The peers read the telemetry as published and run their
  own estimators, with their projects' default parameters;
- `oracle`: the interference model's best feasible node (`sim.oracle.best`): no policy can place a pod where
  the model predicts a lower P99 at that moment (zero regret). It is greedy, pod by pod: it does not weigh
  what a placement does to later arrivals, so its final latencies are a strong reference, not a proof.

Only the oracle reads the simulator's ground truth (hidden profiles, hardware); the others see what a
real scheduler sees: the API objects and the published NodeState telemetry.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from cluster.clock import Clock
from cluster.config import Settings
from llm.availability import unavailable_reason
from runtime.assemble import TierUnavailableError, build_decider
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.runtime import DEFAULT_FILTERS, KUBE_SCORE_WEIGHTS, PEERS
from scoring.tiers import Choice, Request, Tier
from sim import oracle
from sim.cluster import SimCluster
from sim.cluster_state import ClusterState
from sim.pods import Workload, workload
from telemetry.stats import Stats

POLICIES = ("default", *PEERS, "heuristic", "transformer", "auto", "oracle")


class PolicyUnavailableError(RuntimeError):
    """A policy cannot run in this build (e.g. the transformer tier has no weights yet); the message says why."""


@dataclass(frozen=True)
class Built:
    """A policy's decision chain and what the report should say about it."""

    decider: Decider
    note: str


def build(policy: str, settings: Settings, *, world: SimCluster, clock: Clock, stats: Stats) -> Built:
    """The decision chain of `policy`; PolicyUnavailableError when this build cannot run it."""
    if policy == "default":
        decider = Decider(heuristic=HeuristicTier(weights=KUBE_SCORE_WEIGHTS), clock=clock)
        return Built(decider, "kube-scheduler default scoring: " + ", ".join(KUBE_SCORE_WEIGHTS))
    if policy in PEERS:
        weights, filters = PEERS[policy]
        decider = Decider(heuristic=HeuristicTier(weights=weights), filters=filters, clock=clock)
        extra = [f for f in filters if f not in DEFAULT_FILTERS]
        note = "scores " + ", ".join(f"{name} x{w}" for name, w in weights.items())
        return Built(decider, note + (f"; filters add {', '.join(extra)}" if extra else ""))
    if policy == "oracle":
        decider = Decider(heuristic=HeuristicTier(), tiers=[OracleTier(world)], clock=clock)
        return Built(decider, "sim.oracle.best: the lowest predicted P99 among the feasible nodes (ground truth)")
    if policy not in ("heuristic", "transformer", "auto"):
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    try:
        decider = build_decider(settings, tier=policy, clock=clock, stats=stats)
    except TierUnavailableError as exc:
        raise PolicyUnavailableError(str(exc)) from exc
    chain = " -> ".join([t.tier.value for t in decider.tiers] + ["heuristic"])
    if policy == "heuristic":
        return Built(decider, "heuristic tier forced alone (kube-scheduler's plugins plus InterferenceAware)")
    if policy == "transformer":
        # A forced tier that declines leaves the pod unschedulable; here the heuristic takes it, and the
        # summary counts those fallbacks, so the policy still places every pod the transformer refuses.
        decider = Decider(
            heuristic=decider.heuristic,
            tiers=decider.tiers,
            clock=clock,
            deadline_seconds=settings.llm.deadline_seconds,
            fallback=True,
        )
        return Built(decider, "transformer tier; a pod it declines falls back to the heuristic (counted)")
    llm = unavailable_reason(settings)
    uses = "the LLM tier is on" if llm is None else f"the LLM tier is off ({llm})"
    return Built(decider, f"production chain {chain}; {uses}")


class OracleTier:
    """Chooses the feasible node where the interference model predicts the pod's lowest P99.

    Holds the ground-truth `ClusterState` of the emulated cluster, brought up to date from the store's
    bound pods at every decision (only what changed is re-read), so it is exact whatever the pace.
    Reports itself as the heuristic tier (the only values CONTRACTS §3 allows); its reasons start
    with "oracle".
    """

    tier = Tier.HEURISTIC

    def __init__(self, world: SimCluster) -> None:
        self.world = world
        self._state: ClusterState | None = None
        self._bound: dict[str, str] = {}

    def choose(self, request: Request) -> Choice:
        state = self._current()
        pod = self._workload(request.pod.pod.namespace, request.pod.pod.name)
        names = request.names
        best = oracle.best(state, pod, names)
        if best.node is None:
            raise RuntimeError(f"the oracle found no node among {len(names)} feasible ones for {pod.key}")
        top = best.predictions[best.node].p99_ms
        scores = {name: round(100 * top / p.p99_ms, 1) for name, p in best.predictions.items()}
        reason = f"oracle: lowest predicted P99 ({top:.3f} ms) of {len(names)} feasible node(s)"
        return Choice(node=best.node, reason=reason, scores=scores)

    def _workload(self, namespace: str, name: str) -> Workload:
        return workload(self.world.emulator.store.get("pods", name, namespace=namespace, copy=False))

    def _current(self) -> ClusterState:
        """The ground truth now: the last state plus the pods bound (or gone) since."""
        if self._state is None:
            self._state = self.world.state()
            self._bound = {p.key: str(p.node) for p in self._state.pods if p.active}
            return self._state
        pods = self.world.emulator.store.list("pods", copy=False).items
        now = {_key(p): p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName") and _running(p)}
        state = self._state
        for key in set(self._bound) - set(now):
            state = state.without_pod(key)
        by_key = {_key(p): p for p in pods}
        for key in _changed(self._bound, now):
            state = state.with_pod(workload(by_key[key]), now[key])
        self._state, self._bound = state, now
        return state


def _key(pod: dict) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace') or 'default'}/{meta['name']}"


def _running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _changed(before: dict[str, str], after: dict[str, str]) -> Sequence[str]:
    return sorted(key for key, node in after.items() if before.get(key) != node)
