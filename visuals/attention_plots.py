"""Pictures for notebook 10 (attention).

- :func:`draw_attention_graph`: the graph of scaled dot-product attention (Q, K -> S -> P -> out <- V) with the
  shapes in the boxes and, on every edge, the gradient that flows back along it (as a formula), via
  visuals.graph;
- :func:`plot_attention_weights`: a heatmap of one (Tq, Tk) matrix of attention weights, masked pairs hatched;
- :func:`measure_scores` and :func:`plot_score_scaling`: the variance of q . k and the largest softmax weight
  against the key width d, raw and scaled by 1/sqrt(d) (a Monte Carlo measurement with the Generator you pass);
- :func:`plot_score_memory`: the bytes of one T x T score matrix against T, next to a GPU's memory.

NumPy and matplotlib only (no reference_impl: the plots also run where only the notebook's public material
exists). Every function returns a matplotlib Figure (or a dict of numbers) and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from visuals.graph import draw_graph

__all__ = ["attention_graph_spec", "draw_attention_graph", "plot_attention_weights", "measure_scores",
           "plot_score_scaling", "plot_score_memory"]


def attention_graph_spec(Tq: str = "Tq", Tk: str = "Tk", d: str = "d", dv: str = "dv") -> dict:
    """A graph description (for visuals.graph.draw_graph) of out = softmax(Q K^T / sqrt(d)) V for one batch
    item: node values are shapes, node grads name the gradient arrays, edge grads give the formula of the
    gradient flowing back along each edge (dO = dL/dout)."""
    def node(shape, grad, op=""):
        return {"value": shape, "grad": grad, "op": op}

    nodes = {"Q": node(f"({Tq}, {d})", "dQ"), "K": node(f"({Tk}, {d})", "dK"), "V": node(f"({Tk}, {dv})", "dV"),
             "S": node(f"({Tq}, {Tk})", "dS", "Q K^T / sqrt(d)"),
             "P": node(f"({Tq}, {Tk})", "dP", "softmax over keys, masked"),
             "out": node(f"({Tq}, {dv})", "dO", "P V")}
    edges = [("Q", "S", "dS K / sqrt(d)"), ("K", "S", "dS^T Q / sqrt(d)"),
             ("S", "P", "P * (dP - rowsum(dP * P))"), ("P", "out", "dO V^T"), ("V", "out", "P^T dO")]
    return {"nodes": nodes, "edges": edges}


def draw_attention_graph(*, title: str | None = None):
    """Draw the attention graph of :func:`attention_graph_spec`."""
    return draw_graph(attention_graph_spec(), title=title or "scaled dot-product attention: shapes (data) and "
                                                               "gradients (red: what flows back along each edge)")


def plot_attention_weights(P, *, mask=None, tokens: Sequence[str] | None = None, title: str | None = None,
                           ax=None):
    """Heatmap of attention weights P (Tq, Tk): row i is query i's distribution over the keys (it sums to 1).

    ``mask`` (Tq, Tk) boolean, True = keep: masked pairs are hatched and should hold exactly 0. ``tokens`` label
    both axes when Tq = Tk = len(tokens). Each cell shows its weight with two decimals.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or not np.all(np.isfinite(P)):
        raise ValueError(f"P must be a finite (Tq, Tk) array, got shape {P.shape}")
    Tq, Tk = P.shape
    if mask is not None:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), P.shape)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.7 * Tk + 2.2, 0.6 * Tq + 1.2))
    else:
        fig = ax.figure
    im = ax.imshow(P, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(Tq):
        for j in range(Tk):
            if mask is not None and not mask[i, j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", color="0.6",
                                           linewidth=0))
                ax.text(j, i, "0" if P[i, j] == 0 else f"{P[i, j]:.2g}!", ha="center", va="center", fontsize=7,
                        color="0.4" if P[i, j] == 0 else "red")
            else:
                ax.text(j, i, f"{P[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if P[i, j] > 0.6 else "black")
    if tokens is not None and len(tokens) == Tq == Tk:
        ax.set_xticks(range(Tk), tokens, rotation=45)
        ax.set_yticks(range(Tq), tokens)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    ax.set_title(title or "attention weights P (rows sum to 1)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def _softmax_rows(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def measure_scores(dims: Sequence[int], rng: np.random.Generator, *, n_samples: int = 5000,
                   n_keys: int = 16) -> dict[str, np.ndarray]:
    """Monte Carlo, for each key width d: the sample variance of q . k with i.i.d. N(0, 1) entries, raw and
    divided by sqrt(d) (n_samples pairs), and the mean largest softmax weight of one query over n_keys random
    keys (n_samples // 10 queries), raw and scaled. Returns "d", "var_raw", "var_scaled", "max_p_raw",
    "max_p_scaled" (arrays of len(dims))."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    d = np.asarray(dims)
    if d.ndim != 1 or d.size == 0 or d.dtype.kind not in "iu" or d.min() < 1:
        raise ValueError(f"dims must be positive integers, got {dims!r}")
    out = {"d": d.astype(np.int64)}
    for key in ("var_raw", "var_scaled", "max_p_raw", "max_p_scaled"):
        out[key] = np.empty(d.size)
    n_q = max(1, n_samples // 10)
    for i, di in enumerate(d):
        q, k = rng.standard_normal((n_samples, di)), rng.standard_normal((n_samples, di))
        dots = np.sum(q * k, axis=1)
        out["var_raw"][i] = np.var(dots)
        out["var_scaled"][i] = np.var(dots / np.sqrt(di))
        qs, ks = rng.standard_normal((n_q, 1, di)), rng.standard_normal((n_q, n_keys, di))
        s = np.sum(qs * ks, axis=-1)
        out["max_p_raw"][i] = _softmax_rows(s).max(axis=-1).mean()
        out["max_p_scaled"][i] = _softmax_rows(s / np.sqrt(di)).max(axis=-1).mean()
    return out


def plot_score_scaling(stats: dict, *, n_keys: int = 16):
    """Two panels from :func:`measure_scores`: Var(q . k) against d (log-log, with the line Var = d), and the
    mean largest softmax weight against d (1 = one-hot, 1/n_keys = uniform)."""
    d = np.asarray(stats["d"], dtype=np.float64)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    a1.loglog(d, stats["var_raw"], "o-", label="raw q . k")
    a1.loglog(d, stats["var_scaled"], "s-", label="q . k / sqrt(d)")
    a1.loglog(d, d, "k:", linewidth=1, label="the line Var = d")
    a1.set_xlabel("key width d")
    a1.set_ylabel("sample variance")
    a1.set_title("variance of a score")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3, which="both")
    a2.semilogx(d, stats["max_p_raw"], "o-", label="raw scores")
    a2.semilogx(d, stats["max_p_scaled"], "s-", label="scaled by 1/sqrt(d)")
    a2.axhline(1.0, color="k", linestyle=":", linewidth=1)
    a2.axhline(1.0 / n_keys, color="gray", linestyle=":", linewidth=1)
    a2.set_ylim(0, 1.05)
    a2.set_xlabel("key width d")
    a2.set_ylabel(f"mean largest weight over {n_keys} keys")
    a2.set_title("how peaked the softmax gets")
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_score_memory(Ts: Sequence[int], *, B: int = 1, h: int = 1, bytes_per_value: int = 4,
                      gpu_gib: float = 80.0):
    """Bytes of one (B, h, T, T) score matrix against T (log-log) with a GPU's memory as a horizontal line."""
    T = np.asarray(Ts, dtype=np.float64)
    gib = B * h * T ** 2 * bytes_per_value / 2 ** 30
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.loglog(T, gib, "o-", label=f"B={B}, h={h}, {bytes_per_value} bytes per value")
    ax.axhline(gpu_gib, color="red", linestyle="--", linewidth=1, label=f"one GPU: {gpu_gib:g} GiB")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("GiB of ONE score matrix")
    ax.set_title("the T x T score matrix: x2 in T is x4 in memory")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
