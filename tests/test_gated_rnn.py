"""reference_impl.gated_rnn: LSTM and GRU steps and BPTT against numeric VJPs with random upstream gradients
(float64) and SymPy, the two paths into dc, the GRU interpolation, gradient norm against lag, bad input."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from reference_impl import gated_rnn as G
from reference_impl import rnn
from reference_impl import symbolic_layers as SL
from reference_impl.gradcheck import numeric_vjp, rel_error
from tests.helpers import rng_for

FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)
small = st.integers(1, 3)
hidden = st.integers(2, 4)  # H >= 2, as in test_rnn: a single hidden unit's weight gradients can cancel to noise
TOL = 1e-7


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _lstm_params(rng, D, H):
    """Weights scaled by 1/sqrt(fan_in) keep the gates out of saturation; small random biases."""
    return (0.8 * rng.standard_normal((D, 4 * H)) / np.sqrt(D), 0.8 * rng.standard_normal((H, 4 * H)) / np.sqrt(H),
            0.3 * rng.standard_normal(4 * H))


def _gru_params(rng, D, H):
    return (0.8 * rng.standard_normal((D, 3 * H)) / np.sqrt(D), 0.8 * rng.standard_normal((H, 3 * H)) / np.sqrt(H),
            0.3 * rng.standard_normal(3 * H), 0.3 * rng.standard_normal(3 * H))


def _assert_grads_match(fwd, args, grads, dout, names, tol=TOL):
    """Each grads[i] against the numeric VJP of fwd(*args) with args[i] perturbed."""
    for i, (name, g) in enumerate(zip(names, grads)):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            return fwd(*a)
        num = numeric_vjp(f, args[i], dout)
        assert g.shape == num.shape and g.dtype == np.float64, name
        err = rel_error(g, num)
        assert err < tol, f"{name}: rel_error {err:.3e}"


# --------------------------------------------------------------------------- LSTM step
def test_lstm_step_forward_is_the_stated_formula():
    rng = rng_for(0)
    N, D, H = 3, 4, 5
    x, h_prev, c_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = _lstm_params(rng, D, H)
    h, c, cache = G.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    a = x @ Wx + h_prev @ Wh + b
    i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-14)
    np.testing.assert_allclose(h, o * np.tanh(c), rtol=1e-14)
    for name, v in (("i", i), ("f", f), ("g", g), ("o", o)):
        np.testing.assert_allclose(cache[name], v, rtol=1e-14, err_msg=name)


@FAST
@given(N=small, D=small, H=hidden, seed=seeds)
def test_lstm_step_backward_matches_numeric(N, D, H, seed):
    rng = rng_for(seed)
    x, h_prev, c_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    args = [x, h_prev, c_prev, *_lstm_params(rng, D, H)]
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    h, c, cache = G.lstm_step_forward(*args)
    grads = G.lstm_step_backward(dh, dc, cache)
    names = ["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"]

    def both(*a):  # the VJP of (h, c) with upstream (dh, dc) is the VJP of h with dh plus that of c with dc
        h, c, _ = G.lstm_step_forward(*a)
        return np.stack([h, c])

    _assert_grads_match(both, args, grads, np.stack([dh, dc]), names)


def test_lstm_two_paths_into_dc():
    """dc_prev = (dc + dh * o * (1 - tanh(c)^2)) * f: the direct cell path times f plus the path through h."""
    rng = rng_for(1)
    N, D, H = 2, 3, 4
    x, h_prev, c_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    h, c, cache = G.lstm_step_forward(x, h_prev, c_prev, *_lstm_params(rng, D, H))
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    f, o = cache["f"], cache["o"]
    zero = np.zeros((N, H))
    np.testing.assert_allclose(G.lstm_step_backward(zero, dc, cache)[2], dc * f, rtol=1e-15)
    np.testing.assert_allclose(G.lstm_step_backward(dh, zero, cache)[2], dh * o * (1 - np.tanh(c) ** 2) * f,
                               rtol=1e-14)
    np.testing.assert_allclose(G.lstm_step_backward(dh, dc, cache)[2], (dc + dh * o * (1 - np.tanh(c) ** 2)) * f,
                               rtol=1e-14)


# --------------------------------------------------------------------------- LSTM sequence
def test_lstm_forward_is_the_step_repeated():
    rng = rng_for(2)
    N, T, D, H = 2, 4, 3, 5
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    params = _lstm_params(rng, D, H)
    h_all, cache = G.lstm_forward(x, h0, *params, c0=c0)
    assert h_all.shape == (N, T, H) and cache["c"].shape == (N, T, H)
    h, c = h0, c0
    for t in range(T):
        h, c, _ = G.lstm_step_forward(x[:, t], h, c, *params)
        np.testing.assert_array_equal(h_all[:, t], h)
        np.testing.assert_array_equal(cache["c"][:, t], c)
    no_c0, _ = G.lstm_forward(x, h0, *params)
    np.testing.assert_array_equal(no_c0, G.lstm_forward(x, h0, *params, c0=np.zeros((N, H)))[0])


@FAST
@given(N=small, T=st.integers(1, 4), D=small, H=hidden, seed=seeds)
def test_lstm_bptt_matches_numeric(N, T, D, H, seed):
    rng = rng_for(seed)
    x, h0, c0 = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H)), rng.standard_normal((N, H))
    args = [x, h0, *_lstm_params(rng, D, H), c0]
    h, cache = G.lstm_forward(*args[:5], c0=c0)
    dh = rng.standard_normal(h.shape)
    grads = G.lstm_backward(dh, cache)
    _assert_grads_match(lambda *a: G.lstm_forward(*a[:5], c0=a[5])[0], args, grads, dh,
                        ["dx", "dh0", "dWx", "dWh", "db", "dc0"])


# --------------------------------------------------------------------------- GRU
def test_gru_step_forward_is_pytorchs_convention():
    rng = rng_for(3)
    N, D, H = 3, 2, 4
    x, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    Wx, Wh, bx, bh = _gru_params(rng, D, H)
    h, cache = G.gru_step_forward(x, h_prev, Wx, Wh, bx, bh)
    ax, ah = x @ Wx + bx, h_prev @ Wh + bh
    r, z = _sig(ax[:, :H] + ah[:, :H]), _sig(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    np.testing.assert_allclose(h, (1 - z) * n + z * h_prev, rtol=1e-14)
    # z -> 1 keeps the old state, z -> 0 takes the candidate
    keep, take = bx.copy(), bx.copy()
    keep[H:2 * H], take[H:2 * H] = 50.0, -50.0
    np.testing.assert_allclose(G.gru_step_forward(x, h_prev, Wx, Wh, keep, bh)[0], h_prev, rtol=1e-14, atol=1e-15)
    h_take, c_take = G.gru_step_forward(x, h_prev, Wx, Wh, take, bh)
    np.testing.assert_allclose(h_take, c_take["n"], rtol=1e-14)


@FAST
@given(N=small, D=small, H=hidden, seed=seeds)
def test_gru_step_backward_matches_numeric(N, D, H, seed):
    rng = rng_for(seed)
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)), *_gru_params(rng, D, H)]
    dh = rng.standard_normal((N, H))
    h, cache = G.gru_step_forward(*args)
    grads = G.gru_step_backward(dh, cache)
    _assert_grads_match(lambda *a: G.gru_step_forward(*a)[0], args, grads, dh,
                        ["dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"])


@FAST
@given(N=small, T=st.integers(1, 4), D=small, H=hidden, seed=seeds)
def test_gru_bptt_matches_numeric(N, T, D, H, seed):
    rng = rng_for(seed)
    args = [rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H)), *_gru_params(rng, D, H)]
    h, cache = G.gru_forward(*args)
    prev = args[1]
    for t in range(T):
        prev, _ = G.gru_step_forward(args[0][:, t], prev, *args[2:])
        np.testing.assert_array_equal(h[:, t], prev)
    dh = rng.standard_normal(h.shape)
    _assert_grads_match(lambda *a: G.gru_forward(*a)[0], args, G.gru_backward(dh, cache), dh,
                        ["dx", "dh0", "dWx", "dWh", "dbx", "dbh"])


# --------------------------------------------------------------------------- gradient norm against lag
def _backward_of(cell, x, h0, params, dh):
    """dx from the sequence backward of each cell, with the forward computed from the same parameters."""
    if cell == "rnn":
        _, cache = rnn.rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])
        return rnn.rnn_backward(dh, cache)[0]
    if cell == "lstm":
        _, cache = G.lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"])
        return G.lstm_backward(dh, cache)[0]
    _, cache = G.gru_forward(x, h0, params["Wx"], params["Wh"], params["bx"], params["bh"])
    return G.gru_backward(dh, cache)[0]


@pytest.mark.parametrize("cell", G.CELLS)
def test_gradient_norms_for_are_norms_of_the_bptt_gradients(cell):
    rng = rng_for(4)
    N, T, D, H = 2, 6, 3, 4
    params = G.init_params(cell, D, H, rng)
    x, h0, g = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H)), rng.standard_normal((N, H))
    res = G.gradient_norms_for(cell, x, h0, params, g)
    np.testing.assert_array_equal(res["lag"], np.arange(T))
    dh = np.zeros((N, T, H))
    dh[:, -1] = g
    dx = _backward_of(cell, x, h0, params, dh)
    np.testing.assert_allclose(res["dx"], np.linalg.norm(dx[:, ::-1], axis=(0, 2)), rtol=1e-12)
    assert res["dh"][0] == pytest.approx(np.linalg.norm(g), rel=1e-15)
    # dh at lag k: dL/dh at step T-1-k, the dh0 of a backward over the tail started from that step's state
    if cell == "rnn":
        np.testing.assert_allclose(res["dh"], rnn.gradient_norms_by_lag(x, h0, *params.values(), g)[:T], rtol=1e-12)
    elif cell == "lstm":
        h_all, cache = G.lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"])
        for k in range(1, T):
            tail = np.zeros((N, k, H))
            tail[:, -1] = g
            _, tcache = G.lstm_forward(x[:, T - k:], h_all[:, T - 1 - k], params["Wx"], params["Wh"], params["b"],
                                       c0=cache["c"][:, T - 1 - k])
            assert res["dh"][k] == pytest.approx(np.linalg.norm(G.lstm_backward(tail, tcache)[1]), rel=1e-12)
    else:
        h_all, _ = G.gru_forward(x, h0, *params.values())
        for k in range(1, T):
            tail = np.zeros((N, k, H))
            tail[:, -1] = g
            _, tcache = G.gru_forward(x[:, T - k:], h_all[:, T - 1 - k], *params.values())
            assert res["dh"][k] == pytest.approx(np.linalg.norm(G.gru_backward(tail, tcache)[1]), rel=1e-12)


def test_gated_cells_keep_gradients_over_long_lags_with_an_open_forget_gate():
    """Default sizes, the same seed for every cell: at lag 30 the vanilla RNN's gradient has shrunk by ~1e-6, the
    LSTM's and GRU's (gate bias 1) by ~1e-3; with forget bias 0 the LSTM is no better than the vanilla RNN."""
    ratio = {}
    for cell in G.CELLS:
        res = G.gradient_norms_by_lag(cell, rng_for(1), T=50)
        assert res["dx"].shape == res["dh"].shape == (50,)
        ratio[cell] = res["dx"][30] / res["dx"][0]
    assert ratio["rnn"] < 1e-4
    assert ratio["lstm"] > 100 * ratio["rnn"] and ratio["gru"] > 100 * ratio["rnn"]
    closed = G.gradient_norms_by_lag("lstm", rng_for(1), T=50, forget_bias=0.0)
    assert closed["dx"][30] / closed["dx"][0] < 10 * ratio["rnn"]
    wide_open = G.gradient_norms_by_lag("lstm", rng_for(1), T=50, forget_bias=2.0)
    assert wide_open["dx"][30] / wide_open["dx"][0] > 10 * ratio["lstm"]


def test_gradient_norms_by_lag_draws_in_the_documented_order():
    res = G.gradient_norms_by_lag("gru", rng_for(5), T=7, N=2, D=3, H=4, weight_scale=0.7, update_bias=0.5)
    rng = rng_for(5)
    params = G.init_params("gru", 3, 4, rng, weight_scale=0.7, update_bias=0.5)
    x, g = rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 4))
    again = G.gradient_norms_for("gru", x, np.zeros((2, 4)), params, g)
    for key in ("lag", "dh", "dx"):
        np.testing.assert_array_equal(res[key], again[key])


def test_init_params():
    p = G.init_params("lstm", 3, 4, rng_for(6), forget_bias=1.5)
    assert p["Wx"].shape == (3, 16) and p["Wh"].shape == (4, 16)
    np.testing.assert_array_equal(p["b"], np.r_[np.zeros(4), np.full(4, 1.5), np.zeros(8)])
    p = G.init_params("gru", 3, 4, rng_for(6), update_bias=-1.0)
    np.testing.assert_array_equal(p["bx"], np.r_[np.zeros(4), np.full(4, -1.0), np.zeros(4)])
    np.testing.assert_array_equal(p["bh"], np.zeros(12))
    p = G.init_params("rnn", 3, 4, rng_for(6), weight_scale=2.0)
    q = G.init_params("rnn", 3, 4, rng_for(6), weight_scale=1.0)
    np.testing.assert_allclose(p["Wh"], 2 * q["Wh"], rtol=1e-15)
    with pytest.raises(ValueError, match="cell must be one of"):
        G.init_params("transformer", 3, 4, rng_for(0))
    with pytest.raises(TypeError, match="Generator"):
        G.init_params("rnn", 3, 4, 0)
    with pytest.raises(ValueError, match="forget_bias must be a finite number"):
        G.init_params("lstm", 3, 4, rng_for(0), forget_bias=np.inf)
    with pytest.raises(ValueError, match="H must be a positive integer"):
        G.init_params("lstm", 3, 0, rng_for(0))


# --------------------------------------------------------------------------- contract
def test_nothing_is_mutated():
    rng = rng_for(7)
    N, T, D, H = 2, 3, 2, 3
    x, h0, c0, dh = (rng.standard_normal(s) for s in ((N, T, D), (N, H), (N, H), (N, T, H)))
    lp, gp = _lstm_params(rng, D, H), _gru_params(rng, D, H)
    arrays = [x, h0, c0, dh, *lp, *gp]
    copies = [a.copy() for a in arrays]
    _, cache = G.lstm_forward(x, h0, *lp, c0=c0)
    G.lstm_backward(dh, cache)
    _, cache = G.gru_forward(x, h0, *gp)
    G.gru_backward(dh, cache)
    _, _, cache = G.lstm_step_forward(x[:, 0], h0, c0, *lp)
    G.lstm_step_backward(dh[:, 0], dh[:, 1], cache)
    _, cache = G.gru_step_forward(x[:, 0], h0, *gp)
    G.gru_step_backward(dh[:, 0], cache)
    for cell, params in (("lstm", dict(zip(("Wx", "Wh", "b"), lp))), ("gru", dict(zip(("Wx", "Wh", "bx", "bh"), gp)))):
        G.gradient_norms_for(cell, x, h0, params, dh[:, 0])
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


def test_bad_input_gives_specific_errors():
    rng = rng_for(8)
    N, T, D, H = 2, 3, 2, 4
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = _lstm_params(rng, D, H)
    with pytest.raises(ValueError, match=r"Wx must have shape \(2, 16\)"):
        G.lstm_forward(x, h0, Wx[:, :12], Wh, b)
    with pytest.raises(ValueError, match=r"Wh must have shape \(4, 16\)"):
        G.lstm_forward(x, h0, Wx, Wh.T, b)
    with pytest.raises(ValueError, match=r"b must have shape \(16,\)"):
        G.lstm_forward(x, h0, Wx, Wh, b[:4])
    with pytest.raises(ValueError, match=r"c0 must have shape \(2, 4\)"):
        G.lstm_forward(x, h0, Wx, Wh, b, c0=h0[:1])
    with pytest.raises(ValueError, match="h0 must have 2 rows"):
        G.lstm_forward(x, h0[:1], Wx, Wh, b)
    with pytest.raises(ValueError, match="x must be 3-D"):
        G.lstm_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"c_prev must have shape \(2, 4\)"):
        G.lstm_step_forward(x[:, 0], h0, h0[:, :3], Wx, Wh, b)
    _, cache = G.lstm_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dh must have shape \(2, 3, 4\)"):
        G.lstm_backward(np.zeros((2, 2, 4)), cache)
    with pytest.raises(TypeError, match="lstm_forward"):
        G.lstm_backward(np.zeros((2, 3, 4)), G.gru_forward(x, h0, *_gru_params(rng, D, H))[1])
    _, _, step = G.lstm_step_forward(x[:, 0], h0, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dc must have shape \(2, 4\)"):
        G.lstm_step_backward(h0, h0[:, :3], step)
    gWx, gWh, bx, bh = _gru_params(rng, D, H)
    with pytest.raises(ValueError, match=r"bh must have shape \(12,\)"):
        G.gru_forward(x, h0, gWx, gWh, bx, bh[:4])
    with pytest.raises(ValueError, match=r"Wx must have shape \(2, 12\)"):
        G.gru_step_forward(x[:, 0], h0, Wx, gWh, bx, bh)
    with pytest.raises(ValueError, match="params for 'gru' must be a dict with keys"):
        G.gradient_norms_for("gru", x, h0, {"Wx": Wx, "Wh": Wh, "b": b}, h0)
    with pytest.raises(ValueError, match=r"g must have shape \(2, 4\)"):
        G.gradient_norms_for("lstm", x, h0, {"Wx": Wx, "Wh": Wh, "b": b}, h0[:1])


# --------------------------------------------------------------------------- SymPy
def _values(symbols, rng):
    return {s: float(v) for s, v in zip(symbols.values(), rng.uniform(-1.5, 1.5, len(symbols)))}


def test_sympy_lstm_cell_path_is_f_and_h_path_is_o_times_tanh_prime():
    r = SL.lstm_scalar_step()
    tanh_prime = 1 - sp.tanh(r["c"]) ** 2
    assert sp.simplify(r["dc_dcprev"] - r["f"]) == 0
    assert sp.simplify(r["dh_dc"] - r["o"] * tanh_prime) == 0
    assert sp.simplify(r["dh_dcprev"] - r["o"] * tanh_prime * r["f"]) == 0
    # numerically equal to lstm_step_backward with D = H = 1
    rng = rng_for(20)
    S_ = r["symbols"]
    for _ in range(3):
        vals = _values(S_, rng)
        gate = lambda k: [vals[S_[f"{k}_{g}"]] for g in "ifgo"]  # noqa: E731
        Wx, Wh, b = np.array([gate("wx")]), np.array([gate("wh")]), np.array(gate("b"))
        x, h_prev, c_prev = (np.array([[vals[S_[n]]]]) for n in ("x", "h_prev", "c_prev"))
        _, _, cache = G.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        one, zero = np.ones((1, 1)), np.zeros((1, 1))
        assert G.lstm_step_backward(zero, one, cache)[2][0, 0] == pytest.approx(float(r["dc_dcprev"].subs(vals)),
                                                                                 rel=1e-13)
        assert G.lstm_step_backward(one, zero, cache)[2][0, 0] == pytest.approx(float(r["dh_dcprev"].subs(vals)),
                                                                                 rel=1e-13)


def test_sympy_gru_dh_dhprev_closed_form():
    r = SL.gru_scalar_step()
    assert sp.simplify(r["dh_dhprev"] - r["closed_form"]) == 0
    rng = rng_for(21)
    S_ = r["symbols"]
    for _ in range(3):
        vals = _values(S_, rng)
        block = lambda k: [vals[S_[f"{k}_{g}"]] for g in "rzn"]  # noqa: E731
        x, h_prev = np.array([[vals[S_["x"]]]]), np.array([[vals[S_["h_prev"]]]])
        _, cache = G.gru_step_forward(x, h_prev, np.array([block("wx")]), np.array([block("wh")]),
                                      np.array(block("bx")), np.array(block("bh")))
        dh_prev = G.gru_step_backward(np.ones((1, 1)), cache)[1][0, 0]
        assert dh_prev == pytest.approx(float(r["dh_dhprev"].subs(vals)), rel=1e-13)
        assert dh_prev == pytest.approx(float(r["closed_form"].subs(vals)), rel=1e-13)


@pytest.mark.parametrize("T, N, D, H", [(1, 3, 2, 2), (2, 2, 1, 1)])
def test_lstm_and_gru_bptt_match_sympy(T, N, D, H):
    rng = rng_for(22)
    x, h0, c0, dh = (rng.standard_normal(s) for s in ((N, T, D), (N, H), (N, H), (N, T, H)))
    Wx, Wh, b = _lstm_params(rng, D, H)
    _, cache = G.lstm_forward(x, h0, Wx, Wh, b, c0=c0)
    names = ["dx", "dh0", "dWx", "dWh", "db", "dc0"]
    expected_all = SL.lstm_symbolic(T, N, D, H)(x, h0, c0, Wx, Wh, b, dh)
    for name, g, expected in zip(names, G.lstm_backward(dh, cache), expected_all):
        assert rel_error(g, expected) < 1e-12, f"lstm {name}"
    gp = _gru_params(rng, D, H)
    _, cache = G.gru_forward(x, h0, *gp)
    names = ["dx", "dh0", "dWx", "dWh", "dbx", "dbh"]
    for name, g, expected in zip(names, G.gru_backward(dh, cache), SL.gru_symbolic(T, N, D, H)(x, h0, *gp, dh)):
        assert rel_error(g, expected) < 1e-12, f"gru {name}"


def test_gated_symbolic_sizes_are_capped():
    for fn in (SL.lstm_symbolic, SL.gru_symbolic):
        with pytest.raises(ValueError, match=r"T \* H <= 2"):
            fn(2, 1, 1, 2)
        with pytest.raises(ValueError, match="D <= 2"):
            fn(1, 1, 3, 1)
