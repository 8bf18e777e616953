"""Runs a profile's plugins: filters with their reasons, then weighted scores with their breakdown.

As kube-scheduler's `framework/runtime`: filters run in profile order and a node leaves at its first
failing filter (its reasons are what the FitError counts); each score plugin's output is checked to
be 0..100 for every feasible node before it is weighted; the per-plugin breakdown is kept for
`decide --json`. Ties between equally scored nodes break by node name, so results are reproducible
(upstream picks at random).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cluster.config import DEFAULT_SCORE_WEIGHTS, KUBE_SCORE_WEIGHTS
from cluster.errors import UserError
from cluster.snapshot import Snapshot
from scoring.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    Failures,
    FilterPlugin,
    PluginError,
    PodInfo,
    PreFilterPlugin,
    ScorePlugin,
    fail_all,
    fit_error,
)
from scoring.registry import DuplicatePluginError, Registry, UnknownPluginError, in_tree

# kube-scheduler v1.36's default filters, in its order.
DEFAULT_FILTERS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "PodTopologySpread",
    "InterPodAffinity",
)
PEERS: Mapping[str, tuple[Mapping[str, int], tuple[str, ...]]] = {
    "loadaware": ({**KUBE_SCORE_WEIGHTS, "LoadAwareScheduling": 1}, (*DEFAULT_FILTERS, "LoadAwareScheduling")),
    "trimaran-lvrb": ({**KUBE_SCORE_WEIGHTS, "LoadVariationRiskBalancing": 1}, DEFAULT_FILTERS),
    "trimaran-tlp": ({"TaintToleration": 3, "NodeAffinity": 2, "TargetLoadPacking": 1}, DEFAULT_FILTERS),
}
"""The load-aware schedulers a user would pick instead: each peer's score weights and filters, with its
projects' default profile (the benchmark's policies and the held-out evaluation of the tiers run them)."""


class ProfileError(UserError, ValueError):
    """A profile that cannot run (unknown plugin, a plugin in the wrong role, a bad weight)."""


@dataclass(frozen=True)
class Profile:
    filters: tuple[FilterPlugin, ...]
    scorers: tuple[tuple[ScorePlugin, int], ...]
    pre_filters: tuple[PreFilterPlugin, ...] = ()
    """The filters that also pre-filter, in profile order (kube-scheduler's PreFilter extension point)."""

    @classmethod
    def build(
        cls,
        *,
        filters: Sequence[str] = DEFAULT_FILTERS,
        weights: Mapping[str, int] = DEFAULT_SCORE_WEIGHTS,
        registry: Registry | None = None,
    ) -> "Profile":
        registry = registry or in_tree()
        built_filters: list[FilterPlugin] = []
        scorers: list[tuple[ScorePlugin, int]] = []
        try:
            for name in filters:
                plugin = registry.build(name)
                if not isinstance(plugin, FilterPlugin):
                    raise ProfileError(f"plugin {plugin.name!r} has no filter")
                built_filters.append(plugin)
            for name, weight in weights.items():
                plugin = registry.build(name)
                if not isinstance(plugin, ScorePlugin):
                    raise ProfileError(f"plugin {plugin.name!r} has no score")
                if not isinstance(weight, int) or weight <= 0:
                    raise ProfileError(
                        f"score plugin {plugin.name!r} has weight {weight!r}; weights are positive integers"
                    )
                scorers.append((plugin, weight))
        except (UnknownPluginError, DuplicatePluginError) as exc:
            raise ProfileError(str(exc)) from exc
        pre_filters = tuple(plugin for plugin in built_filters if isinstance(plugin, PreFilterPlugin))
        return cls(tuple(built_filters), tuple(scorers), pre_filters)

    @property
    def score_names(self) -> tuple[str, ...]:
        return tuple(plugin.name for plugin, _ in self.scorers)


@dataclass(frozen=True, eq=False)
class FilterOutcome:
    """Feasible node indices, the reasons of the others, and the FitError message when none is feasible."""

    feasible: np.ndarray
    failures: Failures
    num_nodes: int
    scanned: np.ndarray
    """The nodes the filters ran on, ascending: every node unless a pre-filter narrowed them."""
    pre_filter_message: str = ""

    @property
    def message(self) -> str:
        if self.pre_filter_message:
            return f"0/{self.num_nodes} nodes are available: {self.pre_filter_message}."
        return fit_error(self.num_nodes, self.failures)

    def reasons_by_node(self, names: Sequence[str]) -> dict[str, str]:
        return {names[i]: ", ".join(reasons) for i, reasons in sorted(self.failures.items())}


def run_filters(profile: Profile, pod: PodInfo, snapshot: Snapshot) -> FilterOutcome:
    candidates = np.arange(len(snapshot), dtype=np.int64)
    failures: Failures = {}
    restricting: list[str] = []
    allowed: set[str] | None = None
    for pre in profile.pre_filters:
        names, rejection = pre.pre_filter(pod, snapshot)
        if rejection:
            none = np.empty(0, dtype=np.int64)
            return FilterOutcome(none, fail_all(candidates, rejection), len(snapshot), none, rejection)
        if names is not None:
            restricting.append(pre.name)
            allowed = names if allowed is None else allowed & names
    if allowed is not None:
        inside = np.array([snapshot.names[i] in allowed for i in candidates], dtype=bool)
        reason = f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(restricting))}]"
        failures.update(fail_all(candidates[~inside], reason))
        candidates = candidates[inside]
    scanned = candidates
    for plugin in profile.filters:
        if not len(candidates):
            break
        failed = plugin.filter(pod, snapshot, candidates)
        if failed:
            failures.update(failed)
            candidates = candidates[~np.isin(candidates, list(failed))]
    return FilterOutcome(candidates, failures, len(snapshot), scanned)


@dataclass(frozen=True, eq=False)
class ScoreOutcome:
    feasible: np.ndarray
    total: np.ndarray
    per_plugin: Mapping[str, np.ndarray]
    weight_sum: int

    @property
    def normalized(self) -> np.ndarray:
        """The weighted total as a 0..100 score."""
        return self.total / max(self.weight_sum, 1)


def run_scores(profile: Profile, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> ScoreOutcome:
    total = np.zeros(len(feasible), dtype=np.int64)
    per_plugin: dict[str, np.ndarray] = {}
    weight_sum = 0
    for plugin, weight in profile.scorers:
        scores = plugin.score(pod, snapshot, feasible)
        if scores is None:
            per_plugin[plugin.name] = np.zeros(len(feasible), dtype=np.int64)
            continue
        scores = np.asarray(scores)
        if scores.shape != (len(feasible),):
            raise PluginError(f"plugin {plugin.name} returned {scores.shape} scores for {len(feasible)} nodes")
        if scores.size and (scores.min() < MIN_NODE_SCORE or scores.max() > MAX_NODE_SCORE):
            raise PluginError(
                f"plugin {plugin.name} returns an invalid score {scores.min()}..{scores.max()}, "
                f"it should in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"
            )
        scores = scores.astype(np.int64)
        per_plugin[plugin.name] = scores
        total += scores * weight
        weight_sum += weight
    return ScoreOutcome(feasible, total, per_plugin, weight_sum)
