"""reference_impl.conv: output size, naive vs im2col convolution, numeric VJPs with a random upstream gradient
(float64), the dW/dx identities (also on symbolic 1-D vectors with SymPy), col2im accumulation, max/avg pooling with
the tie rule, bad input."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from reference_impl import conv as C
from reference_impl import layers
from reference_impl import symbolic_layers as SL
from reference_impl.gradcheck import rel_error
from tests.helpers import assert_vjp, rng_for

FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def conv_shapes(draw):
    """(N, C, F, H, W, HH, WW, stride, pad) with an exact fit: H = stride*(H_out - 1) + HH - 2*pad >= 1."""
    N, Cin, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    HH, WW, s = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    Ho, Wo = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    span_h, span_w = s * (Ho - 1) + HH, s * (Wo - 1) + WW  # H + 2*pad
    pad = min(draw(st.integers(0, 2)), (span_h - 1) // 2, (span_w - 1) // 2)
    return N, Cin, F, span_h - 2 * pad, span_w - 2 * pad, HH, WW, s, pad


def _conv_problem(rng, N, Cin, F, H, W, HH, WW):
    return rng.standard_normal((N, Cin, H, W)), rng.standard_normal((F, Cin, HH, WW)), rng.standard_normal(F)


# --------------------------------------------------------------------------- output size
def test_conv_output_size():
    assert C.conv_output_size(32, 3, 1, 1) == 32
    assert C.conv_output_size(7, 3, 2, 0) == 3
    assert C.conv_output_size(5, 5, 1, 0) == 1
    assert C.conv_output_size(4, 2, 2, 0) == 2
    assert C.conv_output_size(1, 3, 1, 1) == 1
    assert C.conv_output_size(np.int64(9), 3, 3, 0) == 3
    with pytest.raises(ValueError, match=r"\(6 \+ 2\*0 - 3\) / 2 \+ 1 = 3/2 \+ 1 is not an integer"):
        C.conv_output_size(6, 3, 2, 0)
    with pytest.raises(ValueError, match=r"HH=5 is larger than the padded input H \+ 2\*pad = 2 \+ 2\*1 = 4"):
        C.conv_output_size(2, 5, 1, 1)
    for args, name in (((0, 1, 1, 0), "H"), ((3, 0, 1, 0), "HH"), ((3, 1, 0, 0), "stride"), ((3, 1, 1, -1), "pad"),
                       ((3.0, 1, 1, 0), "H"), ((3, 1, True, 0), "stride")):
        with pytest.raises(ValueError, match=f"{name} must be an integer"):
            C.conv_output_size(*args)


# --------------------------------------------------------------------------- convolution
def test_convolution_is_cross_correlation_pinned_example():
    """w = [[1, 0], [0, -1]] on x = arange(9): out[i, j] = x[i, j] - x[i+1, j+1] = -4 (a flipped kernel gives +4)."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    for fwd in (C.conv2d_forward_naive, C.conv2d_forward_im2col):
        out, _ = fwd(x, w, np.array([0.5]))
        np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -3.5))
    out, _ = C.conv2d_forward_naive(x, w, np.zeros(1), stride=1, pad=1)
    np.testing.assert_array_equal(out[0, 0], [[-0.0, -1, -2, 0], [-3, -4, -4, 2], [-6, -4, -4, 5], [0, 6, 7, 8]])


@FAST
@given(shape=conv_shapes(), seed=seeds)
def test_naive_and_im2col_agree_and_match_numeric(shape, seed):
    N, Cin, F, H, W, HH, WW, s, pad = shape
    rng = rng_for(seed)
    x, w, b = _conv_problem(rng, N, Cin, F, H, W, HH, WW)
    out, cache = C.conv2d_forward_naive(x, w, b, s, pad)
    out2, cache2 = C.conv2d_forward_im2col(x, w, b, s, pad)
    assert out.shape == (N, F, C.conv_output_size(H, HH, s, pad), C.conv_output_size(W, WW, s, pad))
    np.testing.assert_allclose(out2, out, rtol=1e-12, atol=1e-13)
    dout = rng.standard_normal(out.shape)
    grads = C.conv2d_backward_naive(dout, cache)
    grads2 = C.conv2d_backward_im2col(dout, cache2)
    for name, g, g2, like in zip(("dx", "dw", "db"), grads, grads2, (x, w, b)):
        assert g.shape == like.shape and g.dtype == np.float64, name
        np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-13, err_msg=name)
    # numeric VJPs through the (faster) im2col forward, which equals the naive one (checked above)
    assert_vjp(lambda v: C.conv2d_forward_im2col(v, w, b, s, pad)[0], x, grads[0], dout, name="dx")
    assert_vjp(lambda v: C.conv2d_forward_im2col(x, v, b, s, pad)[0], w, grads[1], dout, name="dw")
    assert_vjp(lambda v: C.conv2d_forward_im2col(x, w, v, s, pad)[0], b, grads[2], dout, name="db")


@FAST
@given(shape=conv_shapes(), seed=seeds)
def test_dw_is_a_correlation_and_dx_a_full_convolution_with_the_flipped_kernel(shape, seed):
    N, Cin, F, H, W, HH, WW, s, pad = shape
    rng = rng_for(seed)
    x, w, b = _conv_problem(rng, N, Cin, F, H, W, HH, WW)
    out, cache = C.conv2d_forward_naive(x, w, b, s, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, _ = C.conv2d_backward_naive(dout, cache)
    np.testing.assert_allclose(C.conv2d_dw_as_correlation(x, dout, HH, WW, s, pad), dw, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(C.conv2d_dx_as_full_convolution(dout, w, x.shape, s, pad), dx, rtol=1e-12, atol=1e-13)


def test_dx_needs_the_flip_and_the_crop():
    """The unflipped kernel, or forgetting to crop the padding, gives a different (wrong) dx."""
    rng = rng_for(1)
    x, w, b = _conv_problem(rng, 2, 2, 3, 5, 5, 3, 3)
    out, cache = C.conv2d_forward_naive(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    dx = C.conv2d_backward_naive(dout, cache)[0]
    unflipped = C.conv2d_dx_as_full_convolution(dout, w[:, :, ::-1, ::-1], x.shape, 1, 1)
    assert rel_error(unflipped, dx) > 0.1
    uncropped = np.zeros((2, 2, 7, 7))
    for n in range(2):
        for c in range(2):
            for f in range(3):
                uncropped[n, c] += C.convolve2d_full(dout[n, f], w[f, c])
    np.testing.assert_allclose(uncropped[:, :, 1:-1, 1:-1], dx, rtol=1e-12)
    assert np.any(uncropped[:, :, 0] != 0)  # the padding rows do receive gradient: they must be dropped


def test_two_dimensional_primitives():
    a = np.arange(12.0).reshape(3, 4)
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    corr = C.correlate2d_valid(a, k)
    assert corr.shape == (2, 3)
    assert corr[1, 2] == a[1, 2] * 1 + a[1, 3] * 2 + a[2, 2] * 3 + a[2, 3] * 4
    full = C.convolve2d_full(a, k)
    assert full.shape == (4, 5)
    np.testing.assert_allclose(full, C.convolve2d_full(k, a), rtol=1e-14)  # convolution commutes
    row, kern = np.array([[1.0, -2.0, 0.5, 3.0]]), np.array([[2.0, 1.0, -1.0]])
    np.testing.assert_allclose(C.convolve2d_full(row, kern)[0], np.convolve(row[0], kern[0], mode="full"))
    np.testing.assert_allclose(C.correlate2d_valid(row, kern)[0], np.correlate(row[0], kern[0], mode="valid"))
    d = C.dilate2d(np.array([[1.0, 2.0], [3.0, 4.0]]), 3)
    np.testing.assert_array_equal(d, [[1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])
    np.testing.assert_array_equal(C.dilate2d(a, 1), a)
    with pytest.raises(ValueError, match="must be non-empty and fit inside"):
        C.correlate2d_valid(k, a)
    with pytest.raises(ValueError, match="at least 2-D"):
        C.dilate2d(np.ones(3), 2)
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        C.dilate2d(a, 0)


# --------------------------------------------------------------------------- im2col / col2im
def test_im2col_rows_are_receptive_fields():
    x = np.arange(2 * 2 * 4 * 4, dtype=float).reshape(2, 2, 4, 4)
    cols = C.im2col(x, 3, 2, stride=1, pad=1)
    Ho, Wo = C.conv_output_size(4, 3, 1, 1), C.conv_output_size(4, 2, 1, 1)
    assert cols.shape == (2 * Ho * Wo, 2 * 3 * 2)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, i, j = 1, 2, 3
    np.testing.assert_array_equal(cols[(n * Ho + i) * Wo + j], xp[n, :, i:i + 3, j:j + 2].ravel())


def test_col2im_adds_up_overlapping_windows():
    """col2im(ones) counts how many windows cover each pixel: 2x2 windows, stride 1, on a 3x3 image."""
    counts = C.col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, stride=1, pad=0)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    counts = C.col2im(np.ones((9, 9)), (1, 1, 3, 3), 3, 3, stride=1, pad=1)  # padding is cropped after adding
    np.testing.assert_array_equal(counts[0, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


@FAST
@given(shape=conv_shapes(), seed=seeds)
def test_col2im_is_the_adjoint_of_im2col(shape, seed):
    N, Cin, _, H, W, HH, WW, s, pad = shape
    rng = rng_for(seed)
    x = rng.standard_normal((N, Cin, H, W))
    cols = C.im2col(x, HH, WW, s, pad)
    R = rng.standard_normal(cols.shape)
    back = C.col2im(R, x.shape, HH, WW, s, pad)
    assert back.shape == x.shape
    assert np.sum(cols * R) == pytest.approx(np.sum(x * back), rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- pooling
def _distinct(rng, shape):
    """Entries far apart, so every window has a unique maximum and finite differences are smooth."""
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) * 0.5


@st.composite
def pool_shapes(draw):
    N, Cin = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw, s = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    Ho, Wo = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return N, Cin, s * (Ho - 1) + ph, s * (Wo - 1) + pw, ph, pw, s


@FAST
@given(shape=pool_shapes(), seed=seeds)
def test_maxpool_matches_numeric_and_the_layers_module(shape, seed):
    N, Cin, H, W, ph, pw, s = shape
    rng = rng_for(seed)
    x = _distinct(rng, (N, Cin, H, W))
    out, cache = C.maxpool2d_forward(x, ph, pw, s)
    ref_out, ref_cache = layers.max_pool2d_forward(x, ph, pw, s)
    np.testing.assert_array_equal(out, ref_out)
    dout = rng.standard_normal(out.shape)
    dx = C.maxpool2d_backward(dout, cache)
    np.testing.assert_allclose(dx, layers.max_pool2d_backward(dout, ref_cache), rtol=1e-14)
    assert_vjp(lambda v: C.maxpool2d_forward(v, ph, pw, s)[0], x, dx, dout, name="maxpool dx")
    assert np.sum(dx) == pytest.approx(np.sum(dout), rel=1e-12, abs=1e-12)


@FAST
@given(shape=pool_shapes(), seed=seeds)
def test_avgpool_matches_numeric(shape, seed):
    N, Cin, H, W, ph, pw, s = shape
    rng = rng_for(seed)
    x = rng.standard_normal((N, Cin, H, W))
    out, cache = C.avgpool2d_forward(x, ph, pw, s)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            np.testing.assert_allclose(out[:, :, i, j], x[:, :, i * s:i * s + ph, j * s:j * s + pw].mean(axis=(2, 3)),
                                       rtol=1e-13)
    dout = rng.standard_normal(out.shape)
    dx = C.avgpool2d_backward(dout, cache)
    assert_vjp(lambda v: C.avgpool2d_forward(v, ph, pw, s)[0], x, dx, dout, name="avgpool dx")


def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 7.0], [7.0, 7.0]]]])  # three tied maxima: (0, 1) comes first
    out, cache = C.maxpool2d_forward(x, 2, 2, 2)
    dx = C.maxpool2d_backward(np.array([[[[3.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0.0, 3.0], [0.0, 0.0]]]])
    flat = np.full((1, 1, 2, 2), 2.5)  # all tied: the top-left entry
    _, cache = C.maxpool2d_forward(flat, 2, 2, 2)
    np.testing.assert_array_equal(C.maxpool2d_backward(np.array([[[[1.0]]]]), cache), [[[[1.0, 0.0], [0.0, 0.0]]]])
    # Two windows (2x2, stride 2) side by side, each with a tie; each routes to exactly one entry.
    x = np.array([[[[0.0, 5.0, 4.0, 4.0], [5.0, 1.0, 4.0, 0.0]]]])
    _, cache = C.maxpool2d_forward(x, 2, 2, 2)
    dx = C.maxpool2d_backward(np.array([[[[1.0, 2.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    assert np.count_nonzero(dx) == 2


def test_overlapping_pool_windows_accumulate():
    """3x3 input, 2x2 windows, stride 1: the centre is the max of all four windows and gets all four gradients."""
    x = np.array([[[[0.0, 1.0, 0.0], [2.0, 9.0, 3.0], [0.0, 4.0, 0.0]]]])
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    _, cache = C.maxpool2d_forward(x, 2, 2, 1)
    np.testing.assert_array_equal(C.maxpool2d_backward(dout, cache), [[[[0, 0, 0], [0, 10.0, 0], [0, 0, 0]]]])
    _, cache = C.avgpool2d_forward(x, 2, 2, 1)
    np.testing.assert_allclose(C.avgpool2d_backward(dout, cache)[0, 0],
                               np.array([[1, 3, 2], [4, 10, 6], [3, 7, 4]]) / 4.0, rtol=1e-15)


# --------------------------------------------------------------------------- contract
def test_nothing_is_mutated():
    rng = rng_for(2)
    x, w, b = _conv_problem(rng, 2, 2, 3, 5, 5, 3, 3)
    dout = rng.standard_normal((2, 3, 3, 3))
    arrays = [x, w, b, dout]
    copies = [a.copy() for a in arrays]
    for fwd, bwd in ((C.conv2d_forward_naive, C.conv2d_backward_naive),
                     (C.conv2d_forward_im2col, C.conv2d_backward_im2col)):
        _, cache = fwd(x, w, b, 2, 1)
        bwd(dout, cache)
    C.conv2d_dw_as_correlation(x, dout, 3, 3, 2, 1)
    C.conv2d_dx_as_full_convolution(dout, w, x.shape, 2, 1)
    cols = C.im2col(x, 3, 3, 1, 1)
    cols_copy = cols.copy()
    C.col2im(cols, x.shape, 3, 3, 1, 1)
    np.testing.assert_array_equal(cols, cols_copy)
    for fwd, bwd in ((C.maxpool2d_forward, C.maxpool2d_backward), (C.avgpool2d_forward, C.avgpool2d_backward)):
        out, cache = fwd(x, 3, 3, 2)
        bwd(dout[:, :2, :2, :2], cache)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


def test_bad_input_gives_specific_errors():
    rng = rng_for(3)
    x, w, b = _conv_problem(rng, 2, 3, 4, 6, 6, 3, 3)
    for fwd in (C.conv2d_forward_naive, C.conv2d_forward_im2col):
        with pytest.raises(ValueError, match=r"\(6 \+ 2\*0 - 3\) / 2 \+ 1 = 3/2 \+ 1 is not an integer"):
            fwd(x, w, b, stride=2, pad=0)
        with pytest.raises(ValueError, match=r"w must have shape \(F, 3, HH, WW\)"):
            fwd(x, w[:, :2], b)
        with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
            fwd(x, w, b[:3])
        with pytest.raises(ValueError, match="x must be 4-D"):
            fwd(x[0], w, b)
        with pytest.raises(ValueError, match="W must be an integer|WW=3 is larger"):
            fwd(x[..., :2], w, b)
        with pytest.raises(ValueError, match="pad must be an integer >= 0"):
            fwd(x, w, b, 1, -1)
    out, cache = C.conv2d_forward_naive(x, w, b, 1, 1)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 6, 6\)"):
        C.conv2d_backward_naive(out[:, :, :5], cache)
    with pytest.raises(TypeError, match="conv2d_forward_naive"):
        C.conv2d_backward_naive(out, C.conv2d_forward_im2col(x, w, b, 1, 1)[1])
    with pytest.raises(ValueError, match=r"cols must have shape \(72, 27\)"):
        C.col2im(np.zeros((72, 26)), x.shape, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="x_shape must be a 4-tuple"):
        C.col2im(np.zeros((72, 27)), (2, 3, 6), 3, 3, 1, 1)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, F, 6, 6\)"):
        C.conv2d_dw_as_correlation(x, out[:, :, :5], 3, 3, 1, 1)
    with pytest.raises(ValueError, match=r"\(H - pool_h\) / stride \+ 1 = \(5 - 2\) / 2 \+ 1 = 3/2 \+ 1 is not"):
        C.maxpool2d_forward(x[:, :, :5], 2, 2, 2)
    with pytest.raises(ValueError, match="NaN"):
        C.maxpool2d_forward(np.where(x > 1, np.nan, x), 2, 2, 2)
    out, cache = C.maxpool2d_forward(x, 2, 2, 2)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 3, 3\)"):
        C.maxpool2d_backward(out[..., :2], cache)
    with pytest.raises(TypeError, match="avgpool2d_forward"):
        C.avgpool2d_backward(out, cache)


# --------------------------------------------------------------------------- SymPy: 1-D identities
@pytest.mark.parametrize("L, K, stride, pad", [(5, 3, 1, 0), (5, 3, 2, 0), (4, 2, 2, 1), (6, 4, 2, 2), (3, 3, 1, 1),
                                               (6, 3, 3, 0), (1, 1, 1, 0)])
def test_sympy_1d_convolution_gradient_identities(L, K, stride, pad):
    r = SL.conv1d_identities(L, K, stride, pad)
    for k, (g, closed) in enumerate(zip(r["dw"], r["dw_correlation"])):
        assert sp.expand(g - closed) == 0, f"dw[{k}]"
    for i, (g, closed) in enumerate(zip(r["dx"], r["dx_full_convolution"])):
        assert sp.expand(g - closed) == 0, f"dx[{i}]"
    # the same numbers from the 2-D reference with one row (H = HH = 1), padding x by hand along W only
    rng = rng_for(40)
    x, w, dout = rng.standard_normal(L), rng.standard_normal(K), rng.standard_normal(len(r["dout"]))
    xp = np.pad(x, pad)[None, None, None, :]
    out, cache = C.conv2d_forward_naive(xp, w[None, None, None, :], np.zeros(1), stride, 0)
    dxp, dw, _ = C.conv2d_backward_naive(dout[None, None, None, :], cache)
    symbols = r["x"] + r["w"] + r["dout"]
    point = [*x, *w, *dout]
    y = np.array(sp.lambdify(symbols, r["y"], modules="numpy")(*point), dtype=float)
    np.testing.assert_allclose(out[0, 0, 0], y, rtol=1e-12, atol=1e-14)
    dw_sym = np.array(sp.lambdify(symbols, r["dw_correlation"], modules="numpy")(*point), dtype=float)
    dx_sym = np.array(sp.lambdify(symbols, r["dx_full_convolution"], modules="numpy")(*point), dtype=float)
    np.testing.assert_allclose(dw[0, 0, 0], dw_sym, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dxp[0, 0, 0, pad:pad + L], dx_sym, rtol=1e-12, atol=1e-14)


def test_sympy_conv1d_validates():
    with pytest.raises(ValueError, match=r"\(6 \+ 2\*1 - 3\) / 2 \+ 1 is not a positive integer"):
        SL.conv1d_identities(6, 3, 2, 1)
    with pytest.raises(ValueError, match="K must be an integer in 1..4"):
        SL.conv1d_identities(6, 5)
