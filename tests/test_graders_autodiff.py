"""graders.autodiff: the references score full marks, planted mistakes are named, garbage fails with a clear
message and never crashes the grader, partial credit is exact. This file: the student's Value class, the
topological order and the Dual class; tests/test_graders_autodiff_modes.py has the partial derivative, JVP,
VJP, Jacobian, HVP, pass counts and checkpointing."""

from __future__ import annotations

import math
import sys
from collections import deque

import pytest

import graders.core as core
from graders import autodiff as A
from reference_impl.autodiff.forward import Dual as RefDual
from reference_impl.autodiff.reverse import Value as RefValue
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
