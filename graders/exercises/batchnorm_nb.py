"""Checks specific to notebook 07 (batchnorm backward).

The generic checks (forward train/eval, staged and closed-form backward, the ``dout = ones`` answer,
layernorm) live in graders/batchnorm.py; this module holds what only this notebook asks:

- :func:`check_three_term_n3`: dL/dx_0 for a batch of N = 3 (one feature) as a SymPy expression or string in
  the symbols of :func:`n3_symbols`, compared with ``sympy.diff`` of ``L = sum_i dout_i * (gamma * xhat_i + beta)``;
- :func:`trace_inputs` / :func:`check_bn_trace`: a hand trace of one column of batchnorm (forward statistics,
  dxhat, the two batch sums, dx_0, dgamma) on fixed inputs;
- :func:`check_gradient_checker`: a learner's gradient checker must draw a RANDOM upstream gradient; it is run
  against the correct backward and against the planted wrong backwards of graders/batchnorm.py, four of which
  give dx = 0 like the true gradient when dout = ones.

Expected values are computed here (SymPy, reference_impl) in private helpers, never written in the notebook.
"""

from __future__ import annotations

import numbers
from typing import Callable, Mapping

import numpy as np
import sympy as sp

from graders import answers as _answers
from graders import batchnorm as _gbn
from graders import concepts as _concepts
from graders.core import Report, StudentCodeError, brief, call_student, require_callable
from reference_impl import batchnorm as _ref
from graders.public.batchnorm import trace_inputs

__all__ = ["n3_symbols", "check_three_term_n3", "trace_inputs", "check_bn_trace", "TRACE_KEYS",
           "check_gradient_checker", "CHECKER_MISTAKES"]


# ============================================================================================ N = 3 derivation

def n3_symbols() -> dict[str, sp.Symbol]:
    """The symbols of the N = 3 derivation: inputs x0 x1 x2, upstream g0 g1 g2 (= dL/dout_i), gamma, eps."""
    names = ["x0", "x1", "x2", "g0", "g1", "g2", "gamma", "eps"]
    return {n: sp.Symbol(n, real=True) for n in names}


def _n3_parts(S: Mapping[str, sp.Symbol], ddof: int = 0):
    x = [S["x0"], S["x1"], S["x2"]]
    g = [S["g0"], S["g1"], S["g2"]]
    mu = sp.Add(*x) / 3
    var = sp.Add(*[(v - mu) ** 2 for v in x]) / (3 - ddof)
    sigma = sp.sqrt(var + S["eps"])
    xhat = [(v - mu) / sigma for v in x]
    return x, g, sigma, xhat


def _n3_expected() -> sp.Expr:
    """dL/dx0 by sympy.diff of L = sum_i g_i * (gamma * xhat_i + beta) (beta drops out of the derivative)."""
    S = n3_symbols()
    x, g, _, xhat = _n3_parts(S)
    L = sp.Add(*[gi * S["gamma"] * xh for gi, xh in zip(g, xhat)])
    return sp.diff(L, S["x0"])


def _n3_mistakes() -> dict[str, sp.Expr]:
    """The classic wrong forms of dL/dx0 for N = 3, by diagnosis code."""
    S = n3_symbols()
    x, g, sigma, xhat = _n3_parts(S)
    gam = S["gamma"]
    sg, sgx = sp.Add(*g), sp.Add(*[gi * xh for gi, xh in zip(g, xhat)])
    xb, gb, sb, xhb = _n3_parts(S, ddof=1)
    Lb = sp.Add(*[gi * gam * xh for gi, xh in zip(gb, xhb)])
    return {
        "BN_GAMMA_FORGOTTEN": 1 / (3 * sigma) * (3 * g[0] - sg - xhat[0] * sgx),
        "BN_MISSING_MEAN_TERM": gam / (3 * sigma) * (3 * g[0] - xhat[0] * sgx),
        "BN_MISSING_VAR_TERM": gam / (3 * sigma) * (3 * g[0] - sg),
        "BN_BESSEL": sp.diff(Lb, S["x0"]),
        "sign flipped": -gam / (3 * sigma) * (3 * g[0] - sg - xhat[0] * sgx),
    }


def check_three_term_n3(dx0, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade dL/dx0 for batchnorm on a batch of N = 3 (one feature), train mode, biased variance.

    ``dx0``: a SymPy expression in the symbols of :func:`n3_symbols` (x0 x1 x2 g0 g1 g2 gamma eps; the learner's
    own symbols with the same names are fine) or a string. Any equal form scores; the three-term formula is
    gamma / (3 sigma) * (3 g0 - sum g - xhat0 * sum(g * xhat)).
    """
    return _answers.check_expression(dx0, _n3_expected(), n3_symbols(), exercise="batchnorm dL/dx0 for N = 3",
                                    mistakes=_n3_mistakes(), points=points, seed=seed, thorough=thorough,
                                    time_limit=1.0, positive=True, domain=(0.05, 3.0),
                                    hint="write the three-term formula with sigma = sqrt(var + eps) and the "
                                         "sums over the batch of 3.")


# ============================================================================================ hand trace

TRACE_KEYS = ("mu", "var", "sigma", "xhat_0", "dxhat_0", "sum_dxhat", "sum_dxhat_xhat", "dx_0", "dgamma")




def _trace_expected() -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(expected values, {key: {mistake: wrong value}}) for :func:`check_bn_trace`, from reference_impl."""
    t = trace_inputs()
    x = t["x"].reshape(-1, 1)
    gamma, beta, dout, eps = np.array([t["gamma"]]), np.array([t["beta"]]), t["dout"].reshape(-1, 1), t["eps"]
    _, cache = _ref.batchnorm_forward(x, gamma, beta, eps=eps)
    dx, dgamma, _ = _ref.batchnorm_backward(dout, cache)
    xhat, N = cache["xhat"][:, 0], x.shape[0]
    dxhat = t["gamma"] * t["dout"]
    want = {"mu": float(cache["mu"][0]), "var": float(cache["var"][0]), "sigma": float(cache["std"][0]),
            "xhat_0": float(xhat[0]), "dxhat_0": float(dxhat[0]), "sum_dxhat": float(dxhat.sum()),
            "sum_dxhat_xhat": float((dxhat * xhat).sum()), "dx_0": float(dx[0, 0]), "dgamma": float(dgamma[0])}
    var_b = float(t["x"].var(ddof=1))
    mistakes = {
        "var": {"BN_BESSEL": var_b},
        "sigma": {"BN_BESSEL": float(np.sqrt(var_b + eps)), "forgot the square root": want["var"] + eps},
        "dxhat_0": {"BN_GAMMA_FORGOTTEN": float(t["dout"][0])},
        "sum_dxhat": {"BN_GAMMA_FORGOTTEN": float(t["dout"].sum())},
        "sum_dxhat_xhat": {"BN_GAMMA_FORGOTTEN": float((t["dout"] * xhat).sum())},
        "dx_0": {"BN_GAMMA_FORGOTTEN": want["dx_0"] / t["gamma"],
                 "BN_MISSING_MEAN_TERM": float((N * dxhat[0] - xhat[0] * (dxhat * xhat).sum()) / (N * want["sigma"])),
                 "BN_MISSING_VAR_TERM": float((N * dxhat[0] - dxhat.sum()) / (N * want["sigma"]))},
        "dgamma": {"BN_GAMMA_FORGOTTEN": want["dgamma"] * t["gamma"], "that is dbeta": float(t["dout"].sum())},
    }
    return want, mistakes


def check_bn_trace(values, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the hand trace of :func:`trace_inputs`: a dict with the keys TRACE_KEYS (numbers), one sub-check each.

    The inputs are fixed (``seed`` and ``thorough`` are accepted for uniformity). Four significant digits are
    enough (the course's precision for typed numbers, graders.typed).
    """
    want, mistakes = _trace_expected()
    hints = {"var": "the biased variance: divide by N.",
             "dxhat_0": "out = gamma * xhat + beta, so dL/dxhat = gamma * dout.",
             "dx_0": "gamma / (N sigma) * (N dout_0 - sum dout - xhat_0 sum(dout xhat)), i.e. (N dxhat_0 - "
                     "sum dxhat - xhat_0 sum(dxhat xhat)) / (N sigma)."}
    return _concepts.check_trace_table(values, want, exercise="batchnorm hand trace", hints=hints, mistakes=mistakes,
                                       points=points, seed=seed)


# ============================================================================================ gradient checker

CHECKER_MISTAKES = ("missing_mean_term", "missing_var_term", "gamma_forgotten", "bessel", "sign_flip")
ONE_ENTRY = "one wrong entry"
SMALL, LARGE = 1e-5, 1e-3


def _ref_forward(x, gamma, beta, **kw):
    return _ref.batchnorm_forward(x, gamma, beta, **kw)


def _planted(name: str) -> Callable:
    """A planted backward: graders/batchnorm.py's, or (ONE_ENTRY) the correct one with its largest entry of dx 2 %
    off. The max over the entries' relative errors sees that entry (about 1e-2); a mean over 15 entries dilutes it
    below 1e-3."""
    if name != ONE_ENTRY:
        return _gbn._planted_backward(name)
    correct = _gbn._planted_backward("correct")

    def backward(dout, cache):
        dx, dgamma, dbeta = correct(dout, cache)
        dx = np.array(dx, dtype=np.float64, copy=True)
        worst = np.unravel_index(int(np.argmax(np.abs(dx))), dx.shape)
        dx[worst] *= 1.02
        return dx, dgamma, dbeta

    return backward


def _describe(name: str) -> str:
    if name == "correct":
        return "the correct backward"
    if name == ONE_ENTRY:
        return "planted mistake: right except ONE entry of dx (the largest, 2 % off)"
    return "planted mistake: " + _gbn.DOUT_ONES_DESCRIPTIONS[name]


def _error_of(checker: Callable, backward: Callable, x, gamma, beta, seed: int, label: str, rep: Report):
    """The checker's result as a float, or a message saying what is wrong with it."""
    try:
        res = call_student(checker, _ref_forward, backward, x, gamma, beta, seed, label=label, notes=rep.notes,
                           report=rep)
    except StudentCodeError as exc:
        return None, str(exc)
    if isinstance(res, (bool, np.bool_)) or not isinstance(res, (numbers.Real, np.ndarray)):
        return None, f"{label} returned {brief(res)} ({type(res).__name__}); return one float, the relative error."
    arr = np.asarray(res, dtype=np.float64)
    if arr.size != 1:
        return None, f"{label} returned an array of shape {arr.shape}; return ONE float (the max relative error)."
    v = float(arr.reshape(()))
    if not np.isfinite(v) or v < 0:
        return None, f"{label} returned {v}; a relative error is a finite number >= 0."
    return v, None


def check_gradient_checker(checker, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``grad_check_batchnorm(forward, backward, x, gamma, beta, seed) -> float``.

    The learner's function draws a random dout (N, D) from ``np.random.default_rng(seed)``, computes dx with
    ``out, cache = forward(x, gamma, beta)`` / ``dx = backward(dout, cache)[0]``, computes the numerical
    vector-Jacobian product sum(dout * out) w.r.t. x by centred differences, and returns
    max |dx - dx_num| / max(1e-8, |dx| + |dx_num|) (the MAX over the entries). It is run with the correct
    backward (must return < 1e-5), with each planted wrong backward of graders/batchnorm.py and with a backward
    that is wrong in ONE entry only (each must return > 1e-3: a mean over the entries dilutes that one below the
    threshold). One sub-check each, credited for a wrong backward only when the correct one passes; plus "random
    dout": the dout handed to the backward must not be constant in a column; plus "inputs left unchanged" (x,
    gamma, beta: perturb a copy of x).
    """
    require_callable(checker, "grad_check_batchnorm", 6)
    rep = Report("gradient checker with a random dout", points, seed)
    rng = np.random.default_rng(seed)
    shapes = [(5, 3)] + ([(4, 3), (7, 4)] if thorough else [])
    names = ("correct",) + CHECKER_MISTAKES + (ONE_ENTRY,)
    rep.declare("random dout")
    for n in names:
        rep.declare(n)
    rep.watch_inputs()
    seen_douts: list[np.ndarray] = []
    for k, (N, D) in enumerate(shapes):
        x = (rng.standard_normal((N, D)) + rng.uniform(-1, 1, D)) * 2.0 + 1.0
        gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1.0, 1.0], D)
        beta = rng.standard_normal(D)
        for name in names:
            planted = _planted(name)

            def bwd(dout, cache, planted=planted):
                seen_douts.append(np.array(dout, dtype=np.float64, copy=True))
                return planted(dout, cache)

            before = len(seen_douts)
            err, problem = _error_of(checker, bwd, x, gamma, beta, seed + 17 * k + 1, "grad_check_batchnorm", rep)
            if problem is None and len(seen_douts) == before:
                problem = (f"grad_check_batchnorm returned {err:.2e} without ever calling backward(dout, cache); "
                           f"it must compare the backward's dx with the numerical gradient.")
            where = f"x {x.shape}, {_describe(name)}"
            if problem:
                rep.fail(name, f"{where}: {problem}")
                if "timed out" in problem:
                    return rep.finish()
                continue
            if name == "correct" and err >= SMALL:
                rep.fail(name, f"{where}: your checker returned {err:.2e}, but this backward is right (expected "
                               f"< {SMALL:g}). Use centred differences with h about 1e-5 in float64, compare "
                               f"dx with the numerical VJP of sum(dout * out), and if you used dout = ones, note "
                               f"that the true dx is then 0 and the relative error of two tiny numbers is noise.")
            elif name != "correct" and err <= LARGE:
                extra = ""
                if name == ONE_ENTRY:
                    extra = (" Only one of the entries is wrong: a mean (or a norm) over all entries dilutes its "
                             "error; return the MAX over the entries of |dx - dx_num| / max(1e-8, |dx| + |dx_num|).")
                elif name != "missing_mean_term":
                    extra = (" This wrong backward also gives dx = 0 when dout = ones, exactly like the true "
                             "gradient: a checker that uses dout = ones (or any dout constant per column) "
                             "cannot see the mistake. Draw dout with rng.standard_normal(x.shape).")
                rep.fail(name, f"{where}: your checker returned {err:.2e}, so it would let this wrong backward "
                               f"pass (expected > {LARGE:g}).{extra}")
    constant = [d for d in seen_douts if d.ndim == 2 and d.shape[0] >= 2 and np.all(np.ptp(d, axis=0) == 0)]
    if constant:
        rep.fail("random dout", "your checker called the backward with a dout that is constant in every column "
                                "(dout = ones or similar). For batchnorm the true dx is then exactly 0, and four "
                                "of the five planted wrong backwards return 0 too: draw dout with "
                                "np.random.default_rng(seed).standard_normal(x.shape).")
    elif not seen_douts:
        rep.fail("random dout", "your checker never called backward(dout, cache).")
    if not rep.passed("correct"):
        for name in CHECKER_MISTAKES + (ONE_ENTRY,):
            if rep.passed(name):
                rep.fail(name, "not credited: your checker also rejects the correct backward, so rejecting this "
                               "wrong one shows nothing.")
    if rep.passed("random dout") and not any(rep.passed(n) for n in names):
        rep.fail("random dout", "not credited: the checker's verdicts were all wrong.")
    return rep.finish()
