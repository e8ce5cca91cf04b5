"""The softmax vector-Jacobian product of notebook 04, computed without forming the n x n Jacobian: values on
every kind of case (ordinary, n = 1 and 2 and u = ones, large logits, logits shifted by 1e15), and a memory
sub-check that runs the student's function under tracemalloc where it lives (the catalogue runner
``peak_memory``) on a long vector.
"""

from __future__ import annotations

import numpy as np

from graders.core import (Report, StudentCodeError, StudentTimeout, array_problem, call_student, close,
                          require_callable)
from graders.exercises.jacobians_vjps.grading import _diag_text, _shifted, _softmax
from graders.remote import catalogue

MEMORY_N = 2000          # length of the vector in the memory sub-check of check_softmax_vjp
MEMORY_FRACTION = 0.125  # allowed peak allocation, as a fraction of the n x n float64 Jacobian's bytes


def _softmax_vjp_reference(z: np.ndarray, u: np.ndarray) -> np.ndarray:
    p = _softmax(z)
    J = np.diag(p) - np.outer(p, p)
    return u @ J


# ------------------------------------------------------------------------------------------ softmax VJP


def _vjp_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """(where, z, u, kind); kind "ordinary", "edge" (n = 1, n = 2, and u = ones, for which v = 0 because the
    probabilities always sum to 1), "large" (logits around 800) or "shift" (logits shifted by 1e15, where
    finite differences of softmax miss at every step size). Every kind is in the visible cases; the hidden ones
    add more of each."""
    cases = [(f"n={n}", 1.5 * rng.standard_normal(n), rng.standard_normal(n), "ordinary") for n in (3, 6)]
    cases += [("n=1", rng.standard_normal(1), rng.standard_normal(1), "edge"),
              ("n=2", rng.standard_normal(2), rng.standard_normal(2), "edge"),
              ("u = ones (v = 0)", rng.standard_normal(5), np.ones(5), "edge"),
              ("large logits n=4 (around 800)", np.array([800.0, 801.5, 799.0, -300.0]) + rng.uniform(-0.5, 0.5, 4),
               rng.standard_normal(4), "large"),
              ("logits shifted by 1e15, n=4", _shifted(rng, 4), rng.standard_normal(4), "shift")]
    if thorough:
        cases += [("n=40", 2.0 * rng.standard_normal(40), rng.standard_normal(40), "ordinary"),
                  ("n=2, u = ones", rng.standard_normal(2), np.ones(2), "edge"),
                  ("large logits n=3 (around -800)", np.array([-800.0, -801.5, -799.0]) + rng.uniform(-0.5, 0.5, 3),
                   rng.standard_normal(3), "large"),
                  ("logits shifted by -1e15, n=5", _shifted(rng, 5, -1.0), rng.standard_normal(5), "shift")]
    return cases


def _vjp_mistake(got: np.ndarray, z: np.ndarray, u: np.ndarray, expected: np.ndarray) -> str:
    p = _softmax(z)
    known = [
        (p * u, "you kept only diag(p) and dropped the -p p^T part of the Jacobian: every output p_i depends "
                "on every z_j through the normalising sum, so subtract p_i * (u . p)."),
        (u * p * (1 - p), "that is only the diagonal of the softmax Jacobian (as if softmax were elementwise): "
                          "add the off-diagonal terms -p_i p_j, i.e. use p * (u - u . p)."),
        (p * (u - np.sum(u)), "the term to subtract is the p-weighted sum u . p, not the plain sum of u."),
        (u - p * np.dot(u, p), "the first term must be weighted by p as well: p * u - p * (u . p)."),
        (-expected, "the sign is flipped: u^T J = p * (u - u . p)."),
    ]
    for wrong, advice in known:
        if close(got, wrong, 1e-6) and not close(wrong, expected, 1e-6):
            return "\n      Likely mistake: " + advice
    return ""


def _peak_bytes(fn, *args, label: str, notes: list[str], report: Report | None = None) -> tuple[object, int]:
    """Run the student's function under tracemalloc where it lives (the catalogue runner ``peak_memory``);
    (result, peak bytes allocated above the start). ``report``: watch the arguments (not the function)."""
    meter = catalogue.item("peak_memory")
    result = call_student(meter, fn, *args, label=label, notes=notes, report=report,
                          watch=tuple(range(1, len(args) + 1)))
    return result, int(meter.state.get("peak", 0))


def check_softmax_vjp(softmax_vjp, *, seed: int = 0, points: float | None = None, thorough: bool = False,
                      memory_n: int = MEMORY_N):
    """Grade ``softmax_vjp(z, u) -> v``: the vector-Jacobian product of softmax without building J.

    Contract: z (n,) float64 logits, u (n,) float64 upstream gradient dL/dp, both left unchanged; returns v (n,)
    float64 with v = u^T J, J[i, j] = d softmax(z)_i / d z_j, i.e. dL/dz. The n x n Jacobian must not be formed:
    for n = ``memory_n`` the peak extra allocation (tracemalloc) must stay below ``MEMORY_FRACTION`` of n*n*8
    bytes.

    Sub-checks, one per kind of case (every kind in the visible test; the hidden test adds more of each):
    "values" (weight 2; n = 3 and 6), "n = 1, n = 2 and u = ones" (1), "large logits (around 800, and shifted
    by 1e15)" (1: softmax ignores a common shift, finite differences of it miss there: NUMERIC_NOT_ANALYTIC),
    "no n x n array" (1; only passes when the values for the long vector are right as well) and the
    course-wide "inputs left unchanged".
    """
    require_callable(softmax_vjp, "softmax_vjp", 2)
    label = f"{getattr(softmax_vjp, '__name__', 'softmax_vjp')}()"
    report = Report("softmax VJP without the Jacobian", points, seed)
    subs = {"ordinary": "values", "edge": "n = 1, n = 2 and u = ones",
            "large": "large logits (around 800, and shifted by 1e15)"}
    subs["shift"] = subs["large"]
    report.declare("values", weight=2.0)
    report.declare(subs["edge"])
    report.declare(subs["large"])
    report.declare("no n x n array", weight=1.0)
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    timed_out = False
    ordinary_ok = True
    examined: set[str] = set()
    for where, z, u, kind in sorted(_vjp_cases(rng, thorough), key=lambda c: c[3] == "shift"):
        sub = subs[kind]
        examined.add(sub)
        expected = _softmax_vjp_reference(z, u)
        try:
            got = call_student(softmax_vjp, z, u, label=label, notes=report.notes, report=report)
        except StudentCodeError as exc:
            report.fail(sub, f"case {where}: {exc}")
            ordinary_ok = ordinary_ok and kind != "ordinary"
            if isinstance(exc, StudentTimeout):
                timed_out = True
                break
            continue
        if isinstance(got, (tuple, list)) and len(got) == 1:
            got = got[0]
        problem = array_problem(got, expected)
        if problem:
            hint = _vjp_mistake(got, z, u, expected)
            if not hint and kind == "shift" and ordinary_ok and problem.startswith("values differ"):
                hint = f"\n      Likely mistake {_diag_text('NUMERIC_NOT_ANALYTIC')}"
            report.fail(sub, f"case {where}: v {problem}{hint}")
            ordinary_ok = ordinary_ok and kind != "ordinary"

    if timed_out:
        report.timed_out(examined)
        return report.finish()
    n = int(memory_n)
    z = 2.0 * rng.standard_normal(n)
    u = rng.standard_normal(n)
    limit = MEMORY_FRACTION * n * n * 8
    try:
        got, peak = _peak_bytes(softmax_vjp, z, u, label=label, notes=report.notes, report=report)
    except StudentCodeError as exc:
        report.fail("no n x n array", f"n={n}: {exc}")
        return report.finish()
    if isinstance(got, (tuple, list)) and len(got) == 1:
        got = got[0]
    problem = array_problem(got, _softmax_vjp_reference(z, u))
    if problem:
        report.fail("no n x n array", f"n={n}: not credited because the values are wrong for this long vector: "
                                      f"{problem}")
    elif peak > limit:
        report.fail("no n x n array",
                    f"n={n}: your function allocated {peak / 2**20:.1f} MiB at its peak; the full Jacobian is "
                    f"{n * n * 8 / 2**20:.1f} MiB and a VJP needs only a few vectors of n numbers "
                    f"({n * 8 / 2**10:.1f} KiB each). Compute u^T J from p and u directly: no np.diag, np.outer "
                    f"or (n, n) array.")
    return report.finish()
