"""Pictures for notebook 07 (batchnorm backward).

- :func:`plot_three_terms`: for one feature column, the three terms of
  dx = gamma / (N sigma) * (N dout - sum(dout) - xhat * sum(dout * xhat)) as bars per example, with their sum;
- :func:`draw_batchnorm_graph`: the staged computational graph of one feature column (mu, xc, var, std,
  inv_std, xhat, out) with the forward values in the boxes and the gradients of every node, via visuals.graph.

Both compute everything from their arguments with NumPy and return a matplotlib Figure (no plt.show()).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from visuals.graph import draw_graph

__all__ = ["three_terms", "plot_three_terms", "batchnorm_graph_spec", "draw_batchnorm_graph"]


def _column(v, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.size < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite 1-D column of at least 2 numbers")
    return a


def three_terms(x, gamma: float, dout, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """The three terms of dx for one column: "direct" gamma*dout/sigma, "mean" -gamma*sum(dout)/(N sigma),
    "variance" -gamma*xhat*sum(dout*xhat)/(N sigma), and "dx", their sum."""
    x, dout = _column(x, "x"), _column(dout, "dout")
    if x.shape != dout.shape:
        raise ValueError(f"x and dout must have the same length, got {x.size} and {dout.size}")
    N = x.size
    sigma = np.sqrt(x.var() + eps)
    xhat = (x - x.mean()) / sigma
    c = float(gamma) / (N * sigma)
    direct = c * N * dout
    mean = -c * dout.sum() * np.ones(N)
    var = -c * xhat * (dout * xhat).sum()
    return {"direct": direct, "mean": mean, "variance": var, "dx": direct + mean + var, "xhat": xhat}


def plot_three_terms(x, gamma: float, dout, eps: float = 1e-5, *, ax=None, title: str | None = None):
    """Grouped bars of the three terms of dx per example, with dx (their sum) as black diamonds."""
    t = three_terms(x, gamma, dout, eps)
    N = t["dx"].size
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(7.5, 0.9 * N + 4.5), 3.2))
    else:
        fig = ax.figure
    idx = np.arange(N)
    w = 0.26
    colors = {"direct": "#4c72b0", "mean": "#dd8452", "variance": "#55a868"}
    labels = {"direct": r"direct: $\gamma\,dy_i/\sigma$", "mean": r"mean: $-\gamma\sum_j dy_j/(N\sigma)$",
              "variance": r"variance: $-\gamma\,\hat x_i\sum_j dy_j\hat x_j/(N\sigma)$"}
    for k, name in enumerate(("direct", "mean", "variance")):
        ax.bar(idx + (k - 1) * w, t[name], width=w, color=colors[name], label=labels[name])
    ax.plot(idx, t["dx"], "D", color="black", label=r"$dx_i$ (sum)")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xticks(idx)
    ax.set_xticklabels([f"i={i}" for i in idx])
    ax.set_ylabel("contribution to dL/dx_i")
    ax.set_title(title or f"the three terms of batchnorm's dx (sum of dx = {t['dx'].sum():.1e})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def _short(v) -> str:
    a = np.atleast_1d(np.asarray(v, dtype=np.float64))
    return "[" + ", ".join(f"{u:.3g}" for u in a) + "]" if a.size > 1 else f"{a[0]:.4g}"


def batchnorm_graph_spec(x, gamma: float, beta: float, dout, eps: float = 1e-5) -> dict:
    """A graph description (for visuals.graph.draw_graph) of the staged batchnorm forward of one column, with
    every node's value and gradient (L = sum(dout * out)), computed here stage by stage."""
    x, dout = _column(x, "x"), _column(dout, "dout")
    N = x.size
    mu = x.mean()
    xc = x - mu
    var = (xc ** 2).mean()
    std = np.sqrt(var + eps)
    inv = 1.0 / std
    xhat = xc * inv
    out = gamma * xhat + beta
    dxhat = gamma * dout
    dgamma, dbeta = (dout * xhat).sum(), dout.sum()
    dinv = (dxhat * xc).sum()
    dstd = -dinv / std ** 2
    dvar = dstd / (2 * std)
    dxc = dxhat * inv + dvar * 2 * xc / N
    dmu = -dxc.sum()
    dx = dxc + dmu / N
    node = lambda v, g, op="": {"value": _short(v), "grad": _short(g), "op": op}  # noqa: E731
    nodes = {"x": node(x, dx), "mu": node(mu, dmu, "mean"), "xc": node(xc, dxc, "x - mu"),
             "var": node(var, dvar, "mean(xc^2)"), "std": node(std, dstd, "sqrt(var+eps)"),
             "inv_std": node(inv, dinv, "1/std"), "xhat": node(xhat, dxhat, "xc*inv_std"),
             "gamma": node(gamma, dgamma), "beta": node(beta, dbeta), "out": node(out, dout, "gamma*xhat+beta")}
    edges = [("x", "mu"), ("x", "xc"), ("mu", "xc"), ("xc", "var"), ("var", "std"), ("std", "inv_std"),
             ("xc", "xhat"), ("inv_std", "xhat"), ("xhat", "out"), ("gamma", "out"), ("beta", "out")]
    return {"nodes": nodes, "edges": edges}


def draw_batchnorm_graph(x, gamma: float, beta: float, dout, eps: float = 1e-5, *, title: str | None = None):
    """Draw the staged batchnorm graph of one column; node boxes show values and gradients (arrays shortened)."""
    spec = batchnorm_graph_spec(x, gamma, beta, dout, eps)
    return draw_graph(spec, title=title or "batchnorm, one feature column: values and gradients")
