"""Leave one interference variant out: the split never leaks it into training; the card's table and the ablation."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from scoring.transformer.scores import HARM_WEIGHT
from sim import calibration, interference
from training import fit, lofo, synthetic
from training.evaluate import card_tables, heldout
from training.train import member_seeds

SMALL = lofo.LofoSettings(decisions=24, epochs=1, eval_decisions=12, members=3)


@pytest.mark.parametrize("held_out", [pytest.param(v, id=f"holding out {v}") for v in interference.VARIANTS])
def test_the_held_out_variant_never_reaches_training(held_out: str) -> None:
    for seed in member_seeds(SMALL.seed, SMALL.members):
        train = lofo.training_set(held_out, SMALL, seed)
        assert held_out not in set(train.data.variant.tolist())
        assert set(train.data.variant.tolist()) == set(synthetic.VARIANTS) - {held_out}
    assert set(lofo.test_set(held_out, SMALL).data.variant.tolist()) == {held_out}


def test_the_model_trains_on_exactly_the_variants_the_measurements_allow() -> None:
    """A variant outside at least half of the measured mixes' P99 ranges is a test world only (run-queue CPU)."""
    mixes = calibration.measured(calibration.load(calibration.DATA))
    for name, variant in interference.VARIANTS.items():
        inside, total = calibration.agreement(variant, mixes)
        assert (name in synthetic.VARIANTS) is (inside >= total / 2), (name, inside, total)
    assert synthetic.IMPLAUSIBLE == ("runqueue-cpu",)
    assert set(synthetic.VARIANTS) | set(synthetic.IMPLAUSIBLE) == set(interference.VARIANTS)


def test_an_unknown_variant_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown interference variant 'cubic'; known: calibrated"):
        lofo.training_variants("cubic")
    assert lofo.main(["--variant", "cubic"]) == 2
    assert lofo.main(["--members", "0"]) == 2
    assert lofo.main(["--seed", "-1"]) == 2


def test_stacks_reach_the_training_clusters_and_never_the_test_world() -> None:
    """`--stacks` piles fresh arrivals onto a few nodes of the training draws; the held-out world stays as drawn."""
    stacked = replace(SMALL, stacks=1.0)
    plain_fresh = sum(int(f.sum()) for f in lofo.training_set("additive", SMALL, 7).data.fresh)
    assert sum(int(f.sum()) for f in lofo.training_set("additive", stacked, 7).data.fresh) > plain_fresh + 12
    plain, test = lofo.test_set("additive", SMALL), lofo.test_set("additive", stacked)
    assert np.array_equal(plain.data.relative_p99, test.data.relative_p99, equal_nan=True)


def test_each_member_of_a_run_draws_its_own_clusters() -> None:
    assert member_seeds(SMALL.seed, SMALL.members) == [7, 8, 9]
    first, second = (lofo.training_set("additive", SMALL, seed) for seed in (7, 8))
    assert not np.array_equal(first.data.relative_p99, second.data.relative_p99, equal_nan=True)


def _metrics(regret: float) -> dict[str, float | int | None]:
    return {"decisions": 10, "mean_regret": regret, "p95_regret": regret, "critical_mean_regret": None, "unplaced": 0}


def _lofo(with_block: list[float], without: list[float]) -> dict[str, dict[str, dict[str, float | int | None]]]:
    names = list(interference.VARIANTS)[: len(with_block)]
    return {
        name: {card_tables.TRANSFORMER: _metrics(a), card_tables.NO_ATTENTION: _metrics(b), "heuristic": _metrics(0.3)}
        for name, a, b in zip(names, with_block, without, strict=True)
    }


@pytest.mark.parametrize(
    ("with_block", "without", "kept"),
    [
        pytest.param([0.1, 0.1, 0.2], [0.2, 0.2, 0.1], True, id="lower on average and on most variants keeps it"),
        pytest.param([0.1, 0.5, 0.5], [0.2, 0.2, 0.2], False, id="worse on average drops it"),
        pytest.param([0.01, 0.3, 0.3], [0.2, 0.2, 0.2], False, id="one big win does not carry a majority of losses"),
        pytest.param([0.2, 0.2], [0.2, 0.2], False, id="a tie does not earn the cost"),
    ],
)
def test_the_attention_block_stays_only_if_it_earns_its_cost(
    with_block: list[float], without: list[float], kept: bool
) -> None:
    assert card_tables.attention_earns_its_cost(_lofo(with_block, without)) is kept


def test_the_card_tables_every_held_out_variant_and_names_the_losses() -> None:
    body = {"settings": {"decisions": 10, "epochs": 1}, "eval_families": ["kubemarla"], "variants": _lofo([0.4], [0.2])}
    text = "\n".join(card_tables.lofo_table(body))
    assert "| calibrated | transformer tier | 10 | 40.0 % |" in text
    assert "| calibrated | transformer without attention | 10 | **20.0 %** |" in text
    assert "| calibrated | heuristic tier | 10 | 30.0 % |" in text
    assert "another policy beats it on: calibrated" in text
    assert "does not earn" in card_tables.ablation(body, {"layers": 0})


def test_the_harm_target_trains_the_second_output_and_unknown_harm_is_ignored() -> None:
    mask = torch.ones(1, 2, dtype=torch.bool)
    rank = torch.full((1, 2), float("nan"))
    weight = torch.ones(1)
    target = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
    right = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
    wrong = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    assert float(fit.loss(right, mask, target, rank, weight, rank_weight=1.0)) == pytest.approx(0.0)
    assert float(fit.loss(wrong, mask, target, rank, weight, rank_weight=1.0)) > 0.1
    unknown = target.clone()
    unknown[..., 1] = float("nan")
    assert float(fit.loss(wrong, mask, unknown, rank, weight, rank_weight=1.0)) == pytest.approx(0.0)


def test_the_ranking_orders_candidates_by_the_cost_harm_included() -> None:
    """Same own P99 on both nodes; node 0 harms a neighbour: ranking it first costs more than ranking it last."""
    mask = torch.ones(1, 2, dtype=torch.bool)
    target = torch.full((1, 2, 2), float("nan"))
    rank = torch.tensor([[-np.log(2.0), 0.0]], dtype=torch.float32)
    weight = torch.ones(1)
    harm_first = torch.tensor([[[0.0, 0.0], [0.0, 0.7]]])
    harm_right = torch.tensor([[[0.0, 0.7], [0.0, 0.0]]])
    assert float(fit.loss(harm_right, mask, target, rank, weight, rank_weight=1.0)) < float(
        fit.loss(harm_first, mask, target, rank, weight, rank_weight=1.0)
    )


def _swap_gap(p99_ms: list[float], predicted_log_p99: list[float], swap: tuple[int, int], *, pairwise: bool) -> float:
    """How much more the ranking loss of one measured group costs when the predictions of two tests are swapped."""
    mask = torch.ones(1, len(p99_ms), dtype=torch.bool)
    target = torch.full((1, len(p99_ms), 2), float("nan"))
    rank = -torch.log(torch.tensor([p99_ms]))
    weight = torch.ones(1)
    order = list(range(len(p99_ms)))
    order[swap[0]], order[swap[1]] = order[swap[1]], order[swap[0]]
    right = torch.tensor([[[v, 0.0] for v in predicted_log_p99]])
    swapped = right[:, order]
    flag = torch.tensor([pairwise])
    return float(fit.loss(swapped, mask, target, rank, weight, rank_weight=1.0, pairwise=flag)) - float(
        fit.loss(right, mask, target, rank, weight, rank_weight=1.0, pairwise=flag)
    )


def test_the_measurements_rank_every_clear_pair_not_only_the_best_node() -> None:
    """Three measured tests, P99 1, 2 and 4 ms: swapping the two worst barely moves ListNet, and RankNet sees it."""
    assert _swap_gap([1.0, 2.0, 4.0], [0.0, 0.7, 1.4], (1, 2), pairwise=False) < 0.01
    assert _swap_gap([1.0, 2.0, 4.0], [0.0, 0.7, 1.4], (1, 2), pairwise=True) > 1.0


def test_the_measurements_leave_tests_within_the_rigs_noise_unordered() -> None:
    """P99 1.0, 1.1 and 4 ms: swapping the two within the noise margin costs ListNet, not the measurements' ranking."""
    predicted = [0.0, float(np.log(1.1)), float(np.log(4.0))]
    assert _swap_gap([1.0, 1.1, 4.0], predicted, (0, 1), pairwise=False) > 0.3
    assert _swap_gap([1.0, 1.1, 4.0], predicted, (0, 1), pairwise=True) == pytest.approx(0.0, abs=1e-6)


def test_the_cost_regret_counts_the_harm_a_pick_does_where_the_regret_sees_its_own_p99_only() -> None:
    def cost(decision: synthetic.SimDecision) -> np.ndarray:  # as the tier's cost counts the neighbours
        return np.log(decision.p99_ms) + HARM_WEIGHT * np.nan_to_num(decision.harm)

    test = lofo.test_set("additive", replace(SMALL, eval_decisions=300))
    decisions = [d for i in range(len(test)) if (d := test.decision(i)) is not None]
    split = [d for d in decisions if np.argmin(d.p99_ms) != np.argmin(cost(d))]
    assert split, "no decision where sparing the neighbours moves the best pick"

    def own(decision: synthetic.SimDecision, _pod: object, _hint: object) -> int:  # the quickest node alone
        return int(np.argmin(decision.p99_ms))

    def spare(decision: synthetic.SimDecision, _pod: object, _hint: object) -> int:  # neighbours counted
        return int(np.argmin(cost(decision)))

    tallies = heldout.evaluate(split, {"own": own, "spare": spare})
    assert tallies["own"].summary().mean_regret == 0.0 < tallies["spare"].summary().mean_regret
    assert tallies["spare"].summary().mean_cost_regret == 0.0 < tallies["own"].summary().mean_cost_regret
