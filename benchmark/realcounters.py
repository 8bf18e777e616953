"""The real-counter check: how often each policy's scorer ranks two measured nodes the right way round.

`data/interference-measurements.csv` holds real load tests (nginx next to iBench and stress-ng
antagonists, Intel PCM counters). Within one campaign, replica count and RPS, the node whose telemetry
came from the test with the lower measured P99 is the better one for a latency-critical pod; the share
of such pairs a policy's scorer orders strictly right is its pairwise ranking accuracy (a tie counts as
wrong). Pairs and scoring come from `training.evaluate` (`pair_counts`), on the campaigns held out from
the transformer's fine-tuning and on all of them.

Per policy: `default` and `heuristic` are the heuristic tier's scores with kube-scheduler's weights and
with ours; the load-aware peers their filters and scores over the measured CPU utilisation (C0 residency
on this rig), rounded to integers as upstream's are; `transformer` its trained weights (when they
exist); `auto` is whichever local tier decides in the production chain (the transformer only when its
shipped evidence puts it first; an LLM is not asked offline); the oracle knows the simulator, not these
machines, so it has no score here.
"""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cluster.config import Settings
from scoring.runtime import KUBE_SCORE_WEIGHTS, PEERS
from scoring.transformer.evidence import load_verdict

DATA = "data/interference-measurements.csv"


def _scorers(settings: Settings) -> tuple[dict[str, Callable[..., Any] | None], dict[str, str]]:
    """The scorer of each policy (None: no score) and a note on each."""
    from training import evaluate  # noqa: PLC0415 - reads the CSV and the transformer's code only when asked

    model = Path(settings.scoring.model_path)
    transformer = evaluate.load_transformer_scorer(model, threads=settings.scoring.threads) if model.exists() else None
    ours = evaluate.heuristic_scorer(settings.scoring.weights)
    earned = load_verdict(model) if transformer else None
    leads = transformer if earned is not None and earned.lead else None
    scorers = {
        "default": evaluate.heuristic_scorer(KUBE_SCORE_WEIGHTS),
        **{peer: evaluate.peer_scorer(peer) for peer in PEERS},
        "heuristic": ours,
        "transformer": transformer,
        "auto": leads or ours,
        "oracle": None,
    }
    notes = {
        "default": "the heuristic tier with kube-scheduler's weights (no interference signal)",
        **{peer: "its filters and scores as the benchmark runs them, over measured CPU utilisation" for peer in PEERS},
        "heuristic": "the heuristic tier with our weights (InterferenceAware)",
        "transformer": f"weights {model}" if transformer else f"no weights at {model}",
        "auto": "the transformer tier (an LLM is not asked offline)"
        if leads
        else f"the heuristic tier ({earned.reason if earned else 'no transformer weights'}; an LLM is not asked "
        "offline)",
        "oracle": "knows the simulator's ground truth, not these machines: no score",
    }
    return scorers, notes


def check(policies: Sequence[str], settings: Settings) -> dict[str, Any]:
    """Pairwise ranking accuracy per policy on the real measurements, or why it could not be computed."""
    try:
        from training import evaluate  # noqa: PLC0415
        from training.counters import CountersError  # noqa: PLC0415
    except ImportError as exc:
        return {"status": "not available yet", "reason": f"training.evaluate cannot be imported ({exc})", "data": DATA}
    scorers, notes = _scorers(settings)
    try:
        return {"status": "ok", "data": DATA, "policies": _pairs_by_policy(policies, scorers, notes, evaluate)}
    except CountersError as exc:
        return {"status": "not available yet", "reason": str(exc), "data": DATA}


def _pairs_by_policy(
    policies: Sequence[str], scorers: Mapping[str, Any], notes: Mapping[str, str], evaluate: Any
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for policy in policies:
        scorer = scorers.get(policy)
        entry: dict[str, Any] = {"note": notes.get(policy, "")}
        if scorer is not None:
            for name, counts in (
                ("held_out", evaluate.pair_counts(scorer)),
                ("all", evaluate.pair_counts(scorer, campaigns=None)),
            ):
                entry[name] = {
                    "pairs": counts.pairs,
                    "correct": counts.correct,
                    "ties": counts.ties,
                    "accuracy": round(counts.accuracy, 4),
                }
        results[policy] = entry
    return results
