"""Pictures for notebook 13 (backprop at tensor level). NumPy and matplotlib only.

- :func:`draw_broadcast`: a bias broadcast over the rows of a batch, and its gradient summed back over them;
- :func:`draw_embedding`: an embedding lookup with a repeated id, forward and backward arrows;
- :func:`plot_huber_and_bce`: the Huber loss and its clipped slope next to r**2/2 and |r|; where the textbook
  -log(1 - sigmoid(z)) breaks down in float64;
- :func:`plot_dropout_average`: x against the average of many dropout outputs;
- :func:`plot_training`: a loss curve and a decision boundary;
- :func:`plot_fp16_range`: gradient magnitudes against float16's ranges (flushed, subnormal, normal, overflow);
- :func:`plot_mixed_precision`: loss and loss scale per step of mixed-precision runs.

Nothing here computes an exercise's answer: the functions draw data they are given, or call a function they are
given (the learner's).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

__all__ = ["draw_broadcast", "draw_embedding", "plot_huber_and_bce", "plot_dropout_average", "plot_training",
           "decision_grid", "plot_fp16_range", "plot_mixed_precision"]

_BLUE, _ORANGE, _GREY, _RED, _GREEN = "#4C72B0", "#DD8452", "#8C8C8C", "#C44E52", "#55A868"


def _grid(ax, arr: np.ndarray, x0: float, y0: float, *, color: str, alpha: float = 1.0, fmt: str = "{:g}",
          label: str = "") -> None:
    """Draw a 2-D array as a grid of unit cells with its numbers; (x0, y0) is the top-left corner."""
    arr = np.atleast_2d(arr)
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            ax.add_patch(Rectangle((x0 + j, y0 - i - 1), 1, 1, facecolor=color, alpha=0.25 * alpha,
                                   edgecolor=color, lw=1.2))
            ax.text(x0 + j + 0.5, y0 - i - 0.5, fmt.format(arr[i, j]), ha="center", va="center", fontsize=10,
                    alpha=max(alpha, 0.35))
    if label:
        ax.text(x0 + arr.shape[1] / 2, y0 + 0.35, label, ha="center", va="bottom", fontsize=10)


def draw_broadcast(x: np.ndarray, b: np.ndarray, dout: np.ndarray):
    """Left: out = x + b with b (M,) copied onto every row of x (N, M). Right: the upstream gradient dout (N, M);
    each column's entries all reach the same b[j], so the arrows gather them into db[j]."""
    x, b, dout = (np.asarray(a, dtype=np.float64) for a in (x, b, dout))
    N, M = x.shape
    fig, ax = plt.subplots(figsize=(11, 3.2))
    _grid(ax, x, 0, N, color=_BLUE, label=f"x {x.shape}")
    ax.text(M + 0.5, N / 2, "+", fontsize=18, ha="center", va="center")
    _grid(ax, b[None, :], M + 1, N, color=_ORANGE, label=f"b {b.shape}")
    for i in range(1, N):
        _grid(ax, b[None, :], M + 1, N - i, color=_ORANGE, alpha=0.35)
    ax.text(M + 1 + M / 2, -0.3, "copies of b (never stored)", ha="center", va="top", fontsize=9, color=_GREY)
    ox = 2 * M + 3
    _grid(ax, dout, ox, N, color=_GREEN, label=f"dout {dout.shape}")
    for j in range(M):
        for i in range(N):
            ax.add_patch(FancyArrowPatch((ox + j + 0.5, N - i - 0.75), (ox + j + 0.5, -0.65), arrowstyle="-|>",
                                         mutation_scale=9, color=_GREY, lw=0.8, alpha=0.6,
                                         connectionstyle=f"arc3,rad={0.15 * (i - (N - 1) / 2)}"))
        ax.add_patch(Rectangle((ox + j, -1.7), 1, 1, facecolor=_ORANGE, alpha=0.25, edgecolor=_ORANGE))
        ax.text(ox + j + 0.5, -1.2, f"db[{j}]", ha="center", va="center", fontsize=9)
    ax.text(ox + M + 0.3, -1.2, "= sum of its column", ha="left", va="center", fontsize=9)
    ax.set_xlim(-0.5, ox + M + 4)
    ax.set_ylim(-2.2, N + 1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A broadcast operand is reused: its gradient sums over the broadcast axis", fontsize=11)
    fig.tight_layout()
    return fig


def draw_embedding(V: int, idx: Sequence[int]):
    """An embedding table of V rows and the positions p = 0, 1, ... that look up rows idx[p]. Forward arrows go
    from row idx[p] to position p; in the backward each arrow carries dout[p] back, so a row looked up twice
    receives two contributions that must ADD."""
    idx = [int(i) for i in idx]
    fig, ax = plt.subplots(figsize=(8, 0.7 * max(V, len(idx)) + 1.2))
    counts = {v: idx.count(v) for v in set(idx)}
    for v in range(V):
        used = counts.get(v, 0)
        color = _RED if used > 1 else (_BLUE if used else _GREY)
        ax.add_patch(Rectangle((0, V - v - 1), 2.4, 0.8, facecolor=color, alpha=0.2, edgecolor=color))
        ax.text(1.2, V - v - 0.6, f"W[{v}]" + (f"  used {used}x" if used > 1 else ""), ha="center", va="center",
                fontsize=10)
    for p, v in enumerate(idx):
        y = V - p - 1
        ax.add_patch(Rectangle((6, y), 2.4, 0.8, facecolor=_GREEN, alpha=0.2, edgecolor=_GREEN))
        ax.text(7.2, y + 0.4, f"out[{p}] (id {v})", ha="center", va="center", fontsize=10)
        ax.add_patch(FancyArrowPatch((2.5, V - v - 0.6), (5.9, y + 0.4), arrowstyle="-|>", mutation_scale=10,
                                     color=_GREY, lw=1))
        ax.add_patch(FancyArrowPatch((5.9, y + 0.25), (2.5, V - v - 0.75), arrowstyle="-|>", mutation_scale=10,
                                     color=_RED if counts[v] > 1 else _GREEN, lw=1, ls="--"))
    ax.text(4.2, max(V, len(idx)) + 0.1, "forward: copy a row   /   backward (dashed): dout[p] flows back",
            ha="center", fontsize=9)
    ax.set_xlim(-0.3, 8.7)
    ax.set_ylim(min(V, len(idx)) - max(V, len(idx)) - 0.5, max(V, len(idx)) + 0.6)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_huber_and_bce(delta: float = 1.0):
    """Left: Huber (delta), r**2/2 and |r|, with the Huber slope (clipped to +-delta). Right: the textbook
    binary cross-entropy for y = 0, -log(1 - sigmoid(z)), evaluated in float64: 1 - sigmoid(z) rounds to 0 for
    z above about 37, so the loss becomes inf there, although its true value is about z."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    r = np.linspace(-3, 3, 601)
    huber = np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
    ax = axes[0]
    ax.plot(r, 0.5 * r * r, color=_GREY, ls=":", label="r²/2 (MSE)")
    ax.plot(r, np.abs(r), color=_GREY, ls="--", label="|r| (L1)")
    ax.plot(r, huber, color=_BLUE, lw=2, label=f"Huber, delta = {delta:g}")
    ax.plot(r, np.clip(r, -delta, delta), color=_ORANGE, lw=2, label="Huber's slope dl/dr")
    ax.axvspan(-delta, delta, color=_BLUE, alpha=0.06)
    ax.set_ylim(-1.6, 3.2)
    ax.set_xlabel("residual r = pred - target")
    ax.legend(fontsize=8, loc="upper center")
    ax.set_title("Huber: quadratic inside, linear (slope ±delta) outside", fontsize=10)
    ax = axes[1]
    z = np.linspace(0, 60, 1201)
    with np.errstate(divide="ignore"):
        naive = -np.log(1.0 - 1.0 / (1.0 + np.exp(-z)))
    finite = np.isfinite(naive)
    ax.plot(z, z, color=_GREY, ls="--", label="≈ z (the true value for large z)")
    ax.plot(z[finite], naive[finite], color=_RED, lw=2, label="-log(1 - sigmoid(z)) in float64")
    first_inf = z[~finite][0] if (~finite).any() else None
    if first_inf is not None:
        ax.axvline(first_inf, color=_RED, ls=":")
        ax.text(first_inf + 1, 8, f"inf from z ≈ {first_inf:.1f}", color=_RED, fontsize=9)
    ax.set_xlabel("logit z (target y = 0)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("BCE through probabilities breaks for a confident wrong logit", fontsize=10)
    fig.tight_layout()
    return fig


def plot_dropout_average(x: np.ndarray, average: np.ndarray, n_draws: int, p_drop: float):
    """Bars: each unit's input x and the average of its dropout output over n_draws forward passes."""
    x, average = np.ravel(x), np.ravel(average)
    fig, ax = plt.subplots(figsize=(7, 3))
    pos = np.arange(x.size)
    ax.bar(pos - 0.2, x, width=0.4, color=_BLUE, label="x")
    ax.bar(pos + 0.2, average, width=0.4, color=_ORANGE, label=f"mean of {n_draws} dropout outputs")
    ax.set_xticks(pos)
    ax.set_xlabel("unit")
    ax.set_title(f"Inverted dropout, p_drop = {p_drop:g}: the expected output is x", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def decision_grid(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, resolution: int = 150,
                  margin: float = 0.4):
    """(xx, yy, labels) with labels = predict(points) on a resolution x resolution grid around X (N, 2)."""
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    labels = np.asarray(predict(np.column_stack([xx.ravel(), yy.ravel()]))).reshape(xx.shape)
    return xx, yy, labels


def plot_training(losses: Sequence[float], X: np.ndarray, y: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                  title: str = ""):
    """Left: the loss at every step (log scale). Right: the classes ``predict`` assigns on a grid, and the data."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    ax.plot(np.arange(len(losses)), losses, color=_BLUE)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("loss curve", fontsize=10)
    ax = axes[1]
    xx, yy, labels = decision_grid(predict, X)
    ax.contourf(xx, yy, labels, alpha=0.25, cmap="viridis", levels=np.arange(int(np.max(y)) + 2) - 0.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="viridis", s=12, edgecolors="k", linewidths=0.3)
    ax.set_title("decision regions" + (f": {title}" if title else ""), fontsize=10)
    ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def plot_fp16_range(samples: Mapping[str, np.ndarray]):
    """Histograms of log2|g| (nonzero entries) for each labelled array, on float16's map: below 2**-25 a value
    rounds to 0, [2**-24, 2**-14) is subnormal (few significant bits), up to 65504 normal, above that inf."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    lo_edge, hi_edge = -60, 20
    ax.axvspan(lo_edge, -25, color=_RED, alpha=0.10)
    ax.axvspan(-25, -14, color=_ORANGE, alpha=0.12)
    ax.axvspan(np.log2(65504.0), hi_edge, color=_RED, alpha=0.10)
    ax.text(-43, 0.96, "rounds to 0", transform=ax.get_xaxis_transform(), ha="center", fontsize=9, color=_RED)
    ax.text(-19.5, 0.96, "subnormal", transform=ax.get_xaxis_transform(), ha="center", fontsize=9, color=_ORANGE)
    ax.text(18, 0.96, "inf", transform=ax.get_xaxis_transform(), ha="center", fontsize=9, color=_RED)
    bins = np.arange(lo_edge, hi_edge + 1, 1.0)
    colors = [_BLUE, _GREEN, _ORANGE, _GREY]
    for (name, values), color in zip(samples.items(), colors):
        v = np.abs(np.ravel(np.asarray(values, dtype=np.float64)))
        v = v[v > 0]
        if v.size:
            ax.hist(np.clip(np.log2(v), lo_edge, hi_edge), bins=bins, alpha=0.55, color=color, label=name)
    ax.set_xlim(lo_edge, hi_edge)
    ax.set_xlabel("log2 |value|")
    ax.set_ylabel("entries")
    ax.legend(fontsize=8, loc="center left")
    ax.set_title("float16 keeps 2**-24 .. 65504: scaling by S shifts every value right by log2(S)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_mixed_precision(runs: Mapping[str, Mapping]):
    """For each run ({"losses": [...], "scales": [...], "skipped": [step, ...]}): the loss per step (left) and the
    loss scale per step, skipped steps marked (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for (name, run), color in zip(runs.items(), [_BLUE, _ORANGE, _GREEN, _GREY]):
        losses = np.asarray(run["losses"], dtype=np.float64)
        axes[0].plot(np.arange(losses.size), losses, color=color, label=name)
        scales = np.asarray(run.get("scales", []), dtype=np.float64)
        if scales.size:
            axes[1].plot(np.arange(scales.size), scales, color=color, label=name)
            skipped = [s for s in run.get("skipped", []) if s < scales.size]
            if skipped:
                axes[1].scatter(skipped, scales[skipped], color=_RED, s=14, zorder=3)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].legend(fontsize=8)
    axes[0].set_title("training loss", fontsize=10)
    axes[1].set_yscale("log", base=2)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("loss scale S")
    axes[1].set_title("loss scale (red: skipped steps)", fontsize=10)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
