"""Regime labels: the worst known dimension names a contended node; too little measured is `unknown`."""

import numpy as np
import pytest

from scoring.regimes import Regime, regimes
from tests.scoring.transformer.helpers import QUIET, snapshot, state


def label(**metrics: float) -> str:
    return str(regimes(snapshot([state("a", **metrics)]).metrics)[0])


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        pytest.param({}, Regime.UNKNOWN, id="nothing measured is unknown, not quiet"),
        pytest.param({"cpu_utilization": 0.2}, Regime.UNKNOWN, id="cpu alone is too little to call a node quiet"),
        pytest.param({"cpu_utilization": 0.2, "llc_miss_rate": 0.06}, Regime.QUIET, id="cpu and cache known, calm"),
        pytest.param(QUIET, Regime.QUIET, id="a calm node with every counter"),
        pytest.param({**QUIET, "llc_miss_rate": 0.3}, Regime.LLC, id="a thrashed cache"),
        pytest.param({**QUIET, "memory_bandwidth_ratio": 0.9}, Regime.MEMBW, id="saturated memory bandwidth"),
        pytest.param({"cpu_utilization": 0.2, "memory_bandwidth_gbps": 19.0}, Regime.MEMBW, id="GB/s without a ratio"),
        pytest.param({**QUIET, "cpu_utilization": 0.98}, Regime.CPU, id="busy CPUs"),
        pytest.param({**QUIET, "psi_io_some": 60.0}, Regime.IO, id="IO stalls"),
        pytest.param({**QUIET, "llc_miss_rate": 0.2, "psi_io_some": 60.0}, Regime.IO, id="the worst dimension wins"),
        pytest.param({**QUIET, "cpi": 5.0}, Regime.QUIET, id="CPI is not read (it falls under CPU antagonists)"),
    ],
)
def test_labels(metrics: dict[str, float], expected: Regime) -> None:
    assert label(**metrics) == expected.value


def test_non_finite_values_are_unknown_not_saturated() -> None:
    metrics = snapshot([state("a", **QUIET)]).metrics.copy()
    metrics[0, :, :] = np.inf
    assert str(regimes(metrics)[0]) == Regime.UNKNOWN.value
