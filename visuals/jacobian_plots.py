"""Pictures for notebook 04 (Jacobians and VJPs): Jacobian heatmaps and the cost of forming J.

- :func:`plot_jacobians` draws several Jacobians side by side as heatmaps (zero entries blank), so the
  diagonal of an elementwise op, the dense softmax Jacobian and the 0/1 routing matrix of max-pooling can be
  compared at a glance.
- :func:`plot_vjp_cost` draws memory and time of "form J, then u^T J" against "compute u^T J directly" for
  growing n on log-log axes.

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm


def _as_matrix(name: str, J) -> np.ndarray:
    J = np.asarray(J, dtype=np.float64)
    if J.ndim == 1:
        J = J[None, :]
    if J.ndim != 2:
        raise ValueError(f"{name}: a Jacobian to plot must be 2-D (outputs x inputs), got shape {J.shape}")
    if J.size == 0:
        raise ValueError(f"{name}: empty Jacobian")
    return J


def plot_jacobians(jacobians: Mapping[str, np.ndarray], *, annotate_max: int = 8, size: float = 2.6):
    """Heatmaps of 2-D Jacobians (rows = outputs, columns = inputs), one panel per entry of ``jacobians``.

    Zero entries are left white so the sparsity pattern stands out; positive entries are red, negative blue
    (a colour scale centred at 0 per panel). Matrices with at most ``annotate_max`` rows and columns get their
    values written in the cells. Each title gives the shape and how many entries are non-zero.
    """
    if not jacobians:
        raise ValueError("plot_jacobians needs at least one Jacobian")
    mats = {name: _as_matrix(name, J) for name, J in jacobians.items()}
    fig, axes = plt.subplots(1, len(mats), figsize=(size * len(mats), size + 0.5), squeeze=False)
    for ax, (name, J) in zip(axes[0], mats.items()):
        vmax = float(np.max(np.abs(J))) or 1.0
        shown = np.ma.masked_where(J == 0, J)
        cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
        ax.imshow(shown, cmap=cmap, norm=TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax), interpolation="nearest")
        rows, cols = J.shape
        ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
        ax.grid(which="minor", color="0.85", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelsize=7)
        ax.set_xticks(range(cols) if cols <= 12 else [])
        ax.set_yticks(range(rows) if rows <= 12 else [])
        if rows <= annotate_max and cols <= annotate_max:
            for (i, j), v in np.ndenumerate(J):
                if v != 0:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(v) > 0.6 * vmax else "black")
        nnz = int(np.count_nonzero(J))
        ax.set_title(f"{name}\n{rows}x{cols}, {nnz} of {J.size} non-zero", fontsize=8)
        ax.set_xlabel("input j", fontsize=7)
        ax.set_ylabel("output i", fontsize=7)
    fig.tight_layout()
    return fig


def plot_vjp_cost(ns: Sequence[int], jac_bytes: Sequence[float], vjp_bytes: Sequence[float],
                  jac_seconds: Sequence[float] | None = None, vjp_seconds: Sequence[float] | None = None):
    """Log-log curves: peak bytes (and, if given, seconds) of forming J then u^T J versus a direct VJP."""
    ns = np.asarray(ns, dtype=np.float64)
    series = [("peak memory (bytes)", jac_bytes, vjp_bytes)]
    if jac_seconds is not None and vjp_seconds is not None:
        series.append(("time (seconds)", jac_seconds, vjp_seconds))
    for _, a, b in series:
        if len(a) != len(ns) or len(b) != len(ns):
            raise ValueError("every series needs one value per n")
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.2), squeeze=False)
    for ax, (label, a, b) in zip(axes[0], series):
        a = np.maximum(np.asarray(a, dtype=np.float64), 1e-12)
        b = np.maximum(np.asarray(b, dtype=np.float64), 1e-12)
        ax.loglog(ns, a, "o-", color="tab:red", label="form J, then u @ J")
        ax.loglog(ns, b, "s-", color="tab:blue", label="VJP without J")
        ax.set_xlabel("n (length of the vector)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
