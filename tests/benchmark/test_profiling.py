"""py-spy's collapsed stacks summarised per function: own time and time anywhere on the stack."""

from pathlib import Path

import pytest

from benchmark.profiling import hot_spots

RAW = """\
<module> (scheduler.py:10);decide (/repo/scoring/decide.py:150);run_filters (/repo/scoring/runtime.py:95) 6
<module> (scheduler.py:10);decide (/repo/scoring/decide.py:150);run_scores (/repo/scoring/runtime.py:160) 3
<module> (scheduler.py:10);_work (/repo/runtime/loop.py:180);pop (/repo/runtime/queue.py:110) 1
"""


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "profile.raw"
    path.write_text(RAW)
    return path


def test_shares_are_of_all_samples_and_name_the_file_from_the_repository_root(raw: Path) -> None:
    spots = hot_spots(raw)
    assert spots["samples"] == 10
    assert spots["self"][0] == {"function": "run_filters (scoring/runtime.py)", "share": pytest.approx(0.6)}
    total = {s["function"]: s["share"] for s in spots["total"]}
    assert total["decide (scoring/decide.py)"] == pytest.approx(0.9)
    assert total["<module> (scheduler.py)"] == pytest.approx(1.0)


def test_within_keeps_only_the_stacks_through_that_function(raw: Path) -> None:
    spots = hot_spots(raw, within="decide (scoring/decide.py)")
    assert spots["samples"] == 9
    functions = [s["function"] for s in spots["self"]]
    assert functions == ["run_filters (scoring/runtime.py)", "run_scores (scoring/runtime.py)"]
    assert spots["self"][1]["share"] == pytest.approx(3 / 9, abs=1e-4)


def test_an_empty_profile_has_no_hot_spots(tmp_path: Path) -> None:
    empty = tmp_path / "empty.raw"
    empty.write_text("")
    assert hot_spots(empty) == {"samples": 0, "self": [], "total": []}
