"""Whether the transformer tier has earned its place in front of the heuristic tier, by evidence shipped with it.

`python -m training.evaluate` replays the held-out scenario families with every local tier and writes the
result beside the weights (`<weights>.evidence.json`, keyed by the weights' SHA-256). The production chain puts
the transformer in front of the heuristic only when that file is for these very weights and shows it losing to
the heuristic on no held-out family (`METRIC`: the pooled P99 of its latency-critical pods; within `TIE` counts
as no loss). Otherwise the transformer is
left out of the chain: the chain is first-answer-wins and the heuristic never declines, so a tier behind it
would never be asked, and a blend would need weights that nothing has measured. No evidence, or evidence for
other weights, is no evidence: the heuristic leads. `verdict` is pure; `load_verdict` reads the files.
"""

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIX = ".evidence.json"
TRANSFORMER = "transformer"
HEURISTIC = "heuristic"
METRIC = "critical_p99_ms"
"""The pooled P99 of the latency-critical arrivals once the family's scenarios are placed (geometric mean over the
replays): what the benchmark reports and the product promises. A decision's own regret would miss the harm a
placement does to the pods beside it, which the transformer is trained to avoid."""
TIE = 1e-3
"""Pooled P99s this close (a microsecond) are a tie, not a loss."""


@dataclass(frozen=True)
class Verdict:
    """Whether the transformer leads the heuristic, and why (for the start-up log and the model card)."""

    lead: bool
    reason: str


def evidence_path(weights: Path) -> Path:
    """The evidence file of a weights file: `model.pt` → `model.evidence.json`, beside it."""
    return weights.with_name(weights.stem + SUFFIX)


def digest(weights: Path) -> str:
    """The weights' SHA-256, which ties an evidence file to the exact weights it measured."""
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def verdict(evidence: Mapping[str, Any] | None, weights_sha256: str) -> Verdict:
    """The chain-order rule over an evidence object (None: no file)."""
    if evidence is None:
        return Verdict(False, "no held-out evidence for these weights (run `python -m training.evaluate`)")
    if evidence.get("model_sha256") != weights_sha256:
        return Verdict(False, "the held-out evidence is for other weights (run `python -m training.evaluate`)")
    families = evidence.get("families")
    if not isinstance(families, Mapping) or not families:
        return Verdict(False, "the held-out evidence names no family")
    losses, unmeasured = [], []
    for family, policies in sorted(families.items()):
        ours, theirs = _metric(policies, TRANSFORMER), _metric(policies, HEURISTIC)
        if ours is None or theirs is None:
            unmeasured.append(family)
        elif ours > theirs + TIE:
            losses.append(f"{family} ({ours:.3f} vs {theirs:.3f})")
    if unmeasured:
        return Verdict(False, f"the held-out evidence lacks both tiers' {METRIC} on {', '.join(unmeasured)}")
    if losses:
        return Verdict(False, f"it loses to the heuristic tier on held-out {METRIC}: {', '.join(losses)}")
    return Verdict(True, f"it loses to the heuristic tier on no held-out family ({', '.join(sorted(families))})")


def _metric(policies: Any, policy: str) -> float | None:
    value = policies.get(policy, {}).get(METRIC) if isinstance(policies, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def load_verdict(weights: Path) -> Verdict:
    """The verdict for a weights file from its evidence file; unreadable evidence counts as none, and says so."""
    path = evidence_path(weights)
    try:
        evidence = json.loads(path.read_text()) if path.is_file() else None
        sha = digest(weights)
    except (OSError, ValueError) as exc:
        return Verdict(False, f"held-out evidence {str(path)!r} is unreadable: {exc}")
    if evidence is not None and not isinstance(evidence, Mapping):
        return Verdict(False, f"held-out evidence {str(path)!r} is not a JSON object")
    return verdict(evidence, sha)
