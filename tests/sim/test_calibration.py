"""The interference model against the KubeMarla measurements: P99 per antagonist kind and count, and the counters.

The interquartile ranges are computed here from the CSV the repository ships (`data/interference-measurements.csv`,
the same file `sim.calibration` reads).
"""

import csv
import math
from collections import defaultdict

import numpy as np
import pytest

from sim import calibration, calibration_fit, interference, latency
from sim.calibration import Mix

SINGLE = [Mix(n, 0, 0) for n in range(1, 5)] + [Mix(0, n, 0) for n in range(1, 5)] + [Mix(0, 0, n) for n in range(1, 5)]
MIXES = [Mix(1, 1, 0), Mix(1, 0, 1), Mix(1, 1, 1), Mix(1, 2, 0), Mix(2, 2, 0), Mix(0, 2, 2), Mix(2, 2, 2), Mix(3, 1, 0)]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with calibration.DATA.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def measured(rows: list[dict[str, str]]) -> dict[Mix, calibration.Measured]:
    return calibration.measured(rows)


@pytest.fixture(scope="module")
def modelled() -> dict[Mix, calibration.Modelled]:
    rng = np.random.default_rng(11)
    return {mix: calibration.modelled(mix, rng=rng) for mix in [Mix(0, 0, 0), *SINGLE, *MIXES]}


def single_kind_iqr(rows: list[dict[str, str]], mix: Mix) -> tuple[float, float]:
    """The IQR of the CSV's own `p99_slowdown` over the runs of one single-kind mix, straight from the rows."""
    values = [
        float(r["p99_slowdown"])
        for r in rows
        if r["p99_slowdown"] and calibration.mix_of(r) == mix and r["campaign"].startswith(calibration.SAME_PROTOCOL)
    ]
    q25, q75 = np.percentile(values, [25, 75])
    return float(q25), float(q75)


@pytest.mark.parametrize("mix", [pytest.param(m, id=f"{m.label} antagonists") for m in SINGLE])
def test_p99_slowdown_of_one_antagonist_kind_lies_in_the_measured_iqr(
    rows: list[dict[str, str]], modelled: dict[Mix, calibration.Modelled], mix: Mix
) -> None:
    low, high = single_kind_iqr(rows, mix)
    assert low <= modelled[mix].p99 <= high


@pytest.mark.parametrize("mix", [pytest.param(m, id=f"{m.label} mixed") for m in MIXES])
def test_p99_slowdown_of_a_mix_lies_in_the_measured_iqr(
    measured: dict[Mix, calibration.Measured], modelled: dict[Mix, calibration.Modelled], mix: Mix
) -> None:
    assert measured[mix].runs >= 20
    assert measured[mix].p99.contains(modelled[mix].p99)


@pytest.mark.parametrize("mix", [pytest.param(m, id=m.label) for m in SINGLE])
def test_the_cross_campaign_baseline_used_for_mixes_reproduces_the_csv_slowdowns(
    rows: list[dict[str, str]], mix: Mix
) -> None:
    reference = defaultdict(list)
    for r in rows:
        if calibration.mix_of(r) == Mix(0, 0, 0):
            reference[(r["replicas"], r["rps"])].append(float(r["p99_ms"]))
    same = [r for r in rows if calibration.mix_of(r) == mix and r["campaign"].startswith(calibration.SAME_PROTOCOL)]
    ratios = [float(r["p99_ms"]) / np.median(reference[(r["replicas"], r["rps"])]) for r in same]
    low, high = single_kind_iqr(rows, mix)
    assert np.percentile(ratios, 25) == pytest.approx(low, rel=0.12)
    assert np.percentile(ratios, 75) == pytest.approx(high, rel=0.12)


@pytest.mark.parametrize("mix", [pytest.param(m, id=m.label) for m in SINGLE + MIXES])
def test_the_median_moves_as_measured(
    measured: dict[Mix, calibration.Measured], modelled: dict[Mix, calibration.Modelled], mix: Mix
) -> None:
    """CPU antagonists leave the median alone and grow the tail; cache thrashers move the whole distribution."""
    assert modelled[mix].p50 == pytest.approx(measured[mix].p50.median, rel=0.3)


@pytest.mark.parametrize(
    "mix", [pytest.param(m, id=m.label) for m in (Mix(1, 0, 0), Mix(0, 2, 0), Mix(0, 0, 4), Mix(2, 2, 2))]
)
def test_sampled_requests_give_the_predicted_percentiles(mix: Mix) -> None:
    state = calibration.nuc_cluster(mix)
    nginx = state.pod("default/nginx")
    model = interference.for_pod(nginx.profile, state.nodes["minikube"].hardware, state.pressure(nginx, "minikube"))
    samples = latency.sample(model, 400_000, np.random.default_rng(5))
    assert np.percentile(samples, [50, 90, 95, 99]) == pytest.approx(latency.quantiles(model), rel=0.03)


def direction(before: float, after: float, flat: float = 0.15) -> int:
    change = after / before - 1.0
    return 0 if abs(change) < flat else int(np.sign(change))


KINDS = {"CPU": lambda n: Mix(n, 0, 0), "L3": lambda n: Mix(0, n, 0), "memBW": lambda n: Mix(0, 0, n)}


@pytest.mark.parametrize("metric", ["cpi", "llc_miss_rate", "memory_bandwidth_gbps"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("count", [1, 4])
def test_telemetry_moves_the_way_the_counters_do(
    measured: dict[Mix, calibration.Measured],
    modelled: dict[Mix, calibration.Modelled],
    metric: str,
    kind: str,
    count: int,
) -> None:
    """From baseline to one and to four antagonists of a kind: up, down or flat (within 15 %) in both."""
    base, mix = Mix(0, 0, 0), KINDS[kind](count)
    expected = direction(measured[base].telemetry[metric], measured[mix].telemetry[metric])
    assert direction(modelled[base].telemetry[metric], modelled[mix].telemetry[metric]) == expected


@pytest.mark.parametrize("kind", list(KINDS))
def test_cpu_utilisation_rises_with_every_antagonist_kind(
    measured: dict[Mix, calibration.Measured], modelled: dict[Mix, calibration.Modelled], kind: str
) -> None:
    for table in (measured, modelled):
        series = [table[KINDS[kind](n)].telemetry["cpu_utilization"] for n in range(5)]
        assert series[4] > series[1] > series[0]


def test_the_cpi_confound_lower_cpi_marks_the_worse_node(
    measured: dict[Mix, calibration.Measured], modelled: dict[Mix, calibration.Modelled]
) -> None:
    """System-wide CPI falls when CPU-bound antagonists run, while nginx's P99 grows: in the data and in the model."""
    quiet, busy = Mix(0, 0, 0), Mix(4, 0, 0)
    for table in (measured, modelled):
        assert table[busy].telemetry["cpi"] < 0.85 * table[quiet].telemetry["cpi"]
    assert measured[busy].p99.median > 5 and modelled[busy].p99 > 5


def test_the_excluded_campaigns_still_contradict_the_others(rows: list[dict[str, str]]) -> None:
    """Why mixes compare with the Memento campaigns only: elsewhere adding antagonists made nginx faster."""
    found = calibration.contradictions(rows)
    assert Mix(2, 0, 1) in found
    other, subset = found[Mix(2, 0, 1)]
    assert other.q75 < subset.q25


def test_the_cap_is_above_every_measured_median(measured: dict[Mix, calibration.Measured]) -> None:
    """The measured 19x of the 2+2+2 mix wins over the literature's 10x."""
    worst = max(m.p99.median for m in measured.values())
    assert 15 < worst < interference.MAX_P99_SLOWDOWN < 30


def test_the_shipped_constants_are_a_fit_and_refitting_does_not_undo_them(
    measured: dict[Mix, calibration.Measured],
) -> None:
    objective = calibration_fit.Objective(measured)
    shipped = objective(interference.CALIBRATION)
    assert shipped < 2.5
    refitted = objective(calibration_fit.fit(measured, iterations=40))
    assert refitted < shipped or math.isclose(refitted, shipped, rel_tol=1e-12)


def test_a_refit_that_finds_nothing_better_hands_back_the_shipped_constants_bit_for_bit(
    measured: dict[Mix, calibration.Measured],
) -> None:
    """exp(log(x)) can be an ULP off x: a refit from the optimum must not move the constants or their loss."""
    assert calibration_fit.fit(measured, iterations=40) == interference.CALIBRATION


def test_the_minimiser_keeps_its_start_when_it_is_the_minimum_and_leaves_it_when_not() -> None:
    start = np.log([40.5, 1.24, 18.3])
    stays = calibration_fit.minimise(lambda x: float(np.sum((x - start) ** 2)), start, iterations=200)
    moves = calibration_fit.minimise(lambda x: float(np.sum((x - start - 0.3) ** 2)), start, iterations=400)
    assert np.array_equal(stays, start)
    assert moves == pytest.approx(start + 0.3, abs=1e-3)


def test_the_training_calibration_is_the_fit_without_the_held_out_campaigns(rows: list[dict[str, str]]) -> None:
    """The learned scorer's labels come from constants fitted without the campaigns it is evaluated on."""
    kept = calibration.not_held_out(rows)
    assert {r["campaign"] for r in rows} - {r["campaign"] for r in kept} == set(calibration.HELD_OUT_CAMPAIGNS)
    held_in = calibration_fit.Objective(calibration.measured(kept))
    everything = calibration_fit.Objective(calibration.measured(rows))
    assert held_in(interference.TRAINING_CALIBRATION) < held_in(interference.CALIBRATION)
    assert everything(interference.CALIBRATION) < everything(interference.TRAINING_CALIBRATION)
