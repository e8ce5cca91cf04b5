"""The SymPy answers of notebook 04: the softmax Jacobian entry by entry and dL/dz_j for softmax +
cross-entropy, each compared with SymPy's own derivative by reference_impl.symbolic.are_equivalent (simplify
with a time cap, then random points); likely wrong expressions are named.
"""

from __future__ import annotations

import numpy as np

from graders.core import Report
from graders.exercises.jacobians_vjps.grading import _diag_text


# ------------------------------------------------------------------------------------------ SymPy answers


def _softmax_symbols(n: int = 3):
    import sympy as sp
    z = sp.symbols(f"z0:{n}", real=True)
    S = sum(sp.exp(k) for k in z)
    return z, [sp.exp(k) / S for k in z]


def _as_sympy_matrix(answer, n: int):
    """(list of n*n entries in row-major order, problem message or None).

    Accepts a SymPy Matrix, a NumPy object array, or nested lists/tuples (n lists of n entries, or n*n entries);
    entries may be SymPy expressions, numbers or strings (parsed later by are_equivalent).
    """
    import sympy as sp
    if answer is None:
        return None, "got None: assign your matrix to the variable in the answer cell and run that cell."
    if isinstance(answer, str):
        return None, "expected a SymPy Matrix (sp.Matrix(3, 3, ...)), got a string."
    if isinstance(answer, sp.MatrixBase):
        rows = [[answer[i, j] for j in range(answer.shape[1])] for i in range(answer.shape[0])]
    elif isinstance(answer, np.ndarray):
        rows = answer.tolist() if answer.ndim == 2 else None
        if answer.ndim == 1:
            rows = [answer.tolist()]
    elif isinstance(answer, (list, tuple)):
        rows = [list(r) if isinstance(r, (list, tuple)) else r for r in answer]
        if all(not isinstance(r, list) for r in rows):
            rows = [rows]
        elif not all(isinstance(r, list) for r in rows):
            return None, "a nested list must hold one list per row (all rows lists)."
    else:
        return None, f"expected a SymPy Matrix (sp.Matrix(3, 3, ...)), got {type(answer).__name__}."
    if rows is None:
        return None, f"expected a 2-D matrix, got an array of shape {answer.shape}."
    shape = (len(rows), len(rows[0]) if rows else 0)
    if any(len(r) != shape[1] for r in rows):
        return None, "the rows have different lengths."
    if shape == (n * n, 1):
        rows, shape = [[r[0] for r in rows]], (1, n * n)
    if shape == (1, n * n):
        rows = [rows[0][i * n:(i + 1) * n] for i in range(n)]
        shape = (n, n)
    if shape != (n, n):
        return None, f"shape {shape}, expected ({n}, {n}): one row per output p_i, one column per input z_j."
    return [rows[i][j] for i in range(n) for j in range(n)], None


def check_softmax_jacobian_sympy(answer, *, seed: int = 0, points: float | None = None, n: int = 3):
    """Grade a SymPy matrix ``answer`` whose entry (i, j) is d softmax(z)_i / d z_j, for symbols z0..z{n-1}.

    Entries may use the symbols z0, z1, ... (any assumptions: they are matched by name) and exp, log, etc.;
    strings are accepted as entries. Each entry is compared with SymPy's own Jacobian of softmax by
    reference_impl.symbolic.are_equivalent (simplify with a time cap, then random points drawn with ``seed``).
    Sub-checks "diagonal entries" and "off-diagonal entries" (weight 1 each).
    """
    import sympy as sp
    from reference_impl.symbolic import are_equivalent
    report = Report("softmax Jacobian in SymPy", points, seed)
    report.declare("diagonal entries")
    report.declare("off-diagonal entries")
    entries, problem = _as_sympy_matrix(answer, n)
    if problem:
        report.fail("diagonal entries", problem)
        report.fail("off-diagonal entries", "not checked: " + problem)
        return report.finish()
    z, p = _softmax_symbols(n)
    ref = sp.Matrix(p).jacobian(z)
    table = {s.name: s for s in z}
    hints = {
        "diag_only": "[DIAGONAL_ONLY] softmax is not elementwise: d p_i / d z_j for i != j is -p_i p_j, not 0.",
        "off_sign": "[OFF_DIAGONAL_SIGN] raising z_j (j != i) grows the denominator of p_i, so p_i DEcreases: "
                    "the off-diagonal entries are negative, -p_i p_j.",
        "diag_p": "[MISSING_P_SQUARED] the diagonal is p_i - p_i^2 = p_i (1 - p_i): the denominator depends on "
                  "z_i too.",
    }
    for k, got in enumerate(entries):
        i, j = divmod(k, n)
        sub = "diagonal entries" if i == j else "off-diagonal entries"
        where = f"entry ({i}, {j}) = d p{i} / d z{j}"
        try:
            ok = are_equivalent(got, ref[i, j], table, rng=np.random.default_rng([seed, k]), time_limit=2.0)
        except (TypeError, ValueError) as exc:
            report.fail(sub, f"{where}: {exc}")
            continue
        if ok:
            continue
        hint = ""
        alt = {"diag_only": 0 if i != j else None, "off_sign": p[i] * p[j] if i != j else None,
               "diag_p": p[i] if i == j else None}
        for key, wrong in alt.items():
            if wrong is not None:
                try:
                    if are_equivalent(got, wrong, table, rng=0, time_limit=1.0):
                        hint = "\n      Likely mistake " + hints[key]
                        break
                except (TypeError, ValueError):
                    break
        report.fail(sub, f"{where}: your entry {str(got)[:80]} is not equal to the true derivative.{hint}")
    return report.finish()


def check_ce_dz_sympy(answer, *, seed: int = 0, points: float | None = None, n: int = 3, y: int = 0, j: int = 1):
    """Grade a SymPy expression (or string) ``answer`` for d L / d z_j with L = -log softmax(z)_y, symbols z0..

    Compared with sympy.diff of the loss by reference_impl.symbolic.are_equivalent (random points from ``seed``).
    One sub-check, "dL/dz".
    """
    import sympy as sp
    from reference_impl.symbolic import are_equivalent
    report = Report(f"dL/dz{j} for softmax + cross-entropy (true class {y})", points, seed)
    report.declare("dL/dz")
    z, p = _softmax_symbols(n)
    table = {s.name: s for s in z}
    expected = sp.diff(-sp.log(p[y]), z[j])
    if answer is None:
        report.fail("dL/dz", "got None: assign your expression to the variable in the answer cell and run it.")
        return report.finish()
    try:
        ok = are_equivalent(answer, expected, table, rng=np.random.default_rng(seed), time_limit=2.0)
    except (TypeError, ValueError) as exc:
        report.fail("dL/dz", str(exc))
        return report.finish()
    if not ok:
        onehot = 1 if j == y else 0
        wrong = {
            "SIGN_FLIP": (onehot - p[j], _diag_text("SIGN_FLIP")),
            "ONEHOT_WRONG_CLASS": (p[j] - (1 - onehot), f"[ONEHOT_WRONG_CLASS] the one-hot term belongs to the true "
                                                        f"class y = {y} only; here j = {j}."),
            "DL_DP": (-1 / p[y] if j == y else sp.Integer(0), "[DL_DP_NOT_DL_DZ] that is dL/dp; the gradient with "
                                                            "respect to the logits is (dL/dp)^T J."),
            "DIAG": (p[j] * (1 - p[j]), "[DIAGONAL_ONLY] that is a diagonal entry of the softmax Jacobian, not "
                                        "the loss gradient."),
        }
        hint = ""
        for _, (w, text) in wrong.items():
            try:
                if are_equivalent(answer, w, table, rng=0, time_limit=1.0):
                    hint = "\n      Likely mistake " + text
                    break
            except (TypeError, ValueError):
                break
        report.fail("dL/dz", f"{str(answer)[:80]} is not equal to d L / d z{j}.{hint}")
    return report.finish()
