"""Checks for the batchnorm notebook (07): batchnorm forward (train and eval), its staged and closed-form
backward, the ``dout = ones`` trap, and layernorm.

Student contract (the same as ``reference_impl.batchnorm``)::

    out, cache = batchnorm_forward(x, gamma, beta, *, mode="train", eps=1e-5, momentum=0.9,
                                   running_mean=None, running_var=None)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)            # staged, node by node
    dx, dgamma, dbeta = batchnorm_backward_closed_form(dout, cache)  # the three-term formula
    out, cache = layernorm_forward(x, gamma, beta)                   # eps=1e-5 by default
    dx, dgamma, dbeta = layernorm_backward(dout, cache)

x (N, D), gamma and beta (D,), out and dx (N, D), dgamma and dbeta (D,); everything float64, the BIASED
variance (divide by N). In train mode the new running statistics
``momentum * old + (1 - momentum) * batch_statistic`` (old None: start from zeros for the mean and ones for
the variance) are returned in ``cache["running_mean"]`` and ``cache["running_var"]`` as NEW arrays: the
arguments must not be modified. Eval mode normalizes with the running statistics.

Cache convention: the cache is the student's own business. The backward checks pass the cache returned by
the student's forward, unchanged, to the student's backward; only :func:`check_batchnorm_forward` reads it
(the two running-statistics keys, so the cache must be a dict there). The backward checks run train mode
(``forward(x, gamma, beta)`` with the defaults) on a random upstream gradient, never ``dout = ones`` (with
ones the true dx is 0 and several wrong backwards give 0 too: see :func:`_dout_ones_truths`).

Order of every check (as graders/layers.py): callable and signature, structure, exact shape and float64,
finite values, values against reference_impl with the likely mistake named, and the student's backward
against finite differences of the student's OWN forward ("fix the forward first" / "the mistake is in the
backward"). ``thorough=True`` (hidden tests) adds non-centred, badly scaled inputs (column scales from 1e-2
to 1e3, where eps matters), a batch of two and a single feature.

:func:`grade_pair_case` (one forward/backward case with configurable labels and keyword arguments) is shared
with graders/rnn.py.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from graders.core import (MUTATION_CHECK, GradingError, Report, StudentCodeError, StudentTimeout, array_problem,
                          call_student, close, describe, diagnose, numeric_vjp_safe, own_forward_vjps, rel_error,
                          require_callable, unpack)
from graders.layers import Case, LayerSpec
from reference_impl import batchnorm as _ref
from graders.public.batchnorm import DOUT_ONES_DESCRIPTIONS, DOUT_ONES_OPTIONS, planted_batchnorm_backward

__all__ = [
    "check_batchnorm_forward", "check_batchnorm_backward", "check_batchnorm_backward_closed_form",
    "check_layernorm", "check_dout_ones_answer", "planted_batchnorm_backward", "DOUT_ONES_OPTIONS",
    "grade_pair_case", "check_pair",
]

GRADS = ("dx", "dgamma", "dbeta")
FORWARD_KEYWORDS = ("mode", "eps", "momentum", "running_mean", "running_var")


# =============================================================================================== shared runner


def _silently(fn: Callable, *args: Any) -> Any:
    """Call student code with prints, stderr and warnings swallowed (no time limit of its own: the caller's
    call_student provides it, and a nested one would cancel it)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def _quiet_vjp(f: Callable[[np.ndarray], Any], x: np.ndarray, dout: np.ndarray) -> np.ndarray | None:
    """numeric_vjp_safe with the student's prints swallowed (hundreds of calls must not flood the output)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return numeric_vjp_safe(f, x, dout)


def grade_pair_case(report: Report, *, where: str, forward: Callable, backward: Callable, fwd_args: tuple,
                    dout: np.ndarray, ref_out: np.ndarray, ref_grads: Sequence[np.ndarray],
                    grad_names: Sequence[str], fwd_label: str, bwd_label: str, fwd_check: str = "forward output",
                    out_name: str = "out", fwd_kwargs: Mapping[str, Any] | None = None,
                    bwd_kwargs: Mapping[str, Any] | None = None, fwd_mistakes: Mapping[str, Any] | None = None,
                    bwd_mistakes: Mapping[str, Mapping[str, Any]] | None = None, batch_size: int | None = None,
                    own_vjps: Callable[[], dict[int, np.ndarray]] | None = None, tol: float = 1e-7,
                    own_what: str = "your own forward", grad_subs: Mapping[str, str] | None = None) -> bool:
    """Grade one forward/backward case into ``report`` (sub-checks ``fwd_check`` and ``backward <g>``).

    The student's backward receives the student's own cache. ``own_vjps()`` (called only when something is
    wrong) gives finite-difference VJPs of the student's own forward, index -> array, to tell a wrong forward
    from a wrong backward. When the report watches its inputs (``report.watch_inputs()``), the forward's
    arguments and the backward's (dout and the cache) must come back unchanged. ``grad_subs``: the sub-check of
    each gradient when it is not ``backward <g>``. Returns False when the student's code timed out (stop trying
    further cases).
    """
    watch = report if MUTATION_CHECK in report.checks else None
    subs = {g: (grad_subs or {}).get(g, f"backward {g}") for g in grad_names}
    try:
        res = call_student(forward, *fwd_args, label=fwd_label, notes=report.notes, report=watch,
                           **dict(fwd_kwargs or {}))
        out, cache = unpack(res, (out_name, "cache"), fwd_label)
    except StudentCodeError as exc:
        report.fail(fwd_check, f"{where}: {exc}")
        for g in grad_names:
            report.fail(subs[g], f"{where}: not checked because {fwd_label} failed.")
        return not isinstance(exc, StudentTimeout)
    problem = array_problem(out, ref_out, tol=tol)
    forward_ok = problem is None
    if problem:
        diag = diagnose(out, ref_out, fwd_mistakes or {}, generic=False, tol=max(tol, 1e-6))
        report.fail(fwd_check, f"{where}: {out_name} {problem}{describe(diag)}")
    try:
        res = call_student(backward, dout, cache, label=bwd_label, notes=report.notes, report=watch,
                           **dict(bwd_kwargs or {}))
        grads = unpack(res, grad_names, bwd_label)
    except StudentCodeError as exc:
        for g in grad_names:
            report.fail(subs[g], f"{where}: {exc}")
        return not isinstance(exc, StudentTimeout)

    problems = [array_problem(g, r, tol=tol) for g, r in zip(grads, ref_grads)]
    own: dict[int, np.ndarray] = {}
    if own_vjps is not None and (not forward_ok or any(problems)):
        try:  # under the time limit: a forward that is slow on perturbed inputs must not hang the grader
            own = call_student(own_vjps, label=f"finite differences of {fwd_label}") or {}
        except StudentCodeError:
            own = {}
    for k, (name, got, want, problem) in enumerate(zip(grad_names, grads, ref_grads, problems)):
        numeric_own = own.get(k)
        if problem is None:
            if not forward_ok and numeric_own is not None and not close(got, numeric_own, 1e-5):
                report.notes.append(f"{name} matches the true gradient but not {own_what} (wrong) forward.")
            continue
        diag = diagnose(got, want, (bwd_mistakes or {}).get(name), batch_size=batch_size, tol=max(tol, 1e-6))
        msg = f"{where}: {name} {problem}{describe(diag)}"
        if numeric_own is not None and close(got, numeric_own, 1e-5):
            if not forward_ok:
                msg += (f"\n      Your backward IS consistent with {own_what} (finite differences agree), so fix "
                        f"the forward first.")
        elif numeric_own is not None and forward_ok:
            msg += "\n      Your forward is right, so the mistake is in the backward."
        report.fail(subs[name], msg)
    return True


def check_pair(spec: LayerSpec, forward: Callable, backward: Callable, *, seed: int = 0,
               points: float | None = None, thorough: bool = False) -> float | None:
    """Grade a forward/backward pair against ``spec`` (graders.layers.LayerSpec) with :func:`grade_pair_case`:
    sub-checks "forward output" and one per gradient, plus the course-wide "inputs left unchanged" (the forward's
    arguments, and the backward's dout and cache). The backward receives the student's own cache and a random
    upstream gradient; a wrong gradient is compared with finite differences of the student's own forward."""
    require_callable(forward, f"{spec.name}_forward", spec.n_forward_args)
    require_callable(backward, f"{spec.name}_backward", 2)
    report = Report(f"{spec.name} forward/backward", points, seed)
    report.declare("forward output")
    for g in spec.grad_names:
        report.declare(f"backward {g}")
    report.watch_inputs()
    for case in spec.make_cases(np.random.default_rng(seed), thorough):
        ref_out, ref_cache = spec.ref_forward(*copy.deepcopy(case.args))
        ref_grads = spec.ref_backward(case.dout, ref_cache)
        ref_grads = ref_grads if isinstance(ref_grads, tuple) else (ref_grads,)
        ok = grade_pair_case(
            report, where=f"case {case.label}", forward=forward, backward=backward, fwd_args=case.args,
            dout=case.dout, ref_out=ref_out, ref_grads=ref_grads, grad_names=spec.grad_names,
            fwd_label=f"{spec.name}_forward", bwd_label=f"{spec.name}_backward",
            fwd_mistakes=spec.forward_mistakes(case), bwd_mistakes=spec.backward_mistakes(case, ref_grads),
            batch_size=case.batch_size,
            own_vjps=lambda case=case: own_forward_vjps(forward, case.args, case.wrt, case.dout))
        if not ok:
            break
    return report.finish()


# =============================================================================================== inputs and variants


def _gamma(rng: np.random.Generator, D: int) -> np.ndarray:
    """|gamma| in [0.5, 2], never 1 (so that forgetting gamma shows)."""
    return rng.uniform(0.5, 2.0, D) * rng.choice([-1.0, 1.0], D)


def _columns(rng: np.random.Generator, N: int, D: int, scale: Any = 1.0, shift: Any = 0.0) -> np.ndarray:
    """Non-centred inputs: scale * (normal + per-column offset) + shift (scale, shift scalars or (D,))."""
    z = rng.standard_normal((N, D)) + rng.uniform(-1, 1, D)
    return z * np.asarray(scale, dtype=np.float64) + np.asarray(shift, dtype=np.float64)


def _moments(x: np.ndarray, axis: int, eps: float, ddof: int = 0):
    n = x.shape[axis]
    xc = x - x.mean(axis=axis, keepdims=True)
    var = (xc ** 2).sum(axis=axis, keepdims=True) / (n - ddof)
    return xc, var, 1.0 / np.sqrt(var + eps)


def _norm_out_variants(x, gamma, beta, eps, axis) -> dict[str, list[np.ndarray]]:
    """Wrong forwards of batchnorm (axis 0) or layernorm (axis 1), by diagnosis code."""
    n = x.shape[axis]
    xc, var, s = _moments(x, axis, eps)
    out = {"BN_EPS": [gamma * xc / (np.sqrt(var) + eps) + beta, gamma * xc / np.sqrt(var) + beta]}
    if eps != 1e-5:
        out["BN_EPS"].append(gamma * xc / np.sqrt(var + 1e-5) + beta)
    if n >= 2:
        xcu, _, su = _moments(x, axis, eps, ddof=1)
        out["BN_BESSEL"] = [gamma * xcu * su + beta]
    if x.shape[1 - axis] >= 2:
        xo, _, so = _moments(x, 1 - axis, eps)
        out["NORM_AXIS"] = [gamma * xo * so + beta]
    return {k: v for k, v in out.items() if v}


def _norm_dx(dout, x, gamma, eps, axis, *, bessel_fwd=False, bessel_bwd=False, mean_term=True, var_term=True,
             use_gamma=True) -> np.ndarray:
    """dx of a normalization over ``axis``, optionally with one of the classic mistakes built in.

    var = sum(xc**2) / n (n - 1 with bessel_fwd), s = 1 / sqrt(var + eps), xhat = xc * s:
    dxc = s * dxhat - s**3 * c * xc * sum(dxhat * xc)  (c = 1/n, or 1/(n-1) with either Bessel flag),
    dx = dxc - mean(dxc)  (the mean term).
    """
    n = x.shape[axis]
    xc, _, s = _moments(x, axis, eps, ddof=1 if bessel_fwd else 0)
    dxhat = dout * gamma if use_gamma else dout
    c = 1.0 / (n - 1) if (bessel_fwd or bessel_bwd) else 1.0 / n
    dxc = dxhat * s
    if var_term:
        dxc = dxc - s ** 3 * c * xc * (dxhat * xc).sum(axis=axis, keepdims=True)
    if mean_term:
        dxc = dxc - dxc.mean(axis=axis, keepdims=True)
    return dxc


def _norm_backward_mistakes(x, gamma, dout, eps, axis) -> dict[str, dict[str, list[np.ndarray]]]:
    """Wrong gradients of batchnorm (axis 0) or layernorm (axis 1), per output, by diagnosis code."""
    n = x.shape[axis]
    with np.errstate(all="ignore"):
        dx = {
            "BN_MISSING_MEAN_TERM": [_norm_dx(dout, x, gamma, eps, axis, mean_term=False),
                                     _norm_dx(dout, x, gamma, eps, axis, mean_term=False, var_term=False)],
            "BN_MISSING_VAR_TERM": [_norm_dx(dout, x, gamma, eps, axis, var_term=False)],
            "BN_GAMMA_FORGOTTEN": [_norm_dx(dout, x, gamma, eps, axis, use_gamma=False),
                                   _norm_dx(dout, x, gamma, eps, axis, use_gamma=False) * gamma ** 2],
        }
        if n >= 2:
            dx["BN_BESSEL"] = [_norm_dx(dout, x, gamma, eps, axis, bessel_fwd=True),
                               _norm_dx(dout, x, gamma, eps, axis, bessel_bwd=True)]
        if x.shape[1 - axis] >= 2:
            dx["NORM_AXIS"] = [_norm_dx(dout, x, gamma, eps, 1 - axis)]
        xc, _, s = _moments(x, axis, eps)
        xhat = xc * s
    sums = {"BIAS_SUM_AXIS": [(dout * xhat).sum(axis=1)], "BIAS_KEEPDIMS": [(dout * xhat).sum(axis=0, keepdims=True)]}
    return {"dx": dx, "dgamma": sums,
            "dbeta": {"BIAS_SUM_AXIS": [dout.sum(axis=1)], "BIAS_KEEPDIMS": [dout.sum(axis=0, keepdims=True)]}}


# =============================================================================================== forward


def _require_keywords(fn: Callable, name: str, n_args: int, keywords: Sequence[str]) -> None:
    """GradingError unless ``fn`` accepts n_args positional arguments plus these keyword arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*range(n_args), **{k: None for k in keywords})
    except TypeError:
        missing = [k for k in keywords if k not in sig.parameters]
        raise GradingError(
            f"{name}: it must accept the keyword argument(s) {', '.join(keywords)}"
            f"{' (missing: ' + ', '.join(missing) + ')' if missing else ''}; its signature is "
            f"{getattr(fn, '__name__', name)}{sig}. Expected: {name}(x, gamma, beta, *, mode='train', eps=1e-5, "
            f"momentum=0.9, running_mean=None, running_var=None).") from None


def _changed(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        return not (isinstance(after, np.ndarray) and after.shape == before.shape and after.dtype == before.dtype
                    and np.array_equal(after, before, equal_nan=True))
    return False


def _call_watching(fn: Callable, args: tuple, kwargs: dict, label: str, report: Report) -> Any:
    """call_student under the course-wide rule (``report`` watches its inputs), with a note naming the
    arguments the student's function changed in place."""
    after: dict[str, Any] = {}
    result = call_student(fn, *args, label=label, notes=report.notes, after=after, report=report, **kwargs)
    if "args" in after:
        a1, k1 = after["args"], after["kwargs"]
        changed = [name for name, b, a in zip(("x", "gamma", "beta"), args, a1) if _changed(b, a)]
        changed += [k for k in kwargs if _changed(kwargs[k], k1.get(k))]
        if changed:
            report.notes.append(f"{label} changed {', '.join(changed)} in place: return the new running statistics "
                                f"as new arrays (new_mean = momentum * running_mean + (1 - momentum) * mu), never "
                                f"update the caller's arrays with *= or [...] =.")
    return result


def _bn_forward_cases(rng: np.random.Generator, thorough: bool) -> list[dict]:
    """Train and eval cases: x, gamma, beta, keyword arguments. Kinds (each in the visible test): running
    statistics given or None, eps and momentum other than the defaults, badly scaled columns (1e-2 to 1e3), a
    batch of two, a single feature, eval mode with a batch of one."""
    specs = [("train", 6, 4, 1.5, 0.5, 0.9, 1e-5, True), ("train", 5, 3, 2.0, -1.0, 0.8, 1e-3, False),
             ("eval", 5, 3, 1.0, 0.5, 0.9, 1e-5, True), ("eval", 4, 6, 2.0, 1.0, 0.9, 1e-3, True),
             ("train", 8, 3, np.array([1e-2, 1.0, 1e3]), np.array([5.0, -20.0, 3e3]), 0.7, 1e-5, True),
             ("train", 2, 5, 1.0, 0.0, 0.9, 1e-5, True), ("train", 7, 1, 3.0, 2.0, 0.5, 1e-5, False),
             ("eval", 1, 4, 1.0, 0.0, 0.9, 1e-5, True)]
    if thorough:
        specs += [("train", 9, 2, np.array([1e3, 1e-2]), np.array([-4e3, 1.0]), 0.95, 1e-5, False),
                  ("train", 2, 3, 2.0, 1.0, 0.6, 1e-4, False), ("train", 5, 1, 1.0, -3.0, 0.9, 1e-5, True),
                  ("eval", 1, 3, 2.0, 1.0, 0.9, 1e-3, True), ("train", 7, 5, 0.5, 2.0, 0.99, 1e-5, True)]
    cases = []
    for mode, N, D, scale, shift, momentum, eps, given in specs:
        x = _columns(rng, N, D, scale, shift)
        gamma, beta = _gamma(rng, D), rng.standard_normal(D)
        kw = {"mode": mode, "eps": eps, "momentum": momentum, "running_mean": None, "running_var": None}
        if given or mode == "eval":
            kw["running_mean"] = rng.standard_normal(D) * np.asarray(scale) + np.asarray(shift)
            kw["running_var"] = rng.uniform(0.5, 2.0, D) * np.asarray(scale) ** 2
        cases.append({"x": x, "gamma": gamma, "beta": beta, "kw": kw})
    return cases


def _case_label(c: dict) -> str:
    kw = c["kw"]
    given = "given" if kw["running_mean"] is not None else "None"
    return (f"mode={kw['mode']!r}, x {c['x'].shape}, eps={kw['eps']:g}, momentum={kw['momentum']:g}, running "
            f"stats {given}")


def _running_candidates(c: dict, which: str) -> dict[str, list[np.ndarray]]:
    x, kw = c["x"], c["kw"]
    m, D = kw["momentum"], x.shape[1]
    N = x.shape[0]
    if which == "mean":
        stat, alt = x.mean(axis=0), None
        old = kw["running_mean"] if kw["running_mean"] is not None else np.zeros(D)
        wrong_start = None if kw["running_mean"] is not None else np.ones(D)
    else:
        stat = x.var(axis=0)
        alt = x.var(axis=0, ddof=1) if N >= 2 else None
        old = kw["running_var"] if kw["running_var"] is not None else np.ones(D)
        wrong_start = None if kw["running_var"] is not None else np.zeros(D)
    update = [(1 - m) * old + m * stat, stat, old.copy()]
    if which == "var":
        update.append(m * old + (1 - m) * np.sqrt(stat))
        update.append(m * old + (1 - m) * (stat + kw["eps"]))
    if wrong_start is not None:
        update.append(m * wrong_start + (1 - m) * stat)
    out = {"BN_RUNNING_UPDATE": update}
    if alt is not None:
        out = {"BN_BESSEL": [m * old + (1 - m) * alt], **out}
    return out


def check_batchnorm_forward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``batchnorm_forward(x, gamma, beta, *, mode="train", eps=1e-5, momentum=0.9, running_mean=None,
    running_var=None) -> (out, cache)``.

    x (N, D); gamma, beta, running_mean, running_var (D,) or None; out (N, D) float64. Train mode: batch mean
    and BIASED batch variance; cache must be a dict whose "running_mean" and "running_var" are NEW (D,) arrays
    ``momentum * old + (1 - momentum) * batch_stat`` (old None: zeros for the mean, ones for the variance).
    Eval mode: normalize with running_mean and running_var. No argument may be modified in place.

    Sub-checks (weight 1 each): train out, running_mean, running_var, eval out; and the course-wide "inputs left
    unchanged" (25 %, INPUT_MUTATED; a note names the arguments changed).
    """
    require_callable(fn, "batchnorm_forward", 3)
    _require_keywords(fn, "batchnorm_forward", 3, FORWARD_KEYWORDS)
    report = Report("batchnorm forward (train and eval)", points, seed)
    for sub in ("train out", "running_mean", "running_var", "eval out"):
        report.declare(sub)
    report.watch_inputs()
    for c in _bn_forward_cases(np.random.default_rng(seed), thorough):
        where = f"case {_case_label(c)}"
        kw = c["kw"]
        train = kw["mode"] == "train"
        ref_out, ref_cache = _ref.batchnorm_forward(c["x"], c["gamma"], c["beta"], **copy.deepcopy(kw))
        out_sub = "train out" if train else "eval out"
        try:
            res = _call_watching(fn, (c["x"], c["gamma"], c["beta"]), copy.deepcopy(kw), "batchnorm_forward", report)
            out, cache = unpack(res, ("out", "cache"), "batchnorm_forward")
        except StudentCodeError as exc:
            report.fail(out_sub, f"{where}: {exc}")
            if train:
                for s in ("running_mean", "running_var"):
                    report.fail(s, f"{where}: not checked because batchnorm_forward failed.")
            if isinstance(exc, StudentTimeout):
                break
            continue
        problem = array_problem(out, ref_out)
        if problem:
            if train:
                cands = _norm_out_variants(c["x"], c["gamma"], c["beta"], kw["eps"], 0)
            else:
                cands = _eval_candidates(c)
            diag = diagnose(out, ref_out, cands, generic=False, tol=1e-6)
            report.fail(out_sub, f"{where}: out {problem}{describe(diag)}")
        if not train:
            continue
        for which in ("mean", "var"):
            sub = f"running_{which}"
            want = ref_cache[sub]
            if not isinstance(cache, dict):
                report.fail(sub, f"{where}: the cache is a {type(cache).__name__}; in this course it must be a dict "
                            f"whose keys 'running_mean' and 'running_var' hold the NEW running statistics (the "
                            f"backward may use any other keys you like).")
                continue
            if sub not in cache:
                report.fail(sub, f"{where}: cache has no key {sub!r} (keys: {sorted(map(str, cache))[:8]}); store the "
                            f"updated running statistic there.")
                continue
            problem = array_problem(cache[sub], want)
            if problem:
                diag = diagnose(cache[sub], want, _running_candidates(c, which), generic=False, tol=1e-6)
                extra = ""
                if diag is not None and diag.code == "BN_BESSEL":
                    extra = ("\n      (PyTorch stores the unbiased variance in running_var; this course, like cs231n, "
                             "uses the biased batch variance there too.)")
                report.fail(sub, f"{where}: cache[{sub!r}] {problem}{describe(diag)}{extra}")
    return report.finish()


def _eval_candidates(c: dict) -> dict[str, list[np.ndarray]]:
    x, gamma, beta, kw = c["x"], c["gamma"], c["beta"], c["kw"]
    rm, rv, eps = kw["running_mean"], kw["running_var"], kw["eps"]
    out: dict[str, list[np.ndarray]] = {"BN_EVAL_BATCH_STATS": [], "BN_EPS": [
        gamma * (x - rm) / (np.sqrt(rv) + eps) + beta, gamma * (x - rm) / np.sqrt(rv) + beta]}
    if eps != 1e-5:
        out["BN_EPS"].append(gamma * (x - rm) / np.sqrt(rv + 1e-5) + beta)
    if x.shape[0] >= 2:
        for ddof in (0, 1):
            xc, _, s = _moments(x, 0, eps, ddof)
            out["BN_EVAL_BATCH_STATS"].append(gamma * xc * s + beta)
    return {k: v for k, v in out.items() if v}


# =============================================================================================== backward


def _bn_backward_cases(rng: np.random.Generator, thorough: bool) -> list[Case]:
    """Train-mode cases (x, gamma, beta) with a random dout (never ones). Kinds (each in the visible test):
    ordinary, badly scaled and non-centred (large, and column scales from 1e-2 to 1e2), a batch of two, a single
    feature."""
    specs = [(6, 4, 1.5, 0.5), (8, 5, 1e3, 3e3), (7, 3, np.array([1e-2, 1.0, 1e2]), np.array([5.0, -20.0, 1e3])),
             (2, 3, 1.0, 0.0), (4, 1, 3.0, 2.0)]
    if thorough:
        specs += [(5, 3, 2.0, -1.0), (6, 2, 2e3, -1e3), (5, 2, np.array([1e2, 1e-2]), np.array([0.0, 3.0])),
                  (2, 4, 3.0, 1.0), (6, 1, 0.5, -2.0)]
    cases = []
    for N, D, scale, shift in specs:
        x = _columns(rng, N, D, scale, shift)
        gamma, beta = _gamma(rng, D), rng.standard_normal(D)
        dout = rng.standard_normal((N, D))
        label = f"x {x.shape}" + ("" if np.ndim(scale) == 0 and scale < 10 else ", badly scaled and non-centred")
        cases.append(Case(label, (x, gamma, beta), dout, (0, 1, 2), N))
    return cases


def _check_bn_backward(forward, backward, *, exercise: str, bwd_name: str, seed: int, points, thorough: bool):
    require_callable(forward, "batchnorm_forward", 3)
    require_callable(backward, bwd_name, 2)
    report = Report(exercise, points, seed)
    report.declare("forward output")
    for g in GRADS:
        report.declare(f"backward {g}")
    report.watch_inputs()
    for case in _bn_backward_cases(np.random.default_rng(seed), thorough):
        x, gamma, beta = case.args
        ref_out, ref_cache = _ref.batchnorm_forward(x, gamma, beta)
        ref_grads = _ref.batchnorm_backward(case.dout, ref_cache)
        ok = grade_pair_case(
            report, where=f"case {case.label} (train mode)", forward=forward, backward=backward, fwd_args=case.args,
            dout=case.dout, ref_out=ref_out, ref_grads=ref_grads, grad_names=GRADS, fwd_label="batchnorm_forward",
            bwd_label=bwd_name, fwd_mistakes=_norm_out_variants(x, gamma, beta, 1e-5, 0),
            bwd_mistakes=_norm_backward_mistakes(x, gamma, case.dout, 1e-5, 0), batch_size=case.batch_size,
            own_vjps=lambda case=case: own_forward_vjps(forward, case.args, case.wrt, case.dout))
        if not ok:
            break
    return report.finish()


def check_batchnorm_backward(forward, backward, *, seed: int = 0, points: float | None = None,
                             thorough: bool = False):
    """Grade ``batchnorm_forward(x, gamma, beta) -> (out, cache)`` (train mode, defaults) and the STAGED
    ``batchnorm_backward(dout, cache) -> (dx (N, D), dgamma (D,), dbeta (D,))``.

    The backward receives the cache returned by the student's own forward. dout is random (never ones).
    Sub-checks (weight 1 each): forward output, backward dx, backward dgamma, backward dbeta; inputs left unchanged.
    """
    return _check_bn_backward(forward, backward, exercise="batchnorm backward (staged)",
                              bwd_name="batchnorm_backward", seed=seed, points=points, thorough=thorough)


def check_batchnorm_backward_closed_form(forward, backward, *, seed: int = 0, points: float | None = None,
                                         thorough: bool = False):
    """Grade ``batchnorm_forward(x, gamma, beta) -> (out, cache)`` (train mode, defaults) and the CLOSED-FORM
    ``batchnorm_backward_closed_form(dout, cache) -> (dx (N, D), dgamma (D,), dbeta (D,))`` with
    dx = gamma / (N * sqrt(var + eps)) * (N * dout - sum(dout) - xhat * sum(dout * xhat)) (sums over the batch).

    Same cases and sub-checks as :func:`check_batchnorm_backward`.
    """
    return _check_bn_backward(forward, backward, exercise="batchnorm backward (closed form)",
                              bwd_name="batchnorm_backward_closed_form", seed=seed, points=points,
                              thorough=thorough)


# =============================================================================================== dout = ones


def _planted_backward(name: str) -> Callable:
    """The grader's own copy of a planted backward, ``(dout, cache) -> (dx, dgamma, dbeta)`` on the reference
    forward's cache; ``name`` is one of DOUT_ONES_OPTIONS or "correct" (the notebook's copy,
    graders.public.batchnorm.planted_batchnorm_backward, has only the wrong ones and takes x)."""
    if name != "correct" and name not in DOUT_ONES_OPTIONS:
        raise ValueError(f"unknown planted backward {name!r}; choose from {('correct',) + DOUT_ONES_OPTIONS}")
    flags = {"correct": {}, "missing_mean_term": {"mean_term": False}, "missing_var_term": {"var_term": False},
             "gamma_forgotten": {"use_gamma": False}, "bessel": {"bessel_fwd": True}, "sign_flip": {}}[name]

    def backward(dout, cache):
        _, dgamma, dbeta = _ref.batchnorm_backward(dout, cache)
        dx = _norm_dx(np.asarray(dout, dtype=np.float64), cache["x"], cache["gamma"], cache["eps"], 0, **flags)
        return (-dx if name == "sign_flip" else dx), dgamma, dbeta

    backward.__name__ = f"batchnorm_backward_{name}"
    backward.__doc__ = DOUT_ONES_DESCRIPTIONS.get(name, "the correct batchnorm backward")
    return backward


def _dout_ones_truths(*, seed: int = 0, N: int = 6, D: int = 4) -> dict[str, dict[str, Any]]:
    """What a gradient check with ``dout = ones`` sees, for the correct backward and each planted mistake.

    Returns ``{name: {"max_abs_dx_ones": float, "passes_ones_check": bool, "rel_error_random": float,
    "passes_random_check": bool}}`` for "correct" and every name in DOUT_ONES_OPTIONS, on non-centred
    train-mode inputs. With dout = ones the true dx is 0 (sum(out) = N * sum(beta) does not depend on x), so
    "passes the ones check" means dx is 0 up to rounding (below 1e-9 of the gradient's natural scale
    |gamma| / std); "passes the random check" means rel_error against the true dx with a random dout < 1e-7.
    """
    rng = np.random.default_rng(seed)
    x = _columns(rng, N, D, 2.0, 1.0)
    gamma, beta = _gamma(rng, D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    _, cache = _ref.batchnorm_forward(x, gamma, beta)
    true_random = _ref.batchnorm_backward(dout, cache)[0]
    scale = float(np.max(np.abs(gamma) * cache["inv_std"]))
    out = {}
    for name in ("correct",) + DOUT_ONES_OPTIONS:
        bwd = _planted_backward(name)
        dx_ones = bwd(np.ones((N, D)), cache)[0]
        err = rel_error(bwd(dout, cache)[0], true_random)
        m = float(np.max(np.abs(dx_ones)))
        out[name] = {"max_abs_dx_ones": m, "passes_ones_check": m <= 1e-9 * scale,
                     "rel_error_random": err, "passes_random_check": err < 1e-7}
    return out


def check_dout_ones_answer(passes, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the answer to "which of these wrong batchnorm backwards PASS a gradient check that uses dout = ones?".

    ``passes``: a set (or list/tuple) of names from DOUT_ONES_OPTIONS (an empty set if none). One sub-check per
    option (weight 1): the option is in the set exactly when its dx with dout = ones is 0 like the true dx
    (computed by :func:`_dout_ones_truths`, never hard-coded). ``thorough`` is accepted for uniformity.
    """
    report = Report("dout = ones trap", points, seed)
    if passes is None:
        raise GradingError("dout = ones trap: got None. Assign a set of option names, e.g. {'bessel'} (or set() "
                           "for none).")
    if isinstance(passes, str):
        passes = {passes}
    if isinstance(passes, dict) or not isinstance(passes, (set, frozenset, list, tuple)):
        raise GradingError(f"dout = ones trap: expected a set of option names such as {{'bessel', 'sign_flip'}}, got "
                           f"{type(passes).__name__}.")
    chosen = set()
    for p in passes:
        if not isinstance(p, str) or p.strip().lower() not in DOUT_ONES_OPTIONS:
            raise GradingError(f"dout = ones trap: unknown option {p!r}; the options are "
                               f"{', '.join(DOUT_ONES_OPTIONS)}.")
        chosen.add(p.strip().lower())
    truths = _dout_ones_truths(seed=seed)
    for name in DOUT_ONES_OPTIONS:
        t = truths[name]
        report.declare(name)
        if (name in chosen) != t["passes_ones_check"]:
            if t["passes_ones_check"]:
                why = (f"with dout = ones this wrong backward gives max|dx| = {t['max_abs_dx_ones']:.1e}, zero like "
                       f"the true dx, so a check with dout = ones PASSES it (only a random dout catches it: "
                       f"rel_error {t['rel_error_random']:.1e}).")
            else:
                why = (f"with dout = ones this backward gives max|dx| = {t['max_abs_dx_ones']:.3g} where the true "
                       f"dx is 0, so even the ones check catches it.")
            report.fail(name, f"{DOUT_ONES_DESCRIPTIONS[name]}: {why}")
    return report.finish()


# =============================================================================================== layernorm


def _layernorm_cases(rng: np.random.Generator, thorough: bool) -> list[Case]:
    """Kinds (each in the visible test): ordinary, a batch of one, large and non-centred rows, rows of tiny spread
    (where eps matters)."""
    specs = [(4, 5, 1.0, 0.5), (1, 4, 1.0, 0.0), (5, 3, 1e3, 3e3), (2, 8, 1e-2, 5.0)]
    if thorough:
        specs += [(3, 6, 2.0, -1.0), (1, 7, 2.0, 1.0), (4, 4, 2e3, -1e3), (3, 5, 1e-2, -2.0)]
    cases = []
    for N, D, scale, shift in specs:
        x = (rng.standard_normal((N, D)) + rng.uniform(-1, 1, (N, 1))) * scale * rng.uniform(0.5, 2, (N, 1)) + shift
        cases.append(Case(f"x {(N, D)}", (x, _gamma(rng, D), rng.standard_normal(D)), rng.standard_normal((N, D)),
                          (0, 1, 2), None))
    return cases


_LAYERNORM = LayerSpec(
    "layernorm", GRADS, _ref.layernorm_forward, _ref.layernorm_backward, _layernorm_cases,
    lambda c: _norm_out_variants(*c.args, 1e-5, 1),
    lambda c, g: _norm_backward_mistakes(c.args[0], c.args[1], c.dout, 1e-5, 1), n_forward_args=3)


def check_layernorm(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``layernorm_forward(x (N,D), gamma (D,), beta (D,)) -> (out (N,D), cache)`` (each ROW normalized
    over its D features, biased variance, eps=1e-5) and ``layernorm_backward(dout, cache) -> (dx, dgamma,
    dbeta)``. The backward receives the student's own cache. Sub-checks: forward output, dx, dgamma, dbeta, inputs
    left unchanged."""
    return check_pair(_LAYERNORM, forward, backward, seed=seed, points=points, thorough=thorough)
