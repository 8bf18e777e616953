"""PodDisruptionBudgets as preemption reads them: a selector, the disruptions still allowed, the pods already taken.

Only the status the disruption controller writes matters here (`status.disruptionsAllowed`,
`status.disruptedPods`): the scheduler never computes a budget itself, as kube-scheduler's preemption
reads the same fields from its PDB lister.
"""

from dataclasses import dataclass

from cluster.objects import LabelSelector, RawObject
from cluster.parse import ManifestError, malformed_is_manifest_error, parse_label_selector


@dataclass(frozen=True)
class Budget:
    namespace: str
    name: str
    selector: LabelSelector | None
    """None or empty matches no pod (kube-scheduler's `filterPodsWithPDBViolation`)."""
    disruptions_allowed: int
    disrupted_pods: frozenset[str]
    """Names of pods the API server already counted against the budget (`status.disruptedPods`)."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@malformed_is_manifest_error("poddisruptionbudget")
def parse_budget(raw: RawObject) -> Budget:
    """A policy/v1 PodDisruptionBudget; a malformed one raises ManifestError naming the field."""
    meta = raw.get("metadata") or {}
    name = str(meta.get("name") or "")
    if not name:
        raise ManifestError("poddisruptionbudget: metadata.name is required")
    namespace = str(meta.get("namespace") or "default")
    where = f"poddisruptionbudget {namespace}/{name}"
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    disrupted = status.get("disruptedPods") or {}
    if not isinstance(disrupted, dict):
        raise ManifestError(f"{where}: status.disruptedPods must be a map")
    allowed = status.get("disruptionsAllowed") or 0
    if not isinstance(allowed, int) or isinstance(allowed, bool):
        raise ManifestError(f"{where}: status.disruptionsAllowed must be an integer, not {allowed!r}")
    return Budget(
        namespace=namespace,
        name=name,
        selector=parse_label_selector(spec.get("selector"), f"{where}: spec.selector"),
        disruptions_allowed=allowed,
        disrupted_pods=frozenset(str(k) for k in disrupted),
    )
