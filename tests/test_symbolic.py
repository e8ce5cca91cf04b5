"""Tests for reference_impl.symbolic: SymPy derivations, answer parsing/equivalence, and symbolic models
checked against the reference backprop and against finite differences (float64, rel_error < 1e-7)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import sympy as sp

from reference_impl import symbolic as S
from reference_impl import symbolic_answers as SA
from reference_impl.gradcheck import numeric_grad, numeric_vjp, rel_error

from .helpers import rng_for

x, y = sp.symbols("x y", real=True)
XY = {"x": x, "y": y}
TOL = 1e-7


# ---------------------------------------------------------------------------------------------- derivations

def test_scalar_gradient_of_known_expression():
    f = x**2 * y + sp.sin(y)
    g = S.scalar_gradient(f, [x, y])
    assert len(g) == 2
    assert sp.simplify(g[0] - 2 * x * y) == 0
    assert sp.simplify(g[1] - (x**2 + sp.cos(y))) == 0


def test_sigmoid_derivative_is_s_times_one_minus_s():
    s = S.sigmoid(x)
    (ds,) = S.scalar_gradient(s, [x])
    assert sp.simplify(ds - s * (1 - s)) == 0


def test_jacobian_of_known_vector_function():
    J = S.jacobian([x * y, x + y, sp.exp(x)], [x, y])
    assert J.shape == (3, 2)
    assert J == sp.Matrix([[y, x], [1, 1], [sp.exp(x), 0]])


def test_cached_lambdify_builds_once_for_equal_expressions(monkeypatch):
    expr = sp.Add(*[sp.tanh(k * x + y) * sp.exp(-k * y) for k in range(1, 30)])
    builds = []
    real_lambdify = sp.lambdify
    monkeypatch.setattr(S.sp, "lambdify", lambda *a, **k: builds.append(1) or real_lambdify(*a, **k))
    S._LAMBDIFY_CACHE.clear()
    f1 = S.cached_lambdify(expr, [x, y])
    rebuilt = sp.Add(*[sp.tanh(k * x + y) * sp.exp(-k * y) for k in range(1, 30)])  # equal, new object
    f2 = S.cached_lambdify(rebuilt, [x, y])
    assert len(builds) == 1, "the second, equal expression was lambdified again"
    assert f2 is f1
    assert f1(0.3, -0.2) == pytest.approx(float(expr.subs({x: 0.3, y: -0.2})), rel=1e-12)
    assert S.cached_lambdify(expr, [y, x]) is not f1  # argument order is part of the key
    assert S.cached_lambdify(expr + 1, [x, y]) is not f1


# ---------------------------------------------------------------------------------------------- parse_answer

@pytest.mark.parametrize("text", ["2*x*exp(x**2)", "2x exp(x^2)", "2 x exp(x^2)", "2*x*exp(x^2)"])
def test_parse_answer_accepts_common_notations(text):
    assert S.parse_answer(text, XY) == 2 * x * sp.exp(x**2)


def test_parse_answer_knows_sigmoid_and_uses_the_given_symbols():
    e = S.parse_answer("sigmoid(x) (1 - sigmoid(x))", XY)
    assert e.free_symbols == {x}  # the real=True symbol from the dict, not a fresh Symbol('x')
    assert sp.simplify(e - sp.exp(-x) / (1 + sp.exp(-x)) ** 2) == 0


def test_parse_answer_takes_sympy_expressions_and_rebinds_symbols_by_name():
    plain_x = sp.Symbol("x")  # no assumptions: a different object from XY["x"]
    e = S.parse_answer(plain_x**2 + 1, XY)
    assert e.free_symbols == {x}
    assert e == x**2 + 1


@pytest.mark.parametrize("bad", [
    "__import__('os')", "__import__('os').system('true')", "import os", "lambda x: x", "x.__class__",
    "x.subs(x, 1)", "open('f')", "x +* 2", "2 x )", "", "   ", "z + 1", "foo(x)", "(x, x)", "x = 1",
    "x" + "+x" * 1000,
])
def test_parse_answer_rejects_bad_strings_with_value_error(bad):
    with pytest.raises(ValueError):
        S.parse_answer(bad, XY)


def test_parse_answer_rejects_unknown_symbol_in_sympy_expression():
    with pytest.raises(ValueError, match="unknown symbol 'z'"):
        S.parse_answer(sp.Symbol("z") * x, XY)


# ---------------------------------------------------------------------------------------------- are_equivalent

@pytest.mark.parametrize("a, b", [
    ("sigmoid(x)*(1-sigmoid(x))", "exp(-x)/(1+exp(-x))^2"),
    ("2x exp(x^2)", "2*x*exp(x**2)"),
    ("(x+y)^2", "x^2 + 2 x y + y^2"),
    ("sin(x)^2 + cos(x)^2", "1"),
    ("Max(x, 0)", "(x + Abs(x))/2"),
    ("log(exp(x) exp(y))", "x + y"),
    (1 - sp.tanh(x) ** 2, sp.sech(x) ** 2),
    ("tanh(x)", "2 sigmoid(2x) - 1"),
])
def test_are_equivalent_accepts_equivalent_forms(a, b):
    assert S.are_equivalent(a, b, XY)


@pytest.mark.parametrize("a, b", [
    ("sigmoid(x)*(1-sigmoid(x))", "-sigmoid(x)*(1-sigmoid(x))"),       # sign flip
    ("2x exp(x^2)", "x exp(x^2)"),                                      # missing factor 2
    ("exp(-x)/(1+exp(-x))^2", "1.000001 exp(-x)/(1+exp(-x))^2"),         # off by 1e-6 relative
    ("Max(x, 0)", "Abs(x)"),
    ("1 - tanh(x)^2", "1 - tanh(x)"),
])
def test_are_equivalent_rejects_different_expressions(a, b):
    assert not S.are_equivalent(a, b, XY)


def test_are_equivalent_rejects_transposed_index():
    W = {f"W_{i}{j}": sp.Symbol(f"W_{i}{j}", real=True) for i in range(2) for j in range(2)}
    W.update(x_0=sp.Symbol("x_0", real=True), x_1=sp.Symbol("x_1", real=True))
    # d/dx_0 of sum_i (W x)_i^2 / 2 uses column 0 of W, i.e. W_00 and W_10, not the row W_00, W_01
    right = "W_00 (W_00 x_0 + W_01 x_1) + W_10 (W_10 x_0 + W_11 x_1)"
    transposed = "W_00 (W_00 x_0 + W_10 x_1) + W_01 (W_01 x_0 + W_11 x_1)"
    f = sp.Rational(1, 2) * ((W["W_00"] * W["x_0"] + W["W_01"] * W["x_1"]) ** 2
                             + (W["W_10"] * W["x_0"] + W["W_11"] * W["x_1"]) ** 2)
    d = sp.diff(f, W["x_0"])
    assert S.are_equivalent(d, right, W)
    assert not S.are_equivalent(d, transposed, W)


def test_are_equivalent_needs_enough_valid_points():
    # sqrt of a negative number is nan in float64 everywhere: nothing to compare, so not accepted
    assert not S.are_equivalent("sqrt(-1 - x^2)", "2 sqrt(-1 - x^2)", XY)


def test_are_equivalent_positive_domain():
    assert not S.are_equivalent("sqrt(x^2)", "x", XY)
    assert S.are_equivalent("sqrt(x^2)", "x", XY, positive=True)


def _slow_pair():
    a = sp.Add(*[sp.tanh(k * x + y) ** 2 * sp.exp(k * y) / (1 + sp.exp(-k * x)) for k in range(1, 7)])
    return a, a.rewrite(sp.exp)  # simplify(a - b) runs for many seconds


@pytest.mark.parametrize("factor, expected", [(1, True), (sp.Rational(1001, 1000), False)])
def test_are_equivalent_time_cap_when_simplify_never_returns(monkeypatch, factor, expected):
    # simplify is replaced by one that never finishes: only a working cap (then the numeric fallback) can
    # produce an answer. The daemon thread turns a missing cap into a failure instead of a hang.
    monkeypatch.setattr(S.sp, "simplify", lambda *a, **k: time.sleep(3600))
    a, b = _slow_pair()
    box = []
    worker = threading.Thread(target=lambda: box.append(S.are_equivalent(a, b * factor, XY, time_limit=0.5)),
                              daemon=True)
    worker.start()
    worker.join(120.0)
    assert box, "are_equivalent never returned although simplify could not finish (time cap not enforced)"
    assert box[0] is expected


def test_are_equivalent_time_cap_on_the_path_that_still_needs_simplify(monkeypatch):
    # no point is valid (sqrt of a negative number), so only simplify could decide, and it never returns:
    # the cap must still end the call, with "not proved equal"
    monkeypatch.setattr(S.sp, "simplify", lambda *a, **k: time.sleep(3600))
    a, b = _slow_pair()
    root = sp.sqrt(-1 - x ** 2)
    box = []
    worker = threading.Thread(target=lambda: box.append(S.are_equivalent(a * root, b * root, XY, time_limit=0.5)),
                              daemon=True)
    worker.start()
    worker.join(120.0)
    assert box == [False]


def test_are_equivalent_thread_fallback_without_fork(monkeypatch):
    monkeypatch.setattr(SA, "_fork_available", lambda: False)
    assert S.are_equivalent("sigmoid(x)*(1-sigmoid(x))", "exp(-x)/(1+exp(-x))^2", XY)
    assert not S.are_equivalent("2x", "x", XY)
    # points that decide nothing: simplify runs in a thread and proves this pair equal
    assert S.are_equivalent("sqrt(-1 - x^2) (1 + x)", "sqrt(-1 - x^2) + x sqrt(-1 - x^2)", XY)


def test_are_equivalent_does_not_change_global_rng():
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    S.are_equivalent("Max(x,0)", "(x + Abs(x))/2", XY)
    assert np.random.random() == expected


# ---------------------------------------------------------------------------------------------- 2-layer network

def _mlp_inputs(N, D, H, C, loss, seed):
    rng = rng_for(seed)
    X = rng.standard_normal((N, D))
    params = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
              "W2": rng.standard_normal((H, C)), "b2": rng.standard_normal(C)}
    y = rng.integers(0, C, size=N) if loss == "softmax" else rng.standard_normal((N, C))
    z1 = X @ params["W1"] + params["b1"]
    assert np.min(np.abs(z1)) > 1e-3  # no ReLU kink within the finite-difference step
    return X, y, params


MLP_CASES = [(3, 3, 4, 3, "softmax", "relu"), (4, 2, 3, 4, "softmax", "tanh"), (2, 4, 3, 2, "mse", "sigmoid"),
             (3, 2, 4, 3, "mse", "relu")]


@pytest.mark.parametrize("N, D, H, C, loss, activation", MLP_CASES)
def test_two_layer_symbolic_matches_reference_and_finite_differences(N, D, H, C, loss, activation):
    network = pytest.importorskip("reference_impl.network")
    X, y, params = _mlp_inputs(N, D, H, C, loss, seed=N * 100 + D * 10 + H)
    model = S.two_layer_symbolic(N, D, H, C, loss=loss, activation=activation)
    value, grads = model(X, y, **params)
    ref_value, ref_grads = network.mlp_loss_and_grads(params, X, y, loss=loss, activation=activation)
    assert value == pytest.approx(ref_value, rel=1e-12)
    assert set(grads) == {"W1", "b1", "W2", "b2"}
    for k in grads:
        assert grads[k].shape == params[k].shape and grads[k].dtype == np.float64
        assert rel_error(grads[k], ref_grads[k]) < TOL, k

        def loss_of(p, k=k):
            return model(X, y, **{**params, k: p})[0]

        assert rel_error(grads[k], numeric_grad(loss_of, params[k])) < TOL, k


def test_two_layer_symbolic_is_built_once_per_size():
    N, D, H, C = 2, 3, 2, 2
    X, y, params = _mlp_inputs(N, D, H, C, "softmax", seed=5)
    first = S.two_layer_symbolic(N, D, H, C)
    first(X, y, **params)
    again = S.two_layer_symbolic(N, D, H, C)
    again(X, y, **params)
    assert again is first  # the same compiled model, not a rebuild


def test_two_layer_symbolic_validates_inputs():
    with pytest.raises(ValueError):
        S.two_layer_symbolic(5, 2, 2, 2)
    with pytest.raises(ValueError):
        S.two_layer_symbolic(2, 2, 2, 2, loss="hinge")
    with pytest.raises(ValueError):
        S.two_layer_symbolic(2, 2, 2, 2, activation="elu")
    model = S.two_layer_symbolic(2, 3, 2, 2)
    X, y, params = _mlp_inputs(2, 3, 2, 2, "softmax", seed=5)
    with pytest.raises(ValueError):
        model(X.T, y, **params)
    with pytest.raises(ValueError):
        model(X, np.array([0, 2]), **params)  # label out of range
    with pytest.raises(ValueError):
        model(X, y, **{**params, "W1": params["W1"].T})


def test_part7_walkthrough_pinned_numbers():
    """Seed Part 7: column convention z1 = W1 x + b1, ReLU, softmax cross-entropy, class 0."""
    W1 = sp.Matrix([[0.1, 0.2], [0.3, 0.4]]).applyfunc(sp.nsimplify)
    W2 = sp.Matrix([[0.5, 0.6], [0.7, 0.8]]).applyfunc(sp.nsimplify)
    b = sp.Matrix([sp.Rational(1, 10)] * 2)
    xv = sp.Matrix([1, 2])
    z1 = W1 * xv + b
    h1 = z1.applyfunc(lambda v: sp.Max(v, 0))
    z2 = W2 * h1 + b
    p = z2.applyfunc(sp.exp) / sum(z2.applyfunc(sp.exp))
    L = -sp.log(p[0])
    assert [float(v) for v in z1] == pytest.approx([0.6, 1.2], abs=1e-12)
    assert [float(v) for v in z2] == pytest.approx([1.12, 1.48], abs=1e-12)
    assert [round(float(v), 5) for v in p] == [0.41096, 0.58904]
    assert round(float(L), 5) == 0.88926

    # The same network through the batch-major symbolic model: X = x[None, :], weights transposed.
    model = S.two_layer_symbolic(1, 2, 2, 2, loss="softmax", activation="relu")
    W1n, W2n = np.array(W1, dtype=float), np.array(W2, dtype=float)
    value, grads = model(np.array([[1.0, 2.0]]), np.array([0]), W1n.T, np.full(2, 0.1), W2n.T, np.full(2, 0.1))
    assert round(value, 5) == 0.88926
    dW1_seed = grads["W1"].T  # back to the seed's (out, in) convention
    np.testing.assert_allclose(np.round(dW1_seed, 5), [[0.11781, 0.23562], [0.11781, 0.23562]], atol=0)
    np.testing.assert_allclose(np.round(grads["W2"].T, 5), [[-0.35342, -0.70685], [0.35342, 0.70685]], atol=0)


# ---------------------------------------------------------------------------------------------- batchnorm

def _bn_train(x, gamma, beta, eps):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


# With N = 2 each normalized column is +-1 whatever x is, so dx is O(eps): use a large eps to give it size.
BN_CASES = [(2, 0.5), (3, 1e-5), (4, 1e-5)]


@pytest.mark.parametrize("N, eps", BN_CASES)
def test_batchnorm_symbolic_matches_finite_differences(N, eps):
    D = 3
    rng = rng_for(40 + N)
    x = rng.standard_normal((N, D)) * 2 + 1
    gamma, beta, dout = rng.standard_normal(D), rng.standard_normal(D), rng.standard_normal((N, D))
    dx, dgamma, dbeta = S.batchnorm_symbolic(N, D)(x, gamma, beta, dout, eps)
    assert dx.shape == (N, D) and dgamma.shape == (D,) and dbeta.shape == (D,)
    assert rel_error(dx, numeric_vjp(lambda v: _bn_train(v, gamma, beta, eps), x, dout)) < TOL
    assert rel_error(dgamma, numeric_vjp(lambda g: _bn_train(x, g, beta, eps), gamma, dout)) < TOL
    assert rel_error(dbeta, numeric_vjp(lambda b: _bn_train(x, gamma, b, eps), beta, dout)) < TOL


def test_batchnorm_symbolic_with_ones_upstream_gives_zero_dx():
    # the errata's warning: dout = ones hides every dx bug because sum(xhat) = 0
    rng = rng_for(3)
    x = rng.standard_normal((4, 2))
    dx, _, dbeta = S.batchnorm_symbolic(4, 2)(x, rng.standard_normal(2), np.zeros(2), np.ones((4, 2)), 1e-5)
    assert np.max(np.abs(dx)) < 1e-12
    np.testing.assert_allclose(dbeta, [4.0, 4.0])


@pytest.mark.parametrize("N, eps", BN_CASES)
def test_batchnorm_symbolic_matches_reference(N, eps):
    batchnorm = pytest.importorskip("reference_impl.batchnorm")
    D = 3
    rng = rng_for(50 + N)
    x = rng.standard_normal((N, D)) * 3 - 1
    gamma, beta, dout = rng.standard_normal(D), rng.standard_normal(D), rng.standard_normal((N, D))
    expected = S.batchnorm_symbolic(N, D)(x, gamma, beta, dout, eps)
    out, cache = batchnorm.batchnorm_forward(x, gamma, beta, mode="train", eps=eps)
    np.testing.assert_allclose(out, _bn_train(x, gamma, beta, eps), rtol=1e-12, atol=1e-12)
    for backward in (batchnorm.batchnorm_backward, batchnorm.batchnorm_backward_closed_form):
        got = backward(dout, cache)
        for name, g, e in zip(("dx", "dgamma", "dbeta"), got, expected):
            assert rel_error(g, e) < TOL, f"{backward.__name__}: {name}"


def test_batchnorm_symbolic_validates():
    with pytest.raises(ValueError):
        S.batchnorm_symbolic(1, 2)
    with pytest.raises(ValueError):
        S.batchnorm_symbolic(5, 2)
    bn = S.batchnorm_symbolic(3, 2)
    with pytest.raises(ValueError):
        bn(np.zeros((2, 3)), np.ones(2), np.zeros(2), np.ones((3, 2)))
    with pytest.raises(ValueError):
        bn(np.zeros((3, 2)), np.ones(2), np.zeros(2), np.ones((3, 2)), eps=0.0)


# ---------------------------------------------------------------------------------------------- RNN

def _rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, hs = h0, []
    for t in range(T):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)


def _rnn_inputs(T, N, D, H, seed):
    rng = rng_for(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)) * 0.5,
            rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H), rng.standard_normal((N, T, H)))


RNN_CASES = [(1, 2, 3, 2), (2, 3, 2, 3), (3, 2, 3, 3)]


@pytest.mark.parametrize("T, N, D, H", RNN_CASES)
def test_rnn_symbolic_matches_finite_differences(T, N, D, H):
    x, h0, Wx, Wh, b, dh = _rnn_inputs(T, N, D, H, seed=60 + T)
    grads = S.rnn_symbolic(T, N, D, H)(x, h0, Wx, Wh, b, dh)
    args = [x, h0, Wx, Wh, b]
    for i, (name, g) in enumerate(zip(("dx", "dh0", "dWx", "dWh", "db"), grads)):
        assert g.shape == args[i].shape, name

        def f(v, i=i):
            return _rnn_forward(*[v if j == i else a for j, a in enumerate(args)])

        assert rel_error(g, numeric_vjp(f, args[i], dh)) < TOL, name


@pytest.mark.parametrize("T, N, D, H", RNN_CASES)
def test_rnn_symbolic_matches_reference(T, N, D, H):
    rnn = pytest.importorskip("reference_impl.rnn")
    x, h0, Wx, Wh, b, dh = _rnn_inputs(T, N, D, H, seed=70 + T)
    expected = S.rnn_symbolic(T, N, D, H)(x, h0, Wx, Wh, b, dh)
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    np.testing.assert_allclose(h, _rnn_forward(x, h0, Wx, Wh, b), rtol=1e-12, atol=1e-12)
    for truncate in (None, T):  # truncate >= T is full BPTT
        got = rnn.rnn_backward(dh, cache, truncate=truncate)
        for name, g, e in zip(("dx", "dh0", "dWx", "dWh", "db"), got, expected):
            assert rel_error(g, e) < TOL, f"{name} (truncate={truncate})"


def test_rnn_symbolic_validates():
    with pytest.raises(ValueError):
        S.rnn_symbolic(4, 1, 1, 1)
    model = S.rnn_symbolic(1, 2, 3, 2)
    x, h0, Wx, Wh, b, dh = _rnn_inputs(1, 2, 3, 2, seed=1)
    with pytest.raises(ValueError):
        model(x, h0, Wx.T, Wh, b, dh)


# ---------------------------------------------------------------------------------------------- teaching helpers

def test_activation_derivative_max():
    assert S.activation_derivative_max("sigmoid") == (0, sp.Rational(1, 4))
    assert S.activation_derivative_max("tanh") == (0, 1)
    with pytest.raises(ValueError):
        S.activation_derivative_max("relu")


def test_expression_size_counts_tree_operations():
    assert S.expression_size(x * y + sp.sin(x)) == 3
    assert S.expression_size([x * y, x + y + 1]) == 3
    assert S.expression_size(sp.Matrix([x, y])) == 0


def test_expression_swell_derivative_outgrows_the_primal_program():
    rows = S.expression_swell(6)
    assert [r["depth"] for r in rows] == list(range(1, 7))
    assert [r["primal_ops"] for r in rows] == [3 * k for k in range(1, 7)]  # 4u(1-u): 3 ops per level
    ratios = [r["derivative_ops"] / r["primal_ops"] for r in rows]
    assert all(b > a for a, b in zip(ratios[1:], ratios[2:]))  # the ratio keeps growing
    assert rows[-1]["derivative_ops"] > 50 * rows[-1]["primal_ops"]
    assert rows[-1]["derivative_cse_ops"] < rows[-1]["derivative_ops"] / 10  # sharing recovers most of it
    sin_rows = S.expression_swell(3, f=sp.sin)
    assert [r["primal_ops"] for r in sin_rows] == [1, 2, 3]
    with pytest.raises(ValueError):
        S.expression_swell(0)

