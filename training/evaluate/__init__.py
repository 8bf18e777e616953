"""Evaluation of the transformer tier: held-out simulated clusters, real-counter pairs, the model card, the gate.

`python -m training.evaluate` runs all of it (`report`, `card`). Others use the real-counter check:
`real_counter_pairs(scorer)` with any callable that scores a list of NodeStates for a pod, e.g.
`heuristic_scorer()` or `load_transformer_scorer(path)`. Importing this package never imports torch.
"""

from training.evaluate.pairs import (
    PairAccuracy,
    PairScorer,
    counter_scorer,
    heuristic_scorer,
    load_transformer_scorer,
    pair_counts,
    peer_scorer,
    real_counter_pairs,
    transformer_scorer,
)

__all__ = [
    "PairAccuracy",
    "PairScorer",
    "counter_scorer",
    "heuristic_scorer",
    "load_transformer_scorer",
    "pair_counts",
    "peer_scorer",
    "real_counter_pairs",
    "transformer_scorer",
]
