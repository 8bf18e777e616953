"""Leave one fine-tuning campaign out: the held-out campaigns are never read, every fine-tuning pair is scored once."""

import json
from pathlib import Path

import pytest

from sim.calibration import HELD_OUT_CAMPAIGNS
from training import counters, loco, lofo, train

GROUPS = counters.load()


def test_only_the_fine_tuning_campaigns_are_trained_on_or_scored() -> None:
    usable = counters.fine_tuning(GROUPS)
    assert {g.campaign for g in usable} == {g.campaign for g in GROUPS} - set(HELD_OUT_CAMPAIGNS)
    assert set(HELD_OUT_CAMPAIGNS) <= {g.campaign for g in GROUPS}  # the split has something to leave out


def test_each_campaign_is_left_out_once_per_seed_and_scored_on_all_its_pairs() -> None:
    result = loco.folds(GROUPS, seeds=[3], decisions=8, epochs=1)
    usable = counters.fine_tuning(GROUPS)
    expected = {c: sum(len(g.pairs()) for g in usable if g.campaign == c) for c in {g.campaign for g in usable}}
    assert {f.campaign: f.pairs for f in result} == expected
    assert [f.seed for f in result] == [3] * len(expected)
    assert all(0 <= f.correct <= f.pairs for f in result)
    assert loco.pooled(result) == pytest.approx(sum(f.correct for f in result) / sum(expected.values()))


def test_the_command_writes_its_folds_and_refuses_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "loco.json"
    assert loco.main(["--seed", "3", "--decisions", "8", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["settings"]["seeds"] == [3]
    assert {f["campaign"] for f in body["folds"]}.isdisjoint(HELD_OUT_CAMPAIGNS)
    assert "held-out campaigns not read" in capsys.readouterr().out
    assert body["settings"]["stacks"] == 0.0
    assert body["settings"]["real_weight"] == train.REAL_WEIGHT
    assert loco.main(["--decisions", "0"]) == 2
    assert loco.main(["--counters", str(tmp_path / "missing.csv")]) == 2


def test_a_share_of_stacks_outside_0_to_1_is_refused_by_every_training_command(capsys: pytest.CaptureFixture) -> None:
    for command in (loco.main, lofo.main, train.main):
        with pytest.raises(SystemExit) as exit_:
            command(["--stacks", "1.5"])
        assert exit_.value.code == 2
        assert "1.5: give a share from 0 to 1" in capsys.readouterr().err


def test_a_real_weight_that_is_not_a_finite_positive_number_is_refused(capsys: pytest.CaptureFixture) -> None:
    for command in (loco.main, lofo.main, train.main):
        for bad in ("0", "-3", "nan", "inf"):
            with pytest.raises(SystemExit) as exit_:
                command(["--real-weight", bad])
            assert exit_.value.code == 2
            assert f"{bad}: give a finite weight above 0" in capsys.readouterr().err
