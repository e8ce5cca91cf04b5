"""Pictures for notebook 05 (forward vs reverse mode): finite-difference error, expression swell, memory.

- :func:`plot_fd_errors` draws the error of forward and centred differences against the step h on log-log
  axes, with guide lines of slope 1, 2 (truncation) and -1 (round-off): the V shape.
- :func:`plot_expression_swell` draws operation counts against nesting depth on a log scale (symbolic
  derivative as a tree, after common-subexpression elimination, the function itself).
- :func:`plot_checkpoint_costs` draws the activations alive at the peak and the layer forward calls against
  the number of layers N, for plain backprop and for checkpointing.

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

EPS = float(np.finfo(np.float64).eps)


def _positive(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _guide(ax, hs: np.ndarray, errs: np.ndarray, fit: tuple[float, float], slope: float, label: str,
           color: str, offset: float = 1.0) -> None:
    """A dashed line err = offset * C * h**slope, with C the median of err / h**slope over h in ``fit`` (so
    the line runs parallel to the data where that law holds, ``offset`` times above it)."""
    inside = (hs >= fit[0]) & (hs <= fit[1]) & (errs > 1e-16)
    if not inside.any():
        return
    C = offset * float(np.median(errs[inside] / hs[inside] ** slope))
    span = hs[(hs >= fit[0] / 1e3) & (hs <= fit[1] * 1e3)] if slope < 0 else hs[hs >= fit[0] / 1e2]
    ax.loglog(span, C * span ** slope, "--", color=color, linewidth=1, alpha=0.7, label=label)


def plot_fd_errors(hs: Sequence[float], err_forward: Sequence[float], err_centred: Sequence[float], *,
                   title: str = "Finite-difference error against the step h", size=(6.4, 4.2)):
    """Log-log plot of |approximation - exact| against h for forward and centred differences.

    Zero errors (exact by luck) are drawn at 1e-17 so the curves stay connected. Guide lines: slope 1
    (truncation of the forward difference), slope 2 (truncation of the centred one), and eps / h
    (round-off), fitted to the data (the truncation guides drawn a little above their curves) so the eye
    can compare slopes.
    """
    hs = _positive("hs", hs)
    ef = np.maximum(_positive("err_forward", err_forward), 1e-17)
    ec = np.maximum(_positive("err_centred", err_centred), 1e-17)
    if not (hs.size == ef.size == ec.size):
        raise ValueError(f"hs, err_forward and err_centred need the same length, got {hs.size}, {ef.size}, {ec.size}")
    if np.any(hs <= 0):
        raise ValueError("step sizes must be positive")
    order = np.argsort(hs)
    hs, ef, ec = hs[order], ef[order], ec[order]
    fig, ax = plt.subplots(figsize=size)
    ax.loglog(hs, ef, "o-", markersize=3, color="tab:blue", label="forward  (f(x+h) - f(x)) / h")
    ax.loglog(hs, ec, "s-", markersize=3, color="tab:orange", label="centred  (f(x+h) - f(x-h)) / 2h")
    _guide(ax, hs, ef, (1e-5, 1e-2), 1.0, "slope 1: truncation ~ h", "navy", offset=8.0)
    _guide(ax, hs, ec, (1e-3, 1e-1), 2.0, "slope 2: truncation ~ h²", "saddlebrown", offset=8.0)
    _guide(ax, hs, np.maximum(ef, ec), (1e-13, 1e-10), -1.0, "slope -1: round-off ~ eps / h", "black")
    ax.set_xlabel("step h")
    ax.set_ylabel("|approximation - f'(x)|")
    ax.set_ylim(1e-14, 1e1)
    ax.set_title(title, fontsize=10)
    ax.text(0.03, 0.06, "round-off wins ←", transform=ax.transAxes, fontsize=8, color="0.3")
    ax.text(0.97, 0.06, "→ truncation wins", transform=ax.transAxes, fontsize=8, color="0.3", ha="right")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    return fig


def plot_expression_swell(depths: Sequence[int], series: Mapping[str, Sequence[float]], *,
                          title: str = "Size of the derivative against nesting depth", size=(6.0, 4.0)):
    """Operation counts against depth, one line per entry of ``series`` (log y axis)."""
    depths = np.asarray(depths)
    if not series:
        raise ValueError("plot_expression_swell needs at least one series")
    fig, ax = plt.subplots(figsize=size)
    markers = "os^vD*"
    for i, (name, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.shape != depths.shape:
            raise ValueError(f"series {name!r} has {values.size} values for {depths.size} depths")
        ax.semilogy(depths, np.maximum(values, 1), marker=markers[i % len(markers)], markersize=4, label=name)
    ax.set_xlabel("depth k (f applied k times)")
    ax.set_ylabel("operations (count_ops)")
    ax.set_xticks(depths)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_checkpoint_costs(Ns: Sequence[int], full_memory: Sequence[float], checkpoint_memory: Sequence[float],
                          full_calls: Sequence[float], checkpoint_calls: Sequence[float], *, size=(9.0, 3.6)):
    """Two panels against the number of layers N: activations alive at the peak, and layer forward calls.

    The memory panel adds the guide 2 sqrt(N); the compute panel the guides N (one forward pass) and 2N.
    """
    Ns = np.asarray(Ns, dtype=np.float64)
    arrays = [np.asarray(a, dtype=np.float64) for a in (full_memory, checkpoint_memory, full_calls,
                                                          checkpoint_calls)]
    if any(a.shape != Ns.shape for a in arrays):
        raise ValueError("every series needs one value per N")
    fm, cm, fc, cc = arrays
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=size)
    ax1.plot(Ns, fm, "o-", markersize=4, label="store everything")
    ax1.plot(Ns, cm, "s-", markersize=4, label="checkpoint every k = isqrt(N)")
    grid = np.linspace(Ns.min(), Ns.max(), 200)
    ax1.plot(grid, 2 * np.sqrt(grid), "k--", linewidth=1, alpha=0.6, label="2 sqrt(N)")
    ax1.set_xlabel("layers N")
    ax1.set_ylabel("activations alive at the peak")
    ax1.set_title("Memory", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(True, alpha=0.3)
    ax2.plot(Ns, fc, "o-", markersize=4, label="store everything")
    ax2.plot(Ns, cc, "s-", markersize=4, label="checkpointing")
    ax2.plot(grid, 2 * grid, "k--", linewidth=1, alpha=0.6, label="2N (two forward passes)")
    ax2.set_xlabel("layers N")
    ax2.set_ylabel("layer forward calls")
    ax2.set_title("Compute", fontsize=10)
    ax2.legend(fontsize=8)
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
