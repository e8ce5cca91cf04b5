"""Batch normalization and layer normalization (cs231n contract), batch-major, float64.

Batchnorm normalizes every feature (column) over the batch; layernorm normalizes every sample (row)
over its features. Both compute ``out = gamma * xhat + beta`` with ``xhat = (x - mean) / sqrt(var + eps)``
and the *biased* variance (divide by the number of averaged entries, not by that number minus one).

Two batchnorm backwards are given: :func:`batchnorm_backward` walks the computational graph one node
at a time, :func:`batchnorm_backward_closed_form` is the three-term formula. They must agree.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape

_MODES = ("train", "eval")


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    return float(eps)


def _check_x_gamma_beta(x, gamma, beta):
    """x as (N, D) float64, gamma and beta as (D,) float64; all finite."""
    x = as_array(x, "x", 2)
    gamma = as_array(gamma, "gamma", 1)
    beta = as_array(beta, "beta", 1)
    D = x.shape[1]
    expect_shape(gamma, (D,), "gamma")
    expect_shape(beta, (D,), "beta")
    for arr, name in ((x, "x"), (gamma, "gamma"), (beta, "beta")):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
    return x, gamma, beta


def _check_running(stat, name: str, D: int, default: float) -> np.ndarray:
    """A running statistic as a fresh (D,) float64 array (``default`` everywhere when ``stat`` is None)."""
    if stat is None:
        return np.full(D, default, dtype=np.float64)
    arr = as_array(stat, name, 1)
    expect_shape(arr, (D,), name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr.copy()


# --------------------------------------------------------------------------- batchnorm
def batchnorm_forward(x, gamma, beta, *, mode: str = "train", eps: float = 1e-5, momentum: float = 0.9,
                      running_mean=None, running_var=None):
    """Batch normalization over the batch axis.

    Args:
        x: (N, D) inputs; N >= 2 in train mode (the batch variance of one row is 0).
        gamma: (D,) scale. beta: (D,) shift.
        mode: "train" normalizes with the batch statistics, "eval" with the running statistics.
        eps: > 0, added to the variance.
        momentum: in [0, 1]; train mode returns ``momentum * old + (1 - momentum) * batch``.
        running_mean: (D,) or None (train mode then starts from zeros); required in eval mode.
        running_var: (D,) or None (train mode then starts from ones); required in eval mode, >= 0.

    Returns:
        out: (N, D) = gamma * xhat + beta.
        cache: dict. ``cache["running_mean"]`` (D,) and ``cache["running_var"]`` (D,) hold the NEW running
        statistics (new arrays; the arguments are never mutated). The other entries are for the backward:
        "x" (N,D), "mu" (D,), "xc" (N,D), "var" (D,), "std" (D,), "inv_std" (D,), "xhat" (N,D), "gamma" (D,).
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    x, gamma, beta = _check_x_gamma_beta(x, gamma, beta)
    eps = _check_eps(eps)
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
    N, D = x.shape

    if mode == "train":
        if N < 2:
            raise ValueError(f"batchnorm in train mode needs a batch of N >= 2 rows, got x of shape {x.shape}")
        old_mean = _check_running(running_mean, "running_mean", D, 0.0)
        old_var = _check_running(running_var, "running_var", D, 1.0)
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc**2).mean(axis=0)  # biased: divide by N
        new_mean = momentum * old_mean + (1.0 - momentum) * mu
        new_var = momentum * old_var + (1.0 - momentum) * var
    else:
        if running_mean is None or running_var is None:
            raise ValueError("eval mode needs running_mean and running_var (from training)")
        mu = _check_running(running_mean, "running_mean", D, 0.0)
        var = _check_running(running_var, "running_var", D, 1.0)
        if np.any(var < 0):
            raise ValueError("running_var must be >= 0")
        xc = x - mu
        new_mean, new_var = mu.copy(), var.copy()

    std = np.sqrt(var + eps)
    inv_std = 1.0 / std
    xhat = xc * inv_std
    out = gamma * xhat + beta
    cache = {"kind": "batchnorm", "mode": mode, "eps": eps, "x": x, "gamma": gamma, "mu": mu, "xc": xc,
             "var": var, "std": std, "inv_std": inv_std, "xhat": xhat,
             "running_mean": new_mean, "running_var": new_var}
    return out, cache


def _unpack(dout, cache, kind: str):
    if not isinstance(cache, dict) or cache.get("kind") != kind:
        raise TypeError(f"cache must be the dict returned by {kind}_forward")
    dout = as_array(dout, "dout", 2)
    expect_shape(dout, cache["x"].shape, "dout")
    return dout


def batchnorm_backward(dout, cache):
    """Batchnorm backward, staged node by node through the forward graph.

    Forward graph (train mode), per feature column, N rows:
        mu = mean(x);  xc = x - mu;  var = mean(xc**2);  std = sqrt(var + eps);  inv_std = 1 / std;
        xhat = xc * inv_std;  out = gamma * xhat + beta.
    In eval mode mu and var are constants (the running statistics), so only ``xhat = xc * inv_std``
    depends on x.

    Args:
        dout: (N, D) upstream gradient. cache: from batchnorm_forward.
    Returns:
        dx: (N, D); dgamma: (D,); dbeta: (D,).
    """
    dout = _unpack(dout, cache, "batchnorm")
    gamma, xc, xhat = cache["gamma"], cache["xc"], cache["xhat"]
    std, inv_std = cache["std"], cache["inv_std"]
    N = dout.shape[0]

    # out = gamma * xhat + beta: d out/d beta = 1, d out/d gamma = xhat, d out/d xhat = gamma.
    # beta and gamma are broadcast over the batch, so their gradients sum over it.
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma

    # xhat = xc * inv_std: d/d xc = inv_std (elementwise), d/d inv_std = xc (inv_std is shared by the column).
    dxc = dxhat * inv_std
    if cache["mode"] == "eval":
        # mu and var are running statistics: constants, so x reaches out only through xc = x - mu.
        return dxc, dgamma, dbeta
    dinv_std = (dxhat * xc).sum(axis=0)

    # inv_std = 1 / std: local derivative -1 / std**2.
    dstd = -dinv_std / std**2

    # std = sqrt(var + eps): local derivative 1 / (2 * std).
    dvar = dstd / (2.0 * std)

    # var = mean(xc**2): d var / d xc_i = 2 * xc_i / N. xc fans out (into xhat and var): add both paths.
    dxc = dxc + dvar * 2.0 * xc / N

    # xc = x - mu: d xc/d x = 1, d xc/d mu = -1 (mu is shared by the column, so sum over the batch).
    dmu = -dxc.sum(axis=0)

    # mu = mean(x): d mu / d x_i = 1 / N. x fans out (into xc and mu): add both paths.
    dx = dxc + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_closed_form(dout, cache):
    """Batchnorm backward by the three-term formula (train mode).

        dxhat = gamma * dout                       (not dout: out = gamma * xhat + beta)
        dx = 1 / (N * std) * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
    with sums over the batch and std = sqrt(var + eps). The second term comes from the mean, the third
    from the variance. In eval mode the statistics are constants and dx = dxhat / std.

    Args:
        dout: (N, D) upstream gradient. cache: from batchnorm_forward.
    Returns:
        dx: (N, D); dgamma: (D,); dbeta: (D,).
    """
    dout = _unpack(dout, cache, "batchnorm")
    gamma, xhat, inv_std = cache["gamma"], cache["xhat"], cache["inv_std"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = gamma * dout
    if cache["mode"] == "eval":
        return dxhat * inv_std, dgamma, dbeta
    dx = (inv_std / N) * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------- layernorm
def layernorm_forward(x, gamma, beta, eps: float = 1e-5):
    """Layer normalization: every row of x normalized over its D features (no running statistics).

    Args:
        x: (N, D) inputs, any N >= 1. gamma: (D,) scale. beta: (D,) shift. eps: > 0.
    Returns:
        out: (N, D) = gamma * xhat + beta with xhat = (x - mean_row) / sqrt(var_row + eps) (biased var).
        cache: dict with "x" (N,D), "gamma" (D,), "xhat" (N,D), "inv_std" (N,1).
    """
    x, gamma, beta = _check_x_gamma_beta(x, gamma, beta)
    eps = _check_eps(eps)
    mu = x.mean(axis=1, keepdims=True)  # (N, 1)
    xc = x - mu
    var = (xc**2).mean(axis=1, keepdims=True)  # (N, 1)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv_std
    out = gamma * xhat + beta
    return out, {"kind": "layernorm", "x": x, "gamma": gamma, "xhat": xhat, "inv_std": inv_std}


def layernorm_backward(dout, cache):
    """Layernorm backward: batchnorm's three-term formula with the roles of the axes swapped.

        dxhat = gamma * dout
        dx = 1 / (D * std_row) * (D * dxhat - sum_row(dxhat) - xhat * sum_row(dxhat * xhat))
    gamma and beta are still shared by the batch, so their gradients sum over the rows.

    Args:
        dout: (N, D) upstream gradient. cache: from layernorm_forward.
    Returns:
        dx: (N, D); dgamma: (D,); dbeta: (D,).
    """
    dout = _unpack(dout, cache, "layernorm")
    gamma, xhat, inv_std = cache["gamma"], cache["xhat"], cache["inv_std"]
    D = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = gamma * dout
    dx = (inv_std / D) * (D * dxhat - dxhat.sum(axis=1, keepdims=True)
                          - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta
