"""Pictures for notebook 06 (backpropagation through time).

- :func:`plot_norms_by_lag`: ||dL/dh_{T-1-k}|| against the lag k on a log axis, one line per recurrent matrix,
  with optional dashed guides rho**k (the linear-regime prediction from the spectral radius).
- :func:`draw_unrolled`: a scalar RNN unrolled over a few steps, forward values above each state and the BPTT
  gradient below it, with the two paths (loss term and next state) that meet at every hidden state.

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

_TINY = 1e-300


def plot_norms_by_lag(curves: Mapping[str, Sequence[float]], *, guides: Mapping[str, float] | None = None,
                      title: str = "", figsize: tuple[float, float] = (6.0, 3.6)):
    """curves: label -> norms (norms[k] at lag k, k = 0..T). guides: label -> rho, drawn as norms[0] * rho**k
    (dashed) for the curve with the same label. Returns the Figure."""
    if not curves:
        raise ValueError("curves is empty")
    fig, ax = plt.subplots(figsize=figsize)
    for name, values in curves.items():
        y = np.asarray(values, dtype=np.float64).ravel()
        if y.size == 0:
            raise ValueError(f"curve {name!r} is empty")
        k = np.arange(y.size)
        shown = np.where(np.isfinite(y), np.maximum(np.abs(y), _TINY), np.nan)
        (line,) = ax.semilogy(k, shown, marker="o", markersize=3, linewidth=1.5, label=name)
        if guides and name in guides:
            rho = float(guides[name])
            ax.semilogy(k, np.maximum(abs(y[0]) * rho ** k, _TINY), linestyle="--", linewidth=1,
                        color=line.get_color(), label=f"{rho:.3g}^k guide")
    ax.set_xlabel("time lag k (steps back from the scored state)")
    ax.set_ylabel("||dL/dh||")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def draw_unrolled(h: Sequence[float], dh: Sequence[float], *, loss_grads: Sequence[float] | None = None,
                  title: str = "scalar RNN unrolled", figsize: tuple[float, float] | None = None):
    """Draw h_0 -> h_1 -> ... -> h_T with value h[t] above and total gradient dL/dh_t = dh[t] below each state.

    h, dh: sequences of the same length T+1 (index 0 is h_0). loss_grads: optional length T+1 direct gradients
    dL_t/dh_t of the loss terms (index 0 unused), written on the edges to the loss boxes. Returns the Figure.
    """
    h = [float(v) for v in h]
    dh = [float(v) for v in dh]
    if len(h) != len(dh) or len(h) < 2:
        raise ValueError("h and dh must have the same length >= 2")
    n = len(h)
    fig, ax = plt.subplots(figsize=figsize or (2.4 * n, 2.8))
    for t in range(n):
        ax.add_patch(plt.Circle((t, 0), 0.28, fill=False, linewidth=1.5))
        ax.text(t, 0, f"h{t}", ha="center", va="center", fontsize=11)
        ax.text(t, 0.42, f"h={h[t]:.4g}", ha="center", va="bottom", fontsize=8, color="tab:blue")
        ax.text(t, -0.42, f"dL/dh={dh[t]:.4g}", ha="center", va="top", fontsize=8, color="tab:red")
        if t > 0:
            ax.annotate("", xy=(t - 0.3, 0), xytext=(t - 0.7, 0),
                        arrowprops=dict(arrowstyle="->", linewidth=1.2))
            ax.text(t - 0.5, 0.08, "w", ha="center", fontsize=8)
            ax.add_patch(plt.Rectangle((t - 0.22, 0.95), 0.44, 0.3, fill=False))
            ax.text(t, 1.1, f"L{t}", ha="center", va="center", fontsize=9)
            ax.annotate("", xy=(t, 0.95), xytext=(t, 0.65), arrowprops=dict(arrowstyle="->", linewidth=1))
            if loss_grads is not None:
                ax.text(t + 0.06, 0.8, f"{float(loss_grads[t]):.4g}", fontsize=7, color="tab:red")
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(-0.9, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
