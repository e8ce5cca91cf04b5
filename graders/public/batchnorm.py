"""Fixed inputs and demonstration code of notebook 07 (batchnorm), for the notebook's own cells.

The ``dout = ones`` experiment needs batchnorm backwards that are WRONG in known ways; they are here. The right
one is the learner's own (exercise 2): nothing in this module computes a correct batchnorm gradient.
"""

from typing import Any, Callable

import numpy as np


def trace_inputs() -> dict[str, Any]:
    """The fixed inputs of the hand trace: one feature column of N = 4 values, gamma, beta, dout, eps."""
    return {"x": np.array([1.0, 2.0, 4.0, 9.0]), "gamma": 2.0, "beta": 0.5,
            "dout": np.array([0.5, -1.0, 2.0, 0.25]), "eps": 1e-5}


DOUT_ONES_OPTIONS = ("missing_mean_term", "missing_var_term", "gamma_forgotten", "bessel", "sign_flip")
DOUT_ONES_DESCRIPTIONS = {
    "missing_mean_term": "dx = (dxhat - xhat * mean(dxhat * xhat)) / std: the -mean(dxhat) term is missing",
    "missing_var_term": "dx = (dxhat - mean(dxhat)) / std: the -xhat * mean(dxhat * xhat) term is missing",
    "gamma_forgotten": "dxhat = dout instead of gamma * dout",
    "bessel": "the exact gradient of a forward that divides the variance by N - 1",
    "sign_flip": "dx with the wrong sign",
}


def planted_batchnorm_backward(name: str) -> Callable[..., np.ndarray]:
    """A deliberately wrong train-mode batchnorm backward ``(dout, x, gamma, eps=1e-5) -> dx`` (columns of x
    (N, D) normalized over the batch), for the ``dout = ones`` experiment. ``name``: one of DOUT_ONES_OPTIONS."""
    if name not in DOUT_ONES_OPTIONS:
        raise ValueError(f"unknown planted backward {name!r}; choose from {DOUT_ONES_OPTIONS} (the right backward "
                         f"is your own batchnorm_backward)")

    def backward(dout, x, gamma, eps=1e-5):
        dout, x, gamma = (np.asarray(a, dtype=np.float64) for a in (dout, x, gamma))
        n = x.shape[0]
        ddof = 1 if name == "bessel" else 0
        xc = x - x.mean(axis=0)
        var = (xc ** 2).sum(axis=0) / (n - ddof)
        s = 1.0 / np.sqrt(var + eps)
        dxhat = dout if name == "gamma_forgotten" else dout * gamma
        c = 1.0 / (n - 1) if name == "bessel" else 1.0 / n
        dxc = dxhat * s
        if name != "missing_var_term":
            dxc = dxc - s ** 3 * c * xc * (dxhat * xc).sum(axis=0)
        if name != "missing_mean_term":
            dxc = dxc - dxc.mean(axis=0)
        return -dxc if name == "sign_flip" else dxc

    backward.__name__ = f"batchnorm_backward_{name}"
    backward.__doc__ = DOUT_ONES_DESCRIPTIONS[name]
    return backward
