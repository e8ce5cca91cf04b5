"""graders.exercises.computational_graphs (notebook 02): correct answers get full marks, plausible wrong answers
lose points with a message that names the mistake, garbage never crashes the grader, partial credit is exact."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from graders import autodiff as gad
from graders.exercises import computational_graphs as ex


# ============================================================================================ worked examples


def test_worked_examples_match_the_pinned_figures():
    values, grads = ex._loss_trace()
    assert values == {"mul": 6.0, "add": 7.0, "sub": -1.0, "L": 1.0}
    assert grads["w"] == -6.0 and grads["b"] == -2.0          # errata: dL/dw = -6, dL/db = -2
    assert grads == {"L": 1.0, "sub": -2.0, "add": -2.0, "mul": -2.0, "w": -6.0, "x": -4.0, "b": -2.0, "y": 2.0}
    values, grads = ex._sum_times_trace()
    assert values == {"q": 3.0, "f": -12.0}
    assert (grads["x"], grads["y"], grads["z"]) == (-4.0, -4.0, 3.0)   # errata: (-4, -4, 3)
    values, grads = ex._fanout_trace()
    x, y = sp.symbols("x y")
    f = (x * y + x) ** 2
    at = {x: 3, y: -2}
    assert grads["x"] == float(sp.diff(f, x).subs(at)) and grads["y"] == float(sp.diff(f, y).subs(at))
    assert grads["b"] == 2 * values["b"]


GOOD_FORWARD = {"mul": 6, "add": 7, "sub": -1, "L": 1}
GOOD_BACKWARD = {"L": 1, "sub": -2, "add": -2, "mul": -2, "w": -6, "x": -4, "b": -2, "y": 2}
GOOD_SUM_TIMES = {"q": 3, "f": -12, "df/dq": -4, "df/dx": -4, "df/dy": -4, "df/dz": 3}
GOOD_FANOUT = {"df/db": -6, "df/da": -6, "df/dx": 6, "df/dy": -18}


@pytest.mark.parametrize("check, good, pts", [
    (ex.check_loss_forward, GOOD_FORWARD, 1), (ex.check_loss_backward, GOOD_BACKWARD, 2),
    (ex.check_sum_times_trace, GOOD_SUM_TIMES, 2), (ex.check_fanout_trace, GOOD_FANOUT, 2)])
def test_traces_full_marks(check, good, pts):
    assert check(good, points=pts) == float(pts)
    assert check(good) is None
    as_numpy = {k: np.float64(v) for k, v in good.items()}
    assert check(as_numpy, points=pts, thorough=True, seed=3) == float(pts)
    assert check({k: sp.Integer(v) for k, v in good.items()}, points=pts) == float(pts)


@pytest.mark.parametrize("check, good, key, wrong, phrase", [
    (ex.check_loss_forward, GOOD_FORWARD, "sub", 1, "order of the subtraction"),
    (ex.check_loss_forward, GOOD_FORWARD, "L", -1, "SQUARE"),
    (ex.check_loss_backward, GOOD_BACKWARD, "sub", -1, "2 * sub"),
    (ex.check_loss_backward, GOOD_BACKWARD, "w", -4, "OTHER factor"),
    (ex.check_loss_backward, GOOD_BACKWARD, "w", 3, "multiplied by the upstream"),
    (ex.check_loss_backward, GOOD_BACKWARD, "w", 1, "MULTIPLIES"),
    (ex.check_loss_backward, GOOD_BACKWARD, "y", -2, "minus sign"),
    (ex.check_loss_backward, GOOD_BACKWARD, "b", 2, "sign is flipped"),
    (ex.check_sum_times_trace, GOOD_SUM_TIMES, "df/dq", 3, "OTHER factor, z"),
    (ex.check_sum_times_trace, GOOD_SUM_TIMES, "df/dy", -2, "does not split"),
    (ex.check_sum_times_trace, GOOD_SUM_TIMES, "df/dx", 1, "upstream gradient"),
    (ex.check_fanout_trace, GOOD_FANOUT, "df/db", -3, "SUM of both"),
    (ex.check_fanout_trace, GOOD_FANOUT, "df/dx", -6, "only the contribution through b"),
    (ex.check_fanout_trace, GOOD_FANOUT, "df/dx", 12, "only the contribution through a"),
    (ex.check_fanout_trace, GOOD_FANOUT, "df/dx", -72, "not multiplied"),
    (ex.check_fanout_trace, GOOD_FANOUT, "df/dx", 3, "half of the right value"),
    (ex.check_fanout_trace, GOOD_FANOUT, "df/dy", 12, "OTHER factor, x"),
])
def test_trace_mistakes_are_named_with_exact_partial_credit(check, good, key, wrong, phrase, capsys):
    answers = dict(good, **{key: wrong})
    n = len(good)
    score = check(answers, points=2)
    assert score == round(2 * (n - 1) / n, 4)
    out = capsys.readouterr().out
    assert phrase in out, out
    assert f"answers['{key}'] = {wrong:g}" in out


def test_trace_garbage():
    assert "expected a dict" in _fails(ex.check_loss_forward, None, points=1)
    assert "expected a dict" in _fails(ex.check_loss_backward, [1, 2, 3], points=2)
    msg = _fails(ex.check_sum_times_trace, {"q": "three"}, points=2)
    assert "give a number" in msg and "answers['f'] is missing" in msg
    msg = _fails(ex.check_fanout_trace, {k: float("nan") for k in GOOD_FANOUT}, points=2)
    assert "give a number" in msg


def test_trace_extra_keys_are_noted(capsys):
    assert ex.check_loss_forward(dict(GOOD_FORWARD, extra=1), points=1) == 1.0
    assert "ignored unknown key(s): extra" in capsys.readouterr().out


# ============================================================================================ loss_and_grads


def good_loss_and_grads(w, x, b, y):
    sub = w * x + b - y
    d = 2 * sub
    return sub ** 2, d * x, d * w, d, -d


def test_loss_and_grads_full_marks():
    assert ex.check_loss_and_grads(good_loss_and_grads, points=2) == 2.0
    assert ex.check_loss_and_grads(good_loss_and_grads, seed=202, points=2, thorough=True) == 2.0
    as_numpy = lambda *a: tuple(np.float64(v) for v in good_loss_and_grads(*a))  # noqa: E731
    assert ex.check_loss_and_grads(as_numpy, points=2) == 2.0


# sub-checks: one per output on ordinary points, "zero residual" and "a large residual" (1 each, 7 in all); a
# formula mistake shows on the ordinary points and the large residual, not where every gradient is 0
@pytest.mark.parametrize("bad, phrase, score", [
    (lambda w, x, b, y: (lambda s: (s ** 2, s * x, s * w, s, -s))(w * x + b - y), "factor 2 is missing",
     round(2 * 2 / 7, 4)),
    (lambda w, x, b, y: (lambda s: (s ** 2, 2 * s * w, 2 * s * x, 2 * s, -2 * s))(w * x + b - y), "OTHER factor",
     round(2 * 4 / 7, 4)),
    (lambda w, x, b, y: (lambda s: (s ** 2, 2 * s * x, 2 * s * w, 2 * s, 2 * s))(w * x + b - y), "minus sign",
     round(2 * 5 / 7, 4)),
])
def test_loss_and_grads_mistakes(bad, phrase, score, capsys):
    assert ex.check_loss_and_grads(bad, points=2) == score
    assert phrase in capsys.readouterr().out


def test_loss_and_grads_in_another_order_is_told_the_order_not_a_missing_factor(capsys):
    """Issue 12: gradients first and the loss last was told "the factor 2 is missing" (L = 1 = -r there)."""
    def grads_first(w, x, b, y):
        L, dw, dx, db, dy = good_loss_and_grads(w, x, b, y)
        return dw, dx, db, dy, L

    def two_swapped(w, x, b, y):
        L, dw, dx, db, dy = good_loss_and_grads(w, x, b, y)
        return L, dw, dx, dy, db

    for fn in (grads_first, two_swapped):
        text = _fails_with(capsys, ex.check_loss_and_grads, fn, points=2, phrase="in another order")
        assert "factor 2" not in text and "OTHER factor" not in text and "minus sign" not in text, text
    assert "dL_dy = 1 is the value of L" in _fails_with(capsys, ex.check_loss_and_grads, grads_first, points=2)


def _loss_and_grads_by_finite_differences(h):
    def loss_and_grads(w, x, b, y):
        def L(*v):
            return (v[0] * v[1] + v[2] - v[3]) ** 2
        point, grads = [w, x, b, y], []
        for i in range(4):
            plus, minus = list(point), list(point)
            plus[i] += h
            minus[i] -= h
            grads.append((L(*plus) - L(*minus)) / (2 * h))
        return (L(*point), *grads)
    return loss_and_grads


@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8, 1.0, 1e3])
@pytest.mark.parametrize("thorough", [False, True])
def test_loss_and_grads_by_finite_differences_lose_the_large_residual_share_at_every_step(h, thorough, capsys):
    text = _fails_with(capsys, ex.check_loss_and_grads, _loss_and_grads_by_finite_differences(h), points=2,
                       thorough=thorough)
    assert "✗ a large residual (analytic gradients)" in text, text
    if h in (1e-2, 1e-4, 1e-5, 1e-6, 1.0):  # right on the other points: only that share is lost, and named
        assert "[NUMERIC_NOT_ANALYTIC]" in text and "✓ dL_dw" in text and "✓ zero residual" in text, text


def test_loss_and_grads_garbage():
    assert "got None" in _fails(ex.check_loss_and_grads, None, points=2)
    assert "forget `return`" in _fails(ex.check_loss_and_grads, lambda w, x, b, y: None, points=2)
    assert "return the tuple" in _fails(ex.check_loss_and_grads, lambda w, x, b, y: (1.0, 2.0), points=2)
    assert "raised ZeroDivisionError" in _fails(ex.check_loss_and_grads, lambda w, x, b, y: 1 / 0, points=2)
    msg = _fails(ex.check_loss_and_grads, lambda w, x, b, y: ("a",) * 5, points=2)
    assert "expected a number" in msg
    assert "4 positional" in _fails(ex.check_loss_and_grads, lambda w: 0, points=2)


# ============================================================================================ Value step 1


class Good:
    """A correct step-1 Value (+ and * only), micrograd style."""

    def __init__(self, data, _prev=(), _op=""):
        self.data, self.grad, self._prev, self._op = data, 0.0, tuple(_prev), _op
        self._backward = lambda: None

    @staticmethod
    def wrap(o):
        return o if isinstance(o, Good) else Good(o)

    def __add__(self, other):
        other = Good.wrap(other)
        out = Good(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = Good.wrap(other)
        out = Good(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __rmul__(self, other):
        return self * other


def _variant(**methods):
    return type("Value", (Good,), methods)


def _mul_with(body):
    def __mul__(self, other):
        other = Good.wrap(other)
        out = Good(self.data * other.data, (self, other), "*")

        def _backward():
            body(self, other, out)

        out._backward = _backward
        return out
    return __mul__


def _add_with(body, prev=True):
    def __add__(self, other):
        other = Good.wrap(other)
        out = Good(self.data + other.data, (self, other) if prev else (), "+")

        def _backward():
            body(self, other, out)

        out._backward = _backward
        return out
    return __add__


def _overwrite_mul(s, o, out):
    s.grad = o.data * out.grad
    o.grad = s.data * out.grad


def _own_factor_mul(s, o, out):
    s.grad += s.data * out.grad
    o.grad += o.data * out.grad


def _no_upstream_add(s, o, out):
    s.grad += 1.0
    o.grad += 1.0


def _good_add(s, o, out):
    s.grad += out.grad
    o.grad += out.grad


def test_value_ops_full_marks():
    assert ex.check_value_ops(Good, points=2) == 2.0
    assert ex.check_value_ops(Good, seed=207, points=2, thorough=True) == 2.0
    assert ex.check_value_ops(Good) is None


def test_value_ops_accepts_set_prev():
    class SetPrev(Good):
        def __init__(self, data, _prev=(), _op=""):
            super().__init__(data, _prev, _op)
            self._prev = set(_prev)
    assert ex.check_value_ops(SetPrev, points=2) == 2.0


@pytest.mark.parametrize("cls, phrase, code", [
    (_variant(__mul__=_mul_with(_overwrite_mul)), "was overwritten", "OVERWRITE_NOT_ACCUMULATE"),
    (_variant(__mul__=_mul_with(_own_factor_mul)), "OTHER factor", None),
    (_variant(__add__=_add_with(_no_upstream_add)), "not multiplied by out.grad", "UPSTREAM_GRAD_MISSING"),
])
def test_value_ops_local_backward_mistakes(cls, phrase, code, capsys):
    assert ex.check_value_ops(cls, points=2) == 1.5
    out = capsys.readouterr().out
    assert phrase in out
    if code:
        assert f"[{code}]" in out


def test_value_ops_x_times_x_counted_once_is_explained(capsys):
    def once(s, o, out):  # right for distinct inputs, but x * x passes only one contribution
        if s is o:
            s.grad += o.data * out.grad
        else:
            _good_mul(s, o, out)
    assert ex.check_value_ops(_variant(__mul__=_mul_with(once)), points=2) == 1.5
    assert "must receive BOTH contributions" in capsys.readouterr().out


def _good_mul(s, o, out):
    s.grad += o.data * out.grad
    o.grad += s.data * out.grad


def test_value_ops_graph_mistakes(capsys):
    assert ex.check_value_ops(_variant(__add__=_add_with(_good_add, prev=False)), points=2) == 1.5
    assert "is not in the result's _prev" in capsys.readouterr().out

    def no_closure(self, other):
        other = Good.wrap(other)
        return Good(self.data + other.data, (self, other), "+")
    assert ex.check_value_ops(_variant(__add__=no_closure), points=2) == 1.5
    assert "did not change a.grad" in capsys.readouterr().out

    def returns_float(self, other):
        return self.data + Good.wrap(other).data
    assert ex.check_value_ops(_variant(__add__=returns_float), points=2) == 1.0
    assert "not a new Value" in capsys.readouterr().out


def test_value_ops_reflected_operators(capsys):
    assert ex.check_value_ops(_variant(__radd__=None, __rmul__=None), points=2) == 0.5
    assert "define __radd__ and __rmul__" in capsys.readouterr().out


def test_value_ops_leaf_problems(capsys):
    class NoPrev:
        def __init__(self, data):
            self.data, self.grad = data, 0.0
    msg = _fails(ex.check_value_ops, NoPrev, points=2)
    assert "no ._prev" in msg and "must be a function that does nothing" in msg

    class BadGrad(Good):
        def __init__(self, data, _prev=(), _op=""):
            super().__init__(data, _prev, _op)
            self.grad = None
    assert ex.check_value_ops(BadGrad, points=2) == 1.5
    out = capsys.readouterr().out
    assert "BadGrad(1.5).grad is None, expected 0.0" in out and "changed its .grad" not in out

    class BusyLeaf(Good):
        def __init__(self, data, _prev=(), _op=""):
            super().__init__(data, _prev, _op)
            self._backward = lambda: setattr(self, "grad", self.grad + 1.0)
    assert ex.check_value_ops(BusyLeaf, points=2) == 1.5
    assert "changed its .grad" in capsys.readouterr().out


def test_value_ops_backward_with_argument_is_explained(capsys):
    class WithArg(Good):
        def __add__(self, other):
            out = Good.__add__(self, other)
            out._backward = lambda g: None
            return out

        def __mul__(self, other):
            out = Good.__mul__(self, other)
            out._backward = lambda g: None
            return out
    assert ex.check_value_ops(WithArg, points=2) == 1.0
    assert "takes no arguments" in capsys.readouterr().out


def test_value_ops_garbage():
    assert "got None" in _fails(ex.check_value_ops, None, points=2)
    assert "the class itself" in _fails(ex.check_value_ops, Good(1.0), points=2)
    assert "the class itself" in _fails(ex.check_value_ops, lambda x: x, points=2)

    class Raises:
        def __init__(self, data):
            raise RuntimeError("boom")
    assert "raised RuntimeError: boom" in _fails(ex.check_value_ops, Raises, points=2)

    class Hangs(Good):
        def __add__(self, other):
            while True:
                pass
    import graders.core as core
    old = core.DEFAULT_TIMEOUT
    core.DEFAULT_TIMEOUT = 0.3
    try:
        score = ex.check_value_ops(Hangs, points=2)
    finally:
        core.DEFAULT_TIMEOUT = old
    assert score < 2


def test_value_ops_release_skeleton_scores_zero():
    """The release gives the leaf part of the class; with every operator still raising, the cell scores 0."""
    class Skeleton:
        def __init__(self, data, _prev=(), _op=""):
            self.data, self.grad, self._prev, self._op = data, 0.0, tuple(_prev), _op
            self._backward = lambda: None

        def __add__(self, other):
            raise NotImplementedError()

        __radd__ = __mul__ = __rmul__ = __add__
    msg = _fails(ex.check_value_ops, Skeleton, points=2)
    assert "raised NotImplementedError" in msg and "credited once + or * does" in msg.replace("\n", " ")


def test_value_ops_does_not_use_global_rng():
    np.random.seed(0)
    a = np.random.random()
    np.random.seed(0)
    ex.check_value_ops(Good, seed=5)
    assert np.random.random() == a


# ============================================================================================ Value, step 3


def _topo(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in node._prev if id(c) not in seen)
    return order


def _engine(seed_root=True, seed_before_reset=False):
    """The notebook's Value (+ and *) with backward(): reset every grad, seed the root, local backwards in reverse."""

    class Value:
        def __init__(self, data, _prev=()):
            self.data, self.grad, self._prev = data, 0.0, tuple(_prev)
            self._backward = lambda: None

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other))

            def _backward():
                self.grad += out.grad
                other.grad += out.grad
            out._backward = _backward
            return out

        __radd__ = __add__

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other))

            def _backward():
                self.grad += other.data * out.grad
                other.grad += self.data * out.grad
            out._backward = _backward
            return out

        __rmul__ = __mul__

        def backward(self):
            order = _topo(self)
            if seed_before_reset:
                self.grad = 1.0
            for node in order:
                node.grad = 0.0
            if seed_root and not seed_before_reset:
                self.grad = 1.0
            for node in reversed(order):
                node._backward()

    return Value


def test_value_backward_reference_engine_full_marks():
    assert gad.check_value_class(_engine(), points=3, ops=("+", "*")) == 3.0
    assert gad.check_value_class(_engine(), seed=209, points=3, ops=("+", "*"), thorough=True) == 3.0


@pytest.mark.parametrize("kwargs", [dict(seed_root=False), dict(seed_before_reset=True)])
def test_value_backward_that_leaves_the_root_at_zero_is_told_the_seed_not_that_its_ops_are_wrong(kwargs, capsys):
    """Issue 12: a backward() that leaves root.grad at 0 was told its + and * are wrong."""
    text = _fails_with(capsys, gad.check_value_class, _engine(**kwargs), points=3, ops=("+", "*"))
    assert "[BACKWARD_NOT_SEEDED]" in text and "root's .grad is 0" in text, text
    assert "does the operation assign out._backward" not in text and "failing: +, *" not in text, text
    assert "✓ forward values" in text


# ============================================================================================ numeric gradient


def good_fd(f, xs, h=1e-5):
    g = np.zeros(len(xs))
    for i in range(len(xs)):
        p, m = list(xs), list(xs)
        p[i] += h
        m[i] -= h
        g[i] = (f(*p) - f(*m)) / (2 * h)
    return g


def _fd_variant(kind=None, fixed_h=None, inplace=False):
    def fn(f, xs, h=1e-5):
        h = fixed_h or h
        g = np.zeros(len(xs))
        for i in range(len(xs)):
            if inplace:
                xs[i] += h
                a = f(*xs)
                xs[i] -= 2 * h
                b = f(*xs)
                g[i] = (a - b) / (2 * h)
                continue
            p, m = list(xs), list(xs)
            p[i] += h
            m[i] -= h
            if kind == "forward":
                g[i] = (f(*p) - f(*xs)) / h
            elif kind == "times_h":
                g[i] = (f(*p) - f(*m)) / 2 * h
            else:
                g[i] = (f(*p) - f(*m)) / (2 * h)
        return g
    return fn


def test_numeric_gradient_full_marks(capsys):
    assert ex.check_numeric_gradient(good_fd, points=2) == 2.0
    assert ex.check_numeric_gradient(good_fd, seed=210, points=2, thorough=True) == 2.0
    assert ex.check_numeric_gradient(good_fd) is None
    assert "note:" not in capsys.readouterr().out


@pytest.mark.parametrize("fn, code_or_phrase, score", [
    (_fd_variant("forward"), "[ONE_SIDED_DIFFERENCE]", None),
    (_fd_variant("times_h"), "[FD_DENOMINATOR]", None),
    (_fd_variant(fixed_h=1e-6), "[FD_STEP_IGNORED]", 1.25),   # small step right; inputs left unchanged (2/3)
    (_fd_variant(inplace=True), "put it back", None),
    (_fd_variant(inplace=True), "[INPUT_MUTATED]", None),
])
def test_numeric_gradient_mistakes(fn, code_or_phrase, score, capsys):
    if score is None:
        msg = _fails(ex.check_numeric_gradient, fn, points=2)
    else:
        assert ex.check_numeric_gradient(fn, points=2) == score
        msg = capsys.readouterr().out
    assert code_or_phrase in msg, msg


def test_numeric_gradient_that_shifts_xs_in_place_and_restores_it_keeps_full_marks_only_when_exact(capsys):
    def restore_exactly(f, xs, h=1e-5):
        g = np.zeros(len(xs))
        for i in range(len(xs)):
            old = xs[i]
            xs[i] = old + h
            a = f(*xs)
            xs[i] = old - h
            b = f(*xs)
            xs[i] = old
            g[i] = (a - b) / (2 * h)
        return g

    assert ex.check_numeric_gradient(restore_exactly, points=2, thorough=True) == 2.0
    # the caller's list left shifted: the course-wide input rule (a quarter of the points), named
    def leave_shifted(f, xs, h=1e-5):
        g = restore_exactly(f, xs, h)
        xs[-1] += h
        return g
    assert ex.check_numeric_gradient(leave_shifted, points=2) == 1.5
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


def test_numeric_gradient_garbage():
    assert "got None" in _fails(ex.check_numeric_gradient, None, points=2)
    assert "return a NumPy float64 array" in _fails(ex.check_numeric_gradient,
                                                    lambda f, xs, h=1e-5: list(good_fd(f, xs, h)), points=2)
    assert "Unpack the point" in _fails(ex.check_numeric_gradient, lambda f, xs, h=1e-5: np.array([f(xs)]),
                                        points=2)
    assert "dtype float32" in _fails(ex.check_numeric_gradient,
                                     lambda f, xs, h=1e-5: good_fd(f, xs, h).astype(np.float32), points=2)
    assert "shape" in _fails(ex.check_numeric_gradient, lambda f, xs, h=1e-5: good_fd(f, xs, h)[:1], points=2)
    assert "got None" in _fails(ex.check_numeric_gradient, lambda f, xs, h=1e-5: None, points=2)


# ============================================================================================ the notebook's solutions


def test_reference_solutions_of_the_engine_pass_the_generic_checks():
    """The engine as the notebook's solution writes it passes graders.autodiff with the notebook's ops."""
    import importlib.util
    import pathlib

    import nbformat
    nb_path = pathlib.Path(__file__).resolve().parents[1] / "solutions" / "02_computational_graphs" / \
        "computational_graphs.ipynb"
    if not nb_path.exists():
        pytest.skip("solution notebook not written yet")
    nb = nbformat.read(str(nb_path), as_version=4)
    src = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    ns = {"math": math, "np": np}
    for gid in ("value_ops", "topological_order", "value_backward", "value_more_ops", "numeric_gradient",
                "loss_and_grads"):
        exec(compile(src[gid], gid, "exec"), ns)
    assert ex.check_value_ops(ns["Value"], seed=207, points=2, thorough=True) == 2.0
    assert gad.check_topological_order(ns["topological_order"], seed=208, points=2, thorough=True) == 2.0
    assert gad.check_value_class(ns["Value"], seed=211, points=3, thorough=True) == 3.0
    assert ex.check_numeric_gradient(ns["numeric_gradient"], seed=210, points=2, thorough=True) == 2.0
    assert ex.check_loss_and_grads(ns["loss_and_grads"], seed=202, points=2, thorough=True) == 2.0
    assert importlib.util.find_spec("visuals.graph") is not None


# ============================================================================================ multiple choice


from graders import concepts  # noqa: E402
from graders.question_bank import computational_graphs as qbank  # noqa: E402
from tests.grading_helpers import fails as _fails
from tests.grading_helpers import fails_with as _fails_with

RIGHT = {"shared_weight_gradient": "c", "backward_twice_pytorch": "b"}


def test_question_bank_is_loaded_and_well_formed():
    bank = concepts.questions()
    for qid in RIGHT:
        assert qid in bank and bank[qid] is qbank.QUESTIONS[qid]
        q = bank[qid]
        assert sorted(q.options) == ["a", "b", "c", "d"]
        wrong = [letter for letter in q.options if letter != RIGHT[qid]]
        assert {concepts.digest(qid, letter) for letter in wrong} == set(q.feedback)  # feedback for every wrong one


@pytest.mark.parametrize("qid", sorted(RIGHT))
def test_questions_right_letter_full_marks(qid, capsys):
    right = RIGHT[qid]
    for form in (right, right.upper(), f"({right})", f" {right} "):
        assert concepts.check_choice(qid, form, points=1) == 1.0
    concepts.show_question(qid)
    out = capsys.readouterr().out
    assert "(a)" in out and "(d)" in out


@pytest.mark.parametrize("qid", sorted(RIGHT))
def test_questions_wrong_letters_get_their_feedback(qid):
    q = concepts.questions()[qid]
    for letter in q.options:
        if letter == RIGHT[qid]:
            continue
        msg = _fails(concepts.check_choice, qid, letter, points=1)
        assert f"({letter}) is not the best answer" in msg
        assert q.feedback[concepts.digest(qid, letter)][:40] in msg


@pytest.mark.parametrize("qid", sorted(RIGHT))
def test_questions_garbage(qid):
    assert "no answer yet" in _fails(concepts.check_choice, qid, None, points=1)
    for bad in ("e", "ab", 3, ["c"], float("nan")):
        assert "is not one of the options" in _fails(concepts.check_choice, qid, bad, points=1)
