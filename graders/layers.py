"""Checks for forward/backward layer pairs (cs231n contract): affine, activations, max-pool, residual, dropout.

Each ``check_<layer>(forward, backward, *, seed=0, points=None, thorough=False)`` runs the student's
forward on seeded random float64 inputs, feeds the student's own cache to the student's backward with a
random upstream gradient, compares everything with reference_impl, names recognised mistakes, and checks
the backward against a finite-difference VJP of the student's own forward (telling "forward wrong" from
"backward wrong"). ``thorough=True`` (used by hidden tests) adds more cases of the kinds the visible test
shows. A case of a special kind (ReLU inputs exactly 0, an affine bias around 1e15 where finite differences
of the forward cannot be right) is graded into a sub-check of its own, so a mistake seen only there costs
that share; every layer here leaves its inputs (and the backward's dout) unchanged, the course-wide sub-check
"inputs left unchanged" of graders.core.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (Report, StudentCodeError, StudentTimeout, array_problem, call_student, close, describe,
                          diagnose, own_forward_vjps, require_callable, unpack)
from reference_impl import layers as _ref


@dataclass
class Case:
    """One input case: positional forward args, the upstream gradient and which args get gradients.

    ``kind``: "" for an ordinary case (graded into "forward output" and one sub-check per gradient), else the
    name of the sub-check that grades everything this case shows (an edge case of its own, such as inputs
    exactly at ReLU's kink), so that a mistake seen only there costs that share."""
    label: str
    args: tuple
    dout: np.ndarray
    wrt: tuple[int, ...]
    batch_size: int | None = None
    info: dict = field(default_factory=dict)
    kind: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """How to test one layer. ``inputs_alone``: the contract leaves the forward's arguments and the backward's
    dout unchanged (the course-wide sub-check "inputs left unchanged", graders.core). ``analytic_kind``: the
    kind of case (see Case) built so that finite differences of the forward miss it at every step size: a
    backward right on the ordinary cases and wrong only there is named NUMERIC_NOT_ANALYTIC."""
    name: str
    grad_names: tuple[str, ...]
    ref_forward: Callable
    ref_backward: Callable
    make_cases: Callable[[np.random.Generator, bool], list[Case]]
    forward_mistakes: Callable[[Case], dict[str, np.ndarray]] = lambda case: {}
    backward_mistakes: Callable[[Case, tuple], dict[str, dict[str, np.ndarray]]] = lambda case, g: {}
    n_forward_args: int = 1
    inputs_alone: bool = False
    analytic_kind: str = ""


def _away(rng: np.random.Generator, shape: Sequence[int], margin: float = 0.1) -> np.ndarray:
    """Standard normal entries pushed at least ``margin`` away from 0 (no ReLU kinks within h)."""
    z = rng.standard_normal(shape)
    return np.where(z >= 0, z + margin, z - margin)


def _distinct(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Entries that differ pairwise by at least 0.05 (no ties inside a pooling window)."""
    n = int(np.prod(shape))
    vals = (rng.permutation(n) - n / 2) * 0.05 + rng.uniform(-0.01, 0.01)
    return vals.reshape(shape)


def check_layer(spec: LayerSpec, forward: Callable, backward: Callable, *, seed: int = 0,
                points: float | None = None, thorough: bool = False) -> float | None:
    """Grade a forward/backward pair against ``spec``; see the module docstring."""
    require_callable(forward, f"{spec.name}_forward", spec.n_forward_args)
    require_callable(backward, f"{spec.name}_backward", 2)
    report = Report(f"{spec.name} forward/backward", points, seed)
    report.declare("forward output", weight=1.0)
    for g in spec.grad_names:
        report.declare(f"backward {g}", weight=1.0)
    cases = spec.make_cases(np.random.default_rng(seed), thorough)
    for kind in dict.fromkeys(c.kind for c in cases if c.kind):
        report.declare(kind, weight=1.0)
    if spec.inputs_alone:
        report.watch_inputs()
    state = {"ordinary_ok": True}
    examined: set[str] = set()
    for case in cases:
        examined.update([case.kind] if case.kind else ["forward output", *(f"backward {g}" for g in spec.grad_names)])
        if not _run_case(spec, forward, backward, case, report, state):
            report.timed_out(examined)
            break  # a timeout: do not wait for every remaining case
    return report.finish()


def _run_case(spec: LayerSpec, forward: Callable, backward: Callable, case: Case, report: Report,
              state: dict | None = None) -> bool:
    """Check one case into ``report``; False when the student's code timed out."""
    state = {"ordinary_ok": True} if state is None else state
    where = f"case {case.label}"
    watched = report if spec.inputs_alone else None
    ref_out, ref_cache = spec.ref_forward(*copy.deepcopy(case.args))
    ref_grads = spec.ref_backward(case.dout, ref_cache)
    ref_grads = ref_grads if isinstance(ref_grads, tuple) else (ref_grads,)
    fwd_label = f"{spec.name}_forward"
    fwd_sub = case.kind or "forward output"

    def grad_sub(g: str) -> str:
        return case.kind or f"backward {g}"

    try:
        out, cache = unpack(call_student(forward, *case.args, label=fwd_label, notes=report.notes, report=watched),
                            ("out", "cache"), fwd_label)
    except StudentCodeError as exc:
        report.fail(fwd_sub, f"{where}: {exc}")
        for g in spec.grad_names:
            report.fail(grad_sub(g), f"{where}: not checked because {fwd_label} failed.")
        state["ordinary_ok"] = state["ordinary_ok"] and bool(case.kind)
        return not isinstance(exc, StudentTimeout)
    problem = array_problem(out, ref_out)
    forward_ok = problem is None
    if problem:
        diag = diagnose(out, ref_out, spec.forward_mistakes(case), generic=False)
        report.fail(fwd_sub, f"{where}: out {problem}{describe(diag)}")

    bwd_label = f"{spec.name}_backward"
    try:
        grads = unpack(call_student(backward, case.dout, cache, label=bwd_label, notes=report.notes, report=watched,
                                    watch=(0,)),
                       spec.grad_names, bwd_label)
    except StudentCodeError as exc:
        for g in spec.grad_names:
            report.fail(grad_sub(g), f"{where}: {exc}")
        state["ordinary_ok"] = state["ordinary_ok"] and bool(case.kind)
        return not isinstance(exc, StudentTimeout)

    mistakes = spec.backward_mistakes(case, ref_grads)
    wrong = not forward_ok or any(array_problem(g, r) for g, r in zip(grads, ref_grads))
    own = _own_forward_vjps(spec, forward, case) if wrong and not case.kind else {}
    for k, (name, got, want) in enumerate(zip(spec.grad_names, grads, ref_grads)):
        problem = array_problem(got, want)
        numeric_own = own.get(k)
        if problem is None:
            if not forward_ok and numeric_own is not None and not close(got, numeric_own, 1e-5):
                report.notes.append(f"{name} matches the true gradient but not your own (wrong) forward.")
            continue
        diag = diagnose(got, want, mistakes.get(name), batch_size=case.batch_size, generic=False)
        if (diag is None and case.kind and case.kind == spec.analytic_kind and state["ordinary_ok"] and forward_ok
                and problem.startswith("values differ")):
            diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")  # all zeros here is what a too small step gives
        diag = diag or diagnose(got, want, batch_size=case.batch_size)
        msg = f"{where}: {name} {problem}{describe(diag)}"
        if numeric_own is not None and close(got, numeric_own, 1e-5):
            if not forward_ok:
                msg += ("\n      Your backward IS consistent with your own forward (finite differences agree), so "
                        "fix the forward first.")
        elif numeric_own is not None and forward_ok:
            msg += "\n      Your forward is right, so the mistake is in the backward."
        report.fail(grad_sub(name), msg)
    if not case.kind and (wrong or not forward_ok):
        state["ordinary_ok"] = False
    return True


def _own_forward_vjps(spec: LayerSpec, forward: Callable, case: Case) -> dict[int, np.ndarray]:
    """Finite-difference VJPs of the student's forward w.r.t. each differentiable argument."""
    return own_forward_vjps(forward, case.args, case.wrt, case.dout)


# ------------------------------------------------------------------------------------------- affine

AFFINE_LARGE_BIAS = "large bias b ~ 1e15 (analytic gradients)"


def _affine_cases(rng, thorough):
    """Ordinary cases (a batch of one and a square W among them: there a missing transpose still runs) and a
    case whose bias is about 1e15: the gradients do not depend on b, but out = x @ W + b holds only ~1/8 of
    absolute precision there, so a backward computed by finite differences of the forward misses at every step
    size. Every kind is in the visible test; the hidden test adds more of each."""
    shapes = [(4, 3, 5), (2, 6, 3), (1, 4, 2), (3, 5, 5)] + ([(7, 5, 5), (1, 1, 3), (6, 2, 4)] if thorough else [])
    cases = []
    for N, D, M in shapes:
        x = rng.standard_normal((N, D))
        W = rng.standard_normal((D, M))
        b = rng.standard_normal(M)
        cases.append(Case(f"x {x.shape}, W {W.shape}", (x, W, b), rng.standard_normal((N, M)), (0, 1, 2), N))
    for N, D, M in [(3, 4, 2)] + ([(5, 3, 3)] if thorough else []):
        x, W = rng.standard_normal((N, D)), rng.standard_normal((D, M))
        b = 1e15 * rng.choice([-1.0, 1.0], M) + rng.integers(-40, 41, M) / 8.0
        cases.append(Case(f"x {x.shape}, W {W.shape}, b around 1e15", (x, W, b), rng.standard_normal((N, M)),
                          (0, 1, 2), N, kind=AFFINE_LARGE_BIAS))
    return cases


def _affine_forward_mistakes(case):
    x, W, b = case.args
    return {"SIGN_FLIP": x @ W - b}


def _affine_backward_mistakes(case, grads):
    x, W, b = case.args
    d = case.dout
    out = {
        "dW": {"MISSING_TRANSPOSE": d.T @ x},
        "db": {"BIAS_SUM_AXIS": d.sum(axis=1), "BIAS_KEEPDIMS": d.sum(axis=0, keepdims=True)},
    }
    if W.shape[0] == W.shape[1]:
        out["dx"] = {"MISSING_TRANSPOSE": d @ W}
    return out


_AFFINE = LayerSpec("affine", ("dx", "dW", "db"), _ref.affine_forward, _ref.affine_backward, _affine_cases,
                    _affine_forward_mistakes, _affine_backward_mistakes, n_forward_args=3, inputs_alone=True,
                    analytic_kind=AFFINE_LARGE_BIAS)


def check_affine(forward, backward, *, seed=0, points=None, thorough=False):
    """affine_forward(x (N,D), W (D,M), b (M,)) -> (out (N,M), cache); affine_backward -> (dx, dW, db).

    Sub-checks: "forward output" and "backward dx", "dW", "db" on ordinary cases (a batch of one and a square W
    among them), "large bias b ~ 1e15" (every output and gradient of that case: finite differences of the
    forward fail there, NUMERIC_NOT_ANALYTIC) and the course-wide "inputs left unchanged" (x, W, b and dout)."""
    return check_layer(_AFFINE, forward, backward, seed=seed, points=points, thorough=thorough)


# ------------------------------------------------------------------------------------------- activations

RELU_ZERO = "x exactly 0 (slope 0 there)"


def _elementwise_cases(rng, thorough, gen=_away):
    shapes = [(4, 5), (3, 2, 4)] + ([(1, 1), (6,)] if thorough else [])
    return [Case(f"x {s}", (gen(rng, s),), rng.standard_normal(s), (0,), None) for s in shapes]


def _relu_cases(rng, thorough):
    """The elementwise cases (inputs at least 0.1 from the kink) and cases with entries exactly 0.0 and -0.0:
    ReLU's derivative there is 0 by this course's convention (mask x > 0), which a mask x >= 0 breaks and which
    no finite difference gives (it straddles the kink: 0.5). Visible and hidden tests both have such cases."""
    cases = _elementwise_cases(rng, thorough)
    for shape, n_zero in [((3, 4), 4)] + ([((2, 5), 3), ((1, 2), 2)] if thorough else []):
        x = _away(rng, shape)
        flat = x.reshape(-1)
        spots = rng.choice(flat.size, n_zero, replace=False)
        flat[spots] = 0.0
        flat[spots[0]] = -0.0
        cases.append(Case(f"x {shape} with {n_zero} entries exactly 0", (x,), rng.standard_normal(shape), (0,),
                          None, kind=RELU_ZERO))
    return cases


def _relu_backward_mistakes(case, grads):
    x, = case.args
    d = case.dout
    return {"dx": {"RELU_MASK": [d * (d > 0), d, (x > 0).astype(float), d * (x < 0)],
                   "RELU_AT_ZERO": [d * (x >= 0), d * np.where(x == 0, 0.5, x > 0)],
                   "CHAIN_RULE_ADDED": d + (x > 0)}}


_RELU = LayerSpec("relu", ("dx",), _ref.relu_forward, _ref.relu_backward, _relu_cases,
                  lambda c: {"RELU_MASK": np.abs(c.args[0])}, _relu_backward_mistakes, inputs_alone=True)


def check_relu(forward, backward, *, seed=0, points=None, thorough=False):
    """relu_forward(x (any shape)) -> (out, cache); relu_backward(dout, cache) -> dx = dout * (x > 0).

    Sub-checks: "forward output" and "backward dx" on inputs away from the kink, "x exactly 0 (slope 0 there)"
    (inputs with exact zeros, visible and hidden: RELU_AT_ZERO for a mask x >= 0 or a slope 0.5 there) and the
    course-wide "inputs left unchanged" (x and dout)."""
    return check_layer(_RELU, forward, backward, seed=seed, points=points, thorough=thorough)


def _leaky_cases(rng, thorough):
    cases = _elementwise_cases(rng, thorough)
    for c, alpha in zip(cases, [0.1, 0.2, 0.05, 0.3]):
        c.args = (c.args[0], alpha)
    return cases


def _leaky_backward_mistakes(case, grads):
    x, alpha = case.args
    d = case.dout
    return {"dx": {"LEAKY_SLOPE": d * (x > 0), "RELU_MASK": d * np.where(d > 0, 1.0, alpha)}}


_LEAKY_RELU = LayerSpec("leaky_relu", ("dx",), _ref.leaky_relu_forward, _ref.leaky_relu_backward, _leaky_cases,
                       lambda c: {}, _leaky_backward_mistakes, n_forward_args=2, inputs_alone=True)


def check_leaky_relu(forward, backward, *, seed=0, points=None, thorough=False):
    """leaky_relu_forward(x, alpha) -> (out, cache); leaky_relu_backward(dout, cache) -> dx."""
    return check_layer(_LEAKY_RELU, forward, backward, seed=seed, points=points, thorough=thorough)


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_cases(rng, thorough):
    return _elementwise_cases(rng, thorough, lambda r, s: 2.0 * r.standard_normal(s))


def _sigmoid_mistakes(case, grads):
    x, = case.args
    d = case.dout
    s = _sig(x)
    return {"dx": {"SIGMOID_ON_OUTPUT": d * _sig(s) * (1 - _sig(s)),
                   "SIGMOID_DERIVATIVE": [d * s, d * (1 - s), d * x * (1 - x), d * s * (1 + s)],
                   "CHAIN_RULE_ADDED": d + s * (1 - s)}}


_SIGMOID = LayerSpec("sigmoid", ("dx",), _ref.sigmoid_forward, _ref.sigmoid_backward, _sigmoid_cases,
                    lambda c: {"SIGN_FLIP": _sig(-c.args[0])}, _sigmoid_mistakes, inputs_alone=True)


def check_sigmoid(forward, backward, *, seed=0, points=None, thorough=False):
    """sigmoid_forward(x) -> (out, cache); sigmoid_backward(dout, cache) -> dx."""
    return check_layer(_SIGMOID, forward, backward, seed=seed, points=points, thorough=thorough)


def _tanh_mistakes(case, grads):
    x, = case.args
    d = case.dout
    t = np.tanh(x)
    return {"dx": {"TANH_DERIVATIVE": [d * (1 - t), d * (1 - x ** 2), d * (1 + t ** 2), d * (1 - np.tanh(t) ** 2)],
                   "CHAIN_RULE_ADDED": d + (1 - t ** 2)}}


_TANH = LayerSpec("tanh", ("dx",), _ref.tanh_forward, _ref.tanh_backward, _sigmoid_cases, lambda c: {},
                 _tanh_mistakes, inputs_alone=True)


def check_tanh(forward, backward, *, seed=0, points=None, thorough=False):
    """tanh_forward(x) -> (out, cache); tanh_backward(dout, cache) -> dx."""
    return check_layer(_TANH, forward, backward, seed=seed, points=points, thorough=thorough)


# ------------------------------------------------------------------------------------------- max-pool


def _pool_routes(x4: np.ndarray, dout4: np.ndarray, pool_h: int, pool_w: int, stride: int) -> dict[str, list]:
    """Wrong ways to route a 2-D max-pool gradient, for x4 (N, C, H, W) and dout4 (N, C, H_out, W_out)."""
    N, C, H, W = x4.shape
    _, _, h_out, w_out = dout4.shape
    routes = {"avg": np.zeros_like(x4), "all": np.zeros_like(x4), "first": np.zeros_like(x4),
              "min": np.zeros_like(x4), "last_window_wins": np.zeros_like(x4)}
    for i in range(h_out):
        for j in range(w_out):
            rs = slice(i * stride, i * stride + pool_h)
            cs = slice(j * stride, j * stride + pool_w)
            win = x4[:, :, rs, cs].reshape(N, C, -1)
            d = dout4[:, :, i, j]
            routes["avg"][:, :, rs, cs] += d[:, :, None, None] / (pool_h * pool_w)
            routes["all"][:, :, rs, cs] += d[:, :, None, None]
            routes["first"][:, :, i * stride, j * stride] += d
            for name, arg in (("min", win.argmin(-1)), ("last_window_wins", win.argmax(-1))):
                r = i * stride + arg // pool_w
                c = j * stride + arg % pool_w
                for n in range(N):
                    for ch in range(C):
                        if name == "min":
                            routes[name][n, ch, r[n, ch], c[n, ch]] += d[n, ch]
                        else:
                            routes[name][n, ch, r[n, ch], c[n, ch]] = d[n, ch]
    return routes


def _pool2d_cases(rng, thorough):
    specs = [((2, 3, 4, 4), 2, 2, 2), ((1, 2, 5, 5), 3, 3, 1)] + ([((1, 1, 2, 6), 2, 3, 3), ((3, 2, 6, 5), 2, 2, 1)]
                                                                  if thorough else [])
    cases = []
    for shape, ph, pw, st in specs:
        x = _distinct(rng, shape)
        out_shape = shape[:2] + ((shape[2] - ph) // st + 1, (shape[3] - pw) // st + 1)
        cases.append(Case(f"x {shape}, pool {ph}x{pw}, stride {st}", (x, ph, pw, st), rng.standard_normal(out_shape),
                          (0,), info={"pool": (ph, pw, st)}))
    return cases


def _pool2d_mistakes(case, grads):
    x, ph, pw, st = case.args
    r = _pool_routes(x, case.dout, ph, pw, st)
    return {"dx": {"MAXPOOL_ROUTING": [r["avg"], r["all"], r["first"], r["min"], r["last_window_wins"]]}}


_MAX_POOL2D = LayerSpec("max_pool2d", ("dx",), _ref.max_pool2d_forward, _ref.max_pool2d_backward, _pool2d_cases,
                       lambda c: {}, _pool2d_mistakes, n_forward_args=4, inputs_alone=True)


def check_max_pool2d(forward, backward, *, seed=0, points=None, thorough=False):
    """max_pool2d_forward(x (N,C,H,W), pool_h, pool_w, stride) -> (out, cache); backward -> dx (N,C,H,W)."""
    return check_layer(_MAX_POOL2D, forward, backward, seed=seed, points=points, thorough=thorough)


def _pool1d_cases(rng, thorough):
    specs = [((2, 3, 8), 2, 2), ((1, 2, 7), 3, 1)] + ([((1, 1, 3), 3, 1), ((3, 2, 9), 3, 2)] if thorough else [])
    cases = []
    for shape, pool, st in specs:
        x = _distinct(rng, shape)
        cases.append(Case(f"x {shape}, pool {pool}, stride {st}", (x, pool, st),
                          rng.standard_normal(shape[:2] + ((shape[2] - pool) // st + 1,)), (0,)))
    return cases


def _pool1d_mistakes(case, grads):
    x, pool, st = case.args
    r = _pool_routes(x[:, :, None, :], case.dout[:, :, None, :], 1, pool, st)
    return {"dx": {"MAXPOOL_ROUTING": [v[:, :, 0, :] for v in r.values()]}}


_MAX_POOL1D = LayerSpec("max_pool1d", ("dx",), _ref.max_pool1d_forward, _ref.max_pool1d_backward, _pool1d_cases,
                       lambda c: {}, _pool1d_mistakes, n_forward_args=3, inputs_alone=True)


def check_max_pool1d(forward, backward, *, seed=0, points=None, thorough=False):
    """max_pool1d_forward(x (N,C,L), pool, stride) -> (out, cache); backward -> dx (N,C,L)."""
    return check_layer(_MAX_POOL1D, forward, backward, seed=seed, points=points, thorough=thorough)


# ------------------------------------------------------------------------------------------- residual


def _residual_cases(rng, thorough):
    shapes = [(4, 3, 5), (3, 4, 2)] + ([(1, 2, 3), (6, 5, 4)] if thorough else [])
    cases = []
    for N, D, H in shapes:
        for _ in range(100):  # redraw until no hidden pre-activation sits within 0.05 of the ReLU kink
            x, W1, b1 = rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal(H)
            if np.min(np.abs(x @ W1 + b1)) > 0.05:
                break
        W2, b2 = rng.standard_normal((H, D)), rng.standard_normal(D)
        cases.append(Case(f"x {x.shape}, hidden {H}", (x, W1, b1, W2, b2), rng.standard_normal((N, D)),
                          (0, 1, 2, 3, 4), N))
    return cases


def _residual_mistakes(case, grads):
    x, W1, b1, W2, b2 = case.args
    d = case.dout
    return {"dx": {"RESIDUAL_NO_IDENTITY": grads[0] - d}}


_RESIDUAL = LayerSpec("residual", ("dx", "dW1", "db1", "dW2", "db2"), _ref.residual_forward, _ref.residual_backward,
                     _residual_cases, lambda c: {"RESIDUAL_NO_IDENTITY": _ref.residual_forward(*c.args)[0] - c.args[0]},
                     _residual_mistakes, n_forward_args=5, inputs_alone=True)


def check_residual(forward, backward, *, seed=0, points=None, thorough=False):
    """residual_forward(x, W1, b1, W2, b2) -> (x + relu(x@W1+b1)@W2 + b2, cache); backward -> 5 grads."""
    return check_layer(_RESIDUAL, forward, backward, seed=seed, points=points, thorough=thorough)


# ------------------------------------------------------------------------------------------- dropout


def _dropout_cases(rng, thorough):
    specs = [((5, 6), 0.5), ((3, 4, 2), 0.2)] + ([((1, 3), 0.0), ((8, 8), 0.9)] if thorough else [])
    cases = []
    for shape, p in specs:
        x = rng.standard_normal(shape)
        gen = np.random.default_rng(int(rng.integers(2 ** 31)))
        cases.append(Case(f"x {shape}, p_drop {p}", (x, p, gen), rng.standard_normal(shape), (0,)))
    return cases


def _dropout_mistakes(case, grads):
    x, p, gen = case.args
    keep = ~np.isclose(grads[0], 0.0) if p > 0 else np.ones(x.shape, bool)
    mask = (copy.deepcopy(gen).random(x.shape) >= p)
    return {"dx": {"DROPOUT_SCALE": case.dout * mask}} if p > 0 and keep.any() else {}


_DROPOUT = LayerSpec("dropout", ("dx",), _ref.dropout_forward, _ref.dropout_backward, _dropout_cases,
                    lambda c: {"DROPOUT_SCALE": c.args[0] * (copy.deepcopy(c.args[2]).random(c.args[0].shape)
                                                             >= c.args[1])},
                    _dropout_mistakes, n_forward_args=3, inputs_alone=True)


def check_dropout(forward, backward, *, seed=0, points=None, thorough=False):
    """dropout_forward(x, p_drop, rng) -> (out, cache) drawing rng.random(x.shape) once and keeping entries
    >= p_drop (scaled by 1/(1-p_drop)); dropout_backward(dout, cache) -> dx."""
    return check_layer(_DROPOUT, forward, backward, seed=seed, points=points, thorough=thorough)
