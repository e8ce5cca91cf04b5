"""reference_impl.attention: softmax VJP, scaled dot-product and multi-head attention against numeric VJPs with a
random upstream gradient (float64) and against SymPy, exact masking, masks, cost helpers, the 1/sqrt(d) argument,
bad input."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from reference_impl import attention as A
from reference_impl import symbolic_layers as S
from reference_impl.gradcheck import numeric_vjp, rel_error
from reference_impl.losses import softmax as softmax_2d
from tests.helpers import assert_vjp, rng_for

FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)
small = st.integers(1, 3)
TOL = 1e-7


def _random_mask(rng, shape):
    """Random boolean mask (True = keep) with at least one kept entry in every last-axis row."""
    mask = rng.random(shape) < 0.6
    rows = mask.reshape(-1, shape[-1])
    rows[np.arange(rows.shape[0]), rng.integers(0, shape[-1], rows.shape[0])] = True
    return rows.reshape(shape)


def _assert_grads_match(fwd, args, grads, dout, names, tol=TOL):
    for i, (name, g) in enumerate(zip(names, grads)):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            return fwd(*a)
        num = numeric_vjp(f, args[i], dout)
        assert g.shape == num.shape and g.dtype == np.float64, name
        err = rel_error(g, num)
        assert err < tol, f"{name}: rel_error {err:.3e}"


def _attention_loops(Q, K, V, mask=None):
    """The definition, one (batch, query) at a time, with Python lists for the kept keys."""
    B, Tq, d = Q.shape
    out = np.zeros((B, Tq, V.shape[2]))
    for b in range(B):
        for i in range(Tq):
            keep = [j for j in range(K.shape[1]) if mask is None or np.broadcast_to(mask, (B, Tq, K.shape[1]))[b, i, j]]
            s = np.array([Q[b, i] @ K[b, j] / np.sqrt(d) for j in keep])
            p = np.exp(s - s.max())
            p /= p.sum()
            out[b, i] = sum(pj * V[b, j] for pj, j in zip(p, keep))
    return out


# --------------------------------------------------------------------------- softmax
def test_softmax_forward_matches_the_2d_loss_softmax_and_is_stable():
    rng = rng_for(0)
    x = rng.standard_normal((4, 6))
    P, cache = A.softmax_forward(x)
    np.testing.assert_allclose(P, softmax_2d(x), rtol=1e-14)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-14)
    assert cache["P"] is P
    big = np.array([[1000.0, 999.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-2000) underflowing to 0 is fine
        Pb, _ = A.softmax_forward(big)
    np.testing.assert_allclose(Pb, [[1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1)), 0.0]], rtol=1e-14)


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), masked=st.booleans(), seed=seeds)
def test_softmax_backward_matches_numeric(shape, masked, seed):
    rng = rng_for(seed)
    x = 2 * rng.standard_normal(shape)
    mask = _random_mask(rng, tuple(shape)) if masked else None
    P, cache = A.softmax_forward(x, mask)
    dP = rng.standard_normal(shape)
    dx = A.softmax_backward(dP, cache)
    assert_vjp(lambda v: A.softmax_forward(v, mask)[0], x, dx, dP, name="softmax dx")


def test_softmax_backward_equals_the_jacobian_transpose_product():
    rng = rng_for(1)
    x, dP = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    P, cache = A.softmax_forward(x)
    dx = A.softmax_backward(dP, cache)
    for r in range(3):
        J = np.diag(P[r]) - np.outer(P[r], P[r])
        np.testing.assert_allclose(dx[r], J.T @ dP[r], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx.sum(axis=-1), 0.0, atol=1e-15)  # softmax is shift invariant


def test_masked_softmax_entries_are_exactly_zero_and_carry_exactly_zero_gradient():
    rng = rng_for(2)
    x = rng.standard_normal((2, 3, 5))
    mask = _random_mask(rng, (2, 3, 5))
    mask[0, 0] = [True, False, False, False, False]  # a row with a single key: its weight is exactly 1
    P, cache = A.softmax_forward(x, mask)
    assert np.all(P[~mask] == 0.0)
    assert np.all(P[mask] > 0.0)
    assert P[0, 0, 0] == 1.0
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-14)
    dx = A.softmax_backward(rng.standard_normal(x.shape), cache)
    assert np.all(dx[~mask] == 0.0)
    # Whatever the masked scores are, P is bit-for-bit the same: they never enter the computation.
    y = np.where(mask, x, 1e300 * rng.standard_normal(x.shape))
    np.testing.assert_array_equal(A.softmax_forward(y, mask)[0], P)
    # And the kept entries equal a plain softmax over the kept entries only.
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(P[idx][mask[idx]], softmax_2d(x[idx][mask[idx]][None])[0], rtol=1e-14)


def test_softmax_rejects_bad_input():
    with pytest.raises(ValueError, match="fully masked row|no position to attend to"):
        A.softmax_forward(np.zeros((2, 3)), np.array([[True, False, False], [False, False, False]]))
    with pytest.raises(TypeError, match="boolean"):
        A.softmax_forward(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not broadcast"):
        A.softmax_forward(np.zeros((2, 3)), np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="NaN or inf"):
        A.softmax_forward(np.array([0.0, -np.inf]))
    with pytest.raises(ValueError, match="non-empty last axis"):
        A.softmax_forward(np.zeros((2, 0)))
    _, cache = A.softmax_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dP must have shape \(2, 3\)"):
        A.softmax_backward(np.zeros((3, 2)), cache)
    with pytest.raises(TypeError, match="softmax_forward"):
        A.softmax_backward(np.zeros((2, 3)), (np.zeros((2, 3)),))


# --------------------------------------------------------------------------- scaled dot-product attention
def _sdpa_problem(rng, B, Tq, Tk, d, dv):
    return rng.standard_normal((B, Tq, d)), rng.standard_normal((B, Tk, d)), rng.standard_normal((B, Tk, dv))


@FAST
@given(B=small, Tq=st.integers(1, 4), Tk=st.integers(1, 4), d=st.integers(1, 4), dv=small, masked=st.booleans(),
       seed=seeds)
def test_attention_forward_is_the_definition_and_backward_matches_numeric(B, Tq, Tk, d, dv, masked, seed):
    rng = rng_for(seed)
    Q, K, V = _sdpa_problem(rng, B, Tq, Tk, d, dv)
    mask = _random_mask(rng, (B, Tq, Tk)) if masked else None
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V, mask)
    assert out.shape == (B, Tq, dv) and out.dtype == np.float64
    np.testing.assert_allclose(out, _attention_loops(Q, K, V, mask), rtol=1e-12, atol=1e-14)
    dout = rng.standard_normal(out.shape)
    grads = A.scaled_dot_product_attention_backward(dout, cache)
    _assert_grads_match(lambda *a: A.scaled_dot_product_attention_forward(*a, mask)[0], [Q, K, V], grads, dout,
                        ["dQ", "dK", "dV"])


def test_attention_uses_one_over_sqrt_d_and_dv_is_p_transpose_dout():
    rng = rng_for(3)
    Q, K, V = _sdpa_problem(rng, 2, 3, 4, 9, 2)
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V)
    assert cache["scale"] == 1 / 3
    S = Q @ K.transpose(0, 2, 1) / 3
    np.testing.assert_allclose(cache["P"], np.exp(S) / np.exp(S).sum(-1, keepdims=True), rtol=1e-13)
    unscaled = softmax_2d((Q @ K.transpose(0, 2, 1)).reshape(-1, 4)).reshape(2, 3, 4) @ V
    assert rel_error(out, unscaled) > 1e-2
    dout = rng.standard_normal(out.shape)
    _, _, dV = A.scaled_dot_product_attention_backward(dout, cache)
    np.testing.assert_allclose(dV, cache["P"].transpose(0, 2, 1) @ dout, rtol=1e-14)


def test_attention_accepts_extra_leading_axes():
    rng = rng_for(4)
    Q, K, V = (rng.standard_normal((2, 3, 4, 5)) for _ in range(3))
    mask = A.causal_mask(4)
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V, mask)
    dout = rng.standard_normal(out.shape)
    grads = A.scaled_dot_product_attention_backward(dout, cache)
    flat = [a.reshape(6, 4, 5) for a in (Q, K, V)]
    out3, cache3 = A.scaled_dot_product_attention_forward(*flat, mask)
    np.testing.assert_allclose(out, out3.reshape(out.shape), rtol=1e-14)
    for g, g3 in zip(grads, A.scaled_dot_product_attention_backward(dout.reshape(6, 4, 5), cache3)):
        np.testing.assert_allclose(g, g3.reshape(g.shape), rtol=1e-14)


def test_a_key_masked_for_every_query_gets_exactly_zero_gradient_and_has_no_influence():
    rng = rng_for(5)
    Q, K, V = _sdpa_problem(rng, 2, 3, 5, 4, 3)
    lengths = np.array([3, 5])
    mask = A.padding_mask(lengths, 5)
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V, mask)
    assert np.all(cache["P"][0, :, 3:] == 0.0)
    dQ, dK, dV = A.scaled_dot_product_attention_backward(rng.standard_normal(out.shape), cache)
    assert np.all(dK[0, 3:] == 0.0) and np.all(dV[0, 3:] == 0.0)
    assert np.all(dK[1] != 0.0) and np.all(dV[1] != 0.0)
    K2, V2 = K.copy(), V.copy()
    K2[0, 3:] = 1e6 * rng.standard_normal((2, 4))
    V2[0, 3:] = 1e6 * rng.standard_normal((2, 3))
    np.testing.assert_array_equal(A.scaled_dot_product_attention_forward(Q, K2, V2, mask)[0], out)


def test_causal_attention_output_does_not_depend_on_the_future():
    rng = rng_for(6)
    Q, K, V = _sdpa_problem(rng, 1, 5, 5, 3, 2)
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V, A.causal_mask(5))
    assert np.all(cache["P"][0][np.triu_indices(5, 1)] == 0.0)
    np.testing.assert_allclose(cache["P"][0, 0], [1, 0, 0, 0, 0])
    for t in range(4):
        K2, V2 = K.copy(), V.copy()
        K2[:, t + 1:] += 10 * rng.standard_normal(K2[:, t + 1:].shape)
        V2[:, t + 1:] += 10 * rng.standard_normal(V2[:, t + 1:].shape)
        out2, _ = A.scaled_dot_product_attention_forward(Q, K2, V2, A.causal_mask(5))
        np.testing.assert_array_equal(out2[:, : t + 1], out[:, : t + 1])
        assert np.all(out2[:, t + 1:] != out[:, t + 1:])


def test_masks():
    np.testing.assert_array_equal(A.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert A.causal_mask(3).dtype == np.bool_
    m = A.padding_mask([2, 3, 1], 3)
    assert m.shape == (3, 1, 3) and m.dtype == np.bool_
    np.testing.assert_array_equal(m[:, 0], [[1, 1, 0], [1, 1, 1], [1, 0, 0]])
    both = A.causal_mask(3) & A.padding_mask(np.array([2, 1]), 3)
    assert both.shape == (2, 3, 3) and np.all(both.any(axis=-1))
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.3"):
        A.padding_mask([0, 2], 3)
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.3"):
        A.padding_mask([4], 3)
    with pytest.raises(TypeError, match="integers"):
        A.padding_mask([1.5], 3)
    with pytest.raises(ValueError, match="1-D"):
        A.padding_mask([[1]], 3)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="T must be a positive integer"):
            A.causal_mask(bad)


def test_attention_rejects_bad_input():
    rng = rng_for(7)
    Q, K, V = _sdpa_problem(rng, 2, 3, 4, 5, 6)
    with pytest.raises(ValueError, match="at least 3-D"):
        A.scaled_dot_product_attention_forward(Q[0], K[0], V[0])
    with pytest.raises(ValueError, match="K must have shape"):
        A.scaled_dot_product_attention_forward(Q, K[..., :4], V)
    with pytest.raises(ValueError, match="K must have shape"):
        A.scaled_dot_product_attention_forward(Q, K[:1], V)
    with pytest.raises(ValueError, match="V must have shape"):
        A.scaled_dot_product_attention_forward(Q, K, V[:, :3])
    with pytest.raises(ValueError, match="NaN or inf"):
        A.scaled_dot_product_attention_forward(Q, np.where(K > 1, np.inf, K), V)
    mask = np.ones((2, 3, 4), dtype=bool)
    mask[1, 2] = False
    with pytest.raises(ValueError, match=r"no position to attend to, the first at index \(1, 2\)"):
        A.scaled_dot_product_attention_forward(Q, K, V, mask)
    with pytest.raises(ValueError, match="does not broadcast"):
        A.scaled_dot_product_attention_forward(Q, K, V, np.ones((3, 3), dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        A.scaled_dot_product_attention_forward(Q, K, V, np.ones((3, 4), dtype=np.int64))
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 6\)"):
        A.scaled_dot_product_attention_backward(out[..., :5], cache)
    with pytest.raises(TypeError, match="scaled_dot_product_attention_forward"):
        A.scaled_dot_product_attention_backward(out, {"kind": "softmax", "P": cache["P"]})


# --------------------------------------------------------------------------- multi-head self-attention
def _mha_problem(rng, B, T, h, dh):
    D = h * dh
    X = rng.standard_normal((B, T, D))
    Ws = [rng.standard_normal((D, D)) / np.sqrt(D) for _ in range(4)]
    return X, Ws


@FAST
@given(B=st.integers(1, 2), T=st.integers(1, 4), h=st.integers(1, 3), dh=st.integers(1, 2), causal=st.booleans(),
       seed=seeds)
def test_multihead_backward_matches_numeric(B, T, h, dh, causal, seed):
    rng = rng_for(seed)
    X, Ws = _mha_problem(rng, B, T, h, dh)
    mask = A.causal_mask(T) if causal else None
    out, cache = A.multihead_attention_forward(X, *Ws, h, mask)
    assert out.shape == X.shape and cache["P"].shape == (B, h, T, T)
    dout = rng.standard_normal(out.shape)
    grads = A.multihead_attention_backward(dout, cache)
    _assert_grads_match(lambda *a: A.multihead_attention_forward(*a, h, mask)[0], [X, *Ws], grads, dout,
                        ["dX", "dWq", "dWk", "dWv", "dWo"])


def test_multihead_equals_a_loop_over_column_blocks_of_the_weights():
    """Head k uses columns k*dh..(k+1)*dh of Wq, Wk, Wv and rows of Wo: an independent implementation."""
    rng = rng_for(8)
    B, T, h, dh = 2, 5, 3, 2
    X, (Wq, Wk, Wv, Wo) = _mha_problem(rng, B, T, h, dh)
    mask = A.causal_mask(T) & A.padding_mask([5, 3], T)
    out, cache = A.multihead_attention_forward(X, Wq, Wk, Wv, Wo, h, mask)
    expected = np.zeros_like(out)
    for k in range(h):
        cols = slice(k * dh, (k + 1) * dh)
        head = _attention_loops(X @ Wq[:, cols], X @ Wk[:, cols], X @ Wv[:, cols], mask)
        expected += head @ Wo[cols]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def test_one_head_is_plain_attention_on_projections():
    rng = rng_for(9)
    X, (Wq, Wk, Wv, Wo) = _mha_problem(rng, 2, 4, 1, 3)
    out, _ = A.multihead_attention_forward(X, Wq, Wk, Wv, Wo, 1)
    ref, _ = A.scaled_dot_product_attention_forward(X @ Wq, X @ Wk, X @ Wv)
    np.testing.assert_allclose(out, ref @ Wo, rtol=1e-13)


def test_split_and_merge_heads_are_inverse_reshapes():
    X = np.arange(2 * 3 * 6, dtype=float).reshape(2, 3, 6)
    Xh = A.split_heads(X, 3)
    assert Xh.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(Xh[1, 2, 0], X[1, 0, 4:6])  # batch 1, head 2, position 0
    np.testing.assert_array_equal(A.merge_heads(Xh), X)
    with pytest.raises(ValueError, match="must divide the model width D=6"):
        A.split_heads(X, 4)


def test_multihead_rejects_bad_input():
    rng = rng_for(10)
    X, Ws = _mha_problem(rng, 2, 3, 2, 2)
    with pytest.raises(ValueError, match="must divide the model width D=4"):
        A.multihead_attention_forward(X, *Ws, 3)
    with pytest.raises(ValueError, match=r"Wk must have shape \(4, 4\)"):
        A.multihead_attention_forward(X, Ws[0], Ws[1][:3], Ws[2], Ws[3], 2)
    with pytest.raises(ValueError, match="X must be 3-D"):
        A.multihead_attention_forward(X[0], *Ws, 2)
    with pytest.raises(ValueError, match="num_heads must be a positive integer"):
        A.multihead_attention_forward(X, *Ws, 0)
    bad = np.ones((3, 3), dtype=bool)
    bad[0] = False
    with pytest.raises(ValueError, match="no position to attend to"):
        A.multihead_attention_forward(X, *Ws, 2, bad)
    out, cache = A.multihead_attention_forward(X, *Ws, 2)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 4\)"):
        A.multihead_attention_backward(out[:, :2], cache)


def test_nothing_is_mutated():
    rng = rng_for(11)
    X, Ws = _mha_problem(rng, 2, 4, 2, 2)
    mask = A.causal_mask(4)
    dout = rng.standard_normal(X.shape)
    arrays = [X, *Ws, mask, dout]
    copies = [a.copy() for a in arrays]
    out, cache = A.multihead_attention_forward(X, *Ws, 2, mask)
    A.multihead_attention_backward(dout, cache)
    out, cache = A.scaled_dot_product_attention_forward(X, X, X, mask)
    A.scaled_dot_product_attention_backward(dout, cache)
    P, cache = A.softmax_forward(X, mask)
    A.softmax_backward(dout, cache)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


# --------------------------------------------------------------------------- costs and the 1/sqrt(d) factor
def test_score_memory_and_flops():
    assert A.attention_score_memory(1, 1, 4096, 4) == 64 * 2**20
    assert A.attention_score_memory(2, 8, 1024, 2) == 2 * 8 * 1024**2 * 2
    assert A.attention_score_memory(1, 1, 2048, 4) * 4 == A.attention_score_memory(1, 1, 4096, 4)
    f = A.attention_flops(2, 4, 10, 8)
    assert f == {"qk": 2 * 2 * 4 * 100 * 8, "pv": 2 * 2 * 4 * 100 * 8, "total": 4 * 2 * 4 * 100 * 8}
    # The flop count matches counting the multiply-adds of the actual products.
    rng = rng_for(12)
    Q = rng.standard_normal((2, 4, 10, 8))
    assert f["qk"] == 2 * Q.shape[0] * Q.shape[1] * Q.shape[2] * Q.shape[2] * Q.shape[3]
    for bad in ((0, 1, 1, 4), (1, 1, 1.5, 4), (1, True, 1, 4)):
        with pytest.raises(ValueError, match="positive integer"):
            A.attention_score_memory(*bad)
    with pytest.raises(ValueError, match="d_head must be a positive integer"):
        A.attention_flops(1, 1, 4, 0)


def test_dot_product_variance_grows_like_d_and_the_scaled_one_stays_one():
    dims = [1, 4, 16, 64, 256]
    res = A.dot_product_variance(dims, rng_for(13), n_samples=20000)
    np.testing.assert_array_equal(res["d"], dims)
    # Var(q.k) = d; the relative standard error of a sample variance here is below 2.5%.
    np.testing.assert_allclose(res["var_raw"] / res["d"], 1.0, rtol=0.1)
    np.testing.assert_allclose(res["var_scaled"], 1.0, rtol=0.1)
    np.testing.assert_allclose(res["var_scaled"], res["var_raw"] / res["d"], rtol=1e-15)
    again = A.dot_product_variance(dims, rng_for(13), n_samples=20000)
    np.testing.assert_array_equal(again["var_raw"], res["var_raw"])


def test_softmax_saturates_without_the_scale_and_not_with_it():
    res = A.softmax_saturation([1, 16, 256, 1024], rng_for(14), n_keys=16, n_samples=1000)
    assert np.all(np.diff(res["max_prob_raw"]) > 0) and res["max_prob_raw"][-1] > 0.9
    assert np.all(np.diff(res["jac_norm_raw"][1:]) < 0) and res["jac_norm_raw"][-1] < 0.1
    assert np.all(np.abs(res["max_prob_scaled"] - res["max_prob_scaled"][0]) < 0.1)
    assert np.all(res["jac_norm_scaled"] > 0.25)


def test_jacobian_norm_formula_matches_the_formed_jacobian():
    """softmax_saturation never forms J; check its closed form ||J||_F on one row against the explicit matrix."""
    p, _ = A.softmax_forward(rng_for(15).standard_normal(7))
    J = np.diag(p) - np.outer(p, p)
    s2, s3 = np.sum(p**2), np.sum(p**3)
    assert np.sqrt(s2 - 2 * s3 + s2**2) == pytest.approx(np.linalg.norm(J), rel=1e-12)


def test_variance_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="Generator"):
        A.dot_product_variance([4], 0)
    with pytest.raises(ValueError, match="dims"):
        A.dot_product_variance([0, 4], rng_for(0))
    with pytest.raises(ValueError, match="dims"):
        A.softmax_saturation([], rng_for(0))
    with pytest.raises(ValueError, match="n_keys"):
        A.softmax_saturation([4], rng_for(0), n_keys=0)


# --------------------------------------------------------------------------- SymPy
@pytest.mark.parametrize("n_keys", [2, 3])
def test_sympy_one_query_score_gradient_is_p_times_v_minus_out(n_keys):
    r = S.attention_one_query(n_keys)
    for g, closed in zip(r["grad"], r["closed_form"]):
        assert sp.simplify(g - closed) == 0
    assert sp.simplify(r["jacobian"] - r["jacobian_closed_form"]) == sp.zeros(n_keys, n_keys)
    # the same numbers as the NumPy softmax VJP with dP_j = v_j (out = p . v, d out / d p_j = v_j)
    rng = rng_for(20 + n_keys)
    s, v = rng.standard_normal(n_keys), rng.standard_normal(n_keys)
    grad = np.array(sp.lambdify(r["s"] + r["v"], r["grad"], modules="numpy")(*s, *v), dtype=float)
    _, cache = A.softmax_forward(s)
    np.testing.assert_allclose(A.softmax_backward(v, cache), grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mask", [None, ((True, True, False), (True, False, False))])
def test_attention_backward_matches_sympy(mask):
    Tq, Tk, d, dv, B = 2, 3, 2, 2, 3
    model = S.attention_symbolic(Tq, Tk, d, dv, None if mask is None else np.array(mask))
    rng = rng_for(30)
    Q, K, V = _sdpa_problem(rng, B, Tq, Tk, d, dv)
    dout = rng.standard_normal((B, Tq, dv))
    out, cache = A.scaled_dot_product_attention_forward(Q, K, V, None if mask is None else np.array(mask))
    for name, g, expected in zip(("dQ", "dK", "dV"), A.scaled_dot_product_attention_backward(dout, cache),
                                 model(Q, K, V, dout)):
        assert rel_error(g, expected) < 1e-12, name
    if mask is not None:  # key 2 is masked for both queries: symbolically absent, numerically exactly zero
        assert np.all(model.grad_exprs["K"][2] == 0) and np.all(model.grad_exprs["V"][2] == 0)
        assert np.all(A.scaled_dot_product_attention_backward(dout, cache)[1][:, 2] == 0.0)


def test_attention_symbolic_validates():
    with pytest.raises(ValueError, match="up to 3"):
        S.attention_symbolic(4, 1, 1, 1)
    with pytest.raises(ValueError, match="no key to attend to"):
        S.attention_symbolic(2, 2, 1, 1, np.array([[True, False], [False, False]]))
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 2\)"):
        S.attention_symbolic(2, 2, 1, 1, np.ones((2, 3), dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        S.attention_symbolic(2, 2, 1, 1, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"Q must have shape \(B, 2, 1\)"):
        S.attention_symbolic(2, 2, 1, 1)(np.ones((2, 1)), np.ones((1, 2, 1)), np.ones((1, 2, 1)), np.ones((1, 2, 1)))
