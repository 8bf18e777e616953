"""TaintToleration: untolerated NoSchedule/NoExecute taints filter; PreferNoSchedule taints score.

Mirrors `pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go` (v1.36): the filter
reports the first untolerated taint; the score counts untolerated PreferNoSchedule taints (against
the tolerations whose effect is empty or PreferNoSchedule) and is reverse-normalised, so fewer is
better. Nodes are grouped by taint set so each distinct set is checked once.
"""

import numpy as np

from cluster.objects import Taint, Toleration, tolerated
from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo, default_normalize

NAME = "TaintToleration"
_FILTER_EFFECTS = ("NoSchedule", "NoExecute")


def untolerated_reason(taint: Taint) -> str:
    return f"node(s) had untolerated taint {taint}"


def first_untolerated(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> Taint | None:
    """`FindMatchingUntoleratedTaint` with the DoNotSchedule filter."""
    for taint in taints:
        if taint.effect in _FILTER_EFFECTS and not tolerated(taint, tolerations):
            return taint
    return None


def count_intolerable_prefer(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> int:
    prefer = tuple(t for t in tolerations if t.effect in ("", "PreferNoSchedule"))
    return sum(1 for t in taints if t.effect == "PreferNoSchedule" and not tolerated(t, prefer))


class TaintToleration:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        groups, group_of = snapshot.table.taint_groups
        reasons: dict[int, tuple[str, ...]] = {}
        for g, taints in enumerate(groups):
            taint = first_untolerated(taints, pod.pod.tolerations)
            if taint is not None:
                reasons[g] = (untolerated_reason(taint),)
        if not reasons:
            return {}
        groups_of_candidates = group_of[candidates]
        failing = np.isin(groups_of_candidates, list(reasons))
        return {
            i: reasons[g]
            for i, g in zip(candidates[failing].tolist(), groups_of_candidates[failing].tolist(), strict=True)
        }

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        groups, group_of = snapshot.table.taint_groups
        per_group = np.array([count_intolerable_prefer(t, pod.pod.tolerations) for t in groups], dtype=np.int64)
        raw = per_group[group_of[feasible]] if len(groups) else np.zeros(len(feasible), dtype=np.int64)
        return default_normalize(raw, reverse=True)


def new(_: dict) -> TaintToleration:
    return TaintToleration()
