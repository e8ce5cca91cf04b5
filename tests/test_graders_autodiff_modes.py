"""graders.autodiff, continued from tests/test_graders_autodiff.py (the Value class, topological order and the
Dual class): the partial derivative by forward mode, JVP, VJP, Jacobian, HVP, the pass counts of forward and
reverse mode, and gradient checkpointing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graders import autodiff as A
from graders.autodiff import functions as AF
from graders.remote import catalogue
from reference_impl.autodiff import checkpoint as C
from reference_impl.autodiff.forward import Dual as RefDual
from reference_impl.autodiff.forward import hvp, jacobian_forward, jacobian_reverse, jvp, vjp
from tests.grading_helpers import fails_with as _fails_with
from tests.test_graders_autodiff import make_dual, make_value


# =============================================================================================== partial derivative


def pd_reference(f, x, i):
    seeds = np.array([RefDual(v, 1.0 if j == i else 0.0) for j, v in enumerate(x)], dtype=object)
    return f(seeds).dot


def pd_student_dual_list(f, x, i):  # the student's own Dual, a Python list, floats for the other inputs
    D = make_dual()
    xs = list(map(float, x))
    xs[i] = D(xs[i], 1.0)
    return f(xs).dot


def pd_next_input(f, x, i):
    return pd_reference(f, x, (i + 1) % len(x))


def pd_all_ones(f, x, i):
    return f(np.array([RefDual(v, 1.0) for v in x], dtype=object)).dot


def pd_finite_differences(f, x, i):
    e = np.zeros(len(x))
    e[i] = 1e-6
    return float((f(x + e) - f(x - e)) / 2e-6)


def pd_full_gradient(f, x, i):
    return jacobian_forward(f, x)[0, i]


def test_partial_derivative_references_pass():
    for seed, thorough in ((0, False), (8, True)):
        assert A.check_partial_derivative(pd_reference, seed=seed, points=2, thorough=thorough) == 2.0
        assert A.check_partial_derivative(pd_student_dual_list, seed=seed, thorough=thorough) is None


@pytest.mark.parametrize("fn,score,code,phrase", [   # one of two sub-checks lost, "inputs left unchanged" kept
    (pd_next_input, 1.25, "FORWARD_SEED_WRONG_INPUT", None),
    (pd_all_ones, 1.25, "FORWARD_SEED_WRONG_INPUT", None),
    (pd_finite_differences, 1.25, "NUMERIC_NOT_ANALYTIC", "never evaluated on dual numbers"),
    (pd_full_gradient, 1.25, None, "one pass with the seed e_"),
    (lambda f, x, i: pd_reference(f, x, i) * 0 + float(f(x)), 1.25, None, "That is f(x) itself"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_partial_derivative_planted(fn, score, code, phrase, thorough, capsys):
    assert A.check_partial_derivative(fn, points=2, thorough=thorough) == score
    _fails_with(capsys, A.check_partial_derivative, fn, points=2, thorough=thorough, code=code, phrase=phrase)


def test_partial_derivative_garbage(capsys):
    with pytest.raises(AssertionError, match="return its tangent .dot"):
        A.check_partial_derivative(lambda f, x, i: f(np.array([RefDual(v, float(j == i)) for j, v in enumerate(x)],
                                                                 dtype=object)))
    with pytest.raises(AssertionError, match="f expects an input of shape"):
        A.check_partial_derivative(lambda f, x, i: f(x[:1]))
    with pytest.raises(AssertionError, match="must accept 3 positional"):
        A.check_partial_derivative(lambda f, x: 0.0)


def test_worked_example_partial_derivative_value():
    # errata: f = x1 * x2 + sin(x1) at (2, 3) has df/dx1 = 2.58385
    f = AF._worked_example().f
    assert round(pd_reference(f, np.array([2.0, 3.0]), 0), 5) == 2.58385
    assert round(float(f(np.array([2.0, 3.0]))), 5) == 6.90930


# =============================================================================================== JVP / VJP / Jacobian


def jvp_student(f, x, v):
    D = make_dual()
    out = f([D(a, b) for a, b in zip(x, v)])
    return np.array([y.val for y in out]), np.array([y.dot for y in out])


def jvp_ignores_v(f, x, v):
    return jvp(f, x, np.ones_like(x))


def jvp_column_by_column(f, x, v):
    return f(x), jacobian_forward(f, x) @ v


def vjp_student(f, x, u):
    V = make_value()
    leaves = [V(float(a)) for a in x]
    out = f(leaves)
    total = sum(float(w) * y for w, y in zip(u, out))
    total.backward()
    return np.array([y.data for y in out]), np.array([leaf.grad for leaf in leaves])


def vjp_ignores_u(f, x, u):
    return vjp(f, x, np.ones_like(u))


def vjp_row_by_row(f, x, u):
    return f(x), u @ jacobian_reverse(f, x)


def vjp_forward_mode(f, x, u):
    return f(x), u @ jacobian_forward(f, x)


@pytest.mark.parametrize("seed,thorough", [(0, False), (11, True)])
def test_jvp_vjp_references_pass(seed, thorough):
    for check, good in ((A.check_jvp, jvp), (A.check_jvp, jvp_student), (A.check_vjp, vjp), (A.check_vjp, vjp_student)):
        assert check(good, seed=seed, points=3, thorough=thorough) == 3.0
        assert check(good, seed=seed, thorough=thorough) is None


@pytest.mark.parametrize("check,fn,score,code,phrase", [   # one of three sub-checks lost
    (A.check_jvp, jvp_ignores_v, 2.25, "FORWARD_SEED_WRONG_INPUT", None),
    (A.check_jvp, jvp_column_by_column, 2.25, None, "a JVP needs ONE pass"),
    (A.check_vjp, vjp_ignores_u, 2.25, "REVERSE_SEED_WRONG", None),
    (A.check_vjp, vjp_row_by_row, 2.25, None, "ONE backward pass"),
    (A.check_vjp, vjp_forward_mode, 2.25, "AD_MODES_SWAPPED", None),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_jvp_vjp_planted(check, fn, score, code, phrase, thorough, capsys):
    assert check(fn, points=3, thorough=thorough) == score
    text = capsys.readouterr().out
    if code:
        assert f"[{code}]" in text, text
    if phrase:
        assert phrase in text, text


def test_jvp_transposed_on_a_square_jacobian(capsys):
    def transposed(f, x, v):
        J = jacobian_forward(f, x)
        return f(x), (J.T if J.shape[0] == J.shape[1] else J) @ v
    _fails_with(capsys, A.check_jvp, transposed, points=3, thorough=True, code="JACOBIAN_TRANSPOSED")


@pytest.mark.parametrize("fn,phrase", [
    (lambda f, x, v: None, "returned None"),
    (lambda f, x, v: jvp(f, x, v)[1], "returned a single ndarray"),
    (lambda f, x, v: (f(x), jvp(f, x, v)[1].astype(np.float32)), "dtype float32"),
    (lambda f, x, v: (list(f(x)), jvp(f, x, v)[1]), "got list"),
    (lambda f, x, v: f("x"), "f expects a 1-D array"),
    (lambda f, x, v: (f(np.array([RefDual(a, b) for a, b in zip(x, v)], dtype=object)), jvp(f, x, v)[1]),
     "an object array of Dual"),
])
def test_jvp_garbage(fn, phrase, capsys):
    _fails_with(capsys, A.check_jvp, fn, points=3, phrase=phrase)


def jac_student_forward(f, x):
    D = make_dual()
    cols = []
    for j in range(len(x)):
        out = f([D(float(a), float(k == j)) for k, a in enumerate(x)])
        cols.append([y.dot for y in out])
    return np.array(cols).T


def jac_student_reverse_own_value(f, x):
    V = make_value()
    rows = []
    for i in range(len(f(x))):
        leaves = [V(float(a)) for a in x]
        f(leaves)[i].backward()
        rows.append([leaf.grad for leaf in leaves])
    return np.array(rows)


@pytest.mark.parametrize("seed,thorough", [(0, False), (3, True)])
def test_jacobian_references_pass(seed, thorough):
    assert A.check_jacobian(jacobian_forward, "forward", seed=seed, points=2, thorough=thorough) == 2.0
    assert A.check_jacobian(jac_student_forward, "forward", seed=seed, thorough=thorough) is None
    assert A.check_jacobian(jacobian_reverse, "reverse", seed=seed, points=2, thorough=thorough) == 2.0
    assert A.check_jacobian(jac_student_reverse_own_value, "reverse", seed=seed, thorough=thorough) is None


@pytest.mark.parametrize("fn,mode,score,code,phrase", [
    (lambda f, x: jacobian_forward(f, x).T, "forward", 1.0, "JACOBIAN_TRANSPOSED", None),
    (jacobian_reverse, "forward", 1.0, "AD_MODES_SWAPPED", None),
    (jacobian_forward, "reverse", 1.0, "AD_MODES_SWAPPED", None),
    (lambda f, x: (jacobian_forward(f, x), jacobian_forward(f, x))[0], "forward", 1.0, None, "exactly n = "),
    (lambda f, x: np.array([(f(x + h) - f(x - h)) / 2e-7 for h in np.eye(len(x)) * 1e-7]).T, "forward", None,
     None, "0 time(s) on dual numbers"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_jacobian_planted(fn, mode, score, code, phrase, thorough, capsys):
    text = _fails_with(capsys, A.check_jacobian, fn, mode, points=2, thorough=thorough, code=code, phrase=phrase)
    if score is not None:
        assert "Partial credit: 1.25 of 2 points" in text


def test_jacobian_mode_is_validated():
    with pytest.raises(ValueError, match="mode must be"):
        A.check_jacobian(jacobian_forward, "sideways")


# =============================================================================================== HVP


def hvp_by_gradient_differences(f, x, v, h=1e-5):
    grad = lambda p: vjp(f, p, 1.0)[1]  # noqa: E731
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)


def test_hvp_references_pass(capsys):
    for seed, thorough in ((0, False), (21, True)):
        assert A.check_hvp(hvp, seed=seed, points=2, thorough=thorough) == 2.0
        # differences of exact gradients are no longer accepted (issue 12: the exercise asks for H v analytically)
        _fails_with(capsys, A.check_hvp, hvp_by_gradient_differences, seed=seed, points=2, thorough=thorough,
                    code="NUMERIC_NOT_ANALYTIC")


@pytest.mark.parametrize("fn,code,phrase", [
    (lambda f, x, v: hvp(f, x, np.ones_like(v)), "FORWARD_SEED_WRONG_INPUT", None),
    (lambda f, x, v: vjp(f, x, 1.0)[1], None, "That is the gradient of f"),
    (lambda f, x, v: hvp(f, x, v).reshape(1, -1), None, "shape (1, "),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_hvp_planted(fn, code, phrase, thorough, capsys):
    _fails_with(capsys, A.check_hvp, fn, points=2, thorough=thorough, code=code, phrase=phrase)


def test_hvp_of_the_grader_functions_matches_sympy_and_finite_differences():
    import sympy as sp
    rng = np.random.default_rng(0)
    tf = AF._scalar_function(rng, 3)
    W, = tf.params
    xs = sp.symbols("x0:3")
    z = [sum(sp.Float(W[r, c]) * xs[c] for c in range(3)) for r in range(3)]
    expr = sum(sp.sin(zr) * zr for zr in z) + sp.exp(sp.Rational(3, 10) * xs[0]) * xs[2] / (2 + sp.cos(xs[1]))
    H = sp.hessian(expr, xs)
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([0.5, 1.5, -1.0])
    Hnum = np.array(H.subs(dict(zip(xs, x))).evalf(), dtype=np.float64)
    assert np.allclose(hvp(tf.f, x, v), Hnum @ v, rtol=1e-10, atol=1e-12)
    assert np.allclose(hvp_by_gradient_differences(tf.f, x, v), Hnum @ v, rtol=1e-7)


def test_jacobian_of_the_grader_vector_function_matches_sympy():
    import sympy as sp
    tf = AF._vector_function(np.random.default_rng(4), 3, 2)
    W1, W2, W3, W4 = (sp.Matrix(W) for W in tf.params)
    xs = sp.Matrix(sp.symbols("x0:3"))
    z = W1 * xs
    a = z.applyfunc(sp.sin) + sp.Rational(1, 10) * z.multiply_elementwise(z)
    num = W2 * a + (sp.Rational(1, 5) * W3 * xs).applyfunc(sp.exp)
    den = (W4 * xs).applyfunc(lambda e: sp.Rational(3, 2) + sp.cos(e))
    y = sp.Matrix([num[i] / den[i] for i in range(2)])
    x = np.array([0.4, -1.1, 0.7])
    point = dict(zip(xs, x))
    assert np.allclose(np.asarray(tf.f(x), float), np.array(y.subs(point).evalf(), dtype=float).ravel(), rtol=1e-12)
    J = np.array(y.jacobian(xs).subs(point).evalf(), dtype=float)
    assert np.allclose(jacobian_forward(tf.f, x), J, rtol=1e-10) and np.allclose(jacobian_reverse(tf.f, x), J, rtol=1e-10)


# =============================================================================================== pass counts


GOOD = {"grad_forward": 1000, "grad_reverse": 1, "deriv_forward": 1, "deriv_reverse": 10}


def test_pass_counts():
    assert A.check_pass_counts(GOOD, n=1000, m=10, points=4) == 4.0
    allsix = dict(GOOD, jacobian_forward=1000, jacobian_reverse=10)
    assert A.check_pass_counts(allsix, n=1000, m=10, keys=A.PASS_KEYS) is None


def test_pass_counts_swapped_and_partial(capsys):
    swapped = {"grad_forward": 1, "grad_reverse": 1000, "deriv_forward": 1, "deriv_reverse": 10}
    assert A.check_pass_counts(swapped, n=1000, m=10, points=4) == 2.0
    out = capsys.readouterr().out
    assert "[AD_MODES_SWAPPED]" in out and "Partial credit: 2 of 4 points" in out


def test_pass_counts_garbage(capsys):
    assert A.check_pass_counts(dict(GOOD, grad_forward="n"), n=1000, m=10, points=4) == 3.0
    assert "give a whole number (with n = 1000, m = 10)" in capsys.readouterr().out
    assert A.check_pass_counts({k: v for k, v in GOOD.items() if k != "deriv_reverse"}, n=1000, m=10, points=4) == 3.0
    assert "answers['deriv_reverse'] is missing" in capsys.readouterr().out
    assert A.check_pass_counts(dict(GOOD, grad_reverse=1.0, extra=3), n=1000, m=10, points=4) == 4.0
    with pytest.raises(AssertionError, match="expected a dict"):
        A.check_pass_counts(None, n=3, m=2)
    with pytest.raises(AssertionError, match="expected a dict"):
        A.check_pass_counts([1, 2], n=3, m=2)
    with pytest.raises(ValueError, match="unknown key"):
        A.check_pass_counts(GOOD, n=3, m=2, keys=("grad_sideways",))


# =============================================================================================== checkpointing


def ckpt_student(layers, x, dout, k):
    """A learner's own checkpointing (not the reference code)."""
    N = len(layers)
    checkpoints = {0: x}
    h = x
    for i in range(N):
        h = layers[i][0](h)
        if (i + 1) % k == 0 and i + 1 < N:
            checkpoints[i + 1] = h
    out = h
    del h
    grads = [None] * N
    dh = dout
    for s in reversed(range(0, N, k)):
        e = min(s + k, N)
        acts = [checkpoints[s]]
        for i in range(s, e - 1):
            acts.append(layers[i][0](acts[-1]))
        acts.append(out if e == N else checkpoints[e])
        for i in range(e - 1, s - 1, -1):
            dh, grads[i] = layers[i][1](acts[i - s], acts[i - s + 1], dh)
            acts.pop()
        if e < N:
            del checkpoints[e]
        del acts
    return dh, grads


def ckpt_store_all(layers, x, dout, k):
    acts = [x]
    for f, _ in layers:
        acts.append(f(acts[-1]))
    grads, dh = [None] * len(layers), dout
    for i in reversed(range(len(layers))):
        dh, grads[i] = layers[i][1](acts[i], acts[i + 1], dh)
    return dh, grads


def ckpt_quadratic(layers, x, dout, k):
    grads, dh = [None] * len(layers), dout
    for i in reversed(range(len(layers))):
        h = x
        for j in range(i):
            h = layers[j][0](h)
        dh, grads[i] = layers[i][1](h, layers[i][0](h), dh)
    return dh, grads


def ckpt_reversed_grads(layers, x, dout, k):
    dx, grads = ckpt_student(layers, x, dout, k)
    return dx, grads[::-1]


@pytest.mark.parametrize("seed,thorough", [(0, False), (13, True)])
def test_checkpoint_references_pass(seed, thorough):
    ref = lambda layers, x, dout, k: C.backprop_checkpointed(layers, x, dout, k)[:2]  # noqa: E731
    assert A.check_checkpointed_backward(ref, seed=seed, points=4, thorough=thorough) == 4.0
    assert A.check_checkpointed_backward(ckpt_student, seed=seed, thorough=thorough) is None


@pytest.mark.parametrize("fn,score,code,phrase", [   # of 4 sub-checks + "inputs left unchanged" (25 %)
    (ckpt_store_all, 3.25, "CHECKPOINT_KEEPS_ALL", "plain backprop keeps N + 1"),
    (ckpt_quadratic, 3.25, "CHECKPOINT_RECOMPUTE", "layer forwards ran"),
    (ckpt_reversed_grads, 1.75, "LAYER_GRADS_REVERSED", "not credited until dx and grads are right"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_checkpoint_planted(fn, score, code, phrase, thorough, capsys):
    assert A.check_checkpointed_backward(fn, points=4, thorough=thorough) == score
    text = capsys.readouterr().out
    assert f"[{code}]" in text and phrase in text, text


def test_checkpoint_measured_memory_of_the_reference_is_within_its_formula():
    rng = np.random.default_rng(1)
    for N, k in ((24, 5), (36, 6), (10, 3), (7, 10), (16, 1)):
        Ws = [rng.standard_normal((3, 3)) for _ in range(N)]
        layers = catalogue.item("tanh_chain", Ws=Ws)
        C.backprop_checkpointed(layers.local(), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), k)
        assert layers.state["peak"] <= C.expected_peak_stored(N, k)
        assert layers.state["forward_calls"] == 2 * N - math.ceil(N / k)
        assert layers.state["backward_calls"] == [1] * N
        full = catalogue.item("tanh_chain", Ws=Ws)
        C.backprop_full(full.local(), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))
        assert full.state["peak"] >= N - 1


@pytest.mark.parametrize("fn,phrase", [
    (lambda layers, x, dout, k: None, "returned None"),
    (lambda layers, x, dout, k: (dout, None), "grads is None"),
    (lambda layers, x, dout, k: (dout, [dout] * 3), "one per layer"),
    (lambda layers, x, dout, k: layers[0][1](x, x, dout), "dL/dh_0"),
    (lambda layers, x, dout, k: layers[0][1](x[0], x, dout), "backward: x (the layer input)"),
])
def test_checkpoint_garbage(fn, phrase, capsys):
    text = _fails_with(capsys, A.check_checkpointed_backward, fn, points=4)
    if phrase != "dL/dh_0":
        assert phrase in text, text
