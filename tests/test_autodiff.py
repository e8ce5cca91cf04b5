"""Autodiff engines: reverse mode (Value) and forward mode (Dual), checked against worked examples,
centered differences and SymPy."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from reference_impl.autodiff import forward as fwd
from reference_impl.autodiff.forward import (
    Dual,
    derivative,
    hvp,
    jacobian_forward,
    jacobian_reverse,
    jvp,
    vjp,
)
from reference_impl.autodiff.reverse import Value, count_backward_passes, grad, topological_order
from reference_impl.gradcheck import numeric_grad, rel_error
from tests.helpers import away_from_zero, rng_for

FAST = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)


# =========================================================================== worked examples
def test_worked_example_squared_error():
    w, x, b, y = Value(2.0), Value(3.0), Value(1.0), Value(8.0)
    L = (w * x + b - y) ** 2
    L.backward()
    assert L.data == pytest.approx(1.0)
    assert w.grad == pytest.approx(-6.0) and b.grad == pytest.approx(-2.0)
    assert x.grad == pytest.approx(-4.0) and y.grad == pytest.approx(2.0)


def test_worked_example_sum_times():
    assert grad(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0) == pytest.approx((-4.0, -4.0, 3.0))


def test_worked_example_fan_out_square():
    x = Value(3.5)
    (x * x).backward()
    assert x.grad == pytest.approx(7.0)


def test_worked_example_forward_mode():
    x1, x2 = Dual(2.0, 1.0), Dual(3.0, 0.0)
    f = x1 * x2 + x1.sin()
    assert round(f.val, 5) == 6.90930
    assert round(f.dot, 5) == 2.58385
    assert derivative(lambda t: t * 3.0 + fwd.sin(t), 2.0) == pytest.approx(2.58385, abs=1e-5)


# =========================================================================== every op vs references
def _sym_sigmoid(a):
    return 1 / (1 + sp.exp(-a))


def _sym_relu(a):
    return sp.Piecewise((a, a > 0), (0, True))


ENGINE = SimpleNamespace(
    exp=lambda a: a.exp(), log=lambda a: a.log(), tanh=lambda a: a.tanh(), sin=lambda a: a.sin(),
    cos=lambda a: a.cos(), sigmoid=lambda a: a.sigmoid(), relu=lambda a: a.relu(),
)
SYMPY = SimpleNamespace(
    exp=sp.exp, log=sp.log, tanh=sp.tanh, sin=sp.sin, cos=sp.cos, sigmoid=_sym_sigmoid, relu=_sym_relu
)

# name -> (number of arguments, expression written for a namespace m, sampler(rng, nargs))
ANY = lambda rng, k: rng.uniform(-2.0, 2.0, k)  # noqa: E731
POS = lambda rng, k: rng.uniform(0.3, 2.5, k)  # noqa: E731
KINKFREE = lambda rng, k: away_from_zero(rng, k, 0.2, 2.0)  # noqa: E731
OPS = {
    "exp": (1, lambda m, a: m.exp(a), ANY),
    "log": (1, lambda m, a: m.log(a), POS),
    "tanh": (1, lambda m, a: m.tanh(a), ANY),
    "sigmoid": (1, lambda m, a: m.sigmoid(a), lambda rng, k: rng.uniform(-6, 6, k)),
    "relu": (1, lambda m, a: m.relu(a), KINKFREE),
    "sin": (1, lambda m, a: m.sin(a), ANY),
    "cos": (1, lambda m, a: m.cos(a), ANY),
    "neg": (1, lambda m, a: -a, ANY),
    "pow2": (1, lambda m, a: a**2, ANY),
    "pow3": (1, lambda m, a: a**3, ANY),
    "pow-1": (1, lambda m, a: a**-1, KINKFREE),
    "pow0.5": (1, lambda m, a: a**0.5, POS),
    "pow-2.5": (1, lambda m, a: a**-2.5, POS),
    "add": (2, lambda m, a, b: a + b, ANY),
    "sub": (2, lambda m, a, b: a - b, ANY),
    "mul": (2, lambda m, a, b: a * b, ANY),
    "div": (2, lambda m, a, b: a / b, KINKFREE),
    "radd": (1, lambda m, a: 2.5 + a, ANY),
    "rsub": (1, lambda m, a: 2.5 - a, ANY),
    "rmul": (1, lambda m, a: -1.5 * a, ANY),
    "rdiv": (1, lambda m, a: 2.5 / a, KINKFREE),
    "add_const": (1, lambda m, a: a + 0.7, ANY),
    "sub_const": (1, lambda m, a: a - 0.7, ANY),
    "div_const": (1, lambda m, a: a / 0.7, ANY),
}


def _references(name):
    """(float function of an (nargs,) array, list of gradient functions) from SymPy."""
    nargs, expr_fn, sampler = OPS[name]
    syms = sp.symbols(f"a0:{nargs}", real=True)
    expr = expr_fn(SYMPY, *syms)
    f = sp.lambdify(syms, expr, "math")
    dfs = [sp.lambdify(syms, sp.diff(expr, s), "math") for s in syms]
    return nargs, expr_fn, sampler, f, dfs


@pytest.mark.parametrize("name", sorted(OPS))
def test_reverse_op_matches_numeric_and_sympy(name):
    nargs, expr_fn, sampler, f, dfs = _references(name)
    rng = rng_for(sum(map(ord, name)))
    for _ in range(3):
        x = sampler(rng, nargs)
        leaves = [Value(xi) for xi in x]
        out = expr_fn(ENGINE, *leaves)
        out.backward()
        analytic = np.array([leaf.grad for leaf in leaves])
        assert out.data == pytest.approx(f(*x), rel=1e-12, abs=1e-12)
        numeric = numeric_grad(lambda z: f(*z), x)
        symbolic = np.array([float(df(*x)) for df in dfs])
        assert rel_error(analytic, numeric) < 1e-7, (name, x, analytic, numeric)
        assert rel_error(analytic, symbolic) < 1e-12, (name, x, analytic, symbolic)


@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_op_matches_numeric_and_sympy(name):
    nargs, expr_fn, sampler, f, dfs = _references(name)
    rng = rng_for(1000 + sum(map(ord, name)))
    for _ in range(3):
        x = sampler(rng, nargs)
        numeric = numeric_grad(lambda z: f(*z), x)
        symbolic = np.array([float(df(*x)) for df in dfs])
        for j in range(nargs):  # one seeded pass per input: d f / d x_j
            duals = [Dual(xi, 1.0 if i == j else 0.0) for i, xi in enumerate(x)]
            out = expr_fn(ENGINE, *duals)
            assert out.val == pytest.approx(f(*x), rel=1e-12, abs=1e-12)
            assert abs(out.dot - numeric[j]) <= 1e-7 * max(1.0, abs(numeric[j])), (name, j)
            assert out.dot == pytest.approx(symbolic[j], rel=1e-12, abs=1e-12), (name, j)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "relu", "sin", "cos"])
def test_dispatch_functions_accept_floats_duals_values_and_arrays(name):
    fn = getattr(fwd, name)
    _, _, sampler, f, dfs = _references(name)
    x = sampler(rng_for(7), 4)
    expected = np.array([f(xi) for xi in x])
    np.testing.assert_allclose(fn(x), expected, rtol=1e-12)
    assert fn(float(x[0])) == pytest.approx(expected[0], rel=1e-12)
    d = fn(Dual(x[1], 1.0))
    assert (d.val, d.dot) == pytest.approx((expected[1], dfs[0](x[1])), rel=1e-12)
    v = Value(x[2])
    fn(v).backward()
    assert v.grad == pytest.approx(dfs[0](x[2]), rel=1e-12)
    obj = np.array([Dual(xi, 1.0) for xi in x], dtype=object)
    np.testing.assert_allclose([o.dot for o in fn(obj)], [dfs[0](xi) for xi in x], rtol=1e-12)


def test_sigmoid_is_stable_for_large_inputs():
    for engine in (Value, Dual):
        big, small = engine(800.0).sigmoid(), engine(-800.0).sigmoid()
        assert (_primal(big), _primal(small)) == (1.0, 0.0)
    np.testing.assert_array_equal(fwd.sigmoid(np.array([-800.0, 800.0])), [0.0, 1.0])


def _primal(z):
    return z.data if isinstance(z, Value) else z.val


# =========================================================================== graph mechanics
def test_backward_is_idempotent():
    a, b = Value(0.3), Value(-1.2)
    c = (a * b).tanh() + a * a
    L = c * c + b.exp()
    L.backward()
    first = (a.grad, b.grad, c.grad)
    L.backward()
    assert (a.grad, b.grad, c.grad) == first
    assert c.grad == pytest.approx(2 * c.data)


def test_backward_on_a_new_root_resets_shared_leaves():
    x = Value(1.5)
    (x * 3.0).backward()
    (x * x).backward()
    assert x.grad == pytest.approx(3.0)


def test_zero_grad_clears_every_node():
    a, b = Value(0.5), Value(2.0)
    L = (a * b).sin() / b
    L.backward()
    nodes = topological_order(L)
    assert any(n.grad != 0 for n in nodes if n is not L)
    L.zero_grad()
    assert all(n.grad == 0.0 for n in nodes)


def test_fan_out_node_used_three_times_accumulates():
    x = Value(0.7)
    (x + x + x).backward()
    assert x.grad == pytest.approx(3.0)
    (x * x * x).backward()
    assert x.grad == pytest.approx(3 * 0.7**2)
    a = x.tanh()  # intermediate used 3 times: f = a*a + a
    f = a * a + a
    f.backward()
    t = math.tanh(0.7)
    assert a.grad == pytest.approx(2 * t + 1)
    assert x.grad == pytest.approx((2 * t + 1) * (1 - t * t))


def test_topological_order_lists_each_node_once_children_first():
    x, y = Value(1.0), Value(2.0)
    s = x * y
    root = (s + x).exp() * s
    order = topological_order(root)
    assert order[-1] is root
    assert len(order) == len({id(n) for n in order})
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for child in n._prev:
            assert pos[id(child)] < pos[id(n)]


def test_deep_chain_has_no_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(20000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**20000, rel=1e-9)
    y.zero_grad()
    assert x.grad == 0.0


def test_grad_helper_and_constant_functions():
    assert grad(lambda a, b: a / b + a.log(), 2.0, 4.0) == pytest.approx((0.25 + 0.5, -2.0 / 16))
    assert grad(lambda a, b: 3.0, 1.0, 2.0) == (0.0, 0.0)


def test_value_inside_numpy_object_arrays():
    rng = rng_for(3)
    x, W = rng.standard_normal(4), rng.standard_normal((4, 3))
    leaves = np.array([Value(v) for v in x], dtype=object)
    out = np.sum(np.exp(np.tanh(leaves @ W)) * np.float64(0.5))
    assert isinstance(out, Value)
    out.backward()
    f = lambda z: float(np.sum(np.exp(np.tanh(z @ W)) * 0.5))  # noqa: E731
    assert out.data == pytest.approx(f(x), rel=1e-12)
    assert rel_error(np.array([v.grad for v in leaves]), numeric_grad(f, x)) < 1e-8
    assert isinstance(np.float64(2.0) * Value(1.0), Value)
    assert isinstance(np.float64(2.0) - Value(1.0), Value)


def test_invalid_operations_raise_clear_errors():
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError):
        2.0 ** Value(3.0)
    with pytest.raises(TypeError, match="exponent"):
        Dual(2.0, 1.0) ** Dual(3.0)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="log"):
            Value(bad).log()
        with pytest.raises(ValueError, match="log"):
            Dual(bad, 1.0).log()
        with pytest.raises(ValueError, match="log"):
            fwd.log(bad)
    with pytest.raises(ValueError):
        Value(-2.0) ** 0.5
    with pytest.raises(TypeError):
        Value("3")
    with pytest.raises(TypeError):
        float(Value(1.0))  # no silent escape from the graph


# =========================================================================== Jacobians
def _affine_tanh(rng, n=4, m=3):
    W, b = rng.standard_normal((m, n)), rng.standard_normal(m)

    def f(x):
        return np.tanh(W @ x + b)

    def sym(xs):
        return [sp.tanh(sum(W[i, j] * xs[j] for j in range(n)) + b[i]) for i in range(m)]

    return n, f, sym


def _softmax(rng, n=5):
    def f(x):
        e = np.exp(x)
        return e / np.sum(e)

    def sym(xs):
        total = sum(sp.exp(s) for s in xs)
        return [sp.exp(s) / total for s in xs]

    return n, f, sym


def _neighbour_products(rng, n=5):
    # out_i depends on x_i and x_{i-1} only: catches stale leaf gradients between rows.
    def f(x):
        return x * np.roll(x, 1) * np.sin(x)

    def sym(xs):
        return [xs[i] * xs[i - 1] * sp.sin(xs[i]) for i in range(n)]

    return n, f, sym


def _wide(rng):
    # n = 2 inputs, m = 5 outputs
    def f(x):
        return np.array([x[0] * x[1], np.sin(x[0]), x[1] ** 3, x[0] / x[1], np.exp(x[0] - x[1])])

    def sym(xs):
        return [xs[0] * xs[1], sp.sin(xs[0]), xs[1] ** 3, xs[0] / xs[1], sp.exp(xs[0] - xs[1])]

    return 2, f, sym


def _scalar_output(rng, n=4):
    def f(x):
        return np.sum(x**2 * np.log(x))

    def sym(xs):
        return [sum(s**2 * sp.log(s) for s in xs)]

    return n, f, sym


JAC_CASES = {
    "affine_tanh": _affine_tanh,
    "softmax": _softmax,
    "neighbour_products": _neighbour_products,
    "wide": _wide,
    "scalar_output": _scalar_output,
}


def _numeric_jacobian(f, x):
    m = np.atleast_1d(f(x)).size
    return np.stack([numeric_grad(lambda z: np.atleast_1d(f(z))[i], x) for i in range(m)])


def _sympy_jacobian(sym, x):
    xs = sp.symbols(f"x0:{x.size}", real=True)
    J = sp.Matrix(sym(xs)).jacobian(sp.Matrix(xs))
    return np.array(sp.lambdify(xs, J, "numpy")(*x), dtype=np.float64)


@pytest.mark.parametrize("case", sorted(JAC_CASES))
def test_jacobians_agree_with_each_other_numeric_and_sympy(case):
    rng = rng_for(sum(map(ord, case)))
    n, f, sym = JAC_CASES[case](rng)
    x = rng.uniform(0.3, 1.5, n)  # positive: log and division are defined
    x_before = x.copy()
    J_fwd, n_passes = jacobian_forward(f, x, return_passes=True)
    J_rev, m_passes = jacobian_reverse(f, x, return_passes=True)
    J_sym = _sympy_jacobian(sym, x)
    m = J_sym.shape[0]
    assert J_fwd.shape == J_rev.shape == (m, n)
    assert (n_passes, m_passes) == (n, m)
    assert rel_error(J_fwd, J_rev) < 1e-12
    assert rel_error(J_fwd, J_sym) < 1e-12
    assert rel_error(J_rev, _numeric_jacobian(f, x)) < 1e-7
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("case", sorted(JAC_CASES))
def test_jvp_and_vjp_match_jacobian_products(case):
    rng = rng_for(10 + sum(map(ord, case)))
    n, f, sym = JAC_CASES[case](rng)
    x = rng.uniform(0.3, 1.5, n)
    J = _sympy_jacobian(sym, x)
    v, u = rng.standard_normal(n), rng.standard_normal(J.shape[0])
    fx, Jv = jvp(f, x, v)
    fx2, uJ = vjp(f, x, u if case != "scalar_output" else u[0])
    np.testing.assert_allclose(fx, f(x), rtol=1e-12)
    np.testing.assert_allclose(fx2, f(x), rtol=1e-12)
    assert rel_error(np.atleast_1d(Jv), J @ v) < 1e-12
    assert rel_error(uJ, u @ J) < 1e-12


def test_scalar_outputs_are_handled():
    f = lambda x: np.sum(np.sin(x) * x)  # noqa: E731
    x = np.array([0.2, -0.4, 1.1])
    fx, jv = jvp(f, x, np.ones(3))
    assert isinstance(fx, float) and isinstance(jv, float)
    fx, g = vjp(f, x, np.array([1.0]))
    assert isinstance(fx, float) and g.shape == (3,)
    np.testing.assert_allclose(g, np.sin(x) + x * np.cos(x), rtol=1e-12)
    J, passes = jacobian_reverse(f, x, return_passes=True)
    assert J.shape == (1, 3) and passes == 1


def test_constant_outputs_give_zero_rows_without_passes():
    f = lambda x: np.array([x[0] * x[1], 2.0])  # noqa: E731
    x = np.array([1.5, -0.5])
    J, passes = jacobian_reverse(f, x, return_passes=True)
    np.testing.assert_allclose(J, [[-0.5, 1.5], [0.0, 0.0]])
    assert passes == 1
    np.testing.assert_allclose(jacobian_forward(f, x), J)


def test_shape_errors_are_clear():
    f = lambda x: np.tanh(x)  # noqa: E731
    x = np.array([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same shape"):
        jvp(f, x, np.ones(2))
    with pytest.raises(ValueError, match="shape of f"):
        vjp(f, x, np.ones(2))
    with pytest.raises(ValueError, match="1-D"):
        jacobian_forward(f, np.ones((2, 2)))
    with pytest.raises(ValueError, match="1-D"):
        jacobian_reverse(f, 0.5)
    with pytest.raises(ValueError, match="1-D"):
        jacobian_reverse(lambda z: np.outer(z, z), x)
    with pytest.raises(ValueError, match="scalar"):
        hvp(f, x, np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        derivative(lambda t: np.array([t, t]), 1.0)
    with pytest.raises(ValueError, match="finite"):
        jvp(f, np.array([np.nan, 0.0, 0.0]), np.ones(3))
    with pytest.raises(TypeError):
        jvp(lambda z: np.asarray(z, dtype=float), x, np.ones(3))


def test_pass_counters_count_actual_engine_passes():
    with count_backward_passes() as b, fwd.count_forward_passes() as fpass:
        a = Value(1.0)
        (a * 2.0).backward()
        (a * 3.0).backward()
        jvp(np.sin, np.zeros(4), np.ones(4))
        derivative(np.sin, 0.0)
    assert (b.count, fpass.count) == (2, 2)


# =========================================================================== Hessian-vector products
def _hvp_cases(rng):
    W, c = rng.standard_normal((3, 4)), rng.standard_normal(3)
    return {
        "poly_sin": (
            lambda x: np.sum(np.sin(x) * x**2) + x[0] * x[1] * x[2] - x[3] ** 3 / x[0],
            lambda xs: sum(sp.sin(s) * s**2 for s in xs) + xs[0] * xs[1] * xs[2] - xs[3] ** 3 / xs[0],
        ),
        "logsumexp": (
            lambda x: np.log(np.sum(np.exp(x))),
            lambda xs: sp.log(sum(sp.exp(s) for s in xs)),
        ),
        "tanh_layer": (
            lambda x: np.sum(np.tanh(W @ x + c) ** 2),
            lambda xs: sum(sp.tanh(sum(W[i, j] * xs[j] for j in range(4)) + c[i]) ** 2 for i in range(3)),
        ),
        "sigmoid_relu": (
            lambda x: np.sum(fwd.sigmoid(x * x[::-1]) * fwd.relu(x)),
            lambda xs: sum(_sym_sigmoid(xs[i] * xs[3 - i]) * _sym_relu(xs[i]) for i in range(4)),
        ),
    }


@pytest.mark.parametrize("case", ["poly_sin", "logsumexp", "tanh_layer", "sigmoid_relu"])
def test_hvp_matches_sympy_hessian_and_finite_differences(case):
    rng = rng_for(sum(map(ord, case)))
    f, sym = _hvp_cases(rng)[case]
    x = rng.uniform(0.3, 1.5, 4)
    v = rng.standard_normal(4)
    Hv = hvp(f, x, v)
    xs = sp.symbols("x0:4", real=True)
    H = np.array(sp.lambdify(xs, sp.hessian(sym(xs), xs), "numpy")(*x), dtype=np.float64)
    assert rel_error(Hv, H @ v) < 1e-12
    h = 1e-5
    gradient = lambda z: vjp(f, z, 1.0)[1]  # noqa: E731
    fd = (gradient(x + h * v) - gradient(x - h * v)) / (2 * h)
    assert rel_error(Hv, fd) < 1e-7


def test_reverse_over_forward_also_gives_hvp():
    # Dual with Value components: the tangent f'(x).v is a Value; its gradient is H v.
    x, v = np.array([0.4, -0.9, 1.3]), np.array([1.0, 2.0, -0.5])
    f = lambda z: np.sum(np.exp(z[0] * z)) + np.tanh(z[1] * z[2])  # noqa: E731
    leaves = [Value(xi) for xi in x]
    out = f(np.array([Dual(leaf, vi) for leaf, vi in zip(leaves, v)], dtype=object))
    out.dot.backward()
    assert rel_error(np.array([leaf.grad for leaf in leaves]), hvp(f, x, v)) < 1e-12


# =========================================================================== hypothesis
@FAST
@given(
    coeffs=st.lists(st.floats(-3, 3), min_size=1, max_size=6),
    x=st.floats(-2, 2),
)
def test_random_polynomials_both_modes(coeffs, x):
    p = lambda t: sum(c * t**k for k, c in enumerate(coeffs))  # noqa: E731
    expected = sum(k * c * x ** (k - 1) for k, c in enumerate(coeffs) if k > 0)
    (rev,) = grad(p, x)
    tol = 1e-10 * (1 + sum(abs(c) * k * 2**k for k, c in enumerate(coeffs)))
    assert abs(rev - expected) <= tol
    assert abs(derivative(p, x) - expected) <= tol


UNARY = ["sin", "cos", "tanh", "sigmoid", "exp_small", "square", "shift_log", "scale"]


def _unary(name, m, a):
    return {
        "sin": lambda: m.sin(a),
        "cos": lambda: m.cos(a),
        "tanh": lambda: m.tanh(a),
        "sigmoid": lambda: m.sigmoid(a),
        "exp_small": lambda: m.exp(a * 0.5),
        "square": lambda: a * a,
        "shift_log": lambda: m.log(a * a + 1.0),
        "scale": lambda: 1.5 * a - 0.25,
    }[name]()


@FAST
@given(chain=st.lists(st.sampled_from(UNARY), min_size=1, max_size=6), x=st.floats(-1.5, 1.5))
def test_random_compositions_match_sympy(chain, x):
    s = sp.Symbol("s", real=True)
    leaf = Value(x)
    expr, val, dual = s, leaf, Dual(x, 1.0)
    for name in chain:
        expr, val, dual = _unary(name, SYMPY, expr), _unary(name, ENGINE, val), _unary(name, ENGINE, dual)
    val.backward()
    expected = float(sp.diff(expr, s).subs(s, x).evalf())
    assert leaf.grad == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert dual.dot == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert dual.val == pytest.approx(val.data, rel=1e-14, abs=1e-15)


@FAST
@given(n=st.integers(1, 5), m=st.integers(1, 5), seed=seeds)
def test_random_sizes_jacobians_and_pass_counts(n, m, seed):
    rng = rng_for(seed)
    A, B = rng.standard_normal((m, n)), rng.standard_normal((m, n))

    def f(x):
        return fwd.sigmoid(A @ x) * np.cos(B @ x)

    x = rng.standard_normal(n)
    J_fwd, n_passes = jacobian_forward(f, x, return_passes=True)
    J_rev, m_passes = jacobian_reverse(f, x, return_passes=True)
    assert (n_passes, m_passes) == (n, m)
    assert J_fwd.shape == J_rev.shape == (m, n)
    assert rel_error(J_fwd, J_rev) < 1e-12
    assert rel_error(J_rev, _numeric_jacobian(f, x)) < 1e-7
