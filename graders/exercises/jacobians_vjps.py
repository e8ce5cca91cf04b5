"""Checks for notebook 04 (Jacobians and vector-Jacobian products), with this notebook's contracts.

When this notebook was written, the generic modules graders/jacobians.py, answers.py and concepts.py did not
exist yet, so every check the notebook uses lives here (built on graders/core.py):

- Jacobians of one vector: :func:`check_affine_jacobian`, :func:`check_elementwise_jacobians` (sigmoid and
  ReLU), :func:`check_softmax_jacobian`, :func:`check_maxpool_jacobian`, :func:`check_vjp_from_jacobian`,
  :func:`check_ce_grad_via_jacobian` (softmax + cross-entropy gradient via the Jacobian);
- :func:`check_softmax_vjp`: u^T J for softmax computed WITHOUT forming the n x n Jacobian (values, and a
  memory check with ``tracemalloc`` on a long vector);
- SymPy answers checked with reference_impl.symbolic.are_equivalent: :func:`check_softmax_jacobian_sympy`
  (the 3 x 3 softmax Jacobian) and :func:`check_ce_dz_sympy` (dL/dz1 for softmax + cross-entropy);
- interview question: :func:`check_layer_jacobian_size` (shape and float64 bytes of the Jacobian of a batched
  layer (N, D) -> (N, M)). The multiple-choice question ``why_vjp`` lives in graders/question_bank/jacobians_vjps.py
  and is checked by ``graders.concepts.check_choice``.

Each code check grades every kind of case into a sub-check of its own (ordinary sizes; edge sizes such as one
input or a square W; large logits; ties in a max-pool window; logits shifted by 1e15 or a bias around 1e15,
built so that finite differences miss at every step size and an answer right elsewhere but wrong there is named
NUMERIC_NOT_ANALYTIC). The visible test (``thorough=False``) has a case of every kind, the hidden test more of
each, so a hidden-only failure is never a surprise and costs its share, not the cell. Every function must leave
its inputs unchanged: the course-wide sub-check "inputs left unchanged" (graders.core).

Expected values are computed here (from reference_impl, SymPy or the sizes) so that no answer appears in the
notebook. Every check is a pure function of its arguments and seed that returns ``points`` when everything
passed, partial credit when some sub-checks passed, and raises an AssertionError naming what to fix otherwise.
Mistake hints carry a bracketed code: catalogue codes from graders/diagnoses.py where one fits, otherwise a
local code (e.g. [MISSING_RANK_ONE]) that the tests in tests/test_exercises_jacobians_vjps.py pin.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from graders.core import (Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          close, require_callable)
from graders.remote import catalogue
from reference_impl import losses as _ref_losses

MEMORY_N = 2000          # length of the vector in the memory sub-check of check_softmax_vjp
MEMORY_FRACTION = 0.125  # allowed peak allocation, as a fraction of the n x n float64 Jacobian's bytes


def _softmax(z: np.ndarray) -> np.ndarray:
    return _ref_losses.softmax(np.asarray(z, dtype=np.float64)[None, :])[0]


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


# ------------------------------------------------------------------------------ Jacobian of a batched layer


def _size_cases(thorough: bool) -> list[tuple[int, int, int]]:
    """Small sizes, a batch of one, and a realistic layer (whose Jacobian takes 2.2e15 bytes: more than 32-bit
    integers hold) in the visible test; the hidden test adds more of each."""
    cases = [(2, 3, 4), (5, 7, 3), (1, 1, 1), (128, 4096, 4096)]
    if thorough:
        cases += [(64, 1024, 10), (8, 3, 3), (1, 5, 2), (256, 1024, 512)]
    return cases


def _as_int_tuple(value) -> tuple[int, ...] | None:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (tuple, list)):
        return None
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer():
                v = int(v)
            else:
                return None
        out.append(int(v))
    return tuple(out)


def _shape_problem(got, N: int, D: int, M: int) -> str | None:
    expected = (N, M, N, D)
    shape = _as_int_tuple(got)
    if shape is None:
        return f"expected a tuple of 4 integers, got {type(got).__name__} ({got!r:.60})."
    if shape == expected:
        return None
    hints = {
        (M, D): "(M, D) is one example's block W^T; the question asks for the Jacobian of the whole output "
                "(N, M) with respect to the whole input (N, D).",
        (N, M, D): "every output entry out[n, m] has a derivative with respect to EVERY input entry x[n', d], "
                   "including those of other examples (they are 0, but they are entries of J): one axis per "
                   "axis of out, then one per axis of x.",
        (N * M, N * D): "that is the right number of entries flattened to a matrix; give the tensor shape: "
                        "out's axes, then x's axes.",
        (N, D, N, M): "the output's axes come first (J[i, j] = d out_i / d x_j), then the input's axes.",
        (N, D, M): "one axis per axis of out, then one per axis of x: four axes in all.",
    }
    hint = hints.get(shape)
    msg = f"N={N}, D={D}, M={M}: got {shape}, expected a different shape."
    return msg + (f"\n      Likely mistake: {hint}" if hint else "")


def _bytes_problem(got, N: int, D: int, M: int) -> str | None:
    expected = N * M * N * D * 8
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        if isinstance(got, np.ndarray) and got.shape == () and np.issubdtype(got.dtype, np.number):
            got = got.item()
        else:
            return f"expected a number of bytes (an int), got {type(got).__name__} ({got!r:.60})."
    got = float(got)
    if not math.isfinite(got):
        return f"N={N}, D={D}, M={M}: got {got}, which is not a finite number of bytes."
    if abs(got - expected) <= 1e-9 * expected:
        return None
    hints = {
        N * M * D * 8: "that counts one example's block per example; J also has the (zero) entries that link "
                       "example n's outputs to example n' inputs: N*M*N*D entries.",
        N * M * N * D: "that is the number of entries; a float64 entry takes 8 bytes.",
        N * M * N * D * 4: "float64 entries take 8 bytes each (4 is float32).",
        M * D * 8: "that is only one example's block W^T.",
        N * M * N * D * 8 / 2**30: "return bytes, not GiB.",
        N * M * N * D * 8 / 1e9: "return bytes, not GB.",
    }
    hint = next((h for v, h in hints.items() if abs(got - v) <= 1e-9 * max(1.0, abs(v))), None)
    msg = f"N={N}, D={D}, M={M}: got {got:.6g} bytes, expected a different number."
    return msg + (f"\n      Likely mistake: {hint}" if hint else "")


def check_layer_jacobian_size(jacobian_shape, jacobian_bytes, *, seed: int = 0, points: float | None = None,
                              thorough: bool = False):
    """Grade ``jacobian_shape(N, D, M) -> tuple`` and ``jacobian_bytes(N, D, M) -> int``.

    For a layer mapping x (N, D) to out (N, M) (an affine layer on a batch), ``jacobian_shape`` returns the
    shape of the full Jacobian d out / d x as a tuple of ints, out's axes first: (N, M, N, D);
    ``jacobian_bytes`` returns how many bytes that Jacobian occupies in float64 (an int; a float equal to
    it is accepted). Sub-checks "shape" and "bytes" (weight 1 each); ``seed`` is unused (the cases are fixed
    sizes: small ones, a batch of one and a realistic layer), ``thorough`` adds more of each.
    """
    require_callable(jacobian_shape, "jacobian_shape", 3)
    require_callable(jacobian_bytes, "jacobian_bytes", 3)
    report = Report("Jacobian of a batched layer: shape and size", points, seed)
    report.declare("shape")
    report.declare("bytes")
    for sub, fn, problem_of in (("shape", jacobian_shape, _shape_problem), ("bytes", jacobian_bytes, _bytes_problem)):
        label = f"{getattr(fn, '__name__', sub)}()"
        for N, D, M in _size_cases(thorough):
            try:
                got = call_student(fn, N, D, M, label=label, notes=report.notes)
            except StudentCodeError as exc:
                report.fail(sub, f"N={N}, D={D}, M={M}: {exc}")
                if isinstance(exc, StudentTimeout):
                    break
                continue
            problem = problem_of(got, N, D, M)
            if problem:
                report.fail(sub, problem)
    return report.finish()


# ======================================================================================================
# Jacobian checks with this notebook's contracts (one vector in, one matrix out)
# ======================================================================================================


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


def check_affine_jacobian(affine_jacobian, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``affine_jacobian(x, W, b) -> J``: the Jacobian of y = x @ W + b with respect to x, ONE example.

    Contract: x (D,), W (D, M), b (M,) float64, left unchanged; returns J (M, D) float64 with
    J[m, d] = d y[m] / d x[d] (that is W.T). Sub-checks, one per kind of case (each in the visible test; the
    hidden test adds more): "J" (D != M: (3, 5), (4, 2)), "one input and a square W" ((1, 4), (4, 4), where
    returning W itself still has the right shape), "large bias b ~ 1e15" (y holds only ~1/8 of absolute
    precision there, so finite differences of y miss J at every step size: NUMERIC_NOT_ANALYTIC) and the
    course-wide "inputs left unchanged".
    """
    require_callable(affine_jacobian, "affine_jacobian", 3)
    label = f"{getattr(affine_jacobian, '__name__', 'affine_jacobian')}()"
    report = Report("affine Jacobian", points, seed)
    subs = {"ordinary": "J", "edge": "one input and a square W", "large": "large bias b ~ 1e15 (analytic J)"}
    for name in subs.values():
        report.declare(name)
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    specs = [((3, 5), "ordinary"), ((4, 2), "ordinary"), ((1, 4), "edge"), ((4, 4), "edge"), ((2, 3), "large")]
    if thorough:
        specs += [((7, 3), "ordinary"), ((1, 1), "edge"), ((6, 6), "edge"), ((5, 2), "large")]
    state: dict = {}
    examined: set[str] = set()
    for (D, M), kind in specs:
        examined.add(subs[kind])
        x, W, b = rng.standard_normal(D), rng.standard_normal((D, M)), rng.standard_normal(M)
        where = f"case D={D}, M={M}"
        if kind == "large":
            b = SHIFT * rng.choice([-1.0, 1.0], M) + rng.integers(-40, 41, M) / 8.0
            where += ", b around 1e15"
        mistakes = [(W, _transposed_text()),
                    (np.outer(np.ones(M), x), "[X_NOT_W] d y / d x is the weight matrix (transposed), not x: y is "
                                              "linear in x with coefficients W[d, m]."),
                    (np.diag(np.diag(W.T)) if D == M else np.zeros(0), "[DIAGONAL_ONLY] every output y[m] depends "
                                                                       "on every input x[d]: J is dense.")]
        if not _matrix_check(report, subs[kind], affine_jacobian, (x, W, b), W.T.copy(), where, label, mistakes,
                             state=state, analytic=kind == "large", ordinary=kind == "ordinary"):
            report.timed_out(examined)
            break
    return report.finish()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def check_elementwise_jacobians(sigmoid_jacobian, relu_jacobian, *, seed: int = 0, points: float | None = None,
                                thorough: bool = False):
    """Grade ``sigmoid_jacobian(z) -> J`` and ``relu_jacobian(z) -> J`` (full (n, n) diagonal matrices).

    Contract: z (n,) float64, left unchanged; sigmoid_jacobian returns diag(s * (1 - s)) with s = sigmoid(z);
    relu_jacobian returns diag(1 where z > 0 else 0) (derivative 0 at z == 0). Both (n, n) float64. Cases, all
    kinds in the visible test: n = 4, n = 6 with an exact 0 (and a -0.0), n = 1 and |z| up to 40; thorough adds
    n = 30 and more of each. Sub-checks "sigmoid" and "relu" (weight 1 each) and the course-wide "inputs left
    unchanged".
    """
    require_callable(sigmoid_jacobian, "sigmoid_jacobian", 1)
    require_callable(relu_jacobian, "relu_jacobian", 1)
    report = Report("elementwise Jacobians", points, seed)
    report.declare("sigmoid")
    report.declare("relu")
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    with_zero = np.concatenate([rng.standard_normal(4), [0.0, -0.0]])[rng.permutation(6)]
    cases = [rng.standard_normal(4) * 2, with_zero, rng.standard_normal(1), np.array([-40.0, -12.0, 0.0, 15.0, 40.0])]
    if thorough:
        cases += [rng.standard_normal(30) * 3, np.array([0.0, 1e-300, -1e-300, 2.5]),
                  np.array([-35.0, 0.0, 0.5, 38.0, -0.0])]
    not_diag = "[NOT_DIAGONAL] an elementwise op has a DIAGONAL Jacobian: output i depends only on input i."
    vector = "[VECTOR_NOT_MATRIX] return the full (n, n) Jacobian (np.diag of the local derivatives), not the vector."
    for sub, fn, name in (("sigmoid", sigmoid_jacobian, "sigmoid_jacobian"), ("relu", relu_jacobian, "relu_jacobian")):
        label = f"{getattr(fn, '__name__', name)}()"
        for z in cases:
            n = z.size
            if sub == "sigmoid":
                s = _sigmoid(z)
                d = s * (1 - s)
                mistakes = [(np.diag(s), _diag_text("SIGMOID_DERIVATIVE")),
                            (np.diag(_sigmoid(s) * (1 - _sigmoid(s))), _diag_text("SIGMOID_ON_OUTPUT")),
                            (np.tile(d, (n, 1)), not_diag), (np.tile(d[:, None], (1, n)), not_diag),
                            (np.outer(d, d), not_diag), (d, vector)]
            else:
                d = (z > 0).astype(np.float64)
                mistakes = [(np.diag((z >= 0).astype(np.float64)), _diag_text("RELU_AT_ZERO")),
                            (np.diag(np.where(z == 0, 0.5, d)), _diag_text("RELU_AT_ZERO") + " (A slope of 0.5 at 0 "
                             "is what a centred difference gives there: it straddles the kink.)"),
                            (np.diag(np.maximum(z, 0)), "[RELU_NOT_DERIVATIVE] that is ReLU itself on the diagonal, "
                                                        "not its derivative (1 or 0)."),
                            (np.tile(d, (n, 1)), not_diag), (np.tile(d[:, None], (1, n)), not_diag), (d, vector)]
            if not _matrix_check(report, sub, fn, (z,), np.diag(d), f"case n={n}, z={_brief_vec(z)}", label,
                                 mistakes):
                report.fail(sub, "not checked further: your code ran out of time (see above).")
                break
    return report.finish()


def _brief_vec(v: np.ndarray) -> str:
    flat = np.asarray(v).ravel()
    body = ", ".join(f"{x:.3g}" for x in flat[:4])
    return f"[{body}{', ...' if flat.size > 4 else ''}]"


def _softmax_jacobian_reference(z: np.ndarray) -> np.ndarray:
    p = _softmax(z)
    return np.diag(p) - np.outer(p, p)


def check_softmax_jacobian(softmax_jacobian, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``softmax_jacobian(z) -> J`` for ONE vector of logits.

    Contract: z (n,) float64, left unchanged; returns J (n, n) float64,
    J[i, j] = d softmax(z)_i / d z_j = p_i (delta_ij - p_j). Sub-checks, one per kind of case (every kind in
    the visible test; the hidden test adds more of each): "J" (n = 3 and 5), "one and two logits",
    "large logits (around 800)" (the notebook's softmax is stable), "logits shifted by 1e15" (softmax ignores
    the shift, so p is exact; finite differences of softmax see no change for a step below 1/16 and miss by the
    curvature above it: NUMERIC_NOT_ANALYTIC) and the course-wide "inputs left unchanged".
    """
    require_callable(softmax_jacobian, "softmax_jacobian", 1)
    label = f"{getattr(softmax_jacobian, '__name__', 'softmax_jacobian')}()"
    report = Report("softmax Jacobian", points, seed)
    subs = {"ordinary": "J", "edge": "one and two logits", "large": "large logits (around 800)",
            "shift": "logits shifted by 1e15 (analytic J)"}
    for name in subs.values():
        report.declare(name)
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    cases = [(1.5 * rng.standard_normal(3), "ordinary"), (1.5 * rng.standard_normal(5), "ordinary"),
             (rng.standard_normal(1), "edge"), (rng.standard_normal(2), "edge"),
             (np.array([800.0, 801.0, 799.5]) + rng.uniform(-0.2, 0.2, 3), "large"), (_shifted(rng, 4), "shift")]
    if thorough:
        cases += [(2.0 * rng.standard_normal(12), "ordinary"), (np.array([0.0, 0.0]), "edge"),
                  (np.array([-805.0, -800.0, -799.0, -803.5]) + rng.uniform(-0.2, 0.2, 4), "large"),
                  (_shifted(rng, 3, -1.0), "shift")]
    state: dict = {}
    examined: set[str] = set()
    for z, kind in sorted(cases, key=lambda c: c[1] == "shift"):
        examined.add(subs[kind])
        p = _softmax(z)
        mistakes = [
            (np.diag(p), "[MISSING_RANK_ONE] you kept diag(p) but dropped -p p^T: every p_i depends on every z_j "
                         "through the shared denominator."),
            (np.diag(p * (1 - p)), "[DIAGONAL_ONLY] softmax is not elementwise: the off-diagonal entries are "
                                   "-p_i p_j."),
            (-np.outer(p, p), "[MISSING_DIAGONAL] the diagonal entries need the extra p_i (delta_ij term)."),
            (np.outer(p, p) - np.diag(p), _diag_text("SIGN_FLIP")),
            (np.diag(p) + np.outer(p, p), "[OFF_DIAGONAL_SIGN] the off-diagonal entries are -p_i p_j (negative)."),
            (p, "[VECTOR_NOT_MATRIX] return the (n, n) Jacobian, not a vector."),
        ]
        if not _matrix_check(report, subs[kind], softmax_jacobian, (z,), np.diag(p) - np.outer(p, p),
                             f"case n={z.size}, z={_brief_vec(z)}", label, mistakes, state=state,
                             analytic=kind == "shift", ordinary=kind == "ordinary"):
            report.timed_out(examined)
            break
    return report.finish()


def _maxpool_jacobian_reference(x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    from reference_impl import layers as ref_layers
    out, cache = ref_layers.max_pool1d_forward(x[None, None, :], pool, stride)
    L_out = out.shape[-1]
    rows = [ref_layers.max_pool1d_backward(np.eye(L_out)[o][None, None, :], cache)[0, 0] for o in range(L_out)]
    return np.array(rows, dtype=np.float64).reshape(L_out, x.size)


def _maxpool_variants(x: np.ndarray, pool: int, stride: int) -> dict[str, np.ndarray]:
    L_out = (x.size - pool) // stride + 1
    local = np.zeros((L_out, x.size))
    last = np.zeros((L_out, x.size))
    value = np.zeros((L_out, x.size))
    tied = np.zeros((L_out, x.size))
    split = np.zeros((L_out, x.size))
    for o in range(L_out):
        w = x[o * stride:o * stride + pool]
        k = int(np.argmax(w))
        local[o, k] = 1.0
        last[o, o * stride + pool - 1 - int(np.argmax(w[::-1]))] = 1.0
        value[o, o * stride + k] = w[k]
        top = np.flatnonzero(w == w.max()) + o * stride
        tied[o, top] = 1.0
        split[o, top] = 1.0 / top.size
    return {"local": local, "last": last, "value": value, "tied": tied, "split": split}


def check_maxpool_jacobian(maxpool1d_jacobian, *, seed: int = 0, points: float | None = None,
                           thorough: bool = False):
    """Grade ``maxpool1d_jacobian(x, pool, stride) -> J`` for a 1-D max-pool over one vector.

    Contract: x (L,) float64 (left unchanged), ints pool and stride with (L - pool) % stride == 0; returns
    J (L_out, L) float64, L_out = (L - pool) // stride + 1, J[o, j] = 1 when x[j] is the FIRST maximum of window
    x[o*stride : o*stride + pool], else 0. Sub-checks, one per kind of case (every kind in the visible test;
    the hidden test adds more of each): "separate windows" ((8, 2, 2), (9, 3, 3), distinct values),
    "overlapping windows" ((7, 3, 2); a position can be the maximum of two windows), "ties (the first maximum
    gets the 1)" (exact ties inside windows: MAXPOOL_TIES_ALL, MAXPOOL_TIE_ORDER, and a 0.5 split, which is what
    finite differences give) and the course-wide "inputs left unchanged".
    """
    require_callable(maxpool1d_jacobian, "maxpool1d_jacobian", 3)
    label = f"{getattr(maxpool1d_jacobian, '__name__', 'maxpool1d_jacobian')}()"
    report = Report("max-pool Jacobian", points, seed)
    subs = {"separate": "separate windows", "overlap": "overlapping windows",
            "ties": "ties (the first maximum gets the 1)"}
    for name in subs.values():
        report.declare(name)
    report.watch_inputs()
    rng = np.random.default_rng(seed)

    def distinct(L):
        return (rng.permutation(L) - L / 2) * 0.25 + rng.uniform(-0.05, 0.05)

    tie = np.round(rng.uniform(-1, 1, 8), 1)
    tie[[2, 3]] = 2.0      # a tie inside window 1 (pool 2, stride 2)
    cases = [(distinct(8), 2, 2, "separate"), (distinct(9), 3, 3, "separate"), (distinct(7), 3, 2, "overlap"),
             (tie, 2, 2, "ties")]
    if thorough:
        tie2 = np.round(rng.uniform(-1, 1, 8), 1)
        tie2[[2, 3]] = 2.0
        tie2[[6, 7]] = -3.0    # window 3 is a tie too: the first of the two gets the 1
        cases += [(distinct(5), 1, 1, "separate"), (distinct(4), 4, 1, "overlap"), (distinct(9), 3, 1, "overlap"),
                  (tie2, 2, 2, "ties"), (np.array([1.0, 5.0, 5.0, 0.0, 5.0]), 3, 1, "ties")]
    examined: set[str] = set()
    for x, pool, stride, kind in cases:
        examined.add(subs[kind])
        expected = _maxpool_jacobian_reference(x, pool, stride)
        v = _maxpool_variants(x, pool, stride)
        routing = _diag_text("MAXPOOL_ROUTING")
        mistakes = [(expected.T, _transposed_text()),
                    (v["local"], routing + " The arg-max of a window is a position inside the window: add the "
                                           "window's start o * stride to get the column of x."),
                    (v["tied"], _diag_text("MAXPOOL_TIES_ALL")),
                    (v["last"], _diag_text("MAXPOOL_TIE_ORDER") + " np.argmax returns the first maximum."),
                    (v["split"], _diag_text("MAXPOOL_TIE_ORDER") + " A share of 1/k per tied entry is also what "
                                 "centred finite differences give at a tie: they straddle the kink."),
                    (v["value"], "[VALUE_NOT_ONE] the entry is d out[o] / d x[j] = 1 for the window's maximum, not "
                                 "the maximum's value.")]
        where = f"case L={x.size}, pool={pool}, stride={stride}, x={_brief_vec(x)}"
        if not _matrix_check(report, subs[kind], maxpool1d_jacobian, (x, pool, stride), expected, where, label,
                             mistakes):
            report.timed_out(examined)
            break
    return report.finish()


def check_vjp_from_jacobian(vjp_from_jacobian, *, seed: int = 0, points: float | None = None,
                            thorough: bool = False):
    """Grade ``vjp_from_jacobian(J, u) -> v``: the vector-Jacobian product u^T J.

    Contract: J (m, n) float64, u (m,) float64, both left unchanged; returns v (n,) float64 = u @ J.
    Sub-checks: "v" ((3, 5), (4, 4); thorough adds (10, 7)), "one output or one input" ((1, 6), (6, 1); thorough
    adds (1, 1), (5, 1)) and the course-wide "inputs left unchanged".
    """
    require_callable(vjp_from_jacobian, "vjp_from_jacobian", 2)
    label = f"{getattr(vjp_from_jacobian, '__name__', 'vjp_from_jacobian')}()"
    report = Report("VJP from a Jacobian", points, seed)
    subs = {"ordinary": "v", "edge": "one output or one input"}
    for name in subs.values():
        report.declare(name)
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    sizes = [((3, 5), "ordinary"), ((4, 4), "ordinary"), ((1, 6), "edge"), ((6, 1), "edge")]
    if thorough:
        sizes += [((10, 7), "ordinary"), ((1, 1), "edge"), ((5, 1), "edge")]
    examined: set[str] = set()
    for (m, n), kind in sizes:
        examined.add(subs[kind])
        J, u = rng.standard_normal((m, n)), rng.standard_normal(m)
        mistakes = [(J @ u if m == n else np.zeros(0), "[JVP_NOT_VJP] J @ u multiplies along the wrong axis: "
                                                       "u^T J contracts u with J's ROWS (the outputs), u @ J."),
                    (J.sum(axis=0), _diag_text("UPSTREAM_GRAD_MISSING")),
                    ((J * u[:, None]), "[NOT_SUMMED] sum the rows weighted by u: the result has one entry per "
                                       "input, shape (n,).")]
        if not _matrix_check(report, subs[kind], vjp_from_jacobian, (J, u), u @ J, f"case J {J.shape}, u {u.shape}",
                             label, mistakes):
            report.timed_out(examined)
            break
    return report.finish()


def check_ce_grad_via_jacobian(ce_grad_via_jacobian, *, seed: int = 0, points: float | None = None,
                               thorough: bool = False):
    """Grade ``ce_grad_via_jacobian(z, y) -> dz`` for L = -log softmax(z)[y], ONE example.

    Contract: z (C,) float64 logits (moderate differences between them; left unchanged), y an int in [0, C);
    returns dz (C,) float64 = softmax(z) - onehot(y) (the notebook computes it as (dL/dp)^T J_softmax).
    Sub-checks, one per kind of case (every kind in the visible test; the hidden test adds more of each):
    "dz" (C = 3 and 5; thorough adds C = 10 with y at both ends), "two classes and one class" (C = 2, C = 1),
    "logits shifted by 1e15" (softmax ignores the shift; finite differences of L miss there at every step
    size: NUMERIC_NOT_ANALYTIC) and the course-wide "inputs left unchanged".
    """
    require_callable(ce_grad_via_jacobian, "ce_grad_via_jacobian", 2)
    label = f"{getattr(ce_grad_via_jacobian, '__name__', 'ce_grad_via_jacobian')}()"
    report = Report("softmax + cross-entropy gradient via the Jacobian", points, seed)
    subs = {"ordinary": "dz", "edge": "two classes and one class", "shift": "logits shifted by 1e15 (analytic dz)"}
    for name in subs.values():
        report.declare(name)
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    cases = [(1.5 * rng.standard_normal(3), 1, "ordinary"), (1.5 * rng.standard_normal(5), int(rng.integers(0, 5)),
                                                               "ordinary"),
             (rng.standard_normal(2), 0, "edge"), (rng.standard_normal(1), 0, "edge"), (_shifted(rng, 4), 2, "shift")]
    if thorough:
        cases += [(2.0 * rng.standard_normal(10), 9, "ordinary"), (2.0 * rng.standard_normal(10), 0, "ordinary"),
                  (rng.standard_normal(2), 1, "edge"), (_shifted(rng, 3, -1.0), 0, "shift")]
    state: dict = {}
    examined: set[str] = set()
    for z, y, kind in sorted(cases, key=lambda c: c[2] == "shift"):
        examined.add(subs[kind])
        p = _softmax(z)
        onehot = np.eye(z.size)[y]
        mistakes = [(p, "[SOFTMAX_GRAD_NO_ONEHOT] softmax cross-entropy gradient misses the one-hot term: row y of "
                        "the Jacobian contributes -1 at position y, so dL/dz = p - onehot(y)."),
                    (onehot - p, _diag_text("SIGN_FLIP")),
                    (-onehot / p, "[DL_DP_NOT_DL_DZ] that is dL/dp; push it through the softmax Jacobian: "
                                  "(dL/dp) @ J."),
                    (p * (1 - p) * (-onehot / p), "[DIAGONAL_ONLY] only the diagonal of the softmax Jacobian was "
                                                  "used; its off-diagonal entries -p_i p_j matter here."),
                    (np.log(p) - onehot if np.all(p > 0) else np.zeros(0),
                     "[LOG_PROBS] use the probabilities p = softmax(z), not log p.")]
        if not _matrix_check(report, subs[kind], ce_grad_via_jacobian, (z, y), p - onehot,
                             f"case C={z.size}, y={y}, z={_brief_vec(z)}", label, mistakes, state=state,
                             analytic=kind == "shift", ordinary=kind == "ordinary"):
            report.timed_out(examined)
            break
    return report.finish()


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
