"""graders.autodiff: the references score full marks, planted mistakes are named, garbage fails with a clear
message and never crashes the grader, partial credit is exact."""

from __future__ import annotations

import math
import sys
from collections import deque

import numpy as np
import pytest

import graders.core as core
from graders import autodiff as A
from graders.autodiff import functions as AF
from graders.remote import catalogue
from reference_impl.autodiff import checkpoint as C
from reference_impl.autodiff.forward import Dual as RefDual
from reference_impl.autodiff.forward import hvp, jacobian_forward, jacobian_reverse, jvp, vjp
from reference_impl.autodiff.reverse import Value as RefValue
from reference_impl.autodiff.reverse import topological_order
from tests.grading_helpers import fails_with as _fails_with


# =============================================================================================== student Values


def make_value(*, overwrite=False, sub_sign=False, chain_added=False, upstream_missing=False, topo="iterative",
               reset=True, rsub_swapped=False, tanh_wrong=False, exp_float=False, no_tanh=False, grad_none=False,
               no_lift=False, spin=False, noisy=False, sigmoid_wrong=False):
    """A micrograd-style Value (set-free, deterministic) with optional planted mistakes."""

    def send(child, local, out):
        g = out.grad
        contrib = local + g if chain_added else (local if upstream_missing else local * g)
        if overwrite:
            child.grad = contrib
        else:
            child.grad += contrib

    class Value:
        def __init__(self, data, _children=(), _op=""):
            self.data = data
            self.grad = None if grad_none else 0.0
            self._backward = lambda: None
            self._prev = tuple(_children)

        @staticmethod
        def lift(o):
            if no_lift:
                return o
            return o if isinstance(o, Value) else Value(o)

        def __add__(self, other):
            other = self.lift(other)
            out = Value(self.data + other.data, (self, other), "+")
            out._backward = lambda: (send(self, 1.0, out), send(other, 1.0, out))
            return out

        def __mul__(self, other):
            other = self.lift(other)
            out = Value(self.data * other.data, (self, other), "*")
            out._backward = lambda: (send(self, other.data, out), send(other, self.data, out))
            return out

        def __pow__(self, p):
            out = Value(self.data ** p, (self,), "**")
            out._backward = lambda: send(self, p * self.data ** (p - 1), out)
            return out

        def __neg__(self):
            return self * -1.0

        def __sub__(self, other):
            if sub_sign:
                other = self.lift(other)
                out = Value(self.data - other.data, (self, other), "-")
                out._backward = lambda: (send(self, 1.0, out), send(other, 1.0, out))
                return out
            return self + (-self.lift(other))

        def __truediv__(self, other):
            return self * self.lift(other) ** -1

        def __radd__(self, other):
            return self + other

        def __rmul__(self, other):
            return self * other

        def __rsub__(self, other):
            return self - other if rsub_swapped else self.lift(other) - self

        def __rtruediv__(self, other):
            return self.lift(other) * self ** -1

        def exp(self):
            e = math.exp(self.data)
            if exp_float:
                return e
            out = Value(e, (self,), "exp")
            out._backward = lambda: send(self, e, out)
            return out

        def log(self):
            out = Value(math.log(self.data), (self,), "log")
            out._backward = lambda: send(self, 1.0 / self.data, out)
            return out

        def relu(self):
            out = Value(max(self.data, 0.0), (self,), "relu")
            out._backward = lambda: send(self, 1.0 if self.data > 0 else 0.0, out)
            return out

        def sigmoid(self):
            s = 1.0 / (1.0 + math.exp(-self.data))
            out = Value(s, (self,), "sigmoid")
            out._backward = lambda: send(self, s if sigmoid_wrong else s * (1 - s), out)
            return out

        def sin(self):
            out = Value(math.sin(self.data), (self,), "sin")
            out._backward = lambda: send(self, math.cos(self.data), out)
            return out

        def cos(self):
            out = Value(math.cos(self.data), (self,), "cos")
            out._backward = lambda: send(self, -math.sin(self.data), out)
            return out

        def backward(self):
            while spin:
                pass
            if noisy:
                import warnings
                warnings.warn("hmm", RuntimeWarning)
                print("debug", file=sys.stderr)
            if topo == "naive_recursive":
                if reset:
                    for v in _iterative(self):
                        v.grad = 0.0
                self.grad = 1.0

                def go(v):
                    v._backward()
                    for c in v._prev:
                        go(c)
                go(self)
                return
            order = {"iterative": _iterative, "recursive": _recursive, "not_reversed": _iterative,
                     "bfs": _bfs, "list_visited": _list_visited}[topo](self)
            if reset:
                for v in order:
                    v.grad = 0.0
            self.grad = 1.0
            for v in (order if topo in ("not_reversed", "bfs") else reversed(order)):
                v._backward()

    if not no_tanh:
        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")
            out._backward = lambda: send(self, (1 - t) if tanh_wrong else 1 - t * t, out)
            return out
        Value.tanh = tanh
    return Value


def _iterative(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev if id(c) not in seen)
    return order


def _list_visited(root):
    """Correct but quadratic: `in` on a list."""
    order, seen, stack = [], [], [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif not any(v is s for s in seen):
            seen.append(v)
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev)
    return order


def _recursive(root):
    order, seen = [], set()

    def build(v):
        if id(v) not in seen:
            seen.add(id(v))
            for c in v._prev:
                build(c)
            order.append(v)
    build(root)
    return order


def _bfs(root):
    order, seen, queue = [], {id(root)}, deque([root])
    while queue:
        v = queue.popleft()
        order.append(v)
        for c in v._prev:
            if id(c) not in seen:
                seen.add(id(c))
                queue.append(c)
    return order


@pytest.mark.parametrize("seed,thorough", [(0, False), (1234, True)])
def test_reference_value_gets_full_marks(seed, thorough, capsys):
    assert A.check_value_class(RefValue, seed=seed, points=6, thorough=thorough) == 6.0
    assert A.check_value_class(RefValue, seed=seed, thorough=thorough, ops=A.VALUE_OPS) is None
    out = capsys.readouterr()
    assert "all 6 checks passed" in out.out and out.err == ""


def test_a_correct_student_value_gets_full_marks():
    assert A.check_value_class(make_value(), points=6, ops=A.VALUE_OPS, thorough=True) == 6.0
    for seed in range(6):
        assert A.check_value_class(make_value(), points=6, seed=seed) == 6.0


@pytest.mark.parametrize("bugs,code,sub", [
    (dict(overwrite=True), "OVERWRITE_NOT_ACCUMULATE", "gradients with fan-out"),
    (dict(sub_sign=True), "SIGN_FLIP", "local gradient of each operation"),
    (dict(chain_added=True), "CHAIN_RULE_ADDED", "local gradient of each operation"),
    (dict(upstream_missing=True), "UPSTREAM_GRAD_MISSING", "local gradient of each operation"),
    (dict(topo="not_reversed"), "TOPO_ORDER", "gradients on trees"),
    (dict(topo="bfs"), "TOPO_ORDER", "gradients with fan-out"),
    (dict(topo="naive_recursive"), "TOPO_ORDER", "gradients with fan-out"),
    (dict(reset=False), "GRAD_NOT_RESET", "backward() twice"),
    (dict(rsub_swapped=True), "R_OP_ORDER", "forward values"),
    (dict(tanh_wrong=True), "TANH_DERIVATIVE", "local gradient of each operation"),
])
@pytest.mark.parametrize("seed,thorough", [(0, False), (7, True)])
def test_value_planted_mistake_is_named(bugs, code, sub, seed, thorough, capsys):
    text = _fails_with(capsys, A.check_value_class, make_value(**bugs), seed=seed, points=6, thorough=thorough,
                       code=code)
    assert f"✗ {sub}" in text


def test_sigmoid_derivative_is_named_when_sigmoid_is_asked_for(capsys):
    _fails_with(capsys, A.check_value_class, make_value(sigmoid_wrong=True), points=6, ops=A.VALUE_OPS,
                code="SIGMOID_DERIVATIVE")
    assert A.check_value_class(make_value(sigmoid_wrong=True), points=6) == 6.0  # not in the default ops


def test_overwrite_loses_exactly_the_fan_out_check(capsys):
    # trees, deep chain and single operations have no fan-out, so only one of six checks fails
    assert A.check_value_class(make_value(overwrite=True), points=6) == 5.0
    out = capsys.readouterr().out
    assert "✗ gradients with fan-out" in out and "✓ gradients on trees" in out
    assert "x0 is used twice by this one operation" in out and "both contributions add up" in out


def test_overwrite_in_a_one_input_operation_is_named_not_blamed_on_the_order(capsys):
    V = make_value()

    def tanh(self):  # '=' only here: x.tanh() * x loses the direct contribution
        t = math.tanh(self.data)
        out = V(t, (self,), "tanh")

        def backward():
            self.grad = (1 - t * t) * out.grad
        out._backward = backward
        return out

    V.tanh = tanh
    for seed in (0, 1, 2):
        text = _fails_with(capsys, A.check_value_class, V, seed=seed, points=6, code="OVERWRITE_NOT_ACCUMULATE")
        assert "through tanh" in text and "[TOPO_ORDER]" not in text


def test_order_bugs_are_never_called_overwriting(capsys):
    for topo in ("bfs", "not_reversed", "naive_recursive"):
        for seed in range(4):
            text = _fails_with(capsys, A.check_value_class, make_value(topo=topo), seed=seed, points=6,
                               ops=A.VALUE_OPS, code="TOPO_ORDER")
            assert "[OVERWRITE_NOT_ACCUMULATE]" not in text, (topo, seed)


def test_recursive_topological_sort_fails_only_the_deep_chain_and_is_explained(capsys):
    assert A.check_value_class(make_value(topo="recursive"), points=6) == 5.0
    out = capsys.readouterr().out
    assert "RecursionError" in out and "explicit stack" in out and "sys.getrecursionlimit()" in out


def test_karpathy_micrograd_style_loses_deep_chain_and_backward_twice(capsys):
    assert A.check_value_class(make_value(topo="recursive", reset=False), points=6) == 4.0
    out = capsys.readouterr().out
    assert "[GRAD_NOT_RESET]" in out and "neither the same nor simply doubled" in out


def test_a_wrong_derivative_is_kept_out_of_the_graph_checks(capsys):
    score = A.check_value_class(make_value(tanh_wrong=True), points=6)
    assert score == 5.0
    out = capsys.readouterr().out
    assert "d tanh(a)/da = 1 - tanh(a)**2" in out and "✓ gradients on trees" in out


def test_topo_order_explains_consumers_right_but_input_wrong(capsys):
    text = _fails_with(capsys, A.check_value_class, make_value(topo="bfs"), points=6, code="TOPO_ORDER")
    assert "ends with the right gradient" in text


def test_upstream_missing_is_found_with_a_non_unit_upstream(capsys):
    text = _fails_with(capsys, A.check_value_class, make_value(upstream_missing=True), points=6,
                       code="UPSTREAM_GRAD_MISSING")
    assert "receives upstream gradient" in text


@pytest.mark.parametrize("cls,phrase", [
    (None, "got None. Define"),
    (3.0, "expected a class"),
    (RefValue(2.0), "expected a class"),
    (lambda data: RefValue(data), "expected a class"),
    (type("Value", (), {"__init__": lambda self, data, children, op: None}), "must accept 1 positional"),
    (type("Value", (), {"__init__": lambda self, data: None}), "has no attribute `.data`"),
    (type("Value", (), {"__init__": lambda self, data: setattr(self, "data", None)}), "is None"),
    (type("Value", (), {"__init__": lambda self, data: 1 / 0}), "raised ZeroDivisionError"),
])
def test_value_garbage_classes(cls, phrase):
    with pytest.raises(AssertionError, match=None) as info:
        A.check_value_class(cls, points=6)
    assert phrase in str(info.value), str(info.value)


@pytest.mark.parametrize("bugs,phrase", [
    (dict(exp_float=True), "returned float"),
    (dict(no_tanh=True), "has no method .tanh()"),
    (dict(no_lift=True), "wrap plain numbers first"),
    (dict(grad_none=True, reset=False), "raised TypeError: unsupported operand type(s) for +=: 'NoneType'"),
])
def test_value_broken_pieces_give_clear_messages(bugs, phrase, capsys):
    _fails_with(capsys, A.check_value_class, make_value(**bugs), points=6, phrase=phrase)


def test_value_missing_backward_and_grad(capsys):
    class NoBackward:
        def __init__(self, data):
            self.data = data

        def __add__(self, o):
            return NoBackward(self.data + (o.data if isinstance(o, NoBackward) else o))

        __radd__ = __add__

        def __mul__(self, o):
            return NoBackward(self.data * (o.data if isinstance(o, NoBackward) else o))

        __rmul__ = __mul__

    text = _fails_with(capsys, A.check_value_class, NoBackward, points=6, ops=("+", "*"))
    assert "has no method .backward()" in text and "✓ forward values" in text


def test_value_infinite_backward_times_out_and_stops(monkeypatch, capsys):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)
    with pytest.raises(AssertionError) as info:
        A.check_value_class(make_value(spin=True), points=6)
    text = str(info.value)
    assert "did not finish within 0.3 s" in text and "not checked: your code ran out of time" in text


def test_a_quadratic_topological_sort_times_out_only_on_the_deep_chain(monkeypatch, capsys):
    # the quadratic sort needs about 1 s for the deep chain here, every other case a few ms
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.25)
    assert A.check_value_class(make_value(topo="list_visited"), points=6) == 5.0
    out = capsys.readouterr().out
    assert "did not finish within 0.25 s" in out and "must take linear time" in out


def test_value_ops_argument_is_validated():
    with pytest.raises(ValueError, match="unknown operation"):
        A.check_value_class(RefValue, ops=("+", "*", "sqrt"))
    with pytest.raises(ValueError, match="must include"):
        A.check_value_class(RefValue, ops=("+", "tanh"))


def test_value_checks_only_listed_ops():
    # no tanh method, but tanh is not asked for
    assert A.check_value_class(make_value(no_tanh=True), points=2, ops=("+", "-", "*", "exp")) == 2.0


@pytest.mark.in_process(reason="the spy class appends to a list of the test process")
def test_value_check_is_a_pure_function_of_the_seed(capsys):
    seen = []

    class Spy(make_value()):
        def __init__(self, data, *rest):
            seen.append(data)
            super().__init__(data, *rest)

    A.check_value_class(Spy, seed=3)
    n = len(seen)
    A.check_value_class(Spy, seed=3)
    A.check_value_class(Spy, seed=4)
    assert seen[:n] == seen[n:2 * n] and seen[:n] != seen[2 * n:3 * n]


def test_warnings_and_prints_to_stderr_cost_nothing(capsys):
    assert A.check_value_class(make_value(noisy=True), points=6) == 6.0
    out = capsys.readouterr()
    assert out.err == "" and "RuntimeWarning" in out.out


# =============================================================================================== topological order


def topo_reversed(root):
    return _iterative(root)[::-1]


def topo_no_visited(root):
    order = []

    def build(v):
        for c in v._prev:
            build(c)
        order.append(v)
    build(root)
    return order


def topo_ops_only(root):
    return [v for v in _iterative(root) if v._prev]


def topo_no_root(root):
    return _iterative(root)[:-1]


def topo_kahn(root):
    """Another valid order: Kahn's algorithm on the reversed edges (leaves first, breadth first)."""
    nodes, stack, seen = [], [root], {id(root)}
    while stack:
        v = stack.pop()
        nodes.append(v)
        for c in v._prev:
            if id(c) not in seen:
                seen.add(id(c))
                stack.append(c)
    users = {id(v): 0 for v in nodes}
    for v in nodes:
        for c in set(map(id, v._prev)):
            users[c] += 1
    order, queue = [], deque([root])
    while queue:
        v = queue.popleft()
        order.append(v)
        for c in {id(c): c for c in v._prev}.values():
            users[id(c)] -= 1
            if users[id(c)] == 0:
                queue.append(c)
    return order[::-1]


@pytest.mark.parametrize("seed,thorough", [(0, False), (99, True)])
def test_correct_topological_orders_get_full_marks(seed, thorough):
    # the graphs are plain nodes with _prev (the reference's topological_order accepts only reference Values)
    assert A.check_topological_order(_iterative, seed=seed, points=3, thorough=thorough) == 3.0
    assert A.check_topological_order(topo_kahn, seed=seed, thorough=thorough) is None



@pytest.mark.parametrize("fn,code,phrase", [
    (topo_reversed, "TOPO_ORDER", "whole list is reversed"),
    (topo_no_visited, "TOPO_DUPLICATE", "appears more than once"),
    (topo_ops_only, "TOPO_MISSING_NODE", "leaves are missing"),
    (topo_no_root, "TOPO_MISSING_NODE", "the root itself is missing"),
    (lambda root: _bfs(root)[::-1], "TOPO_ORDER", "comes before its input"),
])
def test_topological_order_planted_mistakes(fn, code, phrase, capsys):
    _fails_with(capsys, A.check_topological_order, fn, points=3, code=code, phrase=phrase)


def test_recursive_topological_order_fails_only_the_deep_chain(capsys):
    assert A.check_topological_order(_recursive, points=3) == 2.0
    assert "RecursionError" in capsys.readouterr().out


@pytest.mark.parametrize("fn,phrase", [
    (lambda root: set(_iterative(root)), "returned a set"),
    (lambda root: None, "returned NoneType"),
    (lambda root: [v.data for v in _iterative(root)], "not nodes of the graph"),
    (lambda root: root.nope, "raised AttributeError"),
])
def test_topological_order_garbage(fn, phrase):
    with pytest.raises(AssertionError, match=None) as info:
        A.check_topological_order(fn, points=3)
    assert phrase in str(info.value)


def test_topological_order_requires_a_callable():
    with pytest.raises(AssertionError, match="got None"):
        A.check_topological_order(None)
    with pytest.raises(AssertionError, match="must accept 1 positional"):
        A.check_topological_order(lambda a, b: [])


# =============================================================================================== student Duals


def make_dual(*, product_wrong=False, missing_inner=False, sub_sign=False, chain_added=False, rsub_swapped=False,
              no_cos=False, returns_float=False):
    class Dual:
        def __init__(self, val, dot):
            self.val, self.dot = val, dot

        @staticmethod
        def lift(o):
            return o if isinstance(o, Dual) else Dual(o, 0.0)

        def __add__(self, o):
            o = self.lift(o)
            return Dual(self.val + o.val, self.dot + o.dot)

        __radd__ = __add__

        def __sub__(self, o):
            o = self.lift(o)
            return Dual(self.val - o.val, self.dot + o.dot if sub_sign else self.dot - o.dot)

        def __rsub__(self, o):
            return self - o if rsub_swapped else self.lift(o) - self

        def __mul__(self, o):
            o = self.lift(o)
            if returns_float:
                return self.val * o.val
            return Dual(self.val * o.val, self.dot * o.dot if product_wrong else self.dot * o.val + self.val * o.dot)

        __rmul__ = __mul__

        def __truediv__(self, o):
            o = self.lift(o)
            return Dual(self.val / o.val, (self.dot * o.val - self.val * o.dot) / o.val ** 2)

        def __rtruediv__(self, o):
            return self.lift(o) / self

        def __neg__(self):
            return Dual(-self.val, -self.dot)

        def __pow__(self, p):
            return Dual(self.val ** p, p * self.val ** (p - 1) * self.dot)

        def _unary(self, f, df):
            local = df(self.val)
            if missing_inner:
                return Dual(f(self.val), local)
            return Dual(f(self.val), local + self.dot if chain_added else local * self.dot)

        def sin(self):
            return self._unary(math.sin, math.cos)

        def exp(self):
            return self._unary(math.exp, math.exp)

        def log(self):
            return self._unary(math.log, lambda v: 1 / v)

        def tanh(self):
            return self._unary(math.tanh, lambda v: 1 - math.tanh(v) ** 2)

        def relu(self):
            return self._unary(lambda v: max(v, 0.0), lambda v: float(v > 0))

        def sigmoid(self):
            s = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
            return self._unary(s, lambda v: s(v) * (1 - s(v)))

    if not no_cos:
        Dual.cos = lambda self: self._unary(math.cos, lambda v: -math.sin(v))
    return Dual


@pytest.mark.parametrize("seed,thorough", [(0, False), (5, True)])
def test_reference_and_student_dual_get_full_marks(seed, thorough):
    assert A.check_dual_class(RefDual, seed=seed, points=3, thorough=thorough, ops=A.DUAL_OPS) == 3.0
    assert A.check_dual_class(make_dual(), seed=seed, thorough=thorough, ops=A.DUAL_OPS) is None


@pytest.mark.parametrize("bugs,code", [
    (dict(product_wrong=True), "PRODUCT_RULE"),
    (dict(missing_inner=True), "MISSING_INNER_DERIVATIVE"),
    (dict(sub_sign=True), "SIGN_FLIP"),
    (dict(chain_added=True), "CHAIN_RULE_ADDED"),
    (dict(rsub_swapped=True), "R_OP_ORDER"),
])
def test_dual_planted_mistake_is_named(bugs, code, capsys):
    for thorough in (False, True):
        _fails_with(capsys, A.check_dual_class, make_dual(**bugs), points=3, thorough=thorough, code=code)


def test_dual_worked_example_is_pinned(capsys):
    class Off(make_dual()):  # right everywhere except at the errata's worked example point
        def sin(self):
            out = super().sin()
            return type(self)(out.val, out.dot + (1.0 if self.val == 2.0 and self.dot == 1.0 else 0.0))

    text = _fails_with(capsys, A.check_dual_class, Off, points=3, phrase="worked example")
    assert "the result should have .val = 6.9093, .dot = 2.58385" in text


@pytest.mark.parametrize("bugs,phrase", [
    (dict(no_cos=True), "has no method .cos()"),
    (dict(returns_float=True), "returned float"),
])
def test_dual_broken_pieces(bugs, phrase, capsys):
    _fails_with(capsys, A.check_dual_class, make_dual(**bugs), points=3, phrase=phrase)


def test_dual_garbage():
    with pytest.raises(AssertionError, match="must accept 2 positional"):
        A.check_dual_class(type("Dual", (), {"__init__": lambda self, val: None}))
    with pytest.raises(AssertionError, match="has no attribute `.dot`"):
        A.check_dual_class(type("Dual", (), {"__init__": lambda self, val, dot: setattr(self, "val", val)}))
    with pytest.raises(AssertionError, match="expected a class"):
        A.check_dual_class(RefDual(1.0, 2.0))


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
