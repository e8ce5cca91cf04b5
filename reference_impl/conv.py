"""2-D convolution and pooling (cs231n contract): naive loops, im2col/col2im, and the two gradient identities.

Layout NCHW: x (N, C, H, W), weights w (F, C, HH, WW), bias b (F,), output (N, F, H_out, W_out).
"Convolution" here is cross-correlation, as in every deep-learning framework: the kernel is NOT flipped::

    xp = x zero-padded by `pad` on each side of H and W
    out[n, f, i, j] = b[f] + sum_{c, u, v} xp[n, c, i*stride + u, j*stride + v] * w[f, c, u, v]

Output size: ``H_out = (H + 2*pad - HH) / stride + 1`` (likewise W). This module requires the division
to be exact (as cs231n does): frameworks floor it and silently ignore the last rows of the input; here a
non-integer size is a ValueError naming the numbers, so the windows always tile the padded input.

Backward, given dout (N, F, H_out, W_out)::

    db[f]          = sum_{n, i, j} dout[n, f, i, j]
    dw[f, c, u, v] = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*stride + u, j*stride + v]
    dxp[n, c, r, t] = sum over every (f, i, j, u, v) with i*stride + u = r, j*stride + v = t
                      of dout[n, f, i, j] * w[f, c, u, v];     dx = dxp with the padding cropped

Every input entry that several windows cover receives the SUM of their contributions (``+=``, never ``=``).
Written as whole-array operations these are the two identities the notebook teaches (see
:func:`conv2d_dw_as_correlation`, :func:`conv2d_dx_as_full_convolution`):

- dw[f, c] = sum_n  correlation of the padded input xp[n, c] with dout[n, f] (dilated by the stride);
- dx[n, c] = sum_f  FULL convolution of dout[n, f] (dilated by the stride) with w[f, c], i.e. a
  correlation with the kernel flipped in both axes, then cropped by `pad`.

im2col turns convolution into one matrix product: every receptive field becomes a row of
``cols`` (N*H_out*W_out, C*HH*WW), so ``out = cols @ w.reshape(F, -1).T + b``. Its adjoint col2im scatters
rows back into an image, adding where windows overlap; dx is ``col2im(dout_rows @ w_rows)``.

Pooling (no padding): max-pool sends each window's gradient to exactly ONE input, the first maximum in
row-major order within the window (ties included); average-pool spreads it evenly. Overlapping windows
(stride < pool size) accumulate.

Public API
----------
- :func:`conv_output_size`
- :func:`conv2d_forward_naive`, :func:`conv2d_backward_naive`
- :func:`im2col`, :func:`col2im`, :func:`conv2d_forward_im2col`, :func:`conv2d_backward_im2col`
- :func:`dilate2d`, :func:`correlate2d_valid`, :func:`convolve2d_full`,
  :func:`conv2d_dw_as_correlation`, :func:`conv2d_dx_as_full_convolution`
- :func:`maxpool2d_forward`, :func:`maxpool2d_backward`, :func:`avgpool2d_forward`, :func:`avgpool2d_backward`
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape


# --------------------------------------------------------------------------- sizes and validation
def _int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _out_size(size, k, stride, pad, size_name: str, k_name: str) -> int:
    size, k = _int(size, size_name, 1), _int(k, k_name, 1)
    stride, pad = _int(stride, "stride", 1), _int(pad, "pad", 0)
    span = size + 2 * pad - k
    if span < 0:
        raise ValueError(f"{k_name}={k} is larger than the padded input {size_name} + 2*pad = {size} + 2*{pad} "
                         f"= {size + 2 * pad}")
    if span % stride:
        if k_name.startswith("pool"):  # pooling has no padding: leave it out of the message
            formula = f"({size_name} - {k_name}) / stride + 1 = ({size} - {k}) / {stride} + 1"
        else:
            formula = f"({size_name} + 2*pad - {k_name}) / stride + 1 = ({size} + 2*{pad} - {k}) / {stride} + 1"
        raise ValueError(f"output size {formula} = {span}/{stride} + 1 is not an integer: the windows do not tile "
                         f"the {'input' if k_name.startswith('pool') else 'padded input'} (change "
                         f"{'the stride or the pool size' if k_name.startswith('pool') else 'pad or stride'})")
    return span // stride + 1


def conv_output_size(H, HH, stride, pad):
    """``(H + 2*pad - HH) / stride + 1``, the number of window positions along one axis.

    Args:
        H: input size >= 1. HH: kernel size >= 1. stride: >= 1. pad: zeros added on EACH side, >= 0.
    Returns:
        int H_out >= 1.
    Raises:
        ValueError if an argument is not such an integer, if the kernel is larger than the padded input, or
        if the division is not exact (the message shows the numbers).
    """
    return _out_size(H, HH, stride, pad, "H", "HH")


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Zero-pad the last two axes by `pad` on each side (a new array)."""
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(pad, pad), (pad, pad)])


def _check_conv_args(x, w, b, stride, pad):
    x = as_array(x, "x", 4)
    w = as_array(w, "w", 4)
    b = as_array(b, "b", 1)
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if N < 1 or C < 1 or F < 1:
        raise ValueError(f"need N, C, F >= 1, got x {x.shape} and w {w.shape}")
    if Cw != C:
        raise ValueError(f"w must have shape (F, {C}, HH, WW) to match the {C} channels of x {x.shape}, got {w.shape}")
    expect_shape(b, (F,), "b")
    Ho = _out_size(H, HH, stride, pad, "H", "HH")
    Wo = _out_size(W, WW, stride, pad, "W", "WW")
    return x, w, b, int(stride), int(pad), Ho, Wo


def _window(i: int, n: int, stride: int) -> slice:
    """Rows i, i + stride, ..., i + stride*(n-1): entry i of each of n windows spaced by stride."""
    return slice(i, i + stride * (n - 1) + 1, stride)


# --------------------------------------------------------------------------- naive loops
def conv2d_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) by explicit loops over samples, filters and output positions.

    Args:
        x: (N, C, H, W). w: (F, C, HH, WW). b: (F,). stride >= 1. pad >= 0 (zeros on each side of H and W).
    Returns:
        out: (N, F, H_out, W_out), out[n, f, i, j] = b[f] + sum(xp[n, :, i*s:i*s+HH, j*s:j*s+WW] * w[f]).
        cache: dict {"kind": "conv2d_naive", "x", "xp" (padded x), "w", "stride", "pad"}.
    """
    x, w, b, s, p, Ho, Wo = _check_conv_args(x, w, b, stride, pad)
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    xp = _pad(x, p)
    out = np.empty((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * s:i * s + HH, j * s:j * s + WW] * w[f]) + b[f]
    return out, {"kind": "conv2d_naive", "x": x, "xp": xp, "w": w, "stride": s, "pad": p}


def _check_cache(cache, kind: str, forward: str) -> dict:
    if not isinstance(cache, dict) or cache.get("kind") != kind:
        raise TypeError(f"cache must be the dict returned by {forward}")
    return cache


def conv2d_backward_naive(dout, cache):
    """Gradients by the same loops: every output position sends dout back to the window it read.

    Args:
        dout: (N, F, H_out, W_out). cache: from conv2d_forward_naive.
    Returns:
        dx: (N, C, H, W) (padding cropped); dw: (F, C, HH, WW); db: (F,).
    """
    c = _check_cache(cache, "conv2d_naive", "conv2d_forward_naive")
    x, xp, w, s, p = c["x"], c["xp"], c["w"], c["stride"], c["pad"]
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    Ho = (xp.shape[2] - HH) // s + 1
    Wo = (xp.shape[3] - WW) // s + 1
    dout = as_array(dout, "dout")
    expect_shape(dout, (N, F, Ho, Wo), "dout")
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    dxp[n, :, i * s:i * s + HH, j * s:j * s + WW] += g * w[f]  # overlapping windows add up
                    dw[f] += g * xp[n, :, i * s:i * s + HH, j * s:j * s + WW]
                    db[f] += g
    H, W = x.shape[2], x.shape[3]
    return dxp[:, :, p:p + H, p:p + W].copy(), dw, db


# --------------------------------------------------------------------------- im2col / col2im
def _check_x_shape(x_shape) -> tuple[int, int, int, int]:
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4:
        raise ValueError(f"x_shape must be a 4-tuple (N, C, H, W), got {x_shape!r}")
    return tuple(_int(v, f"x_shape[{i}]", 1) for i, v in enumerate(x_shape))


def im2col(x, HH, WW, stride=1, pad=0):
    """Every receptive field of the padded input as one row.

        cols[(n*H_out + i)*W_out + j, (c*HH + u)*WW + v] = xp[n, c, i*stride + u, j*stride + v]

    Rows are ordered (n, i, j) and columns (c, u, v), both row-major, so that a filter flattened by
    ``w.reshape(F, -1)`` lines up with the columns.

    Args:
        x: (N, C, H, W). HH, WW: kernel size. stride >= 1. pad >= 0.
    Returns:
        cols: (N*H_out*W_out, C*HH*WW), a new array (entries of overlapping windows are copied, not shared).
    """
    x = as_array(x, "x", 4)
    N, C, H, W = x.shape
    Ho = _out_size(H, HH, stride, pad, "H", "HH")
    Wo = _out_size(W, WW, stride, pad, "W", "WW")
    xp = _pad(x, pad)
    cols = np.empty((N, Ho, Wo, C, HH, WW))
    for u in range(HH):
        for v in range(WW):
            # entry (u, v) of every window at once: (N, C, Ho, Wo) -> (N, Ho, Wo, C)
            cols[:, :, :, :, u, v] = xp[:, :, _window(u, Ho, stride), _window(v, Wo, stride)].transpose(0, 2, 3, 1)
    return cols.reshape(N * Ho * Wo, C * HH * WW)


def col2im(cols, x_shape, HH, WW, stride=1, pad=0):
    """Adjoint of im2col: scatter every row back to its window and ADD where windows overlap.

        xp[n, c, i*stride + u, j*stride + v] += cols[(n*H_out + i)*W_out + j, (c*HH + u)*WW + v]

    then crop the padding. With ``=`` instead of ``+=`` an input entry covered by several windows would
    keep only the last window's value. For any x and any cols of the right shapes,
    ``sum(im2col(x) * cols) == sum(x * col2im(cols))`` (the adjoint identity).

    Args:
        cols: (N*H_out*W_out, C*HH*WW). x_shape: (N, C, H, W). HH, WW, stride, pad: as for im2col.
    Returns:
        (N, C, H, W).
    """
    N, C, H, W = _check_x_shape(x_shape)
    Ho = _out_size(H, HH, stride, pad, "H", "HH")
    Wo = _out_size(W, WW, stride, pad, "W", "WW")
    cols = as_array(cols, "cols", 2)
    expect_shape(cols, (N * Ho * Wo, C * HH * WW), "cols")
    c6 = cols.reshape(N, Ho, Wo, C, HH, WW)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for u in range(HH):
        for v in range(WW):
            # within one (u, v) the target positions are distinct; across (u, v) they overlap when stride < kernel
            xp[:, :, _window(u, Ho, stride), _window(v, Wo, stride)] += c6[:, :, :, :, u, v].transpose(0, 3, 1, 2)
    return xp[:, :, pad:pad + H, pad:pad + W].copy()


def conv2d_forward_im2col(x, w, b, stride=1, pad=0):
    """The same convolution as one matrix product: ``out_rows = im2col(x) @ w.reshape(F, -1).T + b``.

    Args / Returns: as conv2d_forward_naive; the cache is {"kind": "conv2d_im2col", "x_shape", "cols", "w",
    "stride", "pad"}.
    """
    x, w, b, s, p, Ho, Wo = _check_conv_args(x, w, b, stride, pad)
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    cols = im2col(x, HH, WW, s, p)
    rows = cols @ w.reshape(F, -1).T + b  # (N*Ho*Wo, F)
    out = rows.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2).copy()
    return out, {"kind": "conv2d_im2col", "x_shape": x.shape, "cols": cols, "w": w, "stride": s, "pad": p}


def conv2d_backward_im2col(dout, cache):
    """Gradients of the im2col convolution: the affine-layer backward, then col2im.

        dout_rows = dout as (N*H_out*W_out, F);   dw = (dout_rows^T cols) reshaped to (F, C, HH, WW)
        db = column sums of dout_rows;            dx = col2im(dout_rows @ w.reshape(F, -1))

    Returns:
        dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,).
    """
    c = _check_cache(cache, "conv2d_im2col", "conv2d_forward_im2col")
    x_shape, cols, w, s, p = c["x_shape"], c["cols"], c["w"], c["stride"], c["pad"]
    N, F, HH, WW = x_shape[0], w.shape[0], w.shape[2], w.shape[3]
    Ho = _out_size(x_shape[2], HH, s, p, "H", "HH")
    Wo = _out_size(x_shape[3], WW, s, p, "W", "WW")
    dout = as_array(dout, "dout")
    expect_shape(dout, (N, F, Ho, Wo), "dout")
    drows = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw = (drows.T @ cols).reshape(w.shape)
    db = drows.sum(axis=0)
    dx = col2im(drows @ w.reshape(F, -1), x_shape, HH, WW, s, p)
    return dx, dw, db


# --------------------------------------------------------------------------- the two identities
def dilate2d(a, stride):
    """Insert stride - 1 zeros between neighbouring entries of the last two axes.

    (..., h, w) -> (..., stride*(h-1) + 1, stride*(w-1) + 1), with ``out[..., stride*i, stride*j] = a[..., i, j]``.
    A strided convolution's dout, dilated, lines each gradient up with the input row its window started at.
    """
    a = as_array(a, "a")
    if a.ndim < 2:
        raise ValueError(f"a must be at least 2-D, got shape {a.shape}")
    s = _int(stride, "stride", 1)
    h, w = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + (s * (h - 1) + 1, s * (w - 1) + 1))
    out[..., ::s, ::s] = a
    return out


def correlate2d_valid(a, k):
    """Valid 2-D cross-correlation: ``out[i, j] = sum_{u, v} a[i + u, j + v] * k[u, v]``.

    Args:
        a: (Ha, Wa). k: (Hk, Wk) with Hk <= Ha, Wk <= Wa.
    Returns:
        (Ha - Hk + 1, Wa - Wk + 1).
    """
    a, k = as_array(a, "a", 2), as_array(k, "k", 2)
    (Ha, Wa), (Hk, Wk) = a.shape, k.shape
    if Hk > Ha or Wk > Wa or min(Hk, Wk) < 1:
        raise ValueError(f"kernel {k.shape} must be non-empty and fit inside a {a.shape}")
    out = np.zeros((Ha - Hk + 1, Wa - Wk + 1))
    for u in range(Hk):
        for v in range(Wk):
            out += k[u, v] * a[u:u + out.shape[0], v:v + out.shape[1]]
    return out


def convolve2d_full(a, k):
    """Full 2-D convolution (the kernel IS flipped): ``out[r, t] = sum_{i, j} a[i, j] * k[r - i, t - j]``.

    Computed as a valid correlation of a, zero-padded by (Hk - 1, Wk - 1), with k flipped in both axes.

    Args:
        a: (Ha, Wa). k: (Hk, Wk).
    Returns:
        (Ha + Hk - 1, Wa + Wk - 1).
    """
    a, k = as_array(a, "a", 2), as_array(k, "k", 2)
    Hk, Wk = k.shape
    if min(Hk, Wk) < 1:
        raise ValueError(f"kernel must be non-empty, got shape {k.shape}")
    return correlate2d_valid(np.pad(a, ((Hk - 1, Hk - 1), (Wk - 1, Wk - 1))), k[::-1, ::-1])


def conv2d_dw_as_correlation(x, dout, HH, WW, stride=1, pad=0):
    """dw[f, c] = sum_n correlate2d_valid(xp[n, c], dilate2d(dout[n, f], stride)).

    The weight gradient is the correlation of the padded input with the upstream gradient: dw[f, c, u, v]
    pairs each dout[n, f, i, j] with the input entry that weight (u, v) touched at window (i, j).

    Args:
        x: (N, C, H, W). dout: (N, F, H_out, W_out). HH, WW: kernel size. stride, pad: as in the forward.
    Returns:
        dw: (F, C, HH, WW), equal to the dw of conv2d_backward_naive.
    """
    x = as_array(x, "x", 4)
    dout = as_array(dout, "dout", 4)
    N, C, H, W = x.shape
    Ho = _out_size(H, HH, stride, pad, "H", "HH")
    Wo = _out_size(W, WW, stride, pad, "W", "WW")
    if dout.shape[0] != N or dout.shape[2:] != (Ho, Wo):
        raise ValueError(f"dout must have shape ({N}, F, {Ho}, {Wo}), got {dout.shape}")
    xp, dd = _pad(x, pad), dilate2d(dout, stride)
    F = dout.shape[1]
    dw = np.zeros((F, C, HH, WW))
    for f in range(F):
        for c in range(C):
            for n in range(N):
                dw[f, c] += correlate2d_valid(xp[n, c], dd[n, f])
    return dw


def conv2d_dx_as_full_convolution(dout, w, x_shape, stride=1, pad=0):
    """dx[n, c] = crop( sum_f convolve2d_full(dilate2d(dout[n, f], stride), w[f, c]) ).

    The input gradient is the FULL convolution of the (dilated) upstream gradient with the kernel, i.e. a
    correlation with the kernel flipped by 180 degrees; the result covers the padded input and the first and
    last `pad` rows and columns are cropped off.

    Args:
        dout: (N, F, H_out, W_out). w: (F, C, HH, WW). x_shape: (N, C, H, W). stride, pad: as in the forward.
    Returns:
        dx: (N, C, H, W), equal to the dx of conv2d_backward_naive.
    """
    N, C, H, W = _check_x_shape(x_shape)
    w = as_array(w, "w", 4)
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"w must have shape (F, {C}, HH, WW) to match x_shape {tuple(x_shape)}, got {w.shape}")
    Ho = _out_size(H, HH, stride, pad, "H", "HH")
    Wo = _out_size(W, WW, stride, pad, "W", "WW")
    dout = as_array(dout, "dout", 4)
    expect_shape(dout, (N, F, Ho, Wo), "dout")
    dd = dilate2d(dout, stride)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for n in range(N):
        for c in range(C):
            for f in range(F):
                dxp[n, c] += convolve2d_full(dd[n, f], w[f, c])
    return dxp[:, :, pad:pad + H, pad:pad + W].copy()


# --------------------------------------------------------------------------- pooling
def _check_pool_args(x, pool_h, pool_w, stride):
    x = as_array(x, "x", 4)
    N, C, H, W = x.shape
    if N < 1 or C < 1:
        raise ValueError(f"need N, C >= 1, got x {x.shape}")
    Ho = _out_size(H, pool_h, stride, 0, "H", "pool_h")
    Wo = _out_size(W, pool_w, stride, 0, "W", "pool_w")
    return x, int(pool_h), int(pool_w), int(stride), Ho, Wo


def _windows(x, ph, pw, s, Ho, Wo) -> np.ndarray:
    """(N, C, Ho, Wo, ph*pw): the entries of every window, in row-major order within the window."""
    win = np.empty(x.shape[:2] + (Ho, Wo, ph * pw))
    for u in range(ph):
        for v in range(pw):
            win[..., u * pw + v] = x[:, :, _window(u, Ho, s), _window(v, Wo, s)]
    return win


def maxpool2d_forward(x, pool_h, pool_w, stride):
    """Max over each pool_h x pool_w window (no padding).

    Args:
        x: (N, C, H, W), no NaN. pool_h, pool_w >= 1. stride >= 1; (H - pool_h) / stride must be an integer
            (likewise W), see conv_output_size.
    Returns:
        out: (N, C, H_out, W_out).
        cache: dict with "arg" (N, C, H_out, W_out): the winner's index u*pool_w + v inside its window, the
            FIRST maximum in row-major order (np.argmax), so exact ties go to the earliest entry.
    """
    x, ph, pw, s, Ho, Wo = _check_pool_args(x, pool_h, pool_w, stride)
    if np.any(np.isnan(x)):
        raise ValueError("x contains NaN: the maximum of a window is undefined")
    win = _windows(x, ph, pw, s, Ho, Wo)
    arg = win.argmax(axis=-1)
    out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    return out, {"kind": "maxpool2d", "x_shape": x.shape, "pool": (ph, pw), "stride": s, "arg": arg}


def maxpool2d_backward(dout, cache):
    """Each window's upstream gradient goes to exactly ONE entry: its first maximum (row-major), none to the rest.

        dx[n, c, i*s + u, j*s + v] += dout[n, c, i, j]   if u*pool_w + v == arg[n, c, i, j]

    A max is locally the identity on the winner and constant in the losers. With exact ties the max is
    not differentiable; routing to one winner keeps sum(dx) == sum(dout) (routing to every tied entry
    would double it). Overlapping windows (stride < pool size) add up.

    Args:
        dout: (N, C, H_out, W_out). cache: from maxpool2d_forward.
    Returns:
        dx: (N, C, H, W).
    """
    c = _check_cache(cache, "maxpool2d", "maxpool2d_forward")
    (ph, pw), s, arg = c["pool"], c["stride"], c["arg"]
    dout = as_array(dout, "dout")
    expect_shape(dout, arg.shape, "dout")
    Ho, Wo = arg.shape[2:]
    dx = np.zeros(c["x_shape"])
    for u in range(ph):
        for v in range(pw):
            dx[:, :, _window(u, Ho, s), _window(v, Wo, s)] += np.where(arg == u * pw + v, dout, 0.0)
    return dx


def avgpool2d_forward(x, pool_h, pool_w, stride):
    """Mean over each pool_h x pool_w window (no padding).

    Args: as maxpool2d_forward (NaN allowed: it propagates).
    Returns:
        out: (N, C, H_out, W_out); cache: dict {"kind": "avgpool2d", "x_shape", "pool", "stride"}.
    """
    x, ph, pw, s, Ho, Wo = _check_pool_args(x, pool_h, pool_w, stride)
    out = _windows(x, ph, pw, s, Ho, Wo).mean(axis=-1)
    return out, {"kind": "avgpool2d", "x_shape": x.shape, "pool": (ph, pw), "stride": s}


def avgpool2d_backward(dout, cache):
    """Every entry of a window gets dout / (pool_h * pool_w); overlapping windows add up.

    Returns:
        dx: (N, C, H, W).
    """
    c = _check_cache(cache, "avgpool2d", "avgpool2d_forward")
    (ph, pw), s, x_shape = c["pool"], c["stride"], c["x_shape"]
    Ho = (x_shape[2] - ph) // s + 1
    Wo = (x_shape[3] - pw) // s + 1
    dout = as_array(dout, "dout")
    expect_shape(dout, x_shape[:2] + (Ho, Wo), "dout")
    share = dout / (ph * pw)
    dx = np.zeros(x_shape)
    for u in range(ph):
        for v in range(pw):
            dx[:, :, _window(u, Ho, s), _window(v, Wo, s)] += share
    return dx
