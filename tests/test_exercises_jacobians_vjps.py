"""graders.exercises.jacobians_vjps (notebook 04): correct answers get full marks, plausible wrong answers lose
points with a message that names the mistake, garbage never crashes the grader, partial credit is exact."""

from __future__ import annotations

import time

import numpy as np
import pytest

from graders.exercises import jacobians_vjps as ex
from visuals import jacobian_plots


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def vjp_good(z, u):
    p = _softmax(z)
    return p * (u - np.dot(u, p))


def vjp_via_jacobian(z, u):
    p = _softmax(z)
    return u @ (np.diag(p) - np.outer(p, p))


def vjp_diag_only(z, u):
    p = _softmax(z)
    return u * p * (1 - p)


def vjp_drop_rank_one(z, u):
    return _softmax(z) * u


def vjp_plain_sum(z, u):
    p = _softmax(z)
    return p * (u - np.sum(u))


def vjp_sign(z, u):
    return -vjp_good(z, u)


def vjp_unstable(z, u):
    e = np.exp(z)
    p = e / e.sum()
    return p * (u - np.dot(u, p))


def vjp_float32(z, u):
    return vjp_good(z, u).astype(np.float32)


def vjp_mutates(z, u):
    v = vjp_good(z, u)
    u *= 0
    return v


def vjp_warns(z, u):
    np.log(np.array([-1.0]))  # a RuntimeWarning (silenced by the grader) and a warning note, no lost points
    import warnings
    warnings.warn("student warning")
    return vjp_good(z, u)


def _text(capsys, fn, *args, **kwargs):
    """(score or None, the full text) of a check expected to lose points."""
    try:
        score = fn(*args, **kwargs)
    except AssertionError as exc:
        return None, str(exc)
    assert score is not None and score < kwargs.get("points", 1), score
    return score, capsys.readouterr().out


# --------------------------------------------------------------------------------------------- softmax VJP


@pytest.mark.parametrize("seed,thorough", [(0, False), (29, True), (5, True)])
def test_softmax_vjp_reference_full_marks(seed, thorough, capsys):
    assert ex.check_softmax_vjp(vjp_good, seed=seed, points=3, thorough=thorough) == 3.0
    assert ex.check_softmax_vjp(vjp_good, seed=seed, thorough=thorough) is None
    out = capsys.readouterr()
    assert "all 5 checks passed" in out.out and out.err == ""


def test_softmax_vjp_forming_the_jacobian_loses_the_memory_point(capsys):
    score, text = _text(capsys, ex.check_softmax_vjp, vjp_via_jacobian, points=3)
    # values 2, n = 1, 2 and u = ones 1, large logits 1, no n x n array 1, inputs left unchanged 5/3
    assert score == pytest.approx(3 * (1 - 1 / (20 / 3)))
    assert "no n x n array" in text and "MiB" in text and "np.outer" in text


@pytest.mark.parametrize("fn,phrase", [
    (vjp_diag_only, "only the diagonal"),
    (vjp_drop_rank_one, "dropped the -p p^T part"),
    (vjp_plain_sum, "not the plain sum of u"),
    (vjp_sign, "sign is flipped"),
])
def test_softmax_vjp_named_mistakes_lose_the_values_and_the_memory_point(fn, phrase, capsys):
    score, text = _text(capsys, ex.check_softmax_vjp, fn, points=3)
    assert "✗ values" in text and "✗ no n x n array" in text, "a wrong VJP must not earn the memory point either"
    assert phrase in text, text


def test_softmax_vjp_unstable_softmax_loses_the_large_logits_share_visible_and_hidden(capsys):
    for thorough in (False, True):  # the visible test tries large logits too: no surprise in the hidden one
        score, text = _text(capsys, ex.check_softmax_vjp, vjp_unstable, seed=0, points=3, thorough=thorough)
        assert score == pytest.approx(3 * (1 - 1 / (20 / 3))) and "large logits" in text and "non-finite" in text


def test_softmax_vjp_float32_and_mutation_and_warnings(capsys):
    score, text = _text(capsys, ex.check_softmax_vjp, vjp_float32, points=3)
    assert score is None and "float64" in text
    assert ex.check_softmax_vjp(vjp_mutates, points=3) == pytest.approx(3 * 0.75)  # the course-wide input rule
    out = capsys.readouterr().out
    assert "modified its input arrays" in out and "[INPUT_MUTATED]" in out and "did not cost points" not in out
    assert ex.check_softmax_vjp(vjp_warns, points=3) == 3.0
    out = capsys.readouterr()
    assert "emitted UserWarning" in out.out and out.err == ""


@pytest.mark.parametrize("fn,phrase", [
    (None, "got None"),
    (42, "expected a function"),
    (lambda z: z, "2 positional argument"),
    (lambda z, u: None, "got None"),
    (lambda z, u: [0.0] * len(z), "expected a NumPy array"),
    (lambda z, u: np.zeros((len(z), 1)), "shape"),
    (lambda z, u: 1 / 0, "ZeroDivisionError"),
    (lambda z, u: np.full(len(z), np.nan), "non-finite"),
])
def test_softmax_vjp_garbage_gives_assertion_error(fn, phrase):
    with pytest.raises(AssertionError) as info:
        ex.check_softmax_vjp(fn, points=3)
    assert phrase in str(info.value)


def test_softmax_vjp_infinite_loop_times_out(monkeypatch):
    import graders.core as core
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def forever(z, u):
        while True:
            pass

    with pytest.raises(AssertionError) as info:
        ex.check_softmax_vjp(forever, points=3)
    assert "did not finish" in str(info.value)


def test_softmax_vjp_memory_check_leaves_tracemalloc_as_found():
    import tracemalloc
    assert not tracemalloc.is_tracing()
    ex.check_softmax_vjp(vjp_good, points=3)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        ex.check_softmax_vjp(vjp_good, points=3)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------------ batched Jacobian size


def shape_good(N, D, M):
    return (N, M, N, D)


def bytes_good(N, D, M):
    return N * M * N * D * 8


@pytest.mark.parametrize("thorough", [False, True])
def test_layer_size_reference_full_marks(thorough, capsys):
    assert ex.check_layer_jacobian_size(shape_good, bytes_good, points=2, thorough=thorough) == 2.0
    assert ex.check_layer_jacobian_size(shape_good, bytes_good, thorough=thorough) is None
    # lists, NumPy ints and an equal float are accepted
    assert ex.check_layer_jacobian_size(lambda N, D, M: [np.int64(N), M, N, D],
                                        lambda N, D, M: float(N * M * N * D * 8), points=2, thorough=thorough) == 2.0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("shape_fn,phrase", [
    (lambda N, D, M: (M, D), "one example's block"),
    (lambda N, D, M: (N, M, D), "EVERY input entry"),
    (lambda N, D, M: (N * M, N * D), "flattened"),
    (lambda N, D, M: (N, D, N, M), "output's axes come first"),
])
def test_layer_size_wrong_shapes_lose_exactly_one_point(shape_fn, phrase, capsys):
    score, text = _text(capsys, ex.check_layer_jacobian_size, shape_fn, bytes_good, points=2)
    assert score == 1.0 and phrase in text, text


@pytest.mark.parametrize("bytes_fn,phrase", [
    (lambda N, D, M: N * M * D * 8, "one example's block per example"),
    (lambda N, D, M: N * M * N * D, "8 bytes"),
    (lambda N, D, M: N * M * N * D * 4, "float32"),
    (lambda N, D, M: M * D * 8, "only one example's block"),
    (lambda N, D, M: N * M * N * D * 8 / 2**30, "not GiB"),
])
def test_layer_size_wrong_bytes_lose_exactly_one_point(bytes_fn, phrase, capsys):
    score, text = _text(capsys, ex.check_layer_jacobian_size, shape_good, bytes_fn, points=2)
    assert score == 1.0 and phrase in text, text


def test_layer_size_only_thorough_catches_a_fixed_answer(capsys):
    fixed_shape = lambda N, D, M: {(2, 3, 4): (2, 4, 2, 3), (5, 7, 3): (5, 3, 5, 7), (1, 1, 1): (1, 1, 1, 1),
                                   (128, 4096, 4096): (128, 4096, 128, 4096)}.get((N, D, M), (1,))
    assert ex.check_layer_jacobian_size(fixed_shape, bytes_good, points=2) == 2.0
    score, _ = _text(capsys, ex.check_layer_jacobian_size, fixed_shape, bytes_good, points=2, thorough=True)
    assert score == 1.0


@pytest.mark.parametrize("shape_fn,bytes_fn,phrase", [
    (None, bytes_good, "got None"),
    (shape_good, "N*M", "expected a function"),
    (lambda N: N, bytes_good, "3 positional argument"),
    (lambda N, D, M: None, lambda N, D, M: None, "tuple of 4 integers"),
    (lambda N, D, M: "N, M, N, D", lambda N, D, M: "8NMND", "expected a number of bytes"),
    (lambda N, D, M: (N, M, N, 0.5), lambda N, D, M: float("nan"), "not a finite number"),
    (lambda N, D, M: 1 / 0, lambda N, D, M: [1], "ZeroDivisionError"),
])
def test_layer_size_garbage_gives_assertion_error(shape_fn, bytes_fn, phrase):
    with pytest.raises(AssertionError) as info:
        ex.check_layer_jacobian_size(shape_fn, bytes_fn, points=2)
    assert phrase in str(info.value)


# --------------------------------------------------------------------------------------------------- visuals


def test_plots_render_and_validate():
    import matplotlib.pyplot as plt
    p = _softmax(np.array([0.3, -1.0, 2.0]))
    fig = jacobian_plots.plot_jacobians({"softmax": np.diag(p) - np.outer(p, p), "relu": np.diag([1.0, 0.0, 1.0]),
                                         "big": np.eye(20)})
    assert len(fig.axes) == 3 and "4 of 9 non-zero" not in fig.axes[0].get_title()
    assert "9 of 9 non-zero" in fig.axes[0].get_title() and "2 of 9 non-zero" in fig.axes[1].get_title()
    fig2 = jacobian_plots.plot_vjp_cost([10, 20], [800.0, 3200.0], [80.0, 160.0], [1e-5, 4e-5], [1e-6, 2e-6])
    assert len(fig2.axes) == 2
    plt.close("all")
    with pytest.raises(ValueError):
        jacobian_plots.plot_jacobians({})
    with pytest.raises(ValueError):
        jacobian_plots.plot_jacobians({"3d": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError):
        jacobian_plots.plot_vjp_cost([1, 2], [1.0], [1.0, 2.0])


# ============================================================================ Jacobian checks (this notebook)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def affine_good(x, W, b):
    return W.T.copy()


def sig_good(z):
    s = _sig(z)
    return np.diag(s * (1 - s))


def relu_good(z):
    return np.diag((z > 0).astype(float))


def softmax_jac_good(z):
    p = _softmax(z)
    return np.diag(p) - np.outer(p, p)


def maxpool_good(x, pool, stride):
    L_out = (len(x) - pool) // stride + 1
    J = np.zeros((L_out, len(x)))
    for o in range(L_out):
        J[o, o * stride + int(np.argmax(x[o * stride:o * stride + pool]))] = 1.0
    return J


def maxpool_local(x, pool, stride):
    L_out = (len(x) - pool) // stride + 1
    J = np.zeros((L_out, len(x)))
    for o in range(L_out):
        J[o, int(np.argmax(x[o * stride:o * stride + pool]))] = 1.0
    return J


def maxpool_last(x, pool, stride):
    L_out = (len(x) - pool) // stride + 1
    J = np.zeros((L_out, len(x)))
    for o in range(L_out):
        w = x[o * stride:o * stride + pool]
        J[o, o * stride + pool - 1 - int(np.argmax(w[::-1]))] = 1.0
    return J


def maxpool_value(x, pool, stride):
    return maxpool_good(x, pool, stride) * x[None, :]


def ce_good(z, y):
    return _softmax(z) - np.eye(len(z))[y]


GOOD = {
    "affine": (ex.check_affine_jacobian, (affine_good,)),
    "elementwise": (ex.check_elementwise_jacobians, (sig_good, relu_good)),
    "softmax": (ex.check_softmax_jacobian, (softmax_jac_good,)),
    "maxpool": (ex.check_maxpool_jacobian, (maxpool_good,)),
    "vjp": (ex.check_vjp_from_jacobian, (lambda J, u: u @ J,)),
    "ce": (ex.check_ce_grad_via_jacobian, (ce_good,)),
}


@pytest.mark.parametrize("name", sorted(GOOD))
@pytest.mark.parametrize("seed,thorough", [(0, False), (41, True), (7, True)])
def test_jacobian_checks_reference_full_marks(name, seed, thorough, capsys):
    check, fns = GOOD[name]
    assert check(*fns, seed=seed, points=2, thorough=thorough) == 2.0
    assert check(*fns, seed=seed, thorough=thorough) is None
    out = capsys.readouterr()
    assert "checks passed" in out.out and out.err == ""


@pytest.mark.parametrize("name,fns,code,score", [
    ("affine", (lambda x, W, b: W,), "JACOBIAN_TRANSPOSED", None),
    ("affine", (lambda x, W, b: np.outer(np.ones(W.shape[1]), x),), "X_NOT_W", None),
    # elementwise: sigmoid and relu 1 each, inputs left unchanged 2/3: one function wrong keeps 2 * (5/3) / (8/3)
    ("elementwise", (lambda z: np.diag(_sig(z)), relu_good), "SIGMOID_DERIVATIVE", 1.25),
    ("elementwise", (lambda z: np.diag(_sig(_sig(z)) * (1 - _sig(_sig(z)))), relu_good), "SIGMOID_ON_OUTPUT", 1.25),
    ("elementwise", (lambda z: np.tile(_sig(z) * (1 - _sig(z)), (len(z), 1)), relu_good), "NOT_DIAGONAL", 1.25),
    ("elementwise", (sig_good, lambda z: np.diag((z >= 0).astype(float))), "RELU_AT_ZERO", 1.25),
    ("elementwise", (sig_good, lambda z: np.diag(np.maximum(z, 0))), "RELU_NOT_DERIVATIVE", 1.25),
    ("elementwise", (lambda z: _sig(z) * (1 - _sig(z)), lambda z: (z > 0) * 1.0), "VECTOR_NOT_MATRIX", None),
    ("softmax", (lambda z: np.diag(_softmax(z)),), "MISSING_RANK_ONE", None),
    ("softmax", (lambda z: np.diag(_softmax(z) * (1 - _softmax(z))),), "DIAGONAL_ONLY", None),
    ("softmax", (lambda z: -np.outer(_softmax(z), _softmax(z)),), "MISSING_DIAGONAL", None),
    ("softmax", (lambda z: -softmax_jac_good(z),), "SIGN_FLIP", None),
    ("softmax", (lambda z: np.diag(_softmax(z)) + np.outer(_softmax(z), _softmax(z)),), "OFF_DIAGONAL_SIGN", None),
    ("maxpool", (maxpool_local,), "MAXPOOL_ROUTING", None),
    ("maxpool", (lambda x, p, s: maxpool_good(x, p, s).T,), "JACOBIAN_TRANSPOSED", None),
    ("maxpool", (maxpool_value,), "VALUE_NOT_ONE", None),
    ("vjp", (lambda J, u: J @ u if J.shape[0] == J.shape[1] else u @ J,), "JVP_NOT_VJP", 1.25),  # edge cases right
    ("vjp", (lambda J, u: J.sum(axis=0),), "UPSTREAM_GRAD_MISSING", None),
    ("vjp", (lambda J, u: J * u[:, None],), "NOT_SUMMED", None),
    ("ce", (lambda z, y: _softmax(z),), "SOFTMAX_GRAD_NO_ONEHOT", None),
    ("ce", (lambda z, y: -ce_good(z, y),), "SIGN_FLIP", None),
    ("ce", (lambda z, y: -np.eye(len(z))[y] / _softmax(z),), "DL_DP_NOT_DL_DZ", None),
])
def test_jacobian_checks_name_planted_mistakes(name, fns, code, score, capsys):
    check, _ = GOOD[name]
    got, text = _text(capsys, check, *fns, points=2)
    assert got == score, (got, text)
    assert f"[{code}]" in text, text


def test_maxpool_first_max_on_ties_costs_the_ties_share_visible_and_hidden(capsys):
    # separate windows, overlapping windows, ties (1 each), inputs left unchanged (1): only the ties share is lost
    for thorough in (False, True):  # the visible test has a tie: the hidden one holds no surprise
        got, text = _text(capsys, ex.check_maxpool_jacobian, maxpool_last, points=2, thorough=thorough)
        assert got == 1.5 and "[MAXPOOL_TIE_ORDER]" in text and "✗ ties (the first maximum gets the 1)" in text


def test_relu_at_zero_is_in_the_visible_case(capsys):
    got, text = _text(capsys, ex.check_elementwise_jacobians, sig_good, lambda z: np.diag((z >= 0) * 1.0), points=2)
    assert got == 1.25 and "[RELU_AT_ZERO]" in text and "x > 0" in text


@pytest.mark.parametrize("check,n_args", [
    (ex.check_affine_jacobian, 1), (ex.check_softmax_jacobian, 1), (ex.check_maxpool_jacobian, 1),
    (ex.check_vjp_from_jacobian, 1), (ex.check_ce_grad_via_jacobian, 1), (ex.check_elementwise_jacobians, 2),
])
@pytest.mark.parametrize("bad,phrase", [
    (None, "got None"),
    ("J", "expected a function"),
    (lambda *a: None, "got None"),
    (lambda *a: [[1.0]], "expected a NumPy array"),
    (lambda *a: np.zeros((2, 2, 2)), "shape"),
    (lambda *a: np.zeros((7, 7), dtype=np.float32), "shape"),
    (lambda *a: 1 / 0, "ZeroDivisionError"),
])
def test_jacobian_checks_garbage(check, n_args, bad, phrase):
    fns = (bad,) * n_args
    with pytest.raises(AssertionError) as info:
        check(*fns, points=2)
    assert phrase in str(info.value)


def test_jacobian_checks_dtype_and_nan(capsys):
    for fn, msg in [(lambda z: softmax_jac_good(z).astype(np.float32), "float64"),
                    (lambda z: softmax_jac_good(z).astype(int), "float64"),
                    (lambda z: softmax_jac_good(z) * np.nan, "non-finite")]:
        with pytest.raises(AssertionError) as info:
            ex.check_softmax_jacobian(fn, points=2)
        assert msg in str(info.value)


def test_jacobian_check_stops_after_a_timeout(monkeypatch):
    import graders.core as core
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def forever(z):
        while True:
            pass

    with pytest.raises(AssertionError) as info:
        ex.check_softmax_jacobian(forever, points=2, thorough=True)
    assert "did not finish" in str(info.value)


# ------------------------------------------------------------------------------------------- SymPy answers

import sympy as sp  # noqa: E402

_Z = sp.symbols("z0:3", real=True)
_P = [sp.exp(k) / sum(sp.exp(j) for j in _Z) for k in _Z]


def _jac(entry):
    return sp.Matrix(3, 3, lambda i, j: entry(i, j))


def test_softmax_sympy_accepts_equivalent_forms(capsys):
    good = _jac(lambda i, j: _P[i] * (int(i == j) - _P[j]))
    assert ex.check_softmax_jacobian_sympy(good, points=2) == 2.0
    assert ex.check_softmax_jacobian_sympy(good, seed=5, points=2) == 2.0
    # plain symbols without assumptions, a nested list with a string entry, and a flat list of 9
    z0, z1, z2 = sp.symbols("z0 z1 z2")
    S = sp.exp(z0) + sp.exp(z1) + sp.exp(z2)
    raw = sp.Matrix(3, 3, lambda i, j: sp.diff(sp.exp([z0, z1, z2][i]) / S, [z0, z1, z2][j]))
    assert ex.check_softmax_jacobian_sympy(raw, points=2) == 2.0
    nested = [[good[i, j] for j in range(3)] for i in range(3)]
    nested[0][0] = "exp(z0)/(exp(z0)+exp(z1)+exp(z2)) - exp(2 z0)/(exp(z0)+exp(z1)+exp(z2))^2"
    assert ex.check_softmax_jacobian_sympy(nested, points=2) == 2.0
    assert ex.check_softmax_jacobian_sympy(list(good), points=2) == 2.0
    assert ex.check_softmax_jacobian_sympy(sp.Matrix(list(good)), points=2) == 2.0


@pytest.mark.parametrize("entry,code,score", [
    (lambda i, j: _P[i] * (1 - _P[i]) if i == j else 0, "DIAGONAL_ONLY", 1.0),
    (lambda i, j: _P[i] * (1 - _P[i]) if i == j else _P[i] * _P[j], "OFF_DIAGONAL_SIGN", 1.0),
    (lambda i, j: _P[i] if i == j else -_P[i] * _P[j], "MISSING_P_SQUARED", 1.0),
    (lambda i, j: -_P[i] * (int(i == j) - _P[j]), None, None),
])
def test_softmax_sympy_partial_credit_and_hints(entry, code, score, capsys):
    got, text = _text(capsys, ex.check_softmax_jacobian_sympy, _jac(entry), points=2)
    assert got == score, text
    if code:
        assert f"[{code}]" in text, text


@pytest.mark.parametrize("answer,phrase", [
    (None, "got None"), ("p0 (1 - p0)", "got a string"), (sp.eye(2), "shape (2, 2)"), (42, "got int"),
    (sp.Matrix(3, 3, lambda i, j: sp.Symbol("q")), "unknown symbol 'q'"), ([[1, 2], [3]], "different lengths"),
    (np.zeros((3, 3, 3)), "2-D"),
])
def test_softmax_sympy_garbage(answer, phrase):
    with pytest.raises(AssertionError) as info:
        ex.check_softmax_jacobian_sympy(answer, points=2)
    assert phrase in str(info.value)


def test_ce_dz_sympy(capsys):
    assert ex.check_ce_dz_sympy(_P[1], points=1) == 1.0
    assert ex.check_ce_dz_sympy("exp(z1)/(exp(z0)+exp(z1)+exp(z2))", seed=8, points=1) == 1.0
    assert ex.check_ce_dz_sympy(sp.diff(-sp.log(_P[0]), _Z[1]), points=1) == 1.0
    mistakes = [(_P[1] - 1, "ONEHOT_WRONG_CLASS"), (-_P[1], "SIGN_FLIP"), (_P[1] * (1 - _P[1]), "DIAGONAL_ONLY")]
    for wrong, code in mistakes:
        with pytest.raises(AssertionError) as info:
            ex.check_ce_dz_sympy(wrong, points=1)
        assert f"[{code}]" in str(info.value)
    for garbage, phrase in [(None, "got None"), ("import os", "may not contain"), ("p1", "unknown symbol"),
                            ([1, 2], "SymPy expression or a string")]:
        with pytest.raises(AssertionError) as info:
            ex.check_ce_dz_sympy(garbage, points=1)
        assert phrase in str(info.value)


# ------------------------------------------------------------------------------------------ multiple choice


def test_why_vjp(capsys):
    from graders import concepts

    assert concepts.check_choice("why_vjp", "c", points=1) == 1.0
    assert concepts.check_choice("why_vjp", " (C) ", points=1) == 1.0
    for letter in "abd":
        with pytest.raises(AssertionError) as info:
            concepts.check_choice("why_vjp", letter, points=1)
        assert "is not the best answer" in str(info.value)
    for garbage in (None, 3, "e", "c d", ["c"]):
        with pytest.raises(AssertionError) as info:
            concepts.check_choice("why_vjp", garbage, points=1)
        assert "one letter" in str(info.value)
    concepts.show_question("why_vjp")
    assert "(c) J has (outputs x inputs) entries" in capsys.readouterr().out
    assert not hasattr(ex, "WHY_VJP_QUESTION") and not hasattr(ex, "_WHY_VJP")  # no plain-text answer left


# ------------------------------------------------------------------ issue 12: kinds, analytic answers, inputs


def _fd_jacobian(f, x, h):
    """Centred-difference Jacobian of f at x: column j is (f(x + h e_j) - f(x - h e_j)) / 2h."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def affine_fd(h):
    return lambda x, W, b: _fd_jacobian(lambda v: v @ W + b, x, h)


def softmax_jac_fd(h):
    return lambda z: _fd_jacobian(_softmax, z, h)


def ce_fd(h):
    return lambda z, y: _fd_jacobian(lambda v: np.atleast_1d(-np.log(_softmax(v)[y])), z, h)[0]


def vjp_fd(h):
    return lambda z, u: _fd_jacobian(lambda v: np.atleast_1d(u @ _softmax(v)), z, h)[0]


FD_CASES = {  # check, answer maker, the sub-check that finite differences lose
    "affine": (ex.check_affine_jacobian, affine_fd, "large bias b ~ 1e15"),
    "softmax": (ex.check_softmax_jacobian, softmax_jac_fd, "logits shifted by 1e15"),
    "ce": (ex.check_ce_grad_via_jacobian, ce_fd, "logits shifted by 1e15"),
    "vjp": (ex.check_softmax_vjp, vjp_fd, "large logits (around 800, and shifted by 1e15)"),
}


@pytest.mark.parametrize("name", sorted(FD_CASES))
@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8, 1.0])
@pytest.mark.parametrize("thorough", [False, True])
def test_jacobians_by_finite_differences_lose_the_analytic_share_at_every_step(name, h, thorough, capsys):
    check, make, sub = FD_CASES[name]
    got, text = _text(capsys, check, make(h), points=2, thorough=thorough)
    assert f"✗ {sub}" in text, text
    if h in (1e-5, 1e-6):  # right elsewhere: only that share is lost, and the shortcut is named
        assert "[NUMERIC_NOT_ANALYTIC]" in text, text
        assert got is not None and got >= 1.0, text


def softmax_jac_unstable(z):
    e = np.exp(z)
    p = e / e.sum()
    return np.diag(p) - np.outer(p, p)


@pytest.mark.parametrize("check,fns,sub", [
    (ex.check_softmax_jacobian, (softmax_jac_unstable,), "large logits (around 800)"),
    (ex.check_maxpool_jacobian, (maxpool_last,), "ties (the first maximum gets the 1)"),
    (ex.check_affine_jacobian, (lambda x, W, b: W.T.copy() if W.shape[0] != W.shape[1] else W,),
     "one input and a square W"),
    (ex.check_vjp_from_jacobian, (lambda J, u: u @ J if J.shape[0] > 1 else J[0],), "one output or one input"),
    (ex.check_ce_grad_via_jacobian, (lambda z, y: ce_good(z, y) if len(z) > 2 else np.zeros(len(z)),),
     "two classes and one class"),
])
def test_a_mistake_seen_in_one_kind_costs_its_share_visible_and_hidden_alike(check, fns, sub, capsys):
    """The 04 cells that scored 2/2 visible and 0/2 graded: every kind the hidden test tries is in the visible one,
    and a mistake seen in one kind costs that kind's share, in both."""
    visible, text = _text(capsys, check, *fns, points=2)
    hidden, text_hidden = _text(capsys, check, *fns, seed=41, points=2, thorough=True)
    assert f"✗ {sub}" in text and f"✗ {sub}" in text_hidden, text
    assert visible == hidden and 0 < visible < 2


def test_maxpool_ties_split_or_all_are_named(capsys):
    def split(x, pool, stride):
        L_out = (len(x) - pool) // stride + 1
        J = np.zeros((L_out, len(x)))
        for o in range(L_out):
            w = x[o * stride:o * stride + pool]
            top = np.flatnonzero(w == w.max()) + o * stride
            J[o, top] = 1.0 / top.size     # what a centred difference gives at a tie
        return J

    def all_tied(x, pool, stride):
        return np.ceil(split(x, pool, stride))

    _, text = _text(capsys, ex.check_maxpool_jacobian, split, points=2)
    assert "[MAXPOOL_TIE_ORDER]" in text and "finite differences" in text
    _, text = _text(capsys, ex.check_maxpool_jacobian, all_tied, points=2)
    assert "[MAXPOOL_TIES_ALL]" in text


def test_relu_jacobian_by_finite_differences_is_caught_by_the_exact_zero(capsys):
    relu_fd = lambda z: _fd_jacobian(lambda v: np.maximum(v, 0.0), z, 1e-6)
    got, text = _text(capsys, ex.check_elementwise_jacobians, sig_good, relu_fd, points=2)
    assert got == 1.25 and "[RELU_AT_ZERO]" in text and "straddles the kink" in text


@pytest.mark.parametrize("check,fns", [
    (ex.check_affine_jacobian, (lambda x, W, b: (W.T.copy(), x.fill(0.0))[0],)),
    (ex.check_elementwise_jacobians, (lambda z: (sig_good(z), z.sort())[0], relu_good)),
    (ex.check_softmax_jacobian, (lambda z: (softmax_jac_good(z), z.__isub__(z.max()))[0],)),
    (ex.check_maxpool_jacobian, (lambda x, p, s: (maxpool_good(x, p, s), x.__imul__(2.0))[0],)),
    (ex.check_vjp_from_jacobian, (lambda J, u: (u @ J, J.fill(0.0))[0],)),
    (ex.check_ce_grad_via_jacobian, (lambda z, y: (ce_good(z, y), z.__isub__(z.max()))[0],)),
    (ex.check_softmax_vjp, (lambda z, u: (vjp_good(z, u), u.fill(1.0))[0],)),
])
def test_every_04_function_that_modifies_its_inputs_loses_the_input_share(check, fns, capsys):
    got, text = _text(capsys, check, *fns, points=2)
    assert got == pytest.approx(1.5) and "[INPUT_MUTATED]" in text and "did not cost points" not in text, text
