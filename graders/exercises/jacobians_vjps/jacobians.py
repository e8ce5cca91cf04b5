"""The Jacobians of one vector in notebook 04, with this notebook's contracts (one vector in, one matrix out):
affine, sigmoid and ReLU (diagonal), softmax, 1-D max-pool (first maximum of a window), a VJP from a given
Jacobian, and the softmax + cross-entropy gradient via the Jacobian. Each kind of case is a sub-check of its
own; the expected matrices are computed here (reference_impl, NumPy) and the known wrong ones named.
"""

from __future__ import annotations

import numpy as np

from graders.core import Report, require_callable
from graders.exercises.jacobians_vjps.grading import (SHIFT, _brief_vec, _diag_text, _matrix_check, _shifted,
                                                      _softmax, _transposed_text)


def check_affine_jacobian(affine_jacobian, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``affine_jacobian(x, W, b) -> J``: the Jacobian of y = x @ W + b with respect to x, ONE example.

    Contract: x (D,), W (D, M), b (M,) float64, left unchanged; returns J (M, D) float64 with
    J[m, d] = d y[m] / d x[d] (that is W.T). Sub-checks, one per kind of case (each in the visible test; the
    hidden test adds more): "J" (D != M: (3, 5), (4, 2)), "one input and a square W" ((1, 4), (4, 4), where
    returning W itself still has the right shape), "large bias b ~ 1e15" (y holds only ~1/8 of absolute
    precision there, so finite differences of y miss J at every step size: NUMERIC_NOT_ANALYTIC) and the
    course-wide "inputs left unchanged". Not caught: a complex-step Jacobian (x + i h e_d, exact to rounding).
    Its D passes of a D x M product cost only D times the answer's own size, too little to separate from an
    analytic answer within the time a check may take, and no input makes it inexact.
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
