"""Pictures for notebook 03 (backpropagation through a two-layer network).

- :func:`plot_loss_curves`: one training-loss curve per run (label -> losses per step).
- :func:`plot_grad_norms`: the Frobenius norm of each parameter's gradient at every training step.
- :func:`draw_network`: the input -> hidden -> output diagram with each weight and its gradient written on
  the edge and the forward values (and gradients) written under each node.

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

_TINY = 1e-300


def _curve(values: Sequence[float], name: str) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError(f"curve {name!r} is empty")
    return y


def plot_loss_curves(curves: Mapping[str, Sequence[float]], *, title: str = "training loss", logy: bool = False,
                     figsize: tuple[float, float] = (6.0, 3.4)):
    """One line per run: the loss recorded before each gradient step (step 1, 2, ...)."""
    if not curves:
        raise ValueError("curves is empty: pass {label: losses}")
    fig, ax = plt.subplots(figsize=figsize)
    for name, values in curves.items():
        y = _curve(values, name)
        x = np.arange(1, y.size + 1)
        (ax.semilogy if logy else ax.plot)(x, np.maximum(y, _TINY) if logy else y, marker="o" if y.size <= 30 else None,
                                           markersize=3, linewidth=1.5, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_grad_norms(norms: Mapping[str, Sequence[float]], *, title: str = "gradient norm per parameter",
                    figsize: tuple[float, float] = (6.0, 3.4)):
    """One line per parameter name ("W1", "b1", ...): ||dL/dparam|| at each step, log y axis."""
    if not norms:
        raise ValueError("norms is empty: pass {parameter name: norms per step}")
    fig, ax = plt.subplots(figsize=figsize)
    for name, values in norms.items():
        y = _curve(values, name)
        shown = np.where(np.isfinite(y), np.maximum(np.abs(y), 1e-12), np.nan)
        ax.semilogy(np.arange(1, y.size + 1), shown, linewidth=1.5, label=f"||d{name}||")
    ax.set_xlabel("step")
    ax.set_ylabel("Frobenius norm")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def draw_network(W1, W2, *, dW1=None, dW2=None, values: Mapping[str, Sequence[float]] | None = None,
                 grads: Mapping[str, Sequence[float]] | None = None, title: str = "",
                 figsize: tuple[float, float] = (8.0, 4.2)):
    """Draw input (D) -> hidden (H) -> output (C) with W1 (D, H) and W2 (H, C) on the edges.

    dW1/dW2 (same shapes) are written after the weight as "w | dL/dw". ``values``/``grads`` map a layer name
    ("x", "h1", "z2" or "p" ...) to per-node numbers written under the nodes of that column: "x" for the inputs,
    the first hidden name for the hidden column and the first output name for the output column (in order).
    """
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    if W1.ndim != 2 or W2.ndim != 2 or W1.shape[1] != W2.shape[0]:
        raise ValueError(f"need W1 (D, H) and W2 (H, C), got {W1.shape} and {W2.shape}")
    for name, g, w in (("dW1", dW1, W1), ("dW2", dW2, W2)):
        if g is not None and np.shape(g) != w.shape:
            raise ValueError(f"{name} must have shape {w.shape}, got {np.shape(g)}")
    D, H = W1.shape
    C = W2.shape[1]
    cols = [D, H, C]
    xs = [0.0, 1.0, 2.0]

    def ys(n):
        return np.linspace(0.8, 0.2, n) if n > 1 else np.array([0.5])

    pos = [[(xs[c], y) for y in ys(n)] for c, n in enumerate(cols)]
    fig, ax = plt.subplots(figsize=figsize)
    for layer, (W, G) in enumerate(((W1, dW1), (W2, dW2))):
        for i, (x0, y0) in enumerate(pos[layer]):
            for j, (x1, y1) in enumerate(pos[layer + 1]):
                ax.plot([x0, x1], [y0, y1], color="0.6", linewidth=0.8, zorder=1)
                t = 0.3 + 0.4 * (j / max(1, len(pos[layer + 1]) - 1)) if len(pos[layer + 1]) > 1 else 0.5
                label = _fmt(W[i, j]) + ("" if G is None else f" | {_fmt(np.asarray(G)[i, j])}")
                ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0), label, fontsize=7, ha="center", va="center",
                        color="tab:blue" if G is None else "black",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85), zorder=3)
    names = ["input", "hidden (ReLU)", "output (softmax)"]
    for c, column in enumerate(pos):
        for (x, y) in column:
            ax.add_patch(plt.Circle((x, y), 0.045, color=["#cde", "#dec", "#edc"][c], ec="k", zorder=2))
        ax.text(xs[c], 0.95, names[c], ha="center", fontsize=9)
    keys_by_col: list[list[str]] = [[], [], []]
    for key in list((values or {}).keys()) + list((grads or {}).keys()):
        col = 0 if key.startswith("x") else (1 if key[-1] == "1" else 2)
        if key not in keys_by_col[col]:
            keys_by_col[col].append(key)
    for c, keys in enumerate(keys_by_col):
        for k_i, key in enumerate(keys):
            src = values if values and key in values else grads
            vals = np.asarray(src[key], dtype=np.float64).ravel()
            if vals.size != cols[c]:
                raise ValueError(f"{key!r} has {vals.size} numbers, its column has {cols[c]} nodes")
            for (x, y), v in zip(pos[c], vals):
                ax.text(x, y - 0.085 - 0.045 * k_i, f"{key}={_fmt(v)}", ha="center", fontsize=7,
                        color="tab:red" if (grads and key in grads and not (values and key in values)) else "k")
    ax.set_xlim(-0.3, 2.3)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("auto")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
