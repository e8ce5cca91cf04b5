"""Pictures for notebook 01 (the chain rule).

- :func:`plot_function_and_derivative`: a function with tangent lines at a few points (left) next to its
  derivative (right), so the slope of each tangent can be read off as a height on the right.
- :func:`draw_paths`: a small dependency graph, every edge labelled with its local derivative, and the paths
  from one input to the output drawn in colour with their products; the legend ends with the sum over paths.

Matplotlib only; every function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch

__all__ = ["plot_function_and_derivative", "draw_paths", "PATH_COLORS"]

PATH_COLORS = ("#c0392b", "#2471a3", "#229954", "#8e44ad", "#d68910")
_NODE_FACE = "#fdf6e3"
_INPUT_FACE = "#eaf2fb"
_OUTPUT_FACE = "#e8f6ea"


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if v == round(v) and abs(v) < 1e6:
        return str(int(round(v)))
    return f"{v:.4g}"


def plot_function_and_derivative(f: Callable, df: Callable, x_range: tuple[float, float], *,
                                 points: Sequence[float] = (), f_label: str = "f(x)", df_label: str = "f'(x)",
                                 title: str = "", n: int = 400, figsize: tuple[float, float] = (9.0, 3.4)):
    """Two panels: ``f`` with its tangent lines at ``points`` and ``df`` with the same points marked.

    ``f`` and ``df`` map a float64 array to an array of the same shape; ``x_range`` = (lo, hi) with lo < hi.
    The tangent at p is the line through (p, f(p)) with slope df(p), drawn over a short stretch of x.
    Returns the Figure.
    """
    lo, hi = float(x_range[0]), float(x_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"x_range must be (lo, hi) with lo < hi, got {x_range!r}")
    x = np.linspace(lo, hi, int(n))
    with np.errstate(all="ignore"):
        y = np.asarray(f(x), dtype=np.float64) * np.ones_like(x)
        dy = np.asarray(df(x), dtype=np.float64) * np.ones_like(x)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=figsize)
    ax_f.plot(x, y, color="#1f2d3d", linewidth=1.8, label=f_label)
    ax_d.plot(x, dy, color="#1f2d3d", linewidth=1.8, label=df_label)
    half = 0.12 * (hi - lo)
    for i, p in enumerate(points):
        color = PATH_COLORS[i % len(PATH_COLORS)]
        p_arr = np.array([float(p)])
        fp = float(np.asarray(f(p_arr), dtype=np.float64).ravel()[0])
        slope = float(np.asarray(df(p_arr), dtype=np.float64).ravel()[0])
        xs = np.array([p - half, p + half])
        ax_f.plot(xs, fp + slope * (xs - p), color=color, linewidth=1.4, linestyle="--")
        ax_f.plot([p], [fp], "o", color=color, markersize=5)
        ax_d.plot([p], [slope], "o", color=color, markersize=6, label=f"slope at x = {_fmt(p)}: {_fmt(slope)}")
        ax_d.plot([p, p], [0, slope], color=color, linewidth=1, linestyle=":")
    ax_f.set_title(f"{f_label} and tangent lines", fontsize=10)
    ax_d.set_title(f"{df_label}: the slope of every tangent", fontsize=10)
    ax_d.axhline(0, color="#999999", linewidth=0.8)
    for ax in (ax_f, ax_d):
        ax.set_xlabel("x")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def draw_paths(positions: Mapping[str, tuple[float, float]], edges: Sequence[Sequence], *,
               paths: Sequence[Sequence[str]] = (), values: Mapping[str, float] | None = None,
               source: str | None = None, target: str | None = None, title: str = "",
               figsize: tuple[float, float] = (8.0, 3.6)):
    """Draw a dependency graph and the paths from ``source`` to ``target`` with their products.

    ``positions``: node name -> (x, y) in any units (inputs on the left, the output on the right reads best).
    ``edges``: ``(src, dst, local)`` where dst is computed from src and ``local`` = d dst / d src (a number,
    drawn rounded, or a string such as "2g", drawn as it is).
    ``paths``: lists of node names ``[source, ..., target]`` following edges; each is drawn in its own colour.
    When every local derivative on a path is a number, the legend shows the path's product, and when every
    path has one, the sum over the paths too. ``values``: optional node values shown under the names.
    Returns the Figure.
    """
    values = dict(values or {})
    local: dict[tuple[str, str], object] = {}
    for e in edges:
        if len(e) != 3:
            raise ValueError(f"each edge must be (src, dst, local derivative), got {e!r}")
        src, dst, d = e
        for node in (src, dst):
            if node not in positions:
                raise ValueError(f"edge {src!r} -> {dst!r}: no position for {node!r}")
        local[(src, dst)] = d
    for path in paths:
        for a, b in zip(path[:-1], path[1:]):
            if (a, b) not in local:
                raise ValueError(f"path {' -> '.join(path)} uses {a!r} -> {b!r}, which is not an edge")
    source = source or (paths[0][0] if paths else None)
    target = target or (paths[0][-1] if paths else None)

    fig, ax = plt.subplots(figsize=figsize)
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    radius = 0.06 * span

    def shrink(a, b):
        (x0, y0), (x1, y1) = positions[a], positions[b]
        dist = math.hypot(x1 - x0, y1 - y0) or 1.0
        ux, uy = (x1 - x0) / dist, (y1 - y0) / dist
        return (x0 + ux * radius, y0 + uy * radius), (x1 - ux * radius, y1 - uy * radius), (-uy, ux)

    # the coloured paths first (under the black edges), each offset sideways a little
    legend = []
    products = []
    for i, path in enumerate(paths):
        color = PATH_COLORS[i % len(PATH_COLORS)]
        offset = (i - (len(paths) - 1) / 2) * 0.022 * span
        for a, b in zip(path[:-1], path[1:]):
            (x0, y0), (x1, y1), (nx, ny) = shrink(a, b)
            ax.plot([x0 + nx * offset, x1 + nx * offset], [y0 + ny * offset, y1 + ny * offset], color=color,
                    linewidth=4, alpha=0.35, solid_capstyle="round", zorder=1)
        factors = [local[(a, b)] for a, b in zip(path[:-1], path[1:])]
        text = " · ".join(_fmt(f) for f in factors)
        if all(not isinstance(f, str) for f in factors):
            prod = float(np.prod([float(f) for f in factors]))
            products.append(prod)
            text += f" = {_fmt(prod)}"
        else:
            products.append(None)
        legend.append((color, f"path {i + 1}: {' → '.join(path)}:  {text}"))

    for (src, dst), d in local.items():
        start, end, (nx, ny) = shrink(src, dst)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="#1f2d3d",
                                     linewidth=1.2, zorder=2))
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx + nx * 0.045 * span, my + ny * 0.045 * span, _fmt(d), fontsize=9, ha="center", va="center",
                color="#1f2d3d", bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none",
                                           alpha=0.85), zorder=4)

    for name, (x, y) in positions.items():
        face = _INPUT_FACE if name == source else _OUTPUT_FACE if name == target else _NODE_FACE
        ax.add_patch(Circle((x, y), radius, facecolor=face, edgecolor="#1f2d3d", linewidth=1.2, zorder=3))
        label = name if name not in values else f"{name}\n{_fmt(values[name])}"
        ax.text(x, y, label, ha="center", va="center", fontsize=9, zorder=5)

    for j, (color, text) in enumerate(legend):
        ax.text(0.01, -0.04 - 0.075 * j, text, transform=ax.transAxes, color=color, fontsize=9, va="top")
    if paths and all(p is not None for p in products):
        ax.text(0.01, -0.04 - 0.075 * len(legend),
                f"d{target}/d{source} = sum over the paths = {_fmt(sum(products))}",
                transform=ax.transAxes, fontsize=9, va="top", fontweight="bold")
    ax.set_xlim(min(xs) - 2 * radius, max(xs) + 2 * radius)
    ax.set_ylim(min(ys) - 2 * radius, max(ys) + 2 * radius)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.text(0.99, 1.0, "edge label = local derivative d(head)/d(tail)", transform=ax.transAxes, fontsize=8,
            ha="right", va="bottom", color="#555555")
    if title:
        ax.set_title(title, fontsize=11, loc="left", pad=16)
    fig.tight_layout()
    return fig
