"""The Tensor engine: every op vs a numeric VJP with a random upstream gradient, and the framework
semantics (accumulation, zero_grad, retain_graph, detach, no_grad, in-place version checks)."""

import numpy as np
import pytest

from reference_impl import losses, network
from reference_impl.autodiff.reverse import Value
from reference_impl.autodiff.tensor import (Tensor, cross_entropy, inplace_demo, is_grad_enabled, no_grad, sgd_step,
                                            zero_grad)
from reference_impl.gradcheck import numeric_grad, rel_error
from tests.helpers import assert_vjp, away_from_zero, rng_for


def _check(fn, arrays, seed, tol=1e-7):
    """fn(*tensors) -> Tensor. Backward with a random upstream gradient vs numeric VJPs of every input."""
    rng = rng_for(seed)
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    before = [a.copy() for a in arrays]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    dout = rng.standard_normal(out.shape)
    out.backward(grad=dout)
    for i, a in enumerate(arrays):
        def f(v, i=i):
            args = [Tensor(b) for b in arrays]
            args[i] = Tensor(v)
            return fn(*args).data

        assert leaves[i].grad.shape == a.shape
        assert_vjp(f, a, leaves[i].grad, dout, tol=tol, name=f"input {i}")
        np.testing.assert_array_equal(a, before[i])
    return out


SHAPE_PAIRS = [((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((5, 1), (1, 6)), ((2, 3), (2, 3))]


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
def test_broadcast_arithmetic_matches_numeric(op, shapes):
    rng = rng_for(sum(map(ord, op)) + 10 * SHAPE_PAIRS.index(shapes))  # deterministic (no str hash)
    a = rng.standard_normal(shapes[0])
    b = away_from_zero(rng, shapes[1], 0.5, 2.0)
    fn = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "/": lambda x, y: x / y}[op]
    out = _check(fn, [a, b], seed=1)
    np.testing.assert_allclose(out.data, fn(a, b), rtol=1e-15)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "exp", "log", "pow3", "pow-0.5", "neg", "T",
                                  "reshape", "radd", "rsub", "rmul", "rdiv"])
def test_unary_ops_match_numeric(name):
    rng = rng_for(sum(map(ord, name)))
    x = away_from_zero(rng, (3, 4), 0.2, 2.0)
    if name in ("log", "pow-0.5", "rdiv"):
        x = np.abs(x)
    fn = {"relu": lambda t: t.relu(), "sigmoid": lambda t: t.sigmoid(), "tanh": lambda t: t.tanh(),
          "exp": lambda t: t.exp(), "log": lambda t: t.log(), "pow3": lambda t: t**3, "pow-0.5": lambda t: t**-0.5,
          "neg": lambda t: -t, "T": lambda t: t.T, "reshape": lambda t: t.reshape(2, 6), "radd": lambda t: 2.0 + t,
          "rsub": lambda t: 2.0 - t, "rmul": lambda t: np.full((3, 4), 1.5) * t, "rdiv": lambda t: 2.0 / t}[name]
    _check(fn, [x], seed=2)


@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (1, True), (-1, False), ((0, 2), True),
                                            ((0, 2), False)])
def test_sum_and_mean_match_numeric(axis, keepdims):
    x = rng_for(3).standard_normal((2, 3, 4))
    out = _check(lambda t: t.sum(axis=axis, keepdims=keepdims), [x], seed=4)
    np.testing.assert_allclose(out.data, x.sum(axis=axis, keepdims=keepdims))
    out = _check(lambda t: t.mean(axis=axis, keepdims=keepdims), [x], seed=5)
    np.testing.assert_allclose(out.data, x.mean(axis=axis, keepdims=keepdims))


def test_matmul_lookup_and_cross_entropy_match_numeric():
    rng = rng_for(6)
    _check(lambda a, b: a @ b, [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))], seed=7)
    ids = np.array([[0, 2], [2, 2], [1, 0]])  # repeated rows: the backward must scatter-ADD
    out = _check(lambda W: W[ids], [rng.standard_normal((4, 3))], seed=8)
    assert out.shape == (3, 2, 3)
    s, y = rng.standard_normal((5, 3)) * 3, rng.integers(0, 3, 5)
    logits = Tensor(s, requires_grad=True)
    loss = cross_entropy(logits, y)
    loss.backward()
    assert loss.item() == pytest.approx(losses.softmax_cross_entropy(s, y)[0], rel=1e-14)
    assert rel_error(logits.grad, numeric_grad(lambda v: losses.softmax_cross_entropy(v, y)[0], s)) < 1e-7


def test_mlp_built_from_tensors_matches_the_layer_implementation():
    rng = rng_for(9)
    params = network.init_params([4, 6, 5, 3], "he", rng)
    params = {k: v + rng.uniform(0.1, 0.3, v.shape) for k, v in params.items()}
    X, y = rng.standard_normal((7, 4)), rng.integers(0, 3, 7)
    loss_ref, grads_ref = network.mlp_loss_and_grads(params, X, y)
    leaves = {k: Tensor(v, requires_grad=True) for k, v in params.items()}
    h = Tensor(X)
    for l in (1, 2, 3):
        h = h @ leaves[f"W{l}"] + leaves[f"b{l}"]
        h = h.relu() if l < 3 else h
    loss = cross_entropy(h, y)
    loss.backward()
    assert loss.item() == pytest.approx(loss_ref, rel=1e-13)
    for k in params:
        np.testing.assert_allclose(leaves[k].grad, grads_ref[k], rtol=1e-11, atol=1e-14)


def test_deep_chain_needs_no_recursion():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0001**5000)


# =========================================================================== framework semantics
def _quadratic():
    w = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    return w, (w * w).sum()  # d/dw = 2w


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    w, loss = _quadratic()
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, -4.0, 6.0])
    (w * w).sum().backward()  # a fresh graph, same leaf
    np.testing.assert_array_equal(w.grad, [4.0, -8.0, 12.0])  # added, not replaced
    w.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, -4.0, 6.0])
    zero_grad({"w": w})
    assert w.grad is None


def test_second_backward_needs_retain_graph():
    w, loss = _quadratic()
    loss.backward(retain_graph=True)
    loss.backward()  # allowed: the first call kept the graph; gradients add up
    np.testing.assert_array_equal(w.grad, [4.0, -8.0, 12.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        loss.backward()
    # a new graph that reuses a freed node is refused too
    w2 = Tensor(np.ones(2), requires_grad=True)
    h = w2 * 3.0
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2.0).sum().backward()
    # an in-place op on the root of a freed graph does not revive the freed history below it
    r = w2 * 2.0
    r.backward(grad=np.ones(2))
    r.relu_()
    with pytest.raises(RuntimeError, match="second time"):
        r.backward(grad=np.ones(2))


def test_non_leaf_grad_holds_the_latest_pass_only_and_constants_have_none():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([3.0, 4.0]))
    h = x * c
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)  # not doubled
    np.testing.assert_array_equal(x.grad, 2 * (2 * h.data * c.data))  # doubled
    assert c.grad is None and not c.requires_grad


def test_detach_is_a_stop_gradient_in_both_engines():
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = (x * x.detach()).sum()  # value x^2, gradient only through the first factor
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.5, -2.0])  # x, not 2x
    d = x.detach()
    assert d.is_leaf and not d.requires_grad and d.data is x.data  # shared, like PyTorch
    v = Value(1.5)
    out = v * v.detach() + v.detach().exp()
    out.backward()
    assert v.grad == pytest.approx(1.5) and out.data == pytest.approx(1.5**2 + np.exp(1.5))


def test_no_grad_records_nothing():
    w = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (w * 2.0).sum()
    assert is_grad_enabled() and not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_in_place_relu_after_matmul_gives_the_same_gradients():
    rng = rng_for(10)
    X, W0, V0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    grads = []
    for inplace in (False, True):
        W, V = Tensor(W0, requires_grad=True), Tensor(V0, requires_grad=True)
        h = Tensor(X) @ W
        if inplace:
            h.relu_()  # the matmul saved X and W, not h; relu's backward reads its output
            assert h.version == 1
        else:
            h = h.relu()
        (h @ V).sum().backward()
        grads.append((W.grad, V.grad))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-15)


def _sigmoid_graph(modify):
    rng = rng_for(11)
    z0, w0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    w = Tensor(w0, requires_grad=True)
    s = (Tensor(z0) @ w).sigmoid()  # sigmoid saves its OUTPUT s
    if modify:
        s.mul_(2.0)  # overwrites the array sigmoid's backward reads
    else:
        s = s * 2.0
    return w, (s * s).sum()


def test_modifying_a_saved_output_in_place_raises_and_would_corrupt_the_gradient():
    w_ok, loss_ok = _sigmoid_graph(modify=False)
    loss_ok.backward()
    w, loss = _sigmoid_graph(modify=True)
    assert loss.item() == pytest.approx(loss_ok.item(), rel=1e-15)  # same forward value
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*output 0 of 'sigmoid'.*"
                                           r"at version 1; expected version 0"):
        loss.backward(retain_graph=True)
    assert w.grad is None  # refused before any gradient was written
    loss.backward(check_versions=False)  # what the check prevents: s * (1 - s) read from 2s
    assert rel_error(w.grad, w_ok.grad) > 0.1


def test_modifying_a_saved_input_in_place_raises():
    rng = rng_for(12)
    x = Tensor(rng.standard_normal((3, 4)))  # a constant input (no grad) that the matmul saves for dW
    W = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    loss = (x @ W).sum()
    x.add_(1.0)  # e.g. normalising a batch in place after using it
    with pytest.raises(RuntimeError, match=r"input 0 of '@' is at version 1; expected version 0"):
        loss.backward()
    # log saves its INPUT: changing it (even under no_grad) breaks log's backward
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    u = a + 1.0
    out = u.log().sum()
    with no_grad():
        u.add_(5.0)
    with pytest.raises(RuntimeError, match=r"input 0 of 'log'"):
        out.backward()


def test_optimizer_step_before_backward_is_caught():
    rng = rng_for(13)
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    loss1 = (x @ W).sum()
    loss1.backward(retain_graph=True)
    sgd_step({"W": W}, lr=0.1)  # updates W in place (no_grad), bumping its version
    assert W.version == 1
    with pytest.raises(RuntimeError, match=r"input 1 of '@'"):  # dx needs the OLD W
        loss1.backward()


def test_in_place_on_a_detached_alias_is_seen_by_the_original():
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    s = x.sigmoid()
    loss = s.sum()
    s.detach().mul_(3.0)  # shares data and version counter with s
    with pytest.raises(RuntimeError, match="output 0 of 'sigmoid'"):
        loss.backward()


def test_in_place_errors_for_leaves_and_used_tensors():
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad.*no_grad"):
        w.relu_()
    with no_grad():
        w.mul_(2.0)  # allowed: this is how parameters are updated
    np.testing.assert_array_equal(w.data, 2.0)
    h = w * 1.0
    _ = h + 1.0  # h is now an input of another operation
    with pytest.raises(RuntimeError, match="already an input of 1 recorded operation"):
        h.relu_()
    with pytest.raises(TypeError, match="must be a constant"):
        (w * 1.0).add_(w)
    with pytest.raises(ValueError, match=r"cannot be broadcast"):
        (w * 1.0).add_(np.ones(4))


def test_python_plus_equals_builds_a_new_node():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3.0
    y = h
    h += 1.0  # rebinds h to h + 1; y still points to the old node
    assert h is not y and y.version == 0
    (h * y).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * (y.data + h.data))


def test_tensor_copies_its_input_and_in_place_ops_never_touch_the_callers_array():
    a = np.array([1.0, -2.0])
    t = Tensor(a)
    t.relu_()
    np.testing.assert_array_equal(a, [1.0, -2.0])
    a[0] = 10.0
    assert t.data[0] == 1.0


def test_engine_input_errors():
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element tensor"):
        (t * 2.0).backward()
    with pytest.raises(ValueError, match=r"grad must have shape \(2, 3\)"):
        (t * 2.0).backward(grad=np.ones(3))
    with pytest.raises(ValueError, match=r"matmul needs \(N, D\) @ \(D, M\)"):
        t @ Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="integer row ids"):
        t[0:1]
    with pytest.raises(IndexError, match=r"row ids must be in \[0, 2\)"):
        t[np.array([2])]
    with pytest.raises(ValueError, match="entries > 0"):
        Tensor(np.array([0.0, 1.0])).log()
    with pytest.raises(ValueError, match="not real"):
        Tensor(np.array([-1.0])) ** 0.5
    with pytest.raises(ValueError, match="zero entry"):
        t / Tensor(np.zeros(3))
    with pytest.raises(TypeError, match="already a Tensor"):
        Tensor(t)
    with pytest.raises(TypeError, match="numeric"):
        Tensor(np.array(["a"]))
    with pytest.raises(TypeError, match="cannot combine"):
        t + "1"
    with pytest.raises(ValueError, match="lr must be a positive number"):
        sgd_step([t], lr=0.0)


def test_inplace_demo_reports_what_is_fine_and_what_would_corrupt():
    demo = inplace_demo(rng_for(14))
    assert set(demo) == {"relu_after_matmul", "sigmoid_output", "matmul_input"}
    ok = demo["relu_after_matmul"]
    assert ok["error"] is None and ok["rel_error"] < 1e-15
    assert "output 0 of 'sigmoid'" in demo["sigmoid_output"]["error"]
    assert "input 0 of '@'" in demo["matmul_input"]["error"]
    for name in ("sigmoid_output", "matmul_input"):
        assert demo[name]["rel_error"] > 0.1  # the gradient an engine without the check would return
        assert set(demo[name]["grads"]) == {"W1", "W2"}
    again = inplace_demo(rng_for(14))
    np.testing.assert_array_equal(again["matmul_input"]["grads"]["W1"], demo["matmul_input"]["grads"]["W1"])
    with pytest.raises(TypeError, match="Generator"):
        inplace_demo(0)


def test_sigmoid_input_is_not_saved_so_changing_it_after_the_forward_is_harmless():
    # sigmoid (like PyTorch's) saves its OUTPUT; the input u feeds nothing else that saved it
    rng = rng_for(15)
    x0, w0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    grads = []
    for modify in (False, True):
        w = Tensor(w0, requires_grad=True)
        u = Tensor(x0) @ w  # the matmul saves x and w, not u
        loss = (u.sigmoid() ** 2).sum()
        if modify:
            with no_grad():
                u.add_(10.0)
        loss.backward()
        grads.append(w.grad)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-15)
