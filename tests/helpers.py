"""Shared test helpers: seeded random arrays and VJP checks."""

from __future__ import annotations

import numpy as np

from reference_impl.gradcheck import numeric_vjp, rel_error


def rng_for(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def away_from_zero(rng: np.random.Generator, shape, low: float = 0.1, high: float = 2.0) -> np.ndarray:
    """Random float64 entries with |x| in [low, high]: keeps ReLU/leaky/max inputs away from kinks."""
    mag = rng.uniform(low, high, size=shape)
    return mag * rng.choice([-1.0, 1.0], size=shape)


def assert_vjp(f, x, analytic, dout, tol: float = 1e-7, name: str = "grad"):
    """Assert that ``analytic`` equals the numeric VJP of f at x with upstream ``dout``."""
    numeric = numeric_vjp(f, x, dout)
    assert analytic.shape == numeric.shape, f"{name}: shape {analytic.shape} != {numeric.shape}"
    err = rel_error(analytic, numeric)
    assert err < tol, f"{name}: rel_error {err:.3e} >= {tol:g}"
