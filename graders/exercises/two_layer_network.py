"""Checks specific to notebook 03 (deriving backpropagation for a two-layer network).

The generic checks (softmax, softmax cross-entropy, the two-layer loss and gradients, MSE variant, training,
gradient checking, affine and ReLU layers) live in graders/network/ and graders/layers.py. This module holds
what only notebook 03 asks:

- :func:`check_gradient_shapes`: ``gradient_shapes(N, D, H, C) -> {name: shape tuple}``, the shape table of the
  batched network, compared with shapes computed here from the sizes (db1 is (H,), not (D,): erratum 2);
- :func:`check_walkthrough`: the seed's Part 7 numeric walkthrough (2 inputs, 2 hidden ReLU units, 2 classes),
  traced by the student's own code; expected values computed here with reference_impl;
- :func:`check_seed_mse_losses`: the five losses of the seed's 2-layer MSE loop (np.random.seed(42)), as the
  listed code really prints them (erratum 1: the seed's printed numbers are not what its code gives);
- :func:`check_zero_init`: gradient norms at all-zero parameters and the number of distinct hidden units after
  training from a constant (symmetric) and from a random initialization.

Nothing here is typed into the notebook: the notebook computes every number itself.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from graders import concepts
from graders.core import GradingError, Report, StudentCodeError, brief, call_student, real_number, require_callable
from reference_impl import network as _ref_net
from graders.public.two_layer_network import (CONSTANT_VALUE, SYMMETRY_LR, SYMMETRY_STEPS,
                                             symmetry_problem)

__all__ = ["SHAPE_KEYS", "WALKTHROUGH_KEYS", "ZERO_INIT_KEYS", "check_gradient_shapes", "check_walkthrough",
           "check_seed_mse_losses", "check_zero_init"]


# ============================================================================================ shape table

SHAPE_KEYS = ("z1", "h1", "scores", "dscores", "dW2", "db2", "dh1", "dz1", "dW1", "db1")
_PARAM_GRADS = {"dW1", "db1", "dW2", "db2"}


def _expected_shapes(N: int, D: int, H: int, C: int) -> dict[str, tuple[int, ...]]:
    """Shapes in the batched row convention: X (N, D), W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
    return {"z1": (N, H), "h1": (N, H), "scores": (N, C), "dscores": (N, C), "dW2": (H, C), "db2": (C,),
            "dh1": (N, H), "dz1": (N, H), "dW1": (D, H), "db1": (H,)}


def _as_shape(x: Any) -> tuple[int, ...] | None:
    """x as a tuple of non-negative ints (tuple/list of ints, NumPy ints allowed), else None."""
    if not isinstance(x, (tuple, list)):
        return None
    out = []
    for v in x:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or int(v) < 0:
            return None
        out.append(int(v))
    return tuple(out)


def _shape_hint(key: str, got: tuple, want: tuple, N: int, D: int, H: int, C: int) -> str:
    if key == "db1" and got == (D,):
        return ("b1 adds one number to each HIDDEN unit, so db1 has shape (H,), not (D,) (the seed's summary "
                "table prints (d,) for db1: a typo, erratum 2). A gradient always has its parameter's shape.")
    if key in _PARAM_GRADS and len(got) == len(want) + 1 and got[0] == N and got[1:] == want:
        return (f"a parameter gradient has the parameter's shape {want}; the N per-example contributions are "
                f"summed over the batch (axis 0), so N does not appear.")
    if key in _PARAM_GRADS and len(got) == 2 and got[0] == 1 and (got[1],) == want:
        return f"keepdims left an extra axis: the bias gradient has the bias's shape {want}."
    if len(want) == 2 and got == (want[1], want[0]):
        if key in ("dW1", "dW2"):
            return (f"transposed: this notebook uses rows as examples (X @ W1), so W1 is (D, H) and W2 is (H, C); "
                    f"the column convention W1 x of the seed stores the transpose. dW has W's shape {want}.")
        return f"transposed: one row per example, so the shape is {want}."
    if len(want) == 2 and got == want[1:]:
        return (f"{got} is the single-example shape; in the batched network every activation and its gradient "
                f"has one row per example: {want}.")
    if sorted(got) == sorted(want):
        return f"the dimensions are in the wrong order; expected {want}."
    return f"expected {want}."


def _shape_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[int, int, int, int]]:
    n = 4 if thorough else 2
    cases = []
    for _ in range(n):
        N, D, H, C = (int(v) for v in rng.choice(np.arange(2, 12), size=4, replace=False))
        cases.append((N, D, H, C))
    return cases


def check_gradient_shapes(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``gradient_shapes(N, D, H, C) -> dict`` mapping each name of SHAPE_KEYS to a shape tuple.

    Batched row convention: X (N, D), W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); z1 = X @ W1 + b1, h1 = relu(z1),
    scores = h1 @ W2 + b2, dscores = dL/dscores etc. Sizes are distinct so a swapped dimension shows. One
    sub-check per key; a missing key or a non-tuple value fails that key only.
    """
    require_callable(fn, "gradient_shapes", 4)
    rep = Report("gradient shape table", points, seed)
    for key in SHAPE_KEYS:
        rep.declare(key)
    for N, D, H, C in _shape_cases(np.random.default_rng(seed), thorough):
        where = f"N={N}, D={D}, H={H}, C={C}"
        try:
            table = call_student(fn, N, D, H, C, label="gradient_shapes()")
        except StudentCodeError as exc:
            for key in SHAPE_KEYS:
                rep.fail(key, f"{where}: {exc}")
            break
        if not isinstance(table, Mapping):
            for key in SHAPE_KEYS:
                rep.fail(key, f"{where}: expected a dict name -> shape tuple, got {type(table).__name__} "
                              f"({brief(table)}).")
            break
        want_all = _expected_shapes(N, D, H, C)
        for key in SHAPE_KEYS:
            if key not in table:
                rep.fail(key, f"'{key}' is missing from the dict.")
                continue
            got = _as_shape(table[key])
            want = want_all[key]
            if got is None:
                rep.fail(key, f"{where}: '{key}' = {brief(table[key])} is not a shape: use a tuple of ints such as "
                              f"(N, H) built from the arguments.")
            elif got != want:
                rep.fail(key, f"{where}: '{key}' got {got}: " + _shape_hint(key, got, want, N, D, H, C))
    return rep.finish()


# ============================================================================================ Part 7 walkthrough

# The seed's Part 7 network in its own column convention (W1 is (hidden, input)); converted below.
_SEED_W1 = ((0.1, 0.2), (0.3, 0.4))
_SEED_W2 = ((0.5, 0.6), (0.7, 0.8))
_SEED_B = (0.1, 0.1)
_SEED_X = (1.0, 2.0)
_SEED_LABEL = 0

WALKTHROUGH_KEYS = ("z1_0", "z1_1", "z2_0", "z2_1", "p_0", "p_1", "loss", "dz2_0", "dz2_1",
                    "dW1_in0_hid0", "dW1_in1_hid0", "dW1_in0_hid1", "dW1_in1_hid1")


def _walkthrough_expected() -> dict[str, float]:
    """The Part 7 quantities computed with reference_impl (dW1 indexed [input, hidden] as in W1 (D, H))."""
    params = {"W1": np.array(_SEED_W1).T.copy(), "b1": np.array(_SEED_B), "W2": np.array(_SEED_W2).T.copy(),
              "b2": np.array(_SEED_B)}
    X = np.array([_SEED_X])
    y = np.array([_SEED_LABEL])
    z1 = X @ params["W1"] + params["b1"]
    z2 = np.maximum(z1, 0) @ params["W2"] + params["b2"]
    p = np.exp(z2 - z2.max()) / np.exp(z2 - z2.max()).sum()
    loss, grads = _ref_net.mlp_loss_and_grads(params, X, y)
    dz2 = p[0] - np.eye(2)[_SEED_LABEL]
    out = {"z1_0": z1[0, 0], "z1_1": z1[0, 1], "z2_0": z2[0, 0], "z2_1": z2[0, 1], "p_0": p[0, 0], "p_1": p[0, 1],
           "loss": loss, "dz2_0": dz2[0], "dz2_1": dz2[1]}
    for i in range(2):
        for j in range(2):
            out[f"dW1_in{i}_hid{j}"] = grads["W1"][i, j]
    return {k: float(out[k]) for k in WALKTHROUGH_KEYS}


def check_walkthrough(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the Part 7 trace dict (keys WALKTHROUGH_KEYS), one sub-check per key, relative tolerance 1e-6.

    The numbers must come from code: the seed's table shows values rounded to 3 digits, which fail here.
    """
    exp = _walkthrough_expected()
    rounded = "compute it with your code; the seed's table rounds to 3 digits."
    hints = {k: rounded for k in WALKTHROUGH_KEYS}
    hints["loss"] = "L = -log p[y] with the natural log, for the true class 0. " + rounded
    hints["dz2_0"] = hints["dz2_1"] = "dL/dz2 = p - onehot(y) (prediction minus label). " + rounded
    for k in WALKTHROUGH_KEYS:
        if k.startswith("dW1"):
            hints[k] = ("dW1[i, j] = x[i] * dz1[j] (input i, hidden unit j); W1 is (D, H) here, the transpose of "
                        "the seed's (h, d) matrix. " + rounded)
    mistakes = {
        "loss": {"the loss used log10 instead of the natural log": -math.log10(exp["p_0"])},
        "dz2_0": {"SIGN_FLIP": -exp["dz2_0"]},
        "dz2_1": {"SIGN_FLIP": -exp["dz2_1"]},
        "dW1_in1_hid0": {"dW1 was read in the seed's (hidden, input) layout (transposed)": exp["dW1_in0_hid1"]},
        "dW1_in0_hid1": {"dW1 was read in the seed's (hidden, input) layout (transposed)": exp["dW1_in1_hid0"]},
    }
    return concepts.check_trace_table(answers, exp, exercise="Part 7 walkthrough trace", rel_tol=1e-6,
                                      hints=hints, mistakes=mistakes, points=points, seed=seed, thorough=thorough)


# ============================================================================================ the seed's MSE loop

# What the seed document PRINTS as comments (steps 1, 2 and 5); its own code does not produce them (erratum 1).
_SEED_PRINTED_LOSSES = {0: 0.480275, 1: 0.453089, 4: 0.387844}


def _seed_mse_losses(steps: int = 5) -> list[float]:
    """The losses the seed's MSE loop really prints: np.random.seed(42), W1 = randn(4, 3) * 0.1, W2 =
    randn(1, 4) * 0.1 (column convention), x = [1, 2, 3], y = 1, lr = 0.01, loss = 0.5 (z2 - y)^2."""
    state = np.random.get_state()
    try:
        np.random.seed(42)
        W1 = np.random.randn(4, 3) * 0.1
        W2 = np.random.randn(1, 4) * 0.1
    finally:
        np.random.set_state(state)
    params = {"W1": W1.T.copy(), "b1": np.zeros(4), "W2": W2.T.copy(), "b2": np.zeros(1)}
    X = np.array([[1.0, 2.0, 3.0]])
    Y = np.array([[1.0]])
    losses = []
    for _ in range(steps):
        loss, grads = _ref_net.mlp_loss_and_grads(params, X, Y, loss="mse")
        losses.append(float(loss))
        params = {k: params[k] - 0.01 * grads[k] for k in params}
    return losses


def check_seed_mse_losses(losses, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the five losses (loss before each update) of the seed's MSE loop, reproduced by the student.

    Sub-checks: "five numbers" and one per step. Copying the seed's printed comments is named (erratum 1).
    """
    want = _seed_mse_losses(6)
    rep = Report("the seed's MSE training loop", points, seed)
    rep.declare("five numbers")
    for i in range(5):
        rep.declare(f"step {i + 1}")
    if losses is None:
        raise GradingError("the seed's MSE training loop: mse_losses is None: run the loop and collect the loss of "
                           "each of the 5 steps in a list.")
    if isinstance(losses, np.ndarray):
        values = list(losses.ravel()) if losses.ndim <= 1 else None
    elif isinstance(losses, (list, tuple)):
        values = list(losses)
    else:
        values = None
    if values is None:
        raise GradingError(f"the seed's MSE training loop: expected a list of 5 numbers, got "
                           f"{type(losses).__name__} ({brief(losses)}).")
    if len(values) != 5:
        rep.fail("five numbers", f"got {len(values)} losses, expected 5 (one per step, recorded before the update).")
    elif any(real_number(v) is None for v in values):
        rep.fail("five numbers", "every entry must be a finite real number (the loss of that step).")
    for i in range(5):
        name = f"step {i + 1}"
        if i >= len(values):
            rep.fail(name, "missing.")
            continue
        v = real_number(values[i])
        if v is None:
            rep.fail(name, f"{brief(values[i])} is not a finite real number.")
        elif not math.isclose(v, want[i], rel_tol=1e-6):
            if i in _SEED_PRINTED_LOSSES and math.isclose(v, _SEED_PRINTED_LOSSES[i], rel_tol=1e-5):
                msg = ("this is the number printed in the seed document, which its own code does not produce "
                       "(erratum 1): print what YOUR loop computes.")
            elif math.isclose(v, want[i + 1], rel_tol=1e-6):
                msg = "this is the loss AFTER the update: record the loss of the forward pass, then update."
            elif math.isclose(v, 2 * want[i], rel_tol=1e-6):
                msg = "twice the expected value: the seed's loss is 0.5 * (z2 - y)**2, with the 1/2."
            else:
                msg = (f"got {v:.6g}: check the initialization (np.random.seed(42), W1 drawn first as (4, 3), then "
                       f"W2 as (1, 4), both * 0.1, transposed into this notebook's layout) and lr = 0.01.")
            rep.fail(name, msg)
    return rep.finish()


# ============================================================================================ zero-init symmetry

ZERO_INIT_KEYS = ("dW1_norm", "db1_norm", "dW2_norm", "db2_norm", "distinct_units_constant_init",
                  "distinct_units_random_init")


def _count_distinct_units(W1: np.ndarray, decimals: int = 8) -> int:
    """Number of distinct hidden units: distinct columns of W1 (D, H) after rounding."""
    return int(np.unique(np.round(np.asarray(W1, dtype=np.float64).T, decimals), axis=0).shape[0])


def _zero_init_expected(seed: int = 0) -> dict[str, float]:
    X, y, H, C = symmetry_problem(seed)
    D = X.shape[1]
    zero = {"W1": np.zeros((D, H)), "b1": np.zeros(H), "W2": np.zeros((H, C)), "b2": np.zeros(C)}
    _, g = _ref_net.mlp_loss_and_grads(zero, X, y)
    const = {"W1": np.full((D, H), CONSTANT_VALUE), "b1": np.zeros(H), "W2": np.full((H, C), CONSTANT_VALUE),
             "b2": np.zeros(C)}
    rnd = {"W1": np.random.default_rng(seed).standard_normal((D, H)) * 0.5, "b1": np.zeros(H),
           "W2": np.random.default_rng(seed + 1).standard_normal((H, C)) * 0.5, "b2": np.zeros(C)}
    after_const, _ = _ref_net.train_mlp(const, X, y, lr=SYMMETRY_LR, steps=SYMMETRY_STEPS)
    after_rnd, _ = _ref_net.train_mlp(rnd, X, y, lr=SYMMETRY_LR, steps=SYMMETRY_STEPS)
    return {"dW1_norm": float(np.linalg.norm(g["W1"])), "db1_norm": float(np.linalg.norm(g["b1"])),
            "dW2_norm": float(np.linalg.norm(g["W2"])), "db2_norm": float(np.linalg.norm(g["b2"])),
            "distinct_units_constant_init": float(_count_distinct_units(after_const["W1"])),
            "distinct_units_random_init": float(_count_distinct_units(after_rnd["W1"]))}


def check_zero_init(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the symmetry experiment on ``symmetry_problem(0)`` (the notebook's data), one sub-check per key.

    Norms are Frobenius norms of the gradients at all-zero parameters; the counts are distinct columns of W1
    after SYMMETRY_STEPS full-batch steps (lr SYMMETRY_LR) from a constant init (every weight CONSTANT_VALUE,
    biases 0) and from a random init. ``seed`` only labels the report: the data are the notebook's.
    """
    exp = _zero_init_expected(0)
    H = symmetry_problem(0)[2]
    hints = {
        "dW1_norm": "at W = 0 the hidden layer outputs h1 = relu(0) = 0 and dh1 = dscores @ W2.T = 0.",
        "db1_norm": "dz1 = dh1 * 1[z1 > 0] and dh1 is 0 when W2 = 0.",
        "dW2_norm": "dW2 = h1.T @ dscores and h1 is all zeros at zero init.",
        "db2_norm": "db2 = dscores summed over the batch: at zero init p is uniform, so it is not zero.",
        "distinct_units_constant_init": "count distinct columns of W1 with np.unique(np.round(W1.T, 8), axis=0).",
        "distinct_units_random_init": "count distinct columns of W1 with np.unique(np.round(W1.T, 8), axis=0).",
    }
    mistakes = {
        "distinct_units_constant_init": {
            "you assume training breaks the symmetry; it cannot: identical hidden units receive identical "
            "gradients, so after a constant init they stay equal (one distinct unit)": float(H)},
        "db2_norm": {"you assume every gradient vanishes at zero init; db2 does not (p is uniform, not one-hot)": 0.0},
    }
    return concepts.check_trace_table(answers, exp, exercise="zero-init symmetry", rel_tol=1e-6, abs_tol=1e-9,
                                      hints=hints, mistakes=mistakes, points=points, seed=seed, thorough=thorough)
