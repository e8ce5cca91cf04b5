"""Checks of notebook 13, part 2: losses at tensor level, each with its classic mistake named.

- :func:`check_cross_entropy`: mean softmax cross-entropy through logsumexp, stable for a class 1000 ahead;
- :func:`check_loss_derivatives`: two derivatives in SymPy (logsumexp's gradient is the softmax; sigmoid + BCE's
  gradient is sigmoid(z) - y), compared with ``sympy.diff`` of the losses;
- :func:`check_sigmoid_bce`: sigmoid + binary cross-entropy from logits in the stable form;
- :func:`check_label_smoothing`: cross-entropy against smoothed targets, gradient (p - q) / N;
- :func:`check_huber`: the Huber loss and its clipped gradient.

Every loss returns ``(loss, grad)`` with the loss a MEAN (over rows for the softmax losses, over every entry for
BCE and Huber). Expected values come from reference_impl.losses; machinery from graders.exercises.tensor_backprop.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from graders import answers, diagnoses
from graders.core import StudentCodeError, array_problem, describe, real_number, require_callable, unpack
from graders.exercises.tensor_backprop import _Grading, _Stop, _named, _numeric_hint, _scalar_problem
from reference_impl import losses as _ref_losses

__all__ = ["check_cross_entropy", "check_loss_derivatives", "check_sigmoid_bce", "check_label_smoothing",
           "check_huber", "DERIVATION_KEYS", "derivation_symbols"]

LARGE = 1000.0
OFFSET = 3e8      # a constant added to every logit: softmax ignores it, finite differences lose their digits to it
HUGE_TERM = 2e9   # one entry that adds a huge constant part to a mean loss
SIMPLIFY_SECONDS = 0.04  # per symbolic comparison (a fork); equality is then decided at 20 random points


def _loss_and_grad(g: _Grading, fn, args, label: str, where: str, subs) -> tuple | None:
    """Call a loss function; (loss, grad) or None after failing ``subs``."""
    ok, res = g.call(fn, *args, label=label, fail=subs, where=where)
    if not ok:
        return None
    try:
        return unpack(res, ("loss", "grad"), label)
    except StudentCodeError as exc:
        for n in subs:
            g.fail(n, f"{where}: {exc}")
        return None


def _onehot(y: np.ndarray, C: int) -> np.ndarray:
    out = np.zeros((len(y), C))
    out[np.arange(len(y)), y] = 1.0
    return out


def _softmax(s: np.ndarray) -> np.ndarray:
    return _ref_losses.softmax(s)


def _labels(rng: np.random.Generator, N: int, C: int) -> np.ndarray:
    y = rng.integers(0, C, N).astype(np.int64)
    y[: min(N, C)] = np.arange(min(N, C))  # every class appears
    return rng.permutation(y)


# ============================================================================================ cross-entropy

_CE_SUBS = ("loss, ordinary logits", "dscores", "large logits (a class 1000 ahead)")


def _ce_cases(rng: np.random.Generator, thorough: bool):
    out = []
    for N, C in [(5, 3)] + ([(8, 6), (1, 4)] if thorough else []):
        out.append((_CE_SUBS[0], rng.standard_normal((N, C)) * 2, _labels(rng, N, C)))
    for N, C in [(4, 5)] + ([(6, 3)] if thorough else []):
        s = rng.standard_normal((N, C))
        y = _labels(rng, N, C)
        for i in range(N):  # the true class 1000 behind (odd rows) or 1000 ahead (even rows)
            j = (y[i] + 1) % C
            if i % 2:
                s[i, j] += LARGE
            else:
                s[i, y[i]] += LARGE
        for shift in (LARGE, -LARGE):  # and the whole batch shifted by +1000 (exp overflows), -1000 (underflows)
            out.append((_CE_SUBS[2], s + shift, y))
    for N, C in [(4, 5)] + ([(6, 4)] if thorough else []):  # the analytic gradient, not finite differences
        out.append((_CE_SUBS[1], rng.standard_normal((N, C)) * 2 + OFFSET, _labels(rng, N, C)))
    return out


def check_cross_entropy(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``cross_entropy(scores, y) -> (loss, dscores)``.

    Contract: scores float64 (N, C) logits, y int64 (N,) labels. loss = mean over rows of
    ``logsumexp(scores_i) - scores_i[y_i]`` (a float), dscores = (softmax(scores) - onehot(y)) / N (N, C).
    Exact for logits of any size: rows where a wrong class is 1000 ahead of the true one (the true class's
    probability underflows to 0 in float64) and batches shifted by +-1000. A batch shifted by OFFSET = 3e8 (which
    softmax ignores) is where a finite-difference dscores fails at every step size. Inputs unchanged.

    Sub-checks: "loss, ordinary logits", "dscores", "large logits (a class 1000 ahead)" (loss and dscores), and
    "inputs left unchanged". Named mistakes: LOG_SOFTMAX_UNDERFLOW (log of an underflowed probability, or a clipped
    one), SOFTMAX_UNSTABLE (exp overflow), SOFTMAX_GRAD_NO_ONEHOT, MISSING_1_OVER_N, SIGN_FLIP,
    NUMERIC_NOT_ANALYTIC.
    """
    require_callable(fn, "cross_entropy", 2)
    g = _Grading("cross-entropy through logsumexp", points, seed, _CE_SUBS)
    label = "cross_entropy()"
    try:
        for sub, s, y in _ce_cases(np.random.default_rng(seed), thorough):
            large = sub == _CE_SUBS[2]
            offset = sub == _CE_SUBS[1]
            where = f"scores {s.shape}" + (" with logits around 1e3" if large else "") + (
                f" with logits around {OFFSET:g} (a constant offset: softmax ignores it)" if offset else "")
            subs = [sub] if large or offset else [sub, _CE_SUBS[1]]
            res = _loss_and_grad(g, fn, (s, y), label, where, subs)
            if res is None:
                continue
            loss, dscores = res
            want, want_d = _ref_losses.softmax_cross_entropy(s, y)
            N, C = s.shape
            problem = _scalar_problem(loss, want)
            if problem:
                v = real_number(loss)
                if large and (v is None or v < want) and g.passed(_CE_SUBS[0]):
                    nan = isinstance(loss, (float, np.floating)) and math.isnan(float(loss))
                    problem += describe(diagnoses.get("SOFTMAX_UNSTABLE" if nan else "LOG_SOFTMAX_UNDERFLOW"))
                g.fail(_CE_SUBS[0] if offset else sub, f"{where}: {problem}")
            problem = array_problem(dscores, want_d)
            if problem:
                p = _softmax(s)
                cands = {"SOFTMAX_GRAD_NO_ONEHOT": p / N, "MISSING_1_OVER_N": want_d * N}
                text = _named(problem, dscores, want_d, cands, batch_size=N)
                if large and "Likely mistake" not in text and not np.all(np.isfinite(np.asarray(dscores, float))):
                    text += describe(diagnoses.get("SOFTMAX_UNSTABLE"))
                text += _numeric_hint(offset, text, g.passed(_CE_SUBS[1]))
                g.fail(sub if large else _CE_SUBS[1], f"{where}: dscores {text}")
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ SymPy derivations

DERIVATION_KEYS = ("dlse_dz1", "dbce_dz")


def derivation_symbols() -> dict[str, sp.Symbol]:
    """The symbols the derivation answers may use: z1, z2, z3 (logits), z (one logit), y (its target)."""
    return {n: sp.Symbol(n, real=True) for n in ("z1", "z2", "z3", "z", "y")}


@lru_cache(maxsize=1)
def _derivations() -> tuple[dict, dict]:
    S = derivation_symbols()
    z1, z2, z3, z, y = (S[n] for n in ("z1", "z2", "z3", "z", "y"))
    lse = sp.log(sp.exp(z1) + sp.exp(z2) + sp.exp(z3))
    sig = 1 / (1 + sp.exp(-z))
    bce = -y * sp.log(sig) - (1 - y) * sp.log(1 - sig)
    expected = {"dlse_dz1": sp.diff(lse, z1), "dbce_dz": sp.diff(bce, z)}
    mistakes = {
        "dlse_dz1": {"the numerator alone: the denominator of the softmax is missing": sp.exp(z1),
                     "the derivative of log taken as 1 / (sum of exponentials) only, without the inner "
                     "derivative exp(z1)": 1 / (sp.exp(z1) + sp.exp(z2) + sp.exp(z3)),
                     "SIGN_FLIP": -expected["dlse_dz1"]},
        "dbce_dz": {"DL_DP_NOT_DL_DZ": -y / sig + (1 - y) / (1 - sig),
                    "SIGN_FLIP": y - sig,
                    "SIGMOID_DERIVATIVE": sig * (1 - sig)},
    }
    return expected, mistakes


def check_loss_derivatives(answer, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade a dict of two SymPy expressions (or strings):

    - ``"dlse_dz1"``: d/dz1 of logsumexp(z1, z2, z3) = log(exp(z1) + exp(z2) + exp(z3)) (it is softmax's first
      entry);
    - ``"dbce_dz"``: d/dz of the binary cross-entropy of sigmoid(z) against y,
      ``-y log(sigmoid(z)) - (1 - y) log(1 - sigmoid(z))`` (it is sigmoid(z) - y).

    Answers may use z1, z2, z3, z, y and exp, log, sigmoid; any equal form is accepted (SymPy, then random points).
    Expected values are ``sympy.diff`` of the losses; SymPy's simplify gets SIMPLIFY_SECONDS per comparison before
    the comparison at random points decides (so that a wrong answer is judged within the course's time budget).
    One sub-check per key; named mistakes: the softmax without
    its denominator, DL_DP_NOT_DL_DZ (the derivative with respect to p), SIGN_FLIP, SIGMOID_DERIVATIVE.
    """
    expected, mistakes = _derivations()
    return answers.check_expressions(answer, expected, derivation_symbols(), exercise="loss derivatives (SymPy)",
                                     time_limit=SIMPLIFY_SECONDS,
                                     mistakes=mistakes, points=points, seed=seed, thorough=thorough,
                                     hints={"dbce_dz": "write it with sigmoid(z) and simplify: the answer is short."})


# ============================================================================================ sigmoid + BCE

_BCE_SUBS = ("loss, ordinary logits", "dz = (sigmoid(z) - y) / n", "large logits (|z| up to 800)",
             "soft targets")


def _bce_cases(rng: np.random.Generator, thorough: bool):
    out = []
    shapes = [(6,)] + ([(4, 3), (1,)] if thorough else [])
    for shape in shapes:
        out.append((_BCE_SUBS[0], rng.standard_normal(shape) * 3, rng.integers(0, 2, shape).astype(np.float64)))
    for shape in [(8,)] + ([(3, 4)] if thorough else []):
        z = rng.uniform(100.0, 800.0, shape) * rng.choice([-1.0, 1.0], shape)
        y = rng.integers(0, 2, shape).astype(np.float64)
        y.ravel()[:2] = (z.ravel()[:2] < 0)  # at least two confidently WRONG predictions
        out.append((_BCE_SUBS[2], z, y))
    for shape in [(5,)] + ([(2, 5)] if thorough else []):
        out.append((_BCE_SUBS[3], rng.standard_normal(shape) * 2, rng.uniform(0.0, 1.0, shape)))
    for shape in [(8,)] + ([(3, 3)] if thorough else []):  # one confidently wrong entry: a huge constant part
        z, y = rng.standard_normal(shape) * 2, rng.integers(0, 2, shape).astype(np.float64)
        z.ravel()[0], y.ravel()[0] = -HUGE_TERM, 1.0
        out.append((_BCE_SUBS[1], z, y))
    return out


def _naive_bce(z: np.ndarray, y: np.ndarray, eps: float) -> float:
    with np.errstate(all="ignore"):
        s = np.clip(1.0 / (1.0 + np.exp(-z)), eps, 1 - eps)
        return float(np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s)))


def check_sigmoid_bce(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``sigmoid_bce_with_logits(z, y) -> (loss, dz)``.

    Contract: z float64 logits of any shape, y float64 targets of the same shape in [0, 1] (0/1 labels or soft
    targets). loss = mean over ALL entries of ``-y log sigmoid(z) - (1 - y) log(1 - sigmoid(z))``, computed from
    the logits so that it is exact for |z| up to 800 (a confidently wrong entry costs ~|z|); dz = (sigmoid(z) - y)
    / z.size. Inputs unchanged.

    Sub-checks: "loss, ordinary logits", "dz = (sigmoid(z) - y) / n", "large logits (|z| up to 800)" (loss and dz),
    "soft targets", "inputs left unchanged". Named mistakes: BCE_NOT_FROM_LOGITS (inf/NaN from log of a rounded
    probability or exp overflow), BCE_PROB_CLIPPED, MISSING_1_OVER_N, SIGN_FLIP, DL_DP_NOT_DL_DZ, and
    NUMERIC_NOT_ANALYTIC (a case with one entry z = -2e9, a huge constant part of the mean, where a
    finite-difference dz fails at every step size).
    """
    require_callable(fn, "sigmoid_bce_with_logits", 2)
    g = _Grading("sigmoid + binary cross-entropy from logits", points, seed, _BCE_SUBS)
    label = "sigmoid_bce_with_logits()"
    O, D, L, S = _BCE_SUBS
    try:
        for sub, z, y in _bce_cases(np.random.default_rng(seed), thorough):
            huge = sub == D
            where = f"z of shape {z.shape}" + (", |z| in [100, 800]" if sub == L else "") + (
                f", one entry z = {-HUGE_TERM:g} (a huge constant part of the mean loss)" if huge else "")
            subs = [sub, D] if sub == O else [sub]
            res = _loss_and_grad(g, fn, (z, y), label, where, subs)
            if res is None:
                continue
            loss, dz = res
            want, want_d = _ref_losses.sigmoid_binary_cross_entropy(z, y)
            problem = _scalar_problem(loss, want)
            if problem:
                v = real_number(loss)
                if sub == L and g.passed(O):
                    clipped = any(v is not None and math.isclose(v, _naive_bce(z, y, e), rel_tol=1e-6)
                                  for e in (1e-7, 1e-8, 1e-10, 1e-12, 1e-15, 1e-16))
                    if clipped or (v is not None and v < want):
                        problem += describe(diagnoses.get("BCE_PROB_CLIPPED"))
                    elif v is None:
                        problem += describe(diagnoses.get("BCE_NOT_FROM_LOGITS"))
                g.fail(O if huge else sub, f"{where}: {problem}")
            problem = array_problem(dz, want_d)
            if problem:
                s = np.exp(-np.logaddexp(0.0, -z))
                with np.errstate(all="ignore"):
                    dp = (-y / s + (1 - y) / (1 - s)) / z.size
                cands = {"MISSING_1_OVER_N": want_d * z.size, "SIGN_FLIP": -want_d}
                if sub != L:
                    cands["DL_DP_NOT_DL_DZ"] = dp
                text = _named(problem, dz, want_d, cands, generic=False)
                if sub == L and "Likely mistake" not in text and not np.all(np.isfinite(np.asarray(dz, float))):
                    text += describe(diagnoses.get("BCE_NOT_FROM_LOGITS"))
                text += _numeric_hint(huge, text, g.passed(D))
                g.fail(D if sub == O else sub, f"{where}: dz {text}")
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ label smoothing

_LS_SUBS = ("loss", "dscores = (softmax - q) / N", "eps = 0 is plain cross-entropy")


def _ls_cases(rng: np.random.Generator, thorough: bool):
    specs = [(5, 4, 0.1, 0), (6, 3, 0.0, 2), (4, 5, 0.2, 1)]
    if thorough:
        specs += [(8, 6, 0.3, 0), (2, 5, 0.05, 0), (4, 2, 0.0, 2), (3, 6, 0.1, 1)]
    return [(sub, rng.standard_normal((N, C)) * 2 + (OFFSET if sub == 1 else 0.0), _labels(rng, N, C), eps)
            for N, C, eps, sub in specs]


def _ls_wrong(s: np.ndarray, y: np.ndarray, eps: float) -> dict:
    """(loss, dscores) of the usual wrong target distributions, keyed by diagnosis."""
    N, C = s.shape
    logp = _ref_losses.log_softmax(s)
    p = np.exp(logp)
    onehot = _onehot(y, C)
    out = {}
    q1 = (1 - eps) * onehot + (1 - onehot) * eps / C          # true class 1 - eps (sums to 1 - eps / C)
    q2 = (1 - eps) * onehot + (1 - onehot) * eps / (C - 1)    # eps spread over the C - 1 wrong classes
    out["LABEL_SMOOTHING_TARGET"] = [(-np.sum(q * logp) / N, (p - q) / N) for q in (q1, q2)]
    return out


def check_label_smoothing(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``label_smoothing_cross_entropy(scores, y, eps) -> (loss, dscores)``.

    Contract: scores (N, C) float64, y (N,) int64, eps in [0, 1). Targets q = (1 - eps) * onehot(y) + eps / C
    (every class eps / C, the true class 1 - eps + eps / C; PyTorch's convention). loss = -mean_i sum_c q_ic
    log softmax(scores)_ic; dscores = (softmax(scores) - q) / N. With eps = 0 it is plain cross-entropy. Inputs
    unchanged.

    Sub-checks: "loss", "dscores = (softmax - q) / N", "eps = 0 is plain cross-entropy", "inputs left unchanged".
    Named mistakes: LABEL_SMOOTHING_HARD_GRAD, LABEL_SMOOTHING_TARGET, MISSING_1_OVER_N, NUMERIC_NOT_ANALYTIC (a
    batch with logits around OFFSET = 3e8, an offset softmax ignores).
    """
    require_callable(fn, "label_smoothing_cross_entropy", 3)
    g = _Grading("label smoothing", points, seed, _LS_SUBS)
    label = "label_smoothing_cross_entropy()"
    Lo, Dg, Z = _LS_SUBS
    try:
        for sub, s, y, eps in _ls_cases(np.random.default_rng(seed), thorough):
            where = f"scores {s.shape}, eps={eps}" + (f", logits around {OFFSET:g} (an offset softmax ignores)"
                                                      if sub == 1 else "")
            subs = [Z] if sub == 2 else [Lo, Dg]
            res = _loss_and_grad(g, fn, (s, y, eps), label, where, subs)
            if res is None:
                continue
            loss, dscores = res
            want, want_d = _ref_losses.label_smoothing_cross_entropy(s, y, eps)
            N, C = s.shape
            wrong = _ls_wrong(s, y, eps) if eps > 0 else {}
            problem = _scalar_problem(loss, want)
            if problem:
                v = real_number(loss)
                if v is not None and any(math.isclose(v, w[0], rel_tol=1e-9) for w in wrong.get(
                        "LABEL_SMOOTHING_TARGET", [])):
                    problem += describe(diagnoses.get("LABEL_SMOOTHING_TARGET"))
                g.fail(subs[0], f"{where}: {problem}")
            problem = array_problem(dscores, want_d)
            if problem:
                cands = {"MISSING_1_OVER_N": want_d * N}
                if eps > 0:
                    cands["LABEL_SMOOTHING_HARD_GRAD"] = (_softmax(s) - _onehot(y, C)) / N
                    cands["LABEL_SMOOTHING_TARGET"] = [w[1] for w in wrong["LABEL_SMOOTHING_TARGET"]]
                text = _named(problem, dscores, want_d, cands, batch_size=N)
                text += _numeric_hint(sub == 1, text, g.passed(subs[-1]))
                g.fail(subs[-1], f"{where}: dscores {text}")
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ Huber

_HUB_SUBS = ("loss", "gradient inside |r| <= delta", "gradient outside (clipped to +-delta)")


def _huber_cases(rng: np.random.Generator, thorough: bool):
    specs = [((8,), 1.0), ((4, 3), 0.5)] + ([((10,), 2.0), ((2, 2, 3), 0.3), ((1,), 1.5)] if thorough else [])
    out = []
    for shape, delta in specs:
        target = rng.standard_normal(shape)
        mag = np.where(rng.random(shape) < 0.5, rng.uniform(0.05, 0.9, shape) * delta,
                       rng.uniform(1.2, 4.0, shape) * delta)
        flat = mag.ravel()
        flat[0], flat[-1] = 0.5 * delta, 2.5 * delta  # both regions always present
        r = mag * rng.choice([-1.0, 1.0], shape)
        out.append((target + r, target, delta, False))
    for shp, dl in [((9,), 1.0)] + ([((3, 3), 0.7)] if thorough else []):  # one huge residual: a huge constant part
        target = rng.standard_normal(shp)
        r = rng.uniform(0.1, 0.9, shp) * dl * rng.choice([-1.0, 1.0], shp)
        r.ravel()[0] = 10 * HUGE_TERM
        out.append((target + r, target, dl, True))
    return out


def check_huber(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``huber_loss(pred, target, delta) -> (loss, dpred)``.

    Contract: pred, target float64 of the same (any) shape, delta > 0. With r = pred - target, per entry
    l = r**2 / 2 for |r| <= delta and delta * (|r| - delta / 2) otherwise; loss = mean over ALL entries;
    dpred = clip(r, -delta, delta) / pred.size. Residuals are kept away from |r| = delta. One case has a residual of
    2e10 (a huge constant part of the loss), where a finite-difference gradient fails at every step size. Inputs
    unchanged.

    Sub-checks: "loss", "gradient inside |r| <= delta", "gradient outside (clipped to +-delta)", "inputs left
    unchanged". Named mistakes: HUBER_NOT_CLIPPED (r, or sign(r), outside), HUBER_LINEAR_OFFSET,
    MISSING_1_OVER_N, SIGN_FLIP.
    """
    require_callable(fn, "huber_loss", 3)
    g = _Grading("Huber loss", points, seed, _HUB_SUBS)
    label = "huber_loss()"
    Lo, In, Out = _HUB_SUBS
    try:
        for pred, target, delta, huge in _huber_cases(np.random.default_rng(seed), thorough):
            where = f"pred of shape {pred.shape}, delta={delta}" + (
                f", one residual of {10 * HUGE_TERM:g} (a huge constant part of the mean loss)" if huge else "")
            res = _loss_and_grad(g, fn, (pred, target, delta), label, where, _HUB_SUBS)
            if res is None:
                continue
            loss, dpred = res
            want, want_d = _ref_losses.huber_loss(pred, target, delta)
            r = pred - target
            n = pred.size
            inside = np.abs(r) <= delta
            problem = _scalar_problem(loss, want)
            if problem:
                v = real_number(loss)
                offset = float(np.mean(np.where(inside, 0.5 * r * r, delta * np.abs(r))))
                if v is not None and math.isclose(v, offset, rel_tol=1e-9):
                    problem += describe(diagnoses.get("HUBER_LINEAR_OFFSET"))
                elif v is not None and math.isclose(v, want * n, rel_tol=1e-9):
                    problem += describe(diagnoses.get("MISSING_1_OVER_N"))
                g.fail(Lo, f"{where}: {problem}")
            problem = array_problem(dpred, want_d)
            if problem is None:
                continue
            got = np.asarray(dpred, dtype=np.float64) if isinstance(dpred, np.ndarray) and \
                dpred.shape == want_d.shape else None
            if got is None or not np.all(np.isfinite(got)):
                g.fail(In, f"{where}: dpred {problem}")
                g.fail(Out, f"{where}: dpred {problem}")
                continue
            for sub, mask in ((In, inside), (Out, ~inside)):
                part = array_problem(got[mask], want_d[mask])
                if part:
                    cands = {"MISSING_1_OVER_N": want_d[mask] * n, "SIGN_FLIP": -want_d[mask]}
                    if sub == Out:
                        cands["HUBER_NOT_CLIPPED"] = [r[mask] / n, np.sign(r[mask]) / n]
                    text = _named(part, got[mask], want_d[mask], cands, generic=False)
                    text += _numeric_hint(huge, text, g.passed(sub))
                    g.fail(sub, f"{where}: dpred on the entries {'inside' if sub == In else 'outside'} " + text)
    except _Stop:
        pass
    return g.finish()
