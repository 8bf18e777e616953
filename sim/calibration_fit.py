"""Refit the interference model's constants to the KubeMarla measurements: `python -m sim.calibration_fit`.

How the shipped `interference.CALIBRATION` was obtained, so it can be redone when the data or the model change;
`--not-held-out` fits, from the same start, to the campaigns a learned scorer may learn from
(`interference.TRAINING_CALIBRATION`, which labels its training clusters).
The objective, over every same-protocol mix of `sim.calibration.measured`: squared log errors of nginx's P99 (weight
3), P50 (2) and P90 (1) slowdowns against the measured medians, a steep penalty (30) for a P99 outside the mix's
interquartile range shrunk by 4 %, and a soft one keeping `MAX_P99_SLOWDOWN` between 18x and 24x (above every
measured median, near the 2+2+2 mix's upper quartile). Pressures do not depend on the constants, so they are
computed once; each evaluation is one vectorised latency solve. Nelder-Mead (adaptive) over the logarithms of
`FITTED`, in numpy. The profiles' fitted figures (stressor intensities, memBW pollution) stay fixed here.
"""

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace

import numpy as np

from sim import calibration, interference, latency
from sim.calibration import Measured, Mix
from sim.interference import CALIBRATION, Calibration, Pressure

FITTED = (
    "cpu_gain",
    "cpu_power",
    "llc_gain",
    "llc_power",
    "membw_gain",
    "membw_power",
    "llc_body",
    "overlap",
    "q_max",
    "q_scale",
    "wait",
    "wait_power",
    "saturation",
    "spread",
)
LIMITS = {"llc_body": 1.0, "overlap": 0.35, "q_max": 0.5, "cpu_power": 3.0, "llc_power": 3.0, "membw_power": 3.0}
"""Upper bounds: shares stay shares, overlap stays well below additivity, powers stay moderate."""
CAP = (18.0, 24.0)


class Objective:
    """The calibration loss for constants, against one measured table."""

    def __init__(self, table: Mapping[Mix, Measured]) -> None:
        self.mixes = [mix for mix in table if mix != Mix(0, 0, 0)]
        self.table = table
        states = [calibration.nuc_cluster(mix) for mix in self.mixes]
        pressures = [state.pressure(state.pod("default/nginx"), "minikube") for state in states]
        self.pressure = interference.stack(pressures)
        self.nginx = states[0].pod("default/nginx").profile

    def percentiles(self, constants: Calibration) -> np.ndarray:
        """(mixes, 3): modelled P50, P90 and P99 slowdowns."""
        probabilities = (0.5, 0.9, 0.99)
        solved = latency.quantiles(
            interference.for_pod(self.nginx, None, self.pressure, calibration=constants), probabilities
        )
        zero = Pressure(*(np.zeros(1),) * 4)
        alone = latency.quantiles(interference.for_pod(self.nginx, None, zero, calibration=constants), probabilities)
        return solved / alone

    def __call__(self, constants: Calibration) -> float:
        if any(getattr(constants, name) > bound * (1 + 1e-9) for name, bound in LIMITS.items()):
            return math.inf
        model = np.log(self.percentiles(constants))
        target = np.log(
            [[self.table[m].p50.median, self.table[m].p90.median, self.table[m].p99.median] for m in self.mixes]
        )
        low = np.log([self.table[m].p99.q25 * 1.04 for m in self.mixes])
        high = np.log([self.table[m].p99.q75 / 1.04 for m in self.mixes])
        loss = float(np.sum(np.array([2.0, 1.0, 3.0]) * (model - target) ** 2))
        loss += 30.0 * float(np.sum(np.maximum(low - model[:, 2], 0.0) ** 2 + np.maximum(model[:, 2] - high, 0.0) ** 2))
        cap = interference.limit_p99_slowdown(constants)
        return loss + 0.5 * (max(CAP[0] - cap, 0.0) ** 2 + max(cap - CAP[1], 0.0) ** 2)


def fit(table: Mapping[Mix, Measured], *, start: Calibration = CALIBRATION, iterations: int = 3000) -> Calibration:
    """Constants minimising the objective, from `start` (with io following membw, as the data hold no IO).

    When nothing beats `start`, `start` itself comes back: exp(log(x)) may be an ULP off x, and a refit that found
    nothing better must not move the constants (or their loss) at all.
    """
    objective = Objective(table)

    def constants(x: np.ndarray) -> Calibration:
        values = {name: float(value) for name, value in zip(FITTED, np.exp(x), strict=True)}
        return replace(start, **values, io_gain=values["membw_gain"], io_power=values["membw_power"])

    x0 = np.log([getattr(start, n) for n in FITTED])
    best = minimise(lambda x: objective(constants(x)), x0, iterations=iterations)
    return start if np.array_equal(best, x0) else constants(best)


def minimise(f: Callable[[np.ndarray], float], x0: np.ndarray, *, iterations: int, step: float = 0.1) -> np.ndarray:
    """Adaptive Nelder-Mead (Gao & Han 2012 coefficients) from `x0`; returns the best vertex."""
    n = len(x0)
    alpha, gamma, rho, sigma = 1.0, 1.0 + 2.0 / n, 0.75 - 1.0 / (2 * n), 1.0 - 1.0 / n
    simplex = np.vstack([x0, x0 + step * np.eye(n)])
    values = np.array([f(x) for x in simplex])
    for _ in range(iterations):
        order = np.argsort(values)
        simplex, values = simplex[order], values[order]
        centre = simplex[:-1].mean(axis=0)
        reflected = centre + alpha * (centre - simplex[-1])
        value = f(reflected)
        if value < values[0]:
            expanded = centre + gamma * (reflected - centre)
            expanded_value = f(expanded)
            simplex[-1], values[-1] = (expanded, expanded_value) if expanded_value < value else (reflected, value)
        elif value < values[-2]:
            simplex[-1], values[-1] = reflected, value
        else:
            inside = value >= values[-1]
            contracted = centre + rho * ((simplex[-1] if inside else reflected) - centre)
            contracted_value = f(contracted)
            if contracted_value < min(value, values[-1]):
                simplex[-1], values[-1] = contracted, contracted_value
            else:
                simplex[1:] = simplex[0] + sigma * (simplex[1:] - simplex[0])
                values[1:] = [f(x) for x in simplex[1:]]
    return simplex[int(np.argmin(values))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--not-held-out",
        action="store_true",
        help="fit to the campaigns the learned scorer may learn from (interference.TRAINING_CALIBRATION)",
    )
    rows = calibration.load()
    table = calibration.measured(calibration.not_held_out(rows) if parser.parse_args().not_held_out else rows)
    before = Objective(table)(CALIBRATION)
    fitted = fit(table)
    print(f"objective {before:.4f} -> {Objective(table)(fitted):.4f}")
    for name, value in asdict(fitted).items():
        print(f"    {name}: float = {float(f'{value:.3g}')}")
