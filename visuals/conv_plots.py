"""Pictures for notebook 11 (convolution and pooling).

- :func:`plot_receptive_fields`: the padded input, the kernel and the output of a one-channel cross-correlation,
  with the window (receptive field) of chosen output entries outlined in the input in the output entry's colour;
- :func:`plot_im2col`: the im2col matrix of a small one-channel image, each cell naming the input entry it copies
  and coloured by it, so the copies made by overlapping windows stand out;
- :func:`plot_flipped_kernel`: dx as a full convolution: the upstream gradient zero-padded by the kernel size
  minus one, the kernel flipped by 180 degrees sliding over it, and the dx entry one position produces.

Matplotlib and NumPy only (the notebook's non-test cells run where the course's checks do not exist); every
function returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple")


def _grid(ax, values: np.ndarray, title: str, *, shade=None, fmt: str = "{:g}", fontsize: int = 9) -> None:
    """Draw a 2-D array as a table of numbers (row 0 at the top); ``shade`` is a boolean mask drawn grey."""
    rows, cols = values.shape
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    for (r, c), v in np.ndenumerate(values):
        face = "0.88" if shade is not None and shade[r, c] else "white"
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor="0.6", linewidth=0.8))
        text = v if isinstance(v, str) else fmt.format(v)
        ax.text(c, r, text, ha="center", va="center", fontsize=fontsize)
    ax.set_aspect("equal")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.tick_params(length=0, labelsize=7)
    ax.set_title(title, fontsize=10)


def _outline(ax, r0: float, c0: float, h: int, w: int, colour: str, inset: float = 0.0) -> None:
    ax.add_patch(Rectangle((c0 - 0.5 + inset, r0 - 0.5 + inset), w - 2 * inset, h - 2 * inset, fill=False,
                           edgecolor=colour, linewidth=2.5))


def _correlate(xp: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    kh, kw = w.shape
    ho, wo = (xp.shape[0] - kh) // stride + 1, (xp.shape[1] - kw) // stride + 1
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = np.sum(xp[i * stride:i * stride + kh, j * stride:j * stride + kw] * w)
    return out


def _matrix(name: str, a, ndim: int = 2) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != ndim or a.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {a.shape}")
    return a


def plot_receptive_fields(x, w, b: float = 0.0, *, stride: int = 1, pad: int = 0,
                          positions: Sequence[tuple[int, int]] = ((0, 0), (1, 1))):
    """Three panels: the zero-padded input (padding grey), the kernel, and the output ``b + sum(window * w)``.

    Each output entry in ``positions`` is outlined in a colour, and its window in the input in the same colour.
    Raises ValueError when the windows do not tile the padded input or a position is outside the output.
    """
    x, w = _matrix("x", x), _matrix("w", w)
    if stride < 1 or pad < 0:
        raise ValueError(f"stride must be >= 1 and pad >= 0, got stride {stride}, pad {pad}")
    xp = np.pad(x, pad)
    kh, kw = w.shape
    for size, k in ((xp.shape[0], kh), (xp.shape[1], kw)):
        if size < k or (size - k) % stride:
            raise ValueError(f"a {k}-wide window with stride {stride} does not tile a padded size of {size}")
    out = _correlate(xp, w, stride) + b
    fig, axes = plt.subplots(1, 3, figsize=(3.2 + 0.45 * xp.shape[1] + 0.45 * out.shape[1], 3.0),
                             gridspec_kw={"width_ratios": [xp.shape[1], kw + 0.8, out.shape[1] + 0.8]})
    shade = np.ones(xp.shape, bool)
    shade[pad:pad + x.shape[0], pad:pad + x.shape[1]] = False
    _grid(axes[0], xp, f"input, padded by {pad}" if pad else "input x", shade=shade)
    _grid(axes[1], w, "kernel w (not flipped)")
    _grid(axes[2], out, f"output (stride {stride}, b = {b:g})")
    for k, (i, j) in enumerate(positions):
        if not (0 <= i < out.shape[0] and 0 <= j < out.shape[1]):
            raise ValueError(f"position {(i, j)} is outside the {out.shape} output")
        colour = _COLOURS[k % len(_COLOURS)]
        _outline(axes[0], i * stride, j * stride, kh, kw, colour, inset=0.06 * k)
        _outline(axes[2], i, j, 1, 1, colour)
    fig.suptitle("each output entry reads one window (its receptive field) of the padded input", fontsize=10)
    fig.tight_layout()
    return fig


def plot_im2col(H: int = 4, W: int = 4, k: tuple[int, int] = (2, 2), *, stride: int = 1, pad: int = 0):
    """The im2col matrix of one (H, W) single-channel image: one row per window (rows in (i, j) order), one column
    per kernel offset (u, v); a cell names the input entry x[r, t] it copies (or 0 for padding) and is coloured by
    that entry, so an entry read by several windows shows up in several rows."""
    kh, kw = k
    if min(H, W, kh, kw, stride) < 1 or pad < 0:
        raise ValueError("sizes and stride must be >= 1 and pad >= 0")
    Hp, Wp = H + 2 * pad, W + 2 * pad
    if Hp < kh or Wp < kw or (Hp - kh) % stride or (Wp - kw) % stride:
        raise ValueError(f"a {kh}x{kw} window with stride {stride} does not tile the padded {Hp}x{Wp} input")
    ho, wo = (Hp - kh) // stride + 1, (Wp - kw) // stride + 1
    labels = np.empty((ho * wo, kh * kw), dtype=object)
    codes = np.full((ho * wo, kh * kw), -1.0)
    for i in range(ho):
        for j in range(wo):
            for u in range(kh):
                for v in range(kw):
                    r, t = i * stride + u - pad, j * stride + v - pad
                    inside = 0 <= r < H and 0 <= t < W
                    labels[i * wo + j, u * kw + v] = f"x{r}{t}" if inside else "0"
                    codes[i * wo + j, u * kw + v] = r * W + t if inside else -1
    counts = np.bincount(codes[codes >= 0].astype(int), minlength=H * W)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * kh * kw, 0.9 + 0.32 * ho * wo))
    cmap = plt.get_cmap("tab20")
    for (r, c), lab in np.ndenumerate(labels):
        face = "0.9" if codes[r, c] < 0 else cmap(int(codes[r, c]) % 20)
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor="white", linewidth=1.0,
                               alpha=0.75))
        ax.text(c, r, lab, ha="center", va="center", fontsize=7)
    ax.set_xlim(-0.5, kh * kw - 0.5)
    ax.set_ylim(ho * wo - 0.5, -0.5)
    ax.set_xticks(range(kh * kw), [f"({u},{v})" for u in range(kh) for v in range(kw)], fontsize=7)
    ax.set_yticks(range(ho * wo), [f"({i},{j})" for i in range(ho) for j in range(wo)], fontsize=7)
    ax.set_xlabel("kernel offset (u, v)")
    ax.set_ylabel("window (i, j)")
    ax.set_title(f"im2col: {ho * wo} x {kh * kw} matrix from {H * W} inputs\n"
                 f"(up to {int(counts.max())} copies of one entry)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_flipped_kernel(dout, w, *, position: tuple[int, int] = (1, 1)):
    """dx = full convolution of dout with w (stride 1, no padding), drawn as a correlation with the flipped kernel.

    Panels: dout zero-padded by (kernel size - 1) with the flipped kernel's window at ``position`` of dx outlined,
    the flipped kernel w[::-1, ::-1], and dx with that entry outlined.
    """
    dout, w = _matrix("dout", dout), _matrix("w", w)
    kh, kw = w.shape
    dpad = np.pad(dout, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = w[::-1, ::-1]
    dx = _correlate(dpad, flipped, 1)
    r, t = position
    if not (0 <= r < dx.shape[0] and 0 <= t < dx.shape[1]):
        raise ValueError(f"position {position} is outside dx of shape {dx.shape}")
    fig, axes = plt.subplots(1, 3, figsize=(3.2 + 0.45 * dpad.shape[1] + 0.45 * dx.shape[1], 3.0),
                             gridspec_kw={"width_ratios": [dpad.shape[1], kw + 0.8, dx.shape[1] + 0.8]})
    shade = np.ones(dpad.shape, bool)
    shade[kh - 1:kh - 1 + dout.shape[0], kw - 1:kw - 1 + dout.shape[1]] = False
    _grid(axes[0], dpad, f"dout, padded by {kh - 1} x {kw - 1}", shade=shade)
    _grid(axes[1], flipped, "w flipped by 180°")
    _grid(axes[2], dx, "dx (full convolution)")
    _outline(axes[0], r, t, kh, kw, _COLOURS[0])
    _outline(axes[2], r, t, 1, 1, _COLOURS[0])
    fig.suptitle("dx = dout (zero-padded) correlated with the flipped kernel = scatter of dout * w", fontsize=10)
    fig.tight_layout()
    return fig
