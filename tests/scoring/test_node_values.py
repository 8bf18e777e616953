"""Per-node values keyed by name, built on first read: what a decision carries for `decide --json`."""

import numpy as np

from scoring.framework import NodeValues


def test_values_map_the_feasible_nodes_by_name_rounded_as_asked() -> None:
    values = NodeValues(("a", "b", "c"), np.array([2, 0]), np.array([0.126, 0.5]), decimals=2)
    assert dict(values) == {"c": 0.13, "a": 0.5}
    assert len(values) == 2
    assert "b" not in values


def test_a_function_of_the_values_runs_once_and_only_when_the_mapping_is_read() -> None:
    calls: list[int] = []

    def labels() -> np.ndarray:
        calls.append(1)
        return np.array(["quiet", "cpu-bound"])

    values = NodeValues(("a", "b"), np.array([0, 1]), labels, decimals=None)
    assert len(values) == 2
    assert calls == []
    assert values["b"] == "cpu-bound"
    assert dict(values) == {"a": "quiet", "b": "cpu-bound"}
    assert calls == [1]
