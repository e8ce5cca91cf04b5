"""check_train_two_layer: a few steps of full-batch gradient descent on the two-layer network.

The losses per step and the final parameters are compared with the reference's. Named mistakes: a step uphill
(SIGN_FLIP), the loss recorded after each update instead of before it, updates that never reach the returned
dict (``p = p - lr * g`` on a loop variable); the caller's params, X and y must be left unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.core import StudentCodeError, array_problem, brief, describe, diagnose, require_callable, unpack
from graders.network.grading import _finite, _Grader, _name, _Stop
from graders.network.two_layer import _net_draw
from reference_impl import network as _ref_net

ZERO_STEPS = "zero steps (the initial parameters, no losses)"


# =============================================================================================== training


def _gd(params: dict, X: np.ndarray, y: np.ndarray, lr: float, steps: int) -> tuple[dict, list[float], float]:
    """Full-batch gradient descent with a signed learning rate (lr < 0 is the gradient-ascent mistake)."""
    p = {k: v.copy() for k, v in params.items()}
    losses = []
    for _ in range(steps):
        value, grads = _ref_net.mlp_loss_and_grads(p, X, y)
        losses.append(value)
        p = {k: p[k] - lr * grads[k] for k in p}
    final = _ref_net.mlp_loss_and_grads(p, X, y)[0] if steps else float("nan")
    return p, losses, final


def _train_cases(rng: np.random.Generator, thorough: bool):
    specs = [(30, 4, 8, 3, 0.3, 12), (16, 3, 5, 2, 0.2, 5), (8, 5, 6, 4, 0.1, 1), (10, 3, 4, 3, 0.3, 0)]
    if thorough:
        specs += [(12, 4, 3, 2, 0.2, 0), (9, 2, 7, 3, 0.05, 2), (40, 6, 12, 5, 0.3, 30)]
    cases = []
    for N, D, H, C, lr, steps in specs:
        params, X = _net_draw(rng, N, D, H, C)
        y = rng.integers(0, C, N)
        cases.append((f"N={N}, D={D}, H={H}, C={C}, lr={lr}, steps={steps}", params, X, y, lr, steps))
    return cases


def _losses_array(losses: Any) -> tuple[np.ndarray | None, str | None]:
    if losses is None:
        return None, "losses is None: return the list of losses you recorded."
    if isinstance(losses, np.ndarray):
        if losses.ndim != 1:
            return None, f"losses must be a list with one number per step, got an array of shape {losses.shape}."
        items = list(losses)
    elif isinstance(losses, (list, tuple)):
        items = list(losses)
    else:
        return None, f"losses must be a list of numbers (one per step), got {type(losses).__name__} ({brief(losses)})."
    for i, v in enumerate(items):
        if isinstance(v, bool) or not (isinstance(v, (int, float, np.number))
                                       or (isinstance(v, np.ndarray) and v.shape == ())):
            return None, (f"losses[{i}] is {type(v).__name__} ({brief(v)}); every entry must be one number (the "
                          f"loss before that step, e.g. float(loss)).")
    try:
        arr = np.array([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return None, f"losses could not be read as numbers: {exc}."
    return arr, None


def check_train_two_layer(train, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``train_two_layer(params, X, y, lr, steps) -> (new_params, losses)``.

    Contract: plain full-batch gradient descent on the two-layer ReLU network with softmax cross-entropy
    (mean over N): for each of ``steps`` steps compute (loss, grads) at the current parameters, append the
    loss, then set every params[k] to params[k] - lr * grads[k]. Returns the final parameters (a new dict
    with the keys and shapes of params, float64) and losses, a list of ``steps`` numbers (the loss BEFORE
    each update). The caller's params dict and its arrays, X and y are not modified.
    Sub-checks: "losses" and "new params" (cases with 1 to 30 steps), "zero steps" (the initial parameters
    and an empty list) and the course-wide "inputs left unchanged".
    """
    require_callable(train, "train_two_layer", 5)
    label = f"{_name(train, 'train_two_layer')}()"
    g = _Grader("two-layer network training", points, seed, ["losses", "new params"], watch_inputs=True)
    g.report.declare(ZERO_STEPS)
    try:
        for where, params, X, y, lr, steps in _train_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            subs = [ZERO_STEPS] if steps == 0 else ["losses", "new params"]
            ok, res, changed = g.call(train, params, X, y, lr, steps, label=label, where=where, fail=subs,
                                      watch=("params", "X", "y", "lr", "steps"))
            if changed:
                what = ", ".join(c[0] for c in changed)
                if any(c[0].startswith("params") for c in changed):
                    advice = ("in place, so the caller's initial parameters are lost. Start from copies, new = "
                              "{k: v.copy() for k, v in params.items()}, and update those (new[k] = new[k] - lr * "
                              "grads[k]); dict(params) copies only the dict, not the arrays.")
                else:
                    advice = "in place; training must leave the data X and y untouched."
                g.changed_inputs(where, f"{label} modified {what} {advice}")
            if not ok:
                continue
            try:
                new, losses = unpack(res, ("new_params", "losses"), label)
            except StudentCodeError as exc:
                for n in subs:
                    g.fail(n, f"{where}: {exc}")
                continue
            if isinstance(losses, dict) and not isinstance(new, dict):
                for n in subs:
                    g.fail(n, f"{where}: {label} returned (losses, new_params); return (new_params, losses).")
                continue
            e_params, e_losses = _ref_net.train_mlp(params, X, y, lr=lr, steps=steps)
            up_params, up_losses, _ = _gd(params, X, y, -lr, steps)
            _, _, final = _gd(params, X, y, lr, steps)
            _grade_losses(g, where, losses, e_losses, up_losses, e_losses[1:] + [final], steps, subs[0])
            _grade_new_params(g, where, new, params, e_params, up_params, steps, subs[-1])
    except _Stop:
        pass
    return g.finish()


def _grade_losses(g: _Grader, where: str, losses, e_losses, up_losses, after_losses, steps: int,
                  sub: str = "losses") -> str | None:
    """Grade the losses into ``sub``; returns a problem with their structure (None when it is right)."""
    arr, why = _losses_array(losses)
    if why:
        g.fail(sub, f"{where}: {why}")
        return why
    if arr.shape[0] != steps:
        why = (f"{arr.shape[0]} losses for {steps} steps; record exactly one loss per step (the loss before that "
               f"step's update).")
        g.fail(sub, f"{where}: {why}")
        return why
    if steps == 0:
        return None
    problem = array_problem(arr, np.array(e_losses))
    if problem is None:
        return None
    diag = diagnose(arr, np.array(e_losses), {"SIGN_FLIP": np.array(up_losses),
                                              "TRAIN_LOSS_AFTER_STEP": np.array(after_losses)}, generic=False)
    text = f"{where}: losses {problem}{describe(diag)}"
    if steps > 1 and np.all(np.isfinite(arr)) and arr[-1] >= arr[0]:
        text += (f"\n      Your losses do not decrease ({arr[0]:.6g} -> {arr[-1]:.6g}); gradient descent with this "
                 f"small learning rate lowers the loss at every step (expected {e_losses[0]:.6g} -> "
                 f"{e_losses[-1]:.6g}).")
    g.fail(sub, text)
    return None if problem.startswith("values differ") else problem


def _grade_new_params(g: _Grader, where: str, new, params, e_params, up_params, steps: int,
                      sub: str = "new params") -> list[str | None]:
    """Grade the new parameters into ``sub``; returns the problems found."""
    if not isinstance(new, dict):
        g.fail(sub, f"{where}: new_params must be a dict keyed like params, got {type(new).__name__} "
               f"({brief(new)}).")
        return ["not a dict"]
    problems: list[str | None] = []
    extra = [k for k in new if k not in params]
    if extra:
        g.report.notes.append(f"new_params has extra key(s) {brief(list(extra), 100)}; return exactly the "
                              f"keys of params.")
    unchanged = steps > 0 and all(k in new and _finite(new[k]) and np.shape(new[k]) == params[k].shape
                                  and np.array_equal(new[k], params[k]) for k in params)
    for k in params:
        if k not in new:
            g.fail(sub, f"{where}: new_params has no key {k!r} (its keys: {brief(list(new), 100)}).")
            problems.append("missing")
            continue
        problem = array_problem(new[k], e_params[k])
        problems.append(problem)
        if problem:
            diag = diagnose(new[k], e_params[k], {"SIGN_FLIP": up_params[k]}, generic=False)
            text = f"{where}: new_params[{k!r}] {problem}{describe(diag)}"
            if unchanged:
                text += ("\n      Your new parameters equal the initial ones: the updates never reached the returned "
                         "dict (e.g. `for p in params.values(): p = p - lr * g` only rebinds the loop variable).")
            g.fail(sub, text)
    return problems
