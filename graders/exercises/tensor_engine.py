"""Checks of notebook 13, part 3: the learner's own tensor engine, the in-place question, the MLP and its training.

- :func:`check_tensor_ops`: the backward rules of the learner's ``Tensor`` class (sum, broadcasting add and
  multiply, matmul, ReLU, cross-entropy, a tensor used twice);
- :func:`check_tensor_semantics`: what frameworks do: leaves accumulate across ``backward()`` calls,
  ``retain_graph``, a freed graph refuses a second backward, ``zero_grad()``, ``detach()``;
- :func:`check_inplace_breaks`: which in-place changes break PyTorch's backward (the corrected erratum 7);
- :func:`check_mlp_loss_and_grads`: an L-layer ReLU MLP with softmax cross-entropy (written with the engine);
- :func:`check_train_mlp`: full-batch gradient descent on the two-moons data, and the accuracy it reaches.

The class is driven by runners (:func:`_run_tensor_program`, :func:`_run_tensor_semantics`) that a check hands to
``call_student`` together with the class and plain data. A runner builds a small graph from a program (lists of
operation names and array data), runs ``backward()`` and returns plain data (values, gradients, which exception
a call raised); it holds no expected value. Expected values come from the reference engine
(``reference_impl.autodiff.tensor``), which has the same API, in private helpers.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from graders import diagnoses
from graders.core import (GradingError, Report, StudentCodeError, array_problem, brief, describe, real_number,
                          require_callable, unpack)
from graders.exercises.tensor_backprop import _Grading, _Stop, _grads_dict, _named, _numeric_hint, _scalar_problem
from graders.public import tensor_backprop as pub
from graders.remote.catalogue import CatalogueError
from reference_impl import datasets as _ref_data
from reference_impl import losses as _ref_losses
from reference_impl import network as _ref_net
from reference_impl import training as _ref_train
from reference_impl.autodiff import tensor as _ref_t

__all__ = ["check_tensor_ops", "check_tensor_semantics", "check_inplace_breaks", "check_mlp_loss_and_grads",
           "check_train_mlp", "INPLACE_NAMES", "moons_task"]

KINK_MARGIN = 0.05
OFFSET = 3e8  # a bias shared by every class: softmax ignores it, centred differences lose their digits to it


# ============================================================================================ runners (answer-free)


def _array(x: Any, what: str) -> np.ndarray:
    try:
        arr = np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise CatalogueError(f"{what} is {brief(x)}, not an array of numbers.") from None
    return arr


def _grad_of(t: Any) -> Any:
    g = t.grad
    return None if g is None else _array(g, ".grad")


def _apply(nodes: list, step: list) -> Any:
    op, args = step[0], step[1:]
    a = nodes[args[0]]
    if op == "add":
        return a + nodes[args[1]]
    if op == "mul":
        return a * nodes[args[1]]
    if op == "matmul":
        return a @ nodes[args[1]]
    if op == "mulc":   # times a constant array (not a tensor)
        return a * np.array(args[1], dtype=np.float64)
    if op == "relu":
        return a.relu()
    if op == "sum":
        return a.sum()
    if op == "ce":
        return a.cross_entropy(np.array(args[1], dtype=np.int64))
    if op == "detach":
        return a.detach()
    raise CatalogueError(f"unknown step {op!r} (grader bug)")


def _build(Tensor: Any, prog: Mapping) -> list:
    nodes = [Tensor(np.array(leaf["data"], dtype=np.float64), requires_grad=bool(leaf["requires_grad"]))
             for leaf in prog["leaves"]]
    for step in prog["steps"]:
        out = _apply(nodes, step)
        if out is None or not hasattr(out, "data"):
            raise CatalogueError(f"the operation {step[0]!r} returned {brief(out)}, not a Tensor: every operation "
                                 "returns a new Tensor that remembers its inputs.")
        nodes.append(out)
    return nodes


def _run_tensor_program(Tensor: Any, prog: Mapping) -> dict:
    """Build ``prog`` with the learner's class, call ``root.backward()`` and report what happened (plain data).

    prog: {"leaves": [{"data": array, "requires_grad": bool}, ...], "steps": [[op, arg, ...], ...]} with op in
    add, mul, matmul (two node indices), mulc (a node and a constant array), relu, sum, detach (one node), ce (a
    node and integer labels). The root is the last node. Returns {"root": the root's value, "grads": [each
    leaf's .grad or None]}.
    """
    nodes = _build(Tensor, prog)
    root = nodes[-1]
    value = _array(root.data, "the root's .data")
    root.backward()
    return {"root": value, "grads": [_grad_of(nodes[i]) for i in range(len(prog["leaves"]))]}


def _raised(fn) -> str:
    """'' if ``fn()`` returns, else the name of the exception it raised (also when it arrives as a grader's
    StudentCodeError from another process: its text says "raised <Name>: ..."). Timeouts pass through."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the learner's exception is data here
        name = type(exc).__name__
        if name == "StudentTimeout":
            raise
        if name == "StudentCodeError":
            m = re.search(r"raised (\w+):", str(exc))
            name = m.group(1) if m else name
        return name
    return ""


def _run_tensor_semantics(Tensor: Any, case: Mapping) -> dict:
    """Run one framework-semantics scenario with the learner's class; plain data out (see check_tensor_semantics).

    case["kind"] is one of "accumulate", "retain", "freed", "zero_grad", "detach"; case["a"], case["b"], case["C1"],
    case["C2"] are arrays of one shape.
    """
    kind = case["kind"]
    a = Tensor(np.array(case["a"], dtype=np.float64), requires_grad=True)
    C1, C2 = np.array(case["C1"], dtype=np.float64), np.array(case["C2"], dtype=np.float64)
    out: dict = {}
    if kind == "accumulate":   # two graphs, no zero_grad in between
        (a * C1).sum().backward()
        out["first"] = _grad_of(a)
        ((a * a) * C2).sum().backward()
        out["second"] = _grad_of(a)
    elif kind in ("retain", "freed"):
        b = Tensor(np.array(case["b"], dtype=np.float64), requires_grad=True)
        loss = ((a * b) * C1).sum()
        if kind == "retain":
            out["raised_first"] = _raised(lambda: loss.backward(retain_graph=True))
            out["first"] = _grad_of(a)
            out["raised"] = _raised(lambda: loss.backward())
            out["second"] = _grad_of(a)
        else:
            out["raised_first"] = _raised(lambda: loss.backward())
            out["first"] = _grad_of(a)
            out["raised"] = _raised(lambda: loss.backward())
    elif kind == "zero_grad":
        (a * C1).sum().backward()
        a.zero_grad()
        out["after_zero"] = _grad_of(a)
        (a * C2).sum().backward()
        out["second"] = _grad_of(a)
    elif kind == "detach":
        b = Tensor(np.array(case["b"], dtype=np.float64), requires_grad=True)
        z = a * b
        w = z.detach()
        out["detached_data"] = _array(w.data, "detach().data")
        ((z * w) * C1).sum().backward()
        out["first"] = _grad_of(a)
        out["b"] = _grad_of(b)
    else:
        raise CatalogueError(f"unknown scenario {kind!r} (grader bug)")
    return out


# ============================================================================================ reference programs


def _ref_apply(nodes: list, step: list):
    if step[0] == "ce":
        return _ref_t.cross_entropy(nodes[step[1]], np.array(step[2], dtype=np.int64))
    return _apply(nodes, step)


def _reference_program(prog: Mapping) -> dict:
    nodes = [_ref_t.Tensor(np.array(leaf["data"]), requires_grad=bool(leaf["requires_grad"]))
             for leaf in prog["leaves"]]
    for step in prog["steps"]:
        nodes.append(_ref_apply(nodes, step))
    root = nodes[-1]
    value = root.data.copy()
    root.backward()
    return {"root": value, "grads": [None if nodes[i].grad is None else nodes[i].grad.copy()
                                     for i in range(len(prog["leaves"]))]}


def _leaf(data, rg=True) -> dict:
    return {"data": np.asarray(data, dtype=np.float64), "requires_grad": rg}


def _away(rng: np.random.Generator, shape, low=0.2, high=2.0) -> np.ndarray:
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


_OPS = ("sum", "mul with broadcasting", "add with broadcasting", "matmul", "relu (reads its output)",
        "cross_entropy node", "a tensor used twice (fan-out)")


def _ops_programs(rng: np.random.Generator, thorough: bool) -> list:
    """(sub-check, description, program, hint candidates builder key) for each operation."""
    progs = []
    reps = 2 if thorough else 1
    for _ in range(reps):
        n, m = int(rng.integers(2, 5)), int(rng.integers(3, 6))
        progs.append((_OPS[0], f"a{(n, m)}.sum()", {"leaves": [_leaf(rng.standard_normal((n, m)))],
                                                       "steps": [["sum", 0]]}))
        progs.append((_OPS[1], f"(a{(n, m)} * b{(m,)}).sum()",
                      {"leaves": [_leaf(rng.standard_normal((n, m))), _leaf(rng.standard_normal(m))],
                       "steps": [["mul", 0, 1], ["sum", 2]]}))
        p, q, r = int(rng.integers(2, 4)), int(rng.integers(2, 5)), int(rng.integers(3, 6))
        C = rng.standard_normal((p, q, r))
        progs.append((_OPS[2], f"((a{(p, 1, r)} + b{(q, 1)}) * C).sum()",
                      {"leaves": [_leaf(rng.standard_normal((p, 1, r))), _leaf(rng.standard_normal((q, 1)))],
                       "steps": [["add", 0, 1], ["mulc", 2, C], ["sum", 3]]}))
        N, D, M = int(rng.integers(3, 6)), int(rng.integers(2, 5)), int(rng.integers(3, 7))
        C = rng.standard_normal((N, M))
        progs.append((_OPS[3], f"((x{(N, D)} @ W{(D, M)}) * C).sum()",
                      {"leaves": [_leaf(rng.standard_normal((N, D))), _leaf(rng.standard_normal((D, M)))],
                       "steps": [["matmul", 0, 1], ["mulc", 2, C], ["sum", 3]]}))
        C = rng.standard_normal((n, m))
        progs.append((_OPS[4], f"(a{(n, m)}.relu() * C).sum()",
                      {"leaves": [_leaf(_away(rng, (n, m)))], "steps": [["relu", 0], ["mulc", 1, C], ["sum", 2]]}))
        Cc = int(rng.integers(3, 5))
        y = rng.integers(0, Cc, N)
        progs.append((_OPS[5], f"(x{(N, D)} @ W{(D, Cc)} + b{(Cc,)}).cross_entropy(y)",
                      {"leaves": [_leaf(rng.standard_normal((N, D))), _leaf(rng.standard_normal((D, Cc))),
                                  _leaf(rng.standard_normal(Cc))],
                       "steps": [["matmul", 0, 1], ["add", 3, 2], ["ce", 4, y]]}))
        C = rng.standard_normal((n, m))
        progs.append((_OPS[6], f"b = a * a; ((b + a) * C).sum()",
                      {"leaves": [_leaf(rng.standard_normal((n, m)))],
                       "steps": [["mul", 0, 0], ["add", 1, 0], ["mulc", 2, C], ["sum", 3]]}))
    return progs


def _op_candidates(sub: str, prog: Mapping, i: int, want: np.ndarray) -> dict:
    """Known wrong gradients of leaf i of an operation program."""
    L = [leaf["data"] for leaf in prog["leaves"]]
    cands: dict = {}
    if sub == _OPS[1]:
        wrong = np.broadcast_to(L[i], L[0].shape)  # the operand's own data instead of the other's
        cands["PRODUCT_RULE"] = wrong.copy() if i == 0 else wrong.sum(axis=0)
        if i == 1:
            cands["UNBROADCAST_MEAN"] = want / L[0].shape[0]
    elif sub == _OPS[4]:
        C = prog["steps"][1][2]
        cands["RELU_MASK"] = [C, C * (L[0] < 0)]
    elif sub == _OPS[6]:
        C = prog["steps"][2][2]
        a = L[0]
        cands["OVERWRITE_NOT_ACCUMULATE"] = [C, C * 2 * a, C * a, C * (a + 1)]
    return cands


def _grads_problem(sub: str, prog: Mapping, got: Any, want: list) -> str | None:
    if not isinstance(got, list) or len(got) != len(want):
        return f"expected {len(want)} leaf gradients, got {brief(got)} (grader bug?)"
    for i, (g, w) in enumerate(zip(got, want)):
        name = f"leaf {i}"
        if g is None:
            return (f"{name}.grad is None after backward(): every leaf created with requires_grad=True must receive "
                    f"its gradient.")
        problem = array_problem(np.asarray(g), w)
        if problem:
            text = _named(problem, np.asarray(g), w, _op_candidates(sub, prog, i, w))
            shape = np.shape(g)
            if shape != w.shape and len(shape) >= len(w.shape) and "Likely mistake" not in text:
                text += ("\n      The operand was broadcast: its gradient must be unbroadcast (summed back) to its own "
                         f"shape {w.shape}.")
            return f"{name}.grad {text}"
    return None


def check_tensor_ops(Tensor, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the backward rules of the learner's ``Tensor`` class.

    Contract of the class: ``Tensor(data, requires_grad=False)`` keeps a float64 copy of data in ``.data`` and
    ``.grad`` (None until a backward reaches it). Operations return new Tensors: ``a + b`` and ``a * b`` with NumPy
    broadcasting (the other operand may be a plain array or number), ``a @ b`` (2-D), ``a.relu()`` (its backward
    reads its output), ``a.sum()`` (all entries), ``logits.cross_entropy(y)`` (mean softmax cross-entropy, one
    node). ``root.backward()`` on a one-element tensor fills the ``.grad`` of every leaf that requires grad.

    One sub-check per operation (weight 1): "sum", "mul with broadcasting", "add with broadcasting", "matmul",
    "relu (reads its output)", "cross_entropy node", "a tensor used twice (fan-out)". Each builds a small program
    through a runner (plain arrays in, values and gradients out) and compares the root value and every leaf
    gradient with the reference engine. Named mistakes: PRODUCT_RULE, RELU_MASK, OVERWRITE_NOT_ACCUMULATE,
    MISSING_TRANSPOSE, SIGN_FLIP, UNBROADCAST_MEAN, and a reminder to unbroadcast.
    """
    require_callable(Tensor, "Tensor")
    g = _Grading("Tensor engine: backward rules", points, seed, _OPS, watch=False)
    try:
        for sub, expr, prog in _ops_programs(np.random.default_rng(seed), thorough):
            if not g.passed(sub):
                continue
            where = f"`{expr}`"
            ok, got = g.call(_run_tensor_program, Tensor, prog, label=f"Tensor on {expr}", fail=[sub], where=where)
            if not ok:
                continue
            want = _reference_program(prog)
            if not isinstance(got, dict):
                g.fail(sub, f"{where}: the runner got {brief(got)} (grader bug?)")
                continue
            problem = array_problem(got.get("root"), want["root"], scalar_ok=True)
            if problem:
                g.fail(sub, f"{where}: forward value {problem}")
                continue
            problem = _grads_problem(sub, prog, got.get("grads"), want["grads"])
            if problem:
                uses_mul = any(step[0] in ("mul", "mulc") for step in prog["steps"]) and sub != _OPS[1]
                if uses_mul and not g.passed(_OPS[1]):
                    problem += ("\n      (This program multiplies by a constant array C to send a random upstream "
                                "gradient, and `*` failed above: fix it first.)")
                g.fail(sub, f"{where}: {problem}")
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ framework semantics

_SEM = ("leaves accumulate across backward() calls", "retain_graph=True keeps the graph",
        "a second backward() through a freed graph raises RuntimeError", "zero_grad()", "detach() stops the gradient")


def _sem_cases(rng: np.random.Generator, thorough: bool) -> list:
    kinds = [("accumulate", 0), ("retain", 1), ("freed", 2), ("zero_grad", 3), ("detach", 4)]
    if thorough:
        kinds += [("accumulate", 0), ("retain", 1), ("detach", 4)]
    out = []
    for kind, sub in kinds:
        shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        out.append((_SEM[sub], {"kind": kind, "a": _away(rng, shape), "b": _away(rng, shape),
                                "C1": rng.standard_normal(shape), "C2": rng.standard_normal(shape)}))
    return out


def _close(x: Any, want: np.ndarray) -> bool:
    return x is not None and array_problem(np.asarray(x), want) is None


def _sem_verdict(case: Mapping, got: Mapping) -> str | None:
    """Why the learner's result for one scenario is wrong (None when right)."""
    kind, a, b, C1, C2 = case["kind"], case["a"], case["b"], case["C1"], case["C2"]
    if kind == "accumulate":
        g1, g2 = C1, C1 + 2 * a * C2
        if not _close(got.get("first"), g1):
            return "the first backward() gave a wrong gradient (check the backward rules first)."
        if _close(got.get("second"), g2):
            return None
        if _close(got.get("second"), 2 * a * C2):
            return ("after two backward() calls on two graphs a.grad holds only the second gradient."
                    + describe(diagnoses.get("GRAD_NOT_ACCUMULATED")))
        return f"after two backward() calls a.grad should be the SUM of both gradients; got {brief(got.get('second'))}."
    if kind == "retain":
        g1 = C1 * b
        if got.get("raised_first"):
            return f"backward(retain_graph=True) raised {got['raised_first']}: accept the keyword retain_graph."
        if not _close(got.get("first"), g1):
            return "the first backward() gave a wrong gradient (check the backward rules first)."
        if got.get("raised"):
            return (f"the second backward() after backward(retain_graph=True) raised {got['raised']}."
                    + describe(diagnoses.get("RETAIN_GRAPH_IGNORED")))
        second = got.get("second")
        if _close(second, 2 * g1):
            return None
        if _close(second, g1):
            return ("the second backward() left a.grad unchanged instead of adding the same gradient again."
                    + describe(diagnoses.get("GRAD_NOT_ACCUMULATED")))
        for k in (3, 4, 5):
            if _close(second, k * g1):
                return (f"after the second backward() a.grad is {k} times the gradient instead of 2 times."
                        + describe(diagnoses.get("STALE_INTERMEDIATE_GRAD")))
        return f"after the second backward() a.grad should be twice the gradient; got {brief(second)}."
    if kind == "freed":
        if got.get("raised_first"):
            return f"backward() raised {got['raised_first']} on a fresh graph."
        if not _close(got.get("first"), C1 * b):
            return "the first backward() gave a wrong gradient (check the backward rules first)."
        raised = got.get("raised")
        if not raised:
            return ("a second backward() through the same graph, without retain_graph=True, ran."
                    + describe(diagnoses.get("GRAPH_NOT_FREED")))
        if raised != "RuntimeError":
            return (f"the second backward() raised {raised}; raise RuntimeError with a message that says the graph "
                    f"was freed (pass retain_graph=True to the first backward()).")
        return None
    if kind == "zero_grad":
        after = got.get("after_zero")
        if after is not None and not _close(after, np.zeros_like(a)):
            return ("after zero_grad() a.grad is neither None nor zeros." + describe(diagnoses.get(
                "ZERO_GRAD_INEFFECTIVE")))
        if _close(got.get("second"), C2):
            return None
        if _close(got.get("second"), C1 + C2):
            return "the backward after zero_grad() added onto the old gradient." + describe(diagnoses.get(
                "ZERO_GRAD_INEFFECTIVE"))
        return f"after zero_grad() and a new backward(), a.grad should be that backward's gradient; got " \
               f"{brief(got.get('second'))}."
    # detach: z = a * b, w = z.detach(), loss = sum(z * w * C1): da = w * b * C1 (w a constant)
    if not _close(got.get("detached_data"), a * b):
        return "detach() must return a tensor with the same data."
    want_a, want_b = a * b * b * C1, a * b * a * C1
    if _close(got.get("first"), want_a) and _close(got.get("b"), want_b):
        return None
    if _close(got.get("first"), 2 * want_a):
        return ("a.grad is 2 a b^2 C: the gradient also flowed through the detached copy."
                + describe(diagnoses.get("DETACH_NOT_STOPPING")))
    return f"with w = z.detach(), d/da sum(z * w * C) = w * b * C; got a.grad = {brief(got.get('first'))}."


def check_tensor_semantics(Tensor, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the framework semantics of the learner's ``Tensor`` class (PyTorch's, in a small engine).

    Contract (besides the operations of check_tensor_ops): ``backward(retain_graph=False)`` ADDS into the .grad
    of every leaf that requires grad, across calls; every non-leaf node's gradient starts from zero in each pass;
    without retain_graph the graph is freed and a second backward through it raises RuntimeError; with
    retain_graph=True a second backward works and adds the same gradient again. ``t.zero_grad()`` clears
    t.grad (None or zeros). ``t.detach()`` returns a new leaf with the same data, no parents and
    requires_grad=False: a use of it contributes no gradient.

    Sub-checks (weight 1): "leaves accumulate across backward() calls", "retain_graph=True keeps the graph",
    "a second backward() through a freed graph raises RuntimeError", "zero_grad()", "detach() stops the
    gradient". Named mistakes: GRAD_NOT_ACCUMULATED, STALE_INTERMEDIATE_GRAD, RETAIN_GRAPH_IGNORED,
    GRAPH_NOT_FREED, ZERO_GRAD_INEFFECTIVE, DETACH_NOT_STOPPING.
    """
    require_callable(Tensor, "Tensor")
    g = _Grading("Tensor engine: framework semantics", points, seed, _SEM, watch=False)
    try:
        for sub, case in _sem_cases(np.random.default_rng(seed), thorough):
            if not g.passed(sub):
                continue
            ok, got = g.call(_run_tensor_semantics, Tensor, case, label=f"the {case['kind']} scenario", fail=[sub])
            if not ok:
                continue
            problem = _sem_verdict(case, got if isinstance(got, dict) else {})
            if problem:
                g.fail(sub, f"{case['kind']} scenario: {problem}")
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ in-place question

INPLACE_NAMES = ("relu_inplace_after_matmul", "relu_input_modified", "sigmoid_input_modified", "exp_input_modified",
                 "sigmoid_output_modified", "tanh_output_modified", "matmul_operand_modified", "mul_operand_modified",
                 "log_input_modified")

# which diagnosis a wrong verdict on a scenario earns
_INPLACE_CODE = {"relu_inplace_after_matmul": "INPLACE_RELU_MYTH", "relu_input_modified": "INPLACE_RELU_MYTH",
                 "sigmoid_input_modified": "INPLACE_SAVED_OUTPUT", "exp_input_modified": "INPLACE_SAVED_OUTPUT",
                 "sigmoid_output_modified": "INPLACE_SAVED_OUTPUT", "tanh_output_modified": "INPLACE_SAVED_OUTPUT",
                 "matmul_operand_modified": "INPLACE_SAVED_INPUT", "mul_operand_modified": "INPLACE_SAVED_INPUT",
                 "log_input_modified": "INPLACE_SAVED_INPUT"}


def _inplace_scenario(name: str, rng: np.random.Generator) -> bool:
    """Run one scenario of graders.public.tensor_backprop.INPLACE_SCENARIOS in the reference engine (which keeps
    PyTorch's version counters); True when its backward refuses because a saved tensor was overwritten."""
    T, no_grad = _ref_t.Tensor, _ref_t.no_grad
    x = T(rng.standard_normal((4, 3)) + np.array([1.0, -2.0, 0.5]))
    W, W1, W2 = (T(rng.standard_normal(s), requires_grad=True) for s in ((3, 5), (3, 5), (5, 2)))
    W2b = T(rng.standard_normal((3, 5)), requires_grad=True)
    if name == "relu_inplace_after_matmul":
        loss = ((x @ W).relu_() @ W2).sum()
    elif name in ("relu_input_modified", "sigmoid_input_modified", "exp_input_modified"):
        h = x @ W
        out = h.relu() if name.startswith("relu") else h.sigmoid() if name.startswith("sigmoid") else h.exp()
        with no_grad():  # this engine refuses a recorded in-place change of a used tensor; the version still moves
            h.add_(1.0) if name.startswith("relu") else h.mul_(2.0 if name.startswith("sigmoid") else 0.0)
        loss = (out @ W2).sum() if not name.startswith("exp") else out.sum()
    elif name == "sigmoid_output_modified":
        loss = ((x @ W).sigmoid().mul_(2.0) @ W2).sum()
    elif name == "tanh_output_modified":
        loss = ((x @ W).tanh().add_(1.0) @ W2).sum()
    elif name == "matmul_operand_modified":
        h = (x @ W1).tanh()
        x.sub_(x.data.mean(axis=0))
        loss = (h @ W2).sum()
    elif name == "mul_operand_modified":
        a, b = x @ W1, x @ W2b
        c = a * b
        with no_grad():
            a.mul_(2.0)
        loss = c.sum()
    elif name == "log_input_modified":
        h = (x @ W).sigmoid() + 1.0
        l_ = h.log()
        with no_grad():
            h.add_(1.0)
        loss = l_.sum()
    else:
        raise KeyError(name)
    try:
        loss.backward()
    except RuntimeError:
        return True
    return False


def _inplace_truth() -> dict[str, bool]:
    rng = np.random.default_rng(0)
    return {name: _inplace_scenario(name, rng) for name in INPLACE_NAMES}


def check_inplace_breaks(answer, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the set of in-place scenarios (names of graders.public.tensor_backprop.INPLACE_SCENARIOS) after which
    PyTorch's ``loss.backward()`` refuses, because a tensor saved for the backward was overwritten.

    ``answer``: a set (or list/tuple) of scenario names. The truth is computed by running every scenario in the
    reference engine, which saves what PyTorch saves (ReLU, sigmoid, tanh and exp their output; multiply and
    matmul their operands; log its input) and keeps version counters. One sub-check per scenario; a wrong verdict
    is named INPLACE_RELU_MYTH, INPLACE_SAVED_OUTPUT or INPLACE_SAVED_INPUT. ``seed``/``thorough`` only label the
    report (the scenarios are fixed).
    """
    rep = Report("in-place operations and saved tensors", points, seed)
    for name in INPLACE_NAMES:
        rep.declare(name)
    if answer is None:
        raise GradingError("in-place operations: breaks is still None: put the names of the scenarios whose "
                           "backward fails in a set, e.g. {\"tanh_output_modified\", ...}.")
    if isinstance(answer, str) or not isinstance(answer, (set, frozenset, list, tuple)):
        raise GradingError(f"in-place operations: expected a set of scenario names, got {type(answer).__name__} "
                           f"({brief(answer)}).")
    chosen = set()
    unknown = []
    for item in answer:
        if isinstance(item, str) and item in INPLACE_NAMES:
            chosen.add(item)
        else:
            unknown.append(item)
    if unknown:
        raise GradingError(f"in-place operations: {brief(unknown)} are not scenario names; use the keys of "
                           f"INPLACE_SCENARIOS: {', '.join(INPLACE_NAMES)}.")
    truth = _inplace_truth()
    for name in INPLACE_NAMES:
        if (name in chosen) != truth[name]:
            verdict = "breaks the backward" if name in chosen else "is harmless"
            rep.fail(name, f"you say this one {verdict}; it does not." + describe(diagnoses.get(_INPLACE_CODE[name])))
    return rep.finish()


# ============================================================================================ MLP loss and grads


def _mlp_case(rng: np.random.Generator, sizes: tuple[int, ...], N: int):
    """Parameters, X and y with every hidden pre-activation at least KINK_MARGIN away from 0: each hidden unit's
    bias is drawn (again, if needed) until none of the N examples lands near the kink."""
    params = _ref_net.init_params(list(sizes), "he", rng)
    X = rng.standard_normal((N, sizes[0]))
    h = X
    for l in range(1, len(sizes)):
        z0 = h @ params[f"W{l}"]
        b = 0.1 * rng.standard_normal(sizes[l])
        if l < len(sizes) - 1:
            for j in range(sizes[l]):
                for _ in range(1000):
                    if np.min(np.abs(z0[:, j] + b[j])) > KINK_MARGIN:
                        break
                    b[j] = 0.3 * rng.standard_normal()
                else:
                    raise RuntimeError("could not draw an MLP case away from the ReLU kinks (grader bug)")
        params[f"b{l}"] = b
        h = np.maximum(z0 + b, 0.0)
    return params, X, rng.integers(0, sizes[-1], N).astype(np.int64)


_MLP_SUBS = ("loss", "last layer's gradients", "hidden layers' gradients")


def check_mlp_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``mlp_loss_and_grads(params, X, y) -> (loss, grads)``.

    Contract: params {"W1": (d0, d1), "b1": (d1,), ..., "WL", "bL"} (L >= 1 affine layers, ReLU between them, none
    after the last), X (N, d0) float64, y (N,) int64; loss = mean softmax cross-entropy of the scores; grads a dict
    with the keys and shapes of params (float64). Hidden pre-activations stay away from 0. Inputs unchanged.

    Sub-checks: "loss", "last layer's gradients", "hidden layers' gradients", "inputs left unchanged". Cases: a
    2-layer and a 3-layer network (thorough: also 1 and 4 layers), and one whose output bias is offset by
    OFFSET = 3e8 for every class (softmax ignores it; finite differences lose their digits to it at every step
    size). Named mistakes: RELU_ON_OUTPUT (loss), MISSING_1_OVER_N, MISSING_TRANSPOSE, SIGN_FLIP, BIAS_KEEPDIMS,
    NUMERIC_NOT_ANALYTIC.
    """
    require_callable(fn, "mlp_loss_and_grads", 3)
    g = _Grading("MLP loss and gradients", points, seed, _MLP_SUBS)
    label = "mlp_loss_and_grads()"
    rng = np.random.default_rng(seed)
    specs = [((3, 5, 4), 7, False), ((4, 6, 5, 3), 6, False), ((3, 5, 4), 6, True)]
    if thorough:
        specs += [((5, 3), 4, False), ((2, 7, 5, 6, 3), 9, False), ((4, 6, 5, 3), 5, True)]
    try:
        for sizes, N, offset in specs:
            params, X, y = _mlp_case(rng, sizes, N)
            L = len(sizes) - 1
            if offset:  # the same huge bias for every class: softmax ignores it, finite differences do not
                params[f"b{L}"] = params[f"b{L}"] + OFFSET
            where = f"layer sizes {list(sizes)}, N={N}" + (f", output bias around {OFFSET:g} (an offset softmax "
                                                           f"ignores)" if offset else "")
            ok, res = g.call(fn, params, X, y, label=label, fail=_MLP_SUBS, where=where)
            if not ok:
                continue
            try:
                loss, grads = unpack(res, ("loss", "grads"), label)
            except StudentCodeError as exc:
                for n in _MLP_SUBS:
                    g.fail(n, f"{where}: {exc}")
                continue
            want, want_g = _ref_net.mlp_loss_and_grads(params, X, y)
            problem = _scalar_problem(loss, want)
            if problem:
                relu_out = _relu_output_loss(params, X, y)
                v = real_number(loss)
                if v is not None and abs(v - relu_out) <= 1e-9 * max(1.0, abs(relu_out)):
                    problem += describe(diagnoses.get("RELU_ON_OUTPUT"))
                g.fail("loss", f"{where}: {problem}")
            got, problem = _grads_dict(grads, list(params), "grads")
            if problem:
                g.fail(_MLP_SUBS[1], f"{where}: {problem}")
                g.fail(_MLP_SUBS[2], f"{where}: {problem}")
                continue
            for name in params:
                sub = _MLP_SUBS[1] if name in (f"W{L}", f"b{L}") else _MLP_SUBS[2]
                problem = array_problem(got[name], want_g[name])
                if problem:
                    cands = {}
                    if name.startswith("b") and isinstance(got[name], np.ndarray) and got[name].ndim == 2:
                        cands["BIAS_KEEPDIMS"] = want_g[name][None, :]
                    text = _named(problem, got[name], want_g[name], cands, batch_size=N)
                    text += _numeric_hint(offset, text, g.passed(sub))
                    g.fail(sub, f"{where}: grads[{name!r}] " + text)
    except _Stop:
        pass
    return g.finish()


def _relu_output_loss(params: dict, X: np.ndarray, y: np.ndarray) -> float:
    """The loss of the same network with a ReLU also on the output scores (a classic mistake)."""
    scores = np.maximum(_ref_net.mlp_scores(params, X), 0.0)
    return float(_ref_losses.softmax_cross_entropy(scores, y)[0])


# ============================================================================================ training


def moons_task(seed: int, settings: Mapping) -> dict:
    """The graded training task: train and held-out moons, and He-initialized parameters (plain data)."""
    rng = np.random.default_rng(seed)
    X, y = _ref_data.make_moons(rng, int(settings["n_samples"]), noise=float(settings["noise"]))
    Xt, yt = _ref_data.make_moons(rng, 2 * int(settings["n_samples"]), noise=float(settings["noise"]))
    params = _ref_net.init_params(list(settings["layer_sizes"]), "he", rng)
    return {"X": X, "y": y, "X_test": Xt, "y_test": yt, "params": params}


_TRAIN_SUBS = ("losses (one per step, before the update)", "final parameters", "held-out accuracy")


def _losses_list(losses: Any, steps: int) -> tuple[np.ndarray | None, str | None]:
    if isinstance(losses, np.ndarray) and losses.ndim == 1:
        items = list(losses)
    elif isinstance(losses, (list, tuple)):
        items = list(losses)
    else:
        return None, f"losses must be a list of numbers, one per step, got {type(losses).__name__} ({brief(losses)})."
    vals = [real_number(v) for v in items]
    if any(v is None for v in vals):
        return None, "every loss must be a finite number (a diverging run gives inf or NaN: lower lr?)."
    if len(vals) != steps:
        return None, f"got {len(vals)} losses for {steps} steps: record the loss once per step, before the update."
    return np.array(vals, dtype=np.float64), None


def check_train_mlp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False, settings=None,
                    accuracy: float | None = None):
    """Grade ``train_mlp(params, X, y, lr, steps) -> (params, losses)``: full-batch gradient descent.

    Contract: each of the ``steps`` steps computes (loss, grads) of the whole (X, y) with the learner's MLP loss,
    appends the loss to ``losses`` (so losses[0] is the loss of the initial parameters) and sets
    p <- p - lr * grads[p] for every parameter; returns the final parameters (a dict like params) and the list of
    losses. params is not modified. The data are two moons (graders.public.tensor_backprop.TRAIN_SETTINGS: 200
    points, noise 0.15, layers (2, 16, 2), lr 0.5, 300 steps).

    Sub-checks: "losses (one per step, before the update)" and "final parameters" (against the reference run,
    relative tolerance 1e-6), "held-out accuracy" (the returned parameters classify at least ``accuracy`` of 400
    fresh moons points; default TRAIN_ACCURACY = 0.95), "inputs left unchanged". Named mistakes:
    TRAIN_LOSS_AFTER_STEP, SIGN_FLIP (gradient ascent).
    """
    settings = dict(pub.TRAIN_SETTINGS if settings is None else settings)
    accuracy = pub.TRAIN_ACCURACY if accuracy is None else accuracy
    require_callable(fn, "train_mlp", 5)
    g = _Grading("training the MLP on two moons", points, seed, _TRAIN_SUBS)
    label = "train_mlp()"
    Lo, P, A = _TRAIN_SUBS
    task = moons_task(seed, settings)
    lr, steps = float(settings["lr"]), int(settings["steps"])
    try:
        ok, res = g.call(fn, task["params"], task["X"], task["y"], lr, steps, label=label, fail=_TRAIN_SUBS,
                         timeout=30.0)
        if ok:
            try:
                params, losses = unpack(res, ("params", "losses"), label)
            except StudentCodeError as exc:
                for n in _TRAIN_SUBS:
                    g.fail(n, str(exc))
                return g.finish()
            want_p, want_l = _ref_train.sgd_train(task["params"], task["X"], task["y"], lr=lr, steps=steps)
            want_l = np.array(want_l)
            got_l, problem = _losses_list(losses, steps)
            if problem:
                g.fail(Lo, problem)
            elif array_problem(got_l, want_l, tol=1e-6):
                after = np.append(want_l[1:], _ref_net.mlp_loss_and_grads(want_p, task["X"], task["y"])[0])
                worst = int(np.argmax(np.abs(got_l - want_l)))
                text = f"loss at step {worst} is {got_l[worst]:.8g}, expected {want_l[worst]:.8g}."
                if array_problem(got_l, after, tol=1e-6) is None:
                    text += describe(diagnoses.get("TRAIN_LOSS_AFTER_STEP"))
                elif got_l[-1] > got_l[0]:
                    text += " The loss grows: step AGAINST the gradient (p - lr * grad)." + describe(
                        diagnoses.get("SIGN_FLIP"))
                g.fail(Lo, text)
            got_p, problem = _grads_dict(params, list(want_p), "the returned params")
            if problem:
                g.fail(P, problem)
                g.fail(A, "the returned parameters are unusable.")
            else:
                bad = [k for k in want_p if array_problem(got_p[k], want_p[k], tol=1e-6)]
                if bad:
                    g.fail(P, f"params[{bad[0]!r}] " + array_problem(got_p[bad[0]], want_p[bad[0]], tol=1e-6))
                try:
                    acc = float(np.mean(_ref_net.mlp_scores({k: np.asarray(v, dtype=np.float64) for k, v in
                                                           got_p.items()}, task["X_test"]).argmax(axis=1)
                                        == task["y_test"]))
                except (ValueError, TypeError) as exc:
                    g.fail(A, f"the returned parameters do not form an MLP: {exc}")
                else:
                    if not acc >= accuracy:
                        g.fail(A, f"the trained network classifies {acc:.1%} of 400 held-out points correctly; it "
                                  f"must reach {accuracy:.0%}.")
    except _Stop:
        pass
    return g.finish()
