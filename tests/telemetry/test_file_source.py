import json
import logging
import os
from pathlib import Path

import pytest

from cluster.nodestate import Summary
from telemetry.sources.file import FileSource


def _state(node: str, mean: float) -> dict:
    return {
        "version": 1,
        "node": node,
        "timestamp": "2027-01-15T08:00:00Z",
        "window_seconds": 30,
        "metrics": {"llc_miss_rate": {"mean": mean, "std": 0.0, "p95": mean}},
        "sources": {"perf": True},
    }


def _write(path: Path, data: object, *, mtime: int) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    os.utime(path, ns=(mtime, mtime))


def test_reads_states_keyed_by_node_and_rereads_on_change(tmp_path: Path) -> None:
    path = tmp_path / "nodestates.json"
    _write(path, {"worker-1": _state("worker-1", 0.2), "worker-2": _state("worker-2", 0.4)}, mtime=1)
    source = FileSource(str(path))
    source.start()
    assert source.states()["worker-2"].metrics["llc_miss_rate"] == Summary(0.4, 0.0, 0.4)
    _write(path, {"worker-1": _state("worker-1", 0.9)}, mtime=2)
    states = source.states()
    assert set(states) == {"worker-1"} and states["worker-1"].value("llc_miss_rate") == 0.9
    assert not source.refresh()  # unchanged: no re-read
    source.stop()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param('{"worker-1": {"version": 1,', "unreadable", id="a half-written file"),
        pytest.param("[1, 2]", "not a JSON object keyed by node name", id="a list instead of a map"),
        pytest.param('{"w": ' + "[" * 100_000 + "]" * 100_000 + "}", "unreadable", id="nesting past the stack"),
    ],
)
def test_a_bad_rewrite_keeps_the_previous_states(
    tmp_path: Path, content: str, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "nodestates.json"
    _write(path, {"worker-1": _state("worker-1", 0.2)}, mtime=1)
    source = FileSource(str(path))
    source.start()
    _write(path, content, mtime=2)
    with caplog.at_level(logging.WARNING):
        assert source.states()["worker-1"].value("llc_miss_rate") == 0.2
        source.states()
    assert sum(problem in r.getMessage() for r in caplog.records) == 1


def test_each_state_is_validated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "nodestates.json"
    _write(path, {"worker-1": _state("worker-1", 1.5), "worker-2": _state("worker-3", 0.1)}, mtime=1)
    with caplog.at_level(logging.WARNING):
        states = FileSource(str(path)).states()
    assert states["worker-1"].metrics == {} and states["worker-2"].metrics == {}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "llc_miss_rate has an invalid value" in messages and "names node 'worker-3'" in messages


def test_a_missing_file_means_every_node_unknown(tmp_path: Path) -> None:
    path = tmp_path / "nodestates.json"
    source = FileSource(str(path))
    assert source.states() == {}
    _write(path, {"worker-1": _state("worker-1", 0.2)}, mtime=1)
    assert source.states()["worker-1"].known
    path.unlink()
    assert source.states() == {}
