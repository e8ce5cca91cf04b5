"""Small 2-D classification data sets for training demos: interleaved spirals and two moons.

Both take the caller's ``numpy.random.Generator`` (no global RNG state) and return
``X`` (N, 2) float64 and ``y`` (N,) int64 labels, grouped by class (shuffle with the rng if a
minibatch order matters). Neither class set is linearly separable, so a linear classifier fails and a
one-hidden-layer ReLU network succeeds: a quick end-to-end test of a hand-written backward.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["make_spirals", "make_moons"]


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")


def _check_count(n, name: str, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {n!r}")
    return int(n)


def _check_noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def make_spirals(rng: np.random.Generator, n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2):
    """K interleaved spiral arms in the unit disc (the cs231n spiral).

    Arm k has n points with radius r_i = i / (n - 1) (from the centre out) and angle
    t_i = 4k + 4 r_i + noise * N(0, 1), so point i is r_i * (sin t_i, cos t_i). The first point of every arm
    is the origin, so at most N - (n_classes - 1) points can be classified correctly (298 of 300 for 3 x 100).

    Args:
        rng: Generator for the angle noise. n_per_class: >= 2. n_classes: >= 2. noise: >= 0 (radians).
    Returns:
        X: (n_classes * n_per_class, 2); y: (n_classes * n_per_class,) labels 0..n_classes-1.
    """
    _check_rng(rng)
    n = _check_count(n_per_class, "n_per_class", 2)
    K = _check_count(n_classes, "n_classes", 2)
    noise = _check_noise(noise)
    r = np.linspace(0.0, 1.0, n)
    X = np.empty((n * K, 2))
    y = np.repeat(np.arange(K, dtype=np.int64), n)
    for k in range(K):
        t = 4.0 * k + 4.0 * r + noise * rng.standard_normal(n)
        X[k * n:(k + 1) * n] = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return X, y


def make_moons(rng: np.random.Generator, n_samples: int = 200, noise: float = 0.1):
    """Two interleaving half circles.

    Class 0: (cos t, sin t) for t in [0, pi] (upper arc); class 1: (1 - cos t, 0.5 - sin t) (lower arc,
    shifted right); both plus noise * N(0, I). Class 0 gets the extra point when n_samples is odd.

    Args:
        rng: Generator for the noise. n_samples: >= 2. noise: standard deviation >= 0.
    Returns:
        X: (n_samples, 2); y: (n_samples,) labels in {0, 1}.
    """
    _check_rng(rng)
    N = _check_count(n_samples, "n_samples", 2)
    noise = _check_noise(noise)
    n0 = N - N // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, N // 2)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(N // 2, dtype=np.int64)])
    return X, y
