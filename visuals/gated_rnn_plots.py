"""Pictures for notebook 12 (gated recurrent cells).

- :func:`draw_lstm_cell`: one LSTM step as a diagram: the cell path c_{t-1} -> (x f) -> (+) -> c_t along the top,
  the output path c_t -> tanh -> (x o) -> h_t, the four gates computed from x_t and h_{t-1}; the gradient paths
  are drawn in red with their local factors (the direct cell path multiplies by f_t alone; the path from h_t
  into c_t by o_t (1 - tanh(c_t)^2)). Optional numbers (a scalar step's values and gradients) are written on the
  nodes.
- :func:`plot_norms_by_lag`: ||dL/dh|| against the time lag on a log axis, one line per cell or setting, with the
  ratio to lag 0 marked at one lag.

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["draw_lstm_cell", "plot_norms_by_lag"]

FORWARD = "#1f2d3d"
GRADIENT = "#c0392b"
GATE_FACE = "#eaf2fb"
OP_FACE = "#fdf6e3"
STATE_FACE = "#e8f6ea"
_TINY = 1e-300


def _fmt(v) -> str:
    return f"{float(v):.4g}"


def _box(ax, xy, text, face, w=0.9, h=0.5, fontsize=10):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=face, edgecolor=FORWARD, linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=FORWARD)


def _arrow(ax, a, b, color=FORWARD, style="-|>", lw=1.3, ls="-", rad=0.0):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=12, color=color, linewidth=lw,
                                 linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))


def draw_lstm_cell(values: Mapping[str, float] | None = None, grads: Mapping[str, float] | None = None, *,
                   title: str = "one LSTM step: forward (black) and the gradient paths (red)",
                   figsize: tuple[float, float] = (10.0, 5.2)):
    """Draw one LSTM step (gate order i, f, g, o) with its two gradient paths into c_{t-1}.

    values: optional numbers of a scalar step, any of "c_prev", "h_prev", "x", "i", "f", "g", "o", "c", "h";
    grads: optional numbers, any of "dh", "dc", "dc_total", "dc_prev", "do", "da_i", "da_f", "da_g", "da_o".
    Missing keys are simply not written. Returns the Figure.
    """
    values, grads = dict(values or {}), dict(grads or {})
    fig, ax = plt.subplots(figsize=figsize)
    y_cell, y_out, y_gate, y_in = 3.2, 1.9, 0.7, -0.75
    pos = {"c_prev": (0.3, y_cell), "mul_f": (2.3, y_cell), "plus": (4.6, y_cell), "c": (7.9, y_cell),
           "tanh_c": (6.6, y_out), "mul_o": (8.0, y_out), "h": (9.5, y_out), "mul_ig": (4.6, y_out),
           "i": (3.7, y_gate), "f": (2.3, y_gate), "g": (5.3, y_gate), "o": (7.0, y_gate), "a": (4.6, y_in),
           "h_prev": (0.3, y_in), "x": (8.6, y_in)}
    # nodes
    _box(ax, pos["c_prev"], "$c_{t-1}$", STATE_FACE, w=0.8)
    _box(ax, pos["c"], "$c_t$", STATE_FACE, w=0.8)
    _box(ax, pos["h"], "$h_t$", STATE_FACE, w=0.8)
    _box(ax, pos["h_prev"], "$h_{t-1}$", STATE_FACE, w=0.8)
    _box(ax, pos["x"], "$x_t$", STATE_FACE, w=0.7)
    for key, text in (("mul_f", r"$\times$"), ("plus", "$+$"), ("mul_o", r"$\times$"), ("mul_ig", r"$\times$")):
        ax.add_patch(plt.Circle(pos[key], 0.25, facecolor=OP_FACE, edgecolor=FORWARD, linewidth=1.2))
        ax.text(*pos[key], text, ha="center", va="center", fontsize=12, color=FORWARD)
    _box(ax, pos["tanh_c"], "tanh", OP_FACE, w=0.8, h=0.45)
    for k, act in (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"), ("o", r"\sigma")):
        _box(ax, pos[k], f"${k} = {act}(a_{k})$", GATE_FACE, w=1.25, h=0.45, fontsize=9)
    _box(ax, pos["a"], r"$a = x_t W_x + h_{t-1} W_h + b$   (blocks i, f, g, o)", GATE_FACE, w=4.6, h=0.42,
         fontsize=9)
    # forward edges
    r = 0.27
    _arrow(ax, (pos["c_prev"][0] + 0.4, y_cell), (pos["mul_f"][0] - r, y_cell))
    _arrow(ax, (pos["mul_f"][0] + r, y_cell), (pos["plus"][0] - r, y_cell))
    _arrow(ax, (pos["plus"][0] + r, y_cell), (pos["c"][0] - 0.4, y_cell))
    _arrow(ax, (pos["c"][0] - 0.2, y_cell - 0.25), (pos["tanh_c"][0] + 0.1, y_out + 0.23))
    _arrow(ax, (pos["tanh_c"][0] + 0.4, y_out), (pos["mul_o"][0] - r, y_out))
    _arrow(ax, (pos["mul_o"][0] + r, y_out), (pos["h"][0] - 0.4, y_out))
    _arrow(ax, (pos["mul_ig"][0], y_out + r), (pos["plus"][0], y_cell - r))
    _arrow(ax, (pos["f"][0], y_gate + 0.23), (pos["mul_f"][0], y_cell - r))
    _arrow(ax, (pos["i"][0], y_gate + 0.23), (pos["mul_ig"][0] - 0.18, y_out - 0.18))
    _arrow(ax, (pos["g"][0], y_gate + 0.23), (pos["mul_ig"][0] + 0.18, y_out - 0.18))
    _arrow(ax, (pos["o"][0] + 0.3, y_gate + 0.23), (pos["mul_o"][0] - 0.1, y_out - r))
    for k in "ifgo":
        _arrow(ax, (pos[k][0] * 0.35 + pos["a"][0] * 0.65, y_in + 0.21), (pos[k][0], y_gate - 0.23), lw=0.9)
    _arrow(ax, (pos["h_prev"][0] + 0.4, y_in), (pos["a"][0] - 2.3, y_in), lw=0.9)
    _arrow(ax, (pos["x"][0] - 0.35, y_in), (pos["a"][0] + 2.3, y_in), lw=0.9)
    _arrow(ax, (pos["c"][0] + 0.4, y_cell), (pos["c"][0] + 1.4, y_cell), ls="--")
    ax.text(pos["c"][0] + 1.45, y_cell, "to step t+1", va="center", fontsize=8, color=FORWARD)
    # gradient paths (red): the cell path, and the path from h_t into c_t
    g_y = y_cell + 0.55
    _arrow(ax, (pos["c"][0] + 1.3, g_y), (pos["c"][0] + 0.1, g_y), color=GRADIENT, lw=1.6)
    ax.text(pos["c"][0] + 0.75, g_y + 0.12, r"$dc$ from $t{+}1$", ha="center", va="bottom", fontsize=8,
            color=GRADIENT)
    _arrow(ax, (pos["c"][0] - 0.1, g_y), (pos["mul_f"][0] + 0.1, g_y), color=GRADIENT, lw=1.6)
    _arrow(ax, (pos["mul_f"][0] - 0.1, g_y), (pos["c_prev"][0] + 0.1, g_y), color=GRADIENT, lw=1.6)
    ax.text((pos["c"][0] + pos["mul_f"][0]) / 2, g_y + 0.12,
            r"$dc_{total} = dc + dh\cdot o\,(1-\tanh^2 c_t)$   (+: both paths add)", ha="center", va="bottom",
            fontsize=8, color=GRADIENT)
    ax.text((pos["mul_f"][0] + pos["c_prev"][0]) / 2, g_y + 0.12, r"$\times f_t$ only", ha="center",
            va="bottom", fontsize=9, color=GRADIENT)
    _arrow(ax, (pos["h"][0], y_out + 0.32), (pos["c"][0] + 0.15, y_cell - 0.3), color=GRADIENT, lw=1.4,
           rad=0.35)
    ax.text(pos["h"][0] + 0.05, y_out + 0.75, r"$dh \cdot o\,(1-\tanh^2 c_t)$", ha="left", va="center",
            fontsize=8, color=GRADIENT)
    _arrow(ax, (pos["mul_o"][0] - 0.05, y_out - 0.35), (pos["o"][0] + 0.55, y_gate + 0.25), color=GRADIENT,
           lw=1.0, rad=-0.3)
    ax.text(pos["o"][0] + 1.1, y_gate + 0.45, r"$do = dh\,\tanh c_t$", fontsize=8, color=GRADIENT)
    # numbers of a scalar example
    where = {"c_prev": pos["c_prev"], "c": pos["c"], "h": pos["h"], "h_prev": pos["h_prev"], "x": pos["x"],
             "i": pos["i"], "f": pos["f"], "g": pos["g"], "o": pos["o"]}
    for key, (px, py) in where.items():
        if key in values:
            ax.text(px, py - 0.36, f"{key} = {_fmt(values[key])}", ha="center", va="top", fontsize=7.5,
                    color=FORWARD)
    gpos = {"dc_prev": (pos["c_prev"][0], y_cell + 0.95), "dc": (pos["c"][0] + 0.75, y_cell + 1.05),
            "dc_total": (pos["plus"][0], y_cell + 1.05), "dh": (pos["h"][0], y_out - 0.62),
            "do": (pos["o"][0] + 1.6, y_gate + 0.1)}
    for k in "ifgo":
        gpos[f"da_{k}"] = (pos[k][0], y_gate - 0.62)
    for key, (px, py) in gpos.items():
        if key in grads:
            ax.text(px, py, f"{key} = {_fmt(grads[key])}", ha="center", va="center", fontsize=7.5, color=GRADIENT)
    ax.set_xlim(-0.4, 10.6)
    ax.set_ylim(-1.2, 4.6)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_norms_by_lag(curves: Mapping[str, Sequence[float]], *, mark_lag: int | None = None, title: str = "",
                      figsize: tuple[float, float] = (6.4, 3.8)):
    """curves: label -> norms (norms[k] at lag k). Each curve is divided by its value at lag 0, so the plot shows
    how much of the gradient survives k steps back; ``mark_lag`` draws a vertical line there and writes each
    curve's ratio in the legend. Returns the Figure."""
    if not curves:
        raise ValueError("curves is empty")
    fig, ax = plt.subplots(figsize=figsize)
    for name, values in curves.items():
        y = np.asarray(values, dtype=np.float64).ravel()
        if y.size == 0 or not np.isfinite(y[0]) or y[0] == 0:
            raise ValueError(f"curve {name!r} needs a finite, nonzero value at lag 0")
        ratio = np.abs(y) / abs(y[0])
        label = name
        if mark_lag is not None and mark_lag < y.size:
            label += f"  (lag {mark_lag}: {ratio[mark_lag]:.1e})"
        ax.semilogy(np.arange(y.size), np.maximum(ratio, _TINY), linewidth=1.5, label=label)
    if mark_lag is not None:
        ax.axvline(mark_lag, color="0.6", linestyle=":", linewidth=1)
    ax.set_xlabel("time lag k (steps back from the scored state)")
    ax.set_ylabel("||dL/dh|| at lag k / at lag 0")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
