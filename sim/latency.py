"""Per-request latency distributions: exact percentiles and samples.

A distribution is L = stretch x S + B x W, with S lognormal (the pod alone: `median`, `sigma`), B ~ Bernoulli(q)
and W ~ Exponential(tau) (the delays some requests suffer). `sim.interference` sets the parameters from pressures;
this module only does the arithmetic. Percentiles are solved by bisection on the exact survival function (the body's
normal tail in closed form, the delayed requests' term by Gauss-Legendre over the body), never derived from one
another; samples are drawn from the same distribution, so sample percentiles converge to the solved ones.
Vectorised over any array shape. Pure; randomness only from the generator passed in.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

Z99 = NormalDist().inv_cdf(0.99)
PERCENTILES = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Latency:
    """Parameters of per-request latency distributions (arrays of one shape), in ms."""

    median: np.ndarray
    sigma: np.ndarray
    alone_p99: np.ndarray
    """P99 without interference (the base distribution's), the denominator of a slowdown."""
    stretch: np.ndarray
    q: np.ndarray
    tau: np.ndarray


def quantiles(model: Latency, probabilities: Sequence[float] = PERCENTILES) -> np.ndarray:
    """Percentiles of each distribution, solved from its exact survival function; shape (*model, len(probabilities))."""
    probs = np.asarray(probabilities, dtype=float)
    shape = model.median.shape
    mu = np.log(model.median).reshape(-1, 1)
    sigma, stretch = model.sigma.reshape(-1, 1), model.stretch.reshape(-1, 1)
    q, tau = model.q.reshape(-1, 1), np.maximum(model.tau.reshape(-1, 1), 1e-12)
    tail_mass = 1.0 - probs
    z_p = np.array([NormalDist().inv_cdf(p) for p in probs])
    result = stretch * np.exp(mu + sigma * z_p)
    rows = np.flatnonzero(q[:, 0] > 0.0)
    if rows.size:
        mu, sigma, stretch, q, tau = mu[rows], sigma[rows], stretch[rows], q[rows], tau[rows]
        lo = result[rows]
        quarter = stretch * np.exp(mu + sigma * np.array([NormalDist().inv_cdf(1.0 - m / 4) for m in tail_mass]))
        hi = quarter + tau * np.maximum(0.0, np.log(np.maximum(2.0 * q / tail_mass, 1e-300)))
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            above = _survival(mid, (mu, sigma, stretch, q, tau)) > tail_mass
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        result[rows] = 0.5 * (lo + hi)
    return result.reshape(*shape, len(probs))


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)
_Z_FLOOR = -8.5


def _survival(x: np.ndarray, shape: tuple[np.ndarray, ...]) -> np.ndarray:
    """P(L > x): the body's exact normal tail, plus the delayed requests' term by Gauss-Legendre over the body."""
    mu, sigma, stretch, q, tau = shape
    z_x = (np.log(x / stretch) - mu) / sigma
    upper = np.maximum(z_x, _Z_FLOOR)
    half = 0.5 * (upper - _Z_FLOOR)
    z = _Z_FLOOR + half[..., None] * (_NODES + 1.0)
    density = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    waits = np.exp(-(x[..., None] - stretch[..., None] * np.exp(mu[..., None] + sigma[..., None] * z)) / tau[..., None])
    delayed = half * np.sum(_WEIGHTS * density * np.minimum(waits, 1.0), axis=-1)
    return normal_sf(z_x) + q * delayed


_ERFC = (
    0.17087277,
    -0.82215223,
    1.48851587,
    -1.13520398,
    0.27886807,
    -0.18628806,
    0.09678418,
    0.37409196,
    1.00002368,
    -1.26551223,
)


def normal_sf(z: np.ndarray) -> np.ndarray:
    """Standard normal survival function (Numerical Recipes' erfc, relative error below 1.2e-7)."""
    x = np.abs(z) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = np.zeros_like(t)
    for coefficient in _ERFC:
        poly = poly * t + coefficient
    erfc = t * np.exp(-x * x + poly)
    return np.where(z >= 0, 0.5 * erfc, 1.0 - 0.5 * erfc)


def sample(model: Latency, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` request latencies (ms) from each distribution; shape (*model, n)."""
    shape = (*model.median.shape, n)
    body = model.stretch[..., None] * np.exp(
        np.log(model.median)[..., None] + model.sigma[..., None] * rng.standard_normal(shape)
    )
    delayed = rng.random(shape) < model.q[..., None]
    return body + np.where(delayed, rng.exponential(1.0, shape) * model.tau[..., None], 0.0)
