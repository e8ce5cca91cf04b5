"""Pictures for notebook 08 (vanishing and exploding gradients).

- :func:`plot_layer_curves` draws one quantity per layer (gradient norm, activation spread, ...) for several
  networks on a log axis, one line per network: vanishing shows as a line falling towards layer 1 (or
  towards the deep layers), exploding as a line rising.
- :func:`plot_panels` puts several such plots side by side (e.g. one panel per activation function).

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

_TINY = 1e-300


def _draw(ax, curves: Mapping[str, Sequence[float]], ylabel: str, title: str, xlabel: str,
          floor: float | None) -> None:
    for name, values in curves.items():
        y = np.asarray(values, dtype=np.float64).ravel()
        if y.size == 0:
            raise ValueError(f"curve {name!r} is empty")
        x = np.arange(1, y.size + 1)
        shown = np.where(np.isfinite(y), np.maximum(np.abs(y), _TINY if floor is None else floor), np.nan)
        ax.semilogy(x, shown, marker="o", markersize=3, linewidth=1.5, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)


def plot_layer_curves(curves: Mapping[str, Sequence[float]], *, ylabel: str = "gradient norm",
                      title: str = "", xlabel: str = "layer", floor: float | None = None,
                      figsize: tuple[float, float] = (6.0, 3.6)):
    """One line per entry of ``curves`` (label -> values for layers 1..L) on a log y axis.

    Zeros are drawn at ``floor`` (default: 1e-300) so that a dead or zero-initialised network stays visible.
    Returns the Figure.
    """
    if not curves:
        raise ValueError("curves is empty")
    fig, ax = plt.subplots(figsize=figsize)
    _draw(ax, curves, ylabel, title, xlabel, floor)
    fig.tight_layout()
    return fig


def plot_panels(panels: Mapping[str, Mapping[str, Sequence[float]]], *, ylabel: str = "",
                xlabel: str = "layer", floor: float | None = None, width: float = 5.0, height: float = 3.6):
    """Side-by-side :func:`plot_layer_curves` panels: ``panels`` maps a panel title to its curves."""
    if not panels:
        raise ValueError("panels is empty")
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        _draw(ax, curves, ylabel, title, xlabel, floor)
    fig.tight_layout()
    return fig
