"""What the checks of notebook 04 share: softmax of one vector (from reference_impl.losses), calling a student's
Jacobian-like function and comparing its matrix with the likely mistake named (``_matrix_check``), the texts of
catalogued diagnoses, and the logits shifted by 1e15 on which finite differences miss at every step size
(``SHIFT``, ``_shifted``). Everything here is private to the package except ``SHIFT``.
"""

from __future__ import annotations

import numpy as np

from graders.core import Report, StudentCodeError, StudentTimeout, array_problem, call_student, close
from reference_impl import losses as _ref_losses


def _softmax(z: np.ndarray) -> np.ndarray:
    return _ref_losses.softmax(np.asarray(z, dtype=np.float64)[None, :])[0]


def _matrix_check(report: Report, sub: str, fn, args: tuple, expected: np.ndarray, where: str, label: str,
                  mistakes: list[tuple[np.ndarray, str]], *, state: dict | None = None, analytic: bool = False,
                  ordinary: bool = True) -> bool:
    """Call fn(*args), compare with ``expected`` into sub-check ``sub``; False when the student's code timed out.

    ``mistakes`` lists (wrong answer, advice) pairs; the first one the result equals is named in the message.
    The call watches the inputs (the course-wide sub-check "inputs left unchanged", when the report declares
    it). ``state["ordinary_ok"]`` records whether every ordinary case so far was right; in an ``analytic`` case
    (one built so that finite differences miss at every step size) a result that is no known mistake, while
    the ordinary cases were right, is named NUMERIC_NOT_ANALYTIC.
    """
    state = {} if state is None else state
    state.setdefault("ordinary_ok", True)
    try:
        got = call_student(fn, *args, label=label, notes=report.notes, report=report)
    except StudentCodeError as exc:
        report.fail(sub, f"{where}: {exc}")
        state["ordinary_ok"] &= not ordinary
        return not isinstance(exc, StudentTimeout)
    if isinstance(got, (tuple, list)) and len(got) == 1 and isinstance(got[0], np.ndarray):
        got = got[0]
    problem = array_problem(got, expected)
    if problem is None:
        return True
    state["ordinary_ok"] &= not ordinary
    advice = ""
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        g = None
    if g is not None:
        for wrong, text in mistakes:
            wrong = np.asarray(wrong, dtype=np.float64)
            if g.shape == wrong.shape and np.all(np.isfinite(g)) and close(g, wrong, 1e-6) \
                    and not (wrong.shape == expected.shape and close(wrong, expected, 1e-6)):
                advice = f"\n      Likely mistake {text}"
                break
    if not advice and analytic and state["ordinary_ok"] and problem.startswith("values differ"):
        advice = f"\n      Likely mistake {_diag_text('NUMERIC_NOT_ANALYTIC')}"
    report.fail(sub, f"{where}: {problem}{advice}")
    return True


def _transposed_text() -> str:
    from graders import diagnoses
    return diagnoses.get("JACOBIAN_TRANSPOSED").describe()


def _diag_text(code: str) -> str:
    from graders import diagnoses
    return diagnoses.get(code).describe()


SHIFT = 1e15  # logits 1e15 + a multiple of 1/8 are exact (the spacing of floats there is 1/8)


def _shifted(rng: np.random.Generator, n: int, sign: float = 1.0) -> np.ndarray:
    """n logits around sign * 1e15 that differ by a few units, each exactly representable. Softmax ignores the
    common shift, so a stable formula is exact, while a finite difference with a step below 1/16 sees no change
    at all and one above it misses by the curvature."""
    return sign * SHIFT + rng.integers(-24, 25, n) / 8.0


def _brief_vec(v: np.ndarray) -> str:
    flat = np.asarray(v).ravel()
    body = ", ".join(f"{x:.3g}" for x in flat[:4])
    return f"[{body}{', ...' if flat.size > 4 else ''}]"
