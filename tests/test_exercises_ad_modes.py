"""graders.exercises.ad_modes (notebook 05): correct answers get full marks, plausible wrong answers lose points
with a message that names the mistake, garbage never crashes the grader, partial credit is exact."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import sympy as sp

from graders import core
from graders.exercises import ad_modes as ex
from reference_impl import symbolic as ref_sym
from reference_impl.autodiff import checkpoint as ref_ckpt
from visuals import ad_modes_plots as vis
from tests.grading_helpers import fails as _fails
from tests.grading_helpers import fails_with as _fails_with

EPS = float(np.finfo(np.float64).eps)


# ============================================================================================ reverse trace

GOOD_TRACE = {"v5": 1.0, "v4": 1.0, "v3": 1.0, "v2": 2.0, "v1": 3.0 + math.cos(2.0)}


def test_trace_correct_answers_score_full():
    assert ex.check_reverse_trace(GOOD_TRACE, points=2) == 2.0
    assert ex.check_reverse_trace(GOOD_TRACE) is None
    rounded = {"v5": 1, "v4": 1, "v3": 1, "v2": 2, "v1": 2.584}
    assert ex.check_reverse_trace(rounded, points=2) == 2.0
    numpy_types = {k: np.float64(v) for k, v in GOOD_TRACE.items()}
    numpy_types["v1"] = np.array(3.0 + np.cos(2.0))
    assert ex.check_reverse_trace(numpy_types, points=2) == 2.0


def test_trace_reference_matches_reverse_mode():
    from reference_impl.autodiff.reverse import Value
    a, b = Value(2.0), Value(3.0)
    out = a * b + a.sin()
    out.backward()
    assert math.isclose(a.grad, GOOD_TRACE["v1"]) and math.isclose(b.grad, GOOD_TRACE["v2"])
    assert round(a.grad, 5) == 2.58385 and round(out.data, 5) == 6.90930


@pytest.mark.parametrize("key, wrong, phrase", [
    ("v1", 3.0, "SUM of both contributions"),
    ("v1", math.cos(2.0), "only the sine path"),
    ("v1", 3.0 * math.cos(2.0), "they are not multiplied"),
    ("v1", 3.0 - math.sin(2.0), "cos(v1), not -sin(v1)"),
    ("v2", 3.0, "OTHER factor"),
    ("v4", math.cos(2.0), "local derivative"),
    ("v1", -(3.0 + math.cos(2.0)), "sign is flipped"),
])
def test_trace_named_mistakes_lose_one_entry(capsys, key, wrong, phrase):
    answers = dict(GOOD_TRACE, **{key: wrong})
    assert ex.check_reverse_trace(answers, points=2) == pytest.approx(1.6)
    out = capsys.readouterr().out
    assert phrase in out and f"adjoint of {key}" in out


def test_trace_all_wrong_and_garbage():
    msg = _fails(ex.check_reverse_trace, {k: 0.0 for k in ex.TRACE_KEYS}, points=2)
    assert "Walk the trace backwards" in msg
    assert "expected a dict" in _fails(ex.check_reverse_trace, None, points=2)
    assert "expected a dict" in _fails(ex.check_reverse_trace, [1, 1, 1, 2, 2.58], points=2)
    assert "give a number" in _fails(ex.check_reverse_trace, {k: "one" for k in ex.TRACE_KEYS}, points=2)


def test_trace_missing_and_unusable_entries(capsys):
    answers = dict(GOOD_TRACE)
    del answers["v3"]
    answers["v2"] = float("nan")
    answers["v9"] = 4.0
    assert ex.check_reverse_trace(answers, points=2) == pytest.approx(1.2)
    out = capsys.readouterr().out
    assert "answers['v3'] is missing" in out and "answers['v2'] = nan" in out and "ignored unknown key(s): v9" in out
    bools = dict(GOOD_TRACE, v5=True)
    assert ex.check_reverse_trace(bools, points=2) == pytest.approx(1.6)


# ============================================================================================ expression swell


def sizes_good(f, depth):
    x = sp.Symbol("x")
    expr, out = x, []
    for _ in range(depth):
        expr = f(expr)
        out.append(int(sp.count_ops(sp.diff(expr, x))))
    return out


def sizes_primal(f, depth):
    x = sp.Symbol("x")
    expr, out = x, []
    for _ in range(depth):
        expr = f(expr)
        out.append(int(sp.count_ops(expr)))
    return out


def sizes_cse(f, depth):
    x = sp.Symbol("x")
    expr, out = x, []
    for _ in range(depth):
        expr = f(expr)
        reps, reduced = sp.cse(sp.diff(expr, x))
        out.append(int(sum(sp.count_ops(r) for _, r in reps) + sp.count_ops(reduced)))
    return out


def sizes_shifted(f, depth):
    x = sp.Symbol("x")
    expr, out = x, []
    for _ in range(depth):
        out.append(int(sp.count_ops(sp.diff(expr, x))))
        expr = f(expr)
    return out


def sizes_expanded(f, depth):
    x = sp.Symbol("x")
    expr, out = x, []
    for _ in range(depth):
        expr = f(expr)
        out.append(int(sp.count_ops(sp.expand(sp.diff(expr, x)))))
    return out


def sizes_expressions(f, depth):
    x = sp.Symbol("x")
    expr, out = x, []
    for _ in range(depth):
        expr = f(expr)
        out.append(sp.diff(expr, x))
    return out


def test_swell_reference_passes():
    assert ex.check_derivative_sizes(sizes_good, points=2) == 2.0
    assert ex.check_derivative_sizes(sizes_good, seed=1, points=2, thorough=True) == 2.0
    assert ex.check_derivative_sizes(sizes_good) is None
    # numpy integers, floats with integer values and SymPy Integers are accepted too
    assert ex.check_derivative_sizes(lambda f, d: np.array(sizes_good(f, d)), points=2) == 2.0
    assert ex.check_derivative_sizes(lambda f, d: [float(s) for s in sizes_good(f, d)], points=2) == 2.0
    assert ex.check_derivative_sizes(lambda f, d: [sp.count_ops(sp.Integer(0)) + s for s in sizes_good(f, d)],
                                     points=2) == 2.0


def test_swell_expected_values_come_from_reference():
    rows = ref_sym.expression_swell(5, ex.SWELL_CASES["logistic"][0])
    assert [r["derivative_ops"] for r in rows] == sizes_good(ex.SWELL_CASES["logistic"][0], 5)
    assert rows[-1]["derivative_ops"] > 30 * rows[-1]["primal_ops"]  # the swell is real


@pytest.mark.parametrize("fn, phrase", [
    (sizes_primal, "sizes of the nested expression itself"),
    (sizes_cse, "AFTER common-subexpression elimination"),
    (sizes_shifted, "shifted by one"),
    (sizes_expanded, "expanded or simplified"),
    (sizes_expressions, "It holds expressions"),
    (lambda f, d: [0] + sizes_good(f, d), "one too many"),
])
def test_swell_named_mistakes(fn, phrase, capsys):
    # depth 1 (in the visible test too) cannot tell cse or expand apart from the raw tree: those keep its share
    _fails_with(capsys, ex.check_derivative_sizes, fn, points=2, phrase=phrase)


def test_swell_partial_credit(capsys):
    def wrong_for_sine(f, depth):
        out = sizes_good(f, depth)
        u = sp.Symbol("u")
        return out if f(u) == ex.SWELL_CASES["logistic"][0](u) else [s + 1 for s in out]

    assert ex.check_derivative_sizes(wrong_for_sine, points=2) == pytest.approx(1.3333)
    assert "✗ maps with sin or exp: f(u) = sin(u)*u" in capsys.readouterr().out
    # depth 1 cannot tell the cse sizes apart: 1 of the 3 kinds passes
    assert ex.check_derivative_sizes(sizes_cse, points=2, thorough=True) == pytest.approx(0.6667)


def test_swell_garbage_never_crashes(monkeypatch):
    assert "got None" in _fails(ex.check_derivative_sizes, None, points=2)
    assert "expected a function" in _fails(ex.check_derivative_sizes, 42, points=2)
    assert "positional argument" in _fails(ex.check_derivative_sizes, lambda f: [1], points=2)
    assert "ZeroDivisionError" in _fails(ex.check_derivative_sizes, lambda f, d: 1 / 0, points=2)
    assert "got None" in _fails(ex.check_derivative_sizes, lambda f, d: None, points=2)
    assert "list of 5 integers" in _fails(ex.check_derivative_sizes, lambda f, d: "many", points=2)
    assert "list of 5 integers" in _fails(ex.check_derivative_sizes, lambda f, d: [1.5] * d, points=2)
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def forever(f, d):
        while True:
            pass

    msg = _fails(ex.check_derivative_sizes, forever, points=2)
    assert "did not finish" in msg and "not checked" in msg


# ============================================================================================ finite differences


def fwd_good(f, x, h):
    return (f(x + h) - f(x)) / h


def ctr_good(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def fwd_backward(f, x, h):
    return (f(x) - f(x - h)) / h


def ctr_over_h(f, x, h):
    return (f(x + h) - f(x - h)) / h


def ctr_precedence(f, x, h):
    return (f(x + h) - f(x - h)) / 2 * h


def fwd_fixed_step(f, x, h=1e-5):
    return (f(x + 1e-5) - f(x)) / 1e-5


def fwd_sign(f, x, h):
    return (f(x) - f(x + h)) / h


def fwd_clamped(f, x, h):
    h = max(h, 1e-6)
    return (f(x + h) - f(x)) / h


@pytest.mark.parametrize("seed", range(12))
def test_fd_reference_passes_many_seeds(seed):
    assert ex.check_finite_differences(fwd_good, ctr_good, seed=seed, points=3, thorough=seed % 2 == 1) == 3.0


def test_fd_equivalent_formulas_and_none_points():
    assert ex.check_finite_differences(lambda f, x, h: f(x + h) / h - f(x) / h,
                                       lambda f, x, h: 0.5 * (f(x + h) - f(x - h)) / h, points=3) == 3.0
    assert ex.check_finite_differences(lambda f, x, h: np.float64(fwd_good(f, x, h)),
                                       lambda f, x, h: np.array([ctr_good(f, x, h)]), points=3) == 3.0
    assert ex.check_finite_differences(fwd_good, ctr_good) is None


@pytest.mark.parametrize("fwd, ctr, phrase", [
    (fwd_good, fwd_good, "[ONE_SIDED_DIFFERENCE]"),
    (fwd_good, fwd_backward, "[ONE_SIDED_DIFFERENCE]"),
    (fwd_good, ctr_over_h, "[FD_DENOMINATOR]"),
    (fwd_good, ctr_precedence, "[FD_DENOMINATOR]"),
    (fwd_fixed_step, ctr_good, "[FD_STEP_IGNORED]"),
    (fwd_sign, ctr_good, "[SIGN_FLIP]"),
    (ctr_good, ctr_good, "That is the centred difference"),
    (fwd_backward, ctr_good, "That is the backward difference"),
    (lambda f, x, h: (f(x + h) - f(x)) / (2 * h), ctr_good, "divide by h, not 2h"),
])
def test_fd_named_mistakes_keep_partial_credit(capsys, fwd, ctr, phrase):
    assert ex.check_finite_differences(fwd, ctr, points=3) == 1.0
    out = capsys.readouterr().out
    assert phrase in out and "not checked until both formulas" in out


def test_fd_clamped_step_fails_only_the_error_check(capsys):
    assert ex.check_finite_differences(fwd_clamped, ctr_good, points=3) == 2.0
    out = capsys.readouterr().out
    assert "limit the step" in out and "✗ errors against h" in out


def test_fd_error_check_rejects_noise_at_small_steps(capsys):
    def noisy(f, x, h):
        value = fwd_good(f, x, h)
        return value + (1.0 if h < 1e-10 else 0.0) * 1e3

    assert ex.check_finite_differences(noisy, ctr_good, points=3) == 2.0
    assert "more than round-off" in capsys.readouterr().out


def test_fd_exact_derivative_is_not_an_approximation(capsys):
    # a "difference" that ignores h and is exact everywhere (e.g. via an analytic derivative) for one function
    def exact(f, x, h):
        return (f(x + 1e-7) - f(x - 1e-7)) / 2e-7  # close to the exact derivative, independent of h

    assert ex.check_finite_differences(exact, ctr_good, points=3) == 1.0
    assert "✗ forward_difference values" in capsys.readouterr().out


def test_fd_garbage_never_crashes(monkeypatch):
    assert "got None" in _fails(ex.check_finite_differences, None, ctr_good, points=3)
    assert "positional argument" in _fails(ex.check_finite_differences, lambda f, x: 0.0, ctr_good, points=3)
    msg = _fails(ex.check_finite_differences, lambda f, x, h: 1 / 0, lambda f, x, h: "slope", points=3)
    assert "ZeroDivisionError" in msg and "return a float" in msg
    msg = _fails(ex.check_finite_differences, lambda f, x, h: None, lambda f, x, h: complex(1, 2), points=3)
    assert "returned None" in msg
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.2)

    def forever(f, x, h):
        while True:
            pass

    assert "did not finish" in _fails(ex.check_finite_differences, forever, forever, points=3)


# ============================================================================================ best steps


def test_best_steps_theory_and_measured_answers_pass():
    assert ex.check_best_steps(2 * math.sqrt(EPS), (3 * EPS) ** (1 / 3), points=1) == 1.0
    assert ex.check_best_steps(1e-8, 1e-5) is None

    def f(t):
        return math.exp(math.sin(t))

    def df(t):
        return math.cos(t) * math.exp(math.sin(t))

    hs = np.logspace(-15, 0, 61)
    ef = [abs(fwd_good(f, 1.0, h) - df(1.0)) for h in hs]
    ec = [abs(ctr_good(f, 1.0, h) - df(1.0)) for h in hs]
    assert ex.check_best_steps(float(hs[np.argmin(ef)]), float(hs[np.argmin(ec)]), points=1) == 1.0


def test_best_steps_mistakes():
    assert "OTHER formula" in _fails(ex.check_best_steps, 1e-5, 1e-8, points=1)
    assert "exponent" in _fails(ex.check_best_steps, -8, -5, points=1)
    msg = _fails(ex.check_best_steps, 2.2e-16, 1e-2, points=1)
    assert "round-off dominates" in msg and "truncation dominates" in msg
    assert "positive" in _fails(ex.check_best_steps, 0.0, 0, points=1)
    assert "give two positive numbers" in _fails(ex.check_best_steps, "tiny", None, points=1)


def test_best_steps_partial_credit(capsys):
    assert ex.check_best_steps(1e-8, 1e-8, points=1) == 0.5
    assert "best h for the centred difference" in capsys.readouterr().out
    assert ex.check_best_steps(None, 1e-5, points=1) == 0.5


# ============================================================================================ activation memory


def memory_good(B, T, H, N, k, bytes_per_value=4):
    per = B * T * H * bytes_per_value / 1e9
    return {"per_layer_gb": per, "full_gb": (N + 1) * per, "checkpointed_gb": (math.ceil(N / k) + k) * per}


def memory_exact_peak(B, T, H, N, k, bytes_per_value=4):
    per = B * T * H * bytes_per_value / 1e9
    return {"per_layer_gb": per, "full_gb": (N + 1) * per,
            "checkpointed_gb": ref_ckpt.expected_peak_stored(N, k) * per}


def test_memory_reference_variants_pass():
    for fn in (memory_good, memory_exact_peak):
        assert ex.check_activation_memory(fn, points=1) == 1.0
        assert ex.check_activation_memory(fn, seed=8, points=1, thorough=True) == 1.0
    assert ex.check_activation_memory(memory_good) is None


def test_memory_gpt3_scale_numbers():
    got = memory_good(32, 2048, 12288, 96, math.isqrt(96))
    assert got["per_layer_gb"] == pytest.approx(3.221, abs=1e-3)
    assert got["full_gb"] == pytest.approx(312.5, abs=0.1)


def _variant(change):
    def fn(B, T, H, N, k, bytes_per_value=4):
        d = memory_good(B, T, H, N, k, bytes_per_value)
        return change(d, B, T, H, N, k, bytes_per_value)
    return fn


@pytest.mark.parametrize("fn, score, phrase", [
    (_variant(lambda d, *a: {k: v * 1e9 / 2 ** 30 for k, v in d.items()}), 2 / 3, "GiB"),
    (_variant(lambda d, B, T, H, N, k, b: memory_good(B, T, H, N, k, 1)), 2 / 3, "bytes per number are missing"),
    (_variant(lambda d, B, T, H, N, k, b: dict(d, checkpointed_gb=math.ceil(N / k) * d["per_layer_gb"])),
     2 / 3, "only the checkpoints are counted"),
    (_variant(lambda d, B, T, H, N, k, b: dict(d, checkpointed_gb=k * d["per_layer_gb"])),
     2 / 3, "only the segment is counted"),
    (_variant(lambda d, B, T, H, N, k, b: dict(d, full_gb=2 * N * d["per_layer_gb"])), 2 / 3, "97 (N + 1) tensors"),
    (_variant(lambda d, B, T, H, N, k, b: dict(d, per_layer_gb=d["per_layer_gb"] * 8)), 2 / 3, "bits instead"),
])
def test_memory_named_mistakes(capsys, fn, score, phrase):
    if score is None:
        assert phrase in _fails(ex.check_activation_memory, fn, points=1)
    else:
        assert ex.check_activation_memory(fn, points=1) == pytest.approx(round(score, 4))
        assert phrase in capsys.readouterr().out


def test_memory_sqrt_n_hint(capsys):
    fn = _variant(lambda d, B, T, H, N, k, b: dict(d, checkpointed_gb=math.sqrt(N) * d["per_layer_gb"]))
    assert ex.check_activation_memory(fn, points=1) == pytest.approx(0.6667)
    out = capsys.readouterr().out
    assert "2 sqrt(N)" in out  # N = 96, k = 9: sqrt(96) is neither the checkpoints nor k


def test_memory_garbage_never_crashes():
    assert "expected a dict" in _fails(ex.check_activation_memory, lambda *a: [1, 2, 3], points=1)
    assert "is missing" in _fails(ex.check_activation_memory, lambda *a: {}, points=1)
    assert "give a number of GB" in _fails(ex.check_activation_memory, lambda *a: {k: "x" for k in ex.MEMORY_KEYS},
                                           points=1)
    assert "ZeroDivisionError" in _fails(ex.check_activation_memory, lambda *a: 1 / 0, points=1)
    assert "positional argument" in _fails(ex.check_activation_memory, lambda B, T: {}, points=1)


# ============================================================================================ visuals


def test_plots_return_figures_and_validate_input():
    hs = np.logspace(-15, 0, 31)
    ef = np.abs(np.sin(hs)) + 1e-16 / hs
    fig = vis.plot_fd_errors(hs, ef, ef / 2)
    assert len(fig.axes) == 1 and fig.axes[0].get_xscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_fd_errors(hs, ef[:-1], ef)
    fig = vis.plot_expression_swell([1, 2, 3], {"tree": [2, 21, 82], "program": [3, 6, 9]})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_expression_swell([1, 2], {"tree": [1]})
    with pytest.raises(ValueError):
        vis.plot_expression_swell([1, 2], {})
    fig = vis.plot_checkpoint_costs([4, 9], [4, 9], [3, 5], [4, 9], [6, 15])
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_checkpoint_costs([4, 9], [4], [3, 5], [4, 9], [6, 15])


# ============================================================================================ issue 12: fair grading
# The notebook's own answers (its Value engine, Dual class and exercises, executed from solutions/), and the
# shortcuts and slips a careful student would try.

from graders import autodiff as gad  # noqa: E402
from graders.autodiff import functions as _AF  # noqa: E402
from graders.autodiff import modes as _modes  # noqa: E402
from tests.solution_cells import solution_namespace  # noqa: E402

_NB = solution_namespace("05_ad_modes", ["dual_class", "value_engine", "partial_derivative", "jvp", "vjp",
                                         "jacobian_forward", "jacobian_reverse", "checkpointed_backward",
                                         "activation_memory", "hvp"])
Value, Dual, object_array, outputs_of = _NB["Value"], _NB["Dual"], _NB["object_array"], _NB["outputs_of"]


def test_the_notebook_answers_get_full_marks():
    for seed, thorough in ((0, False), (5, True)):
        assert gad.check_hvp(_NB["hvp"], seed=seed, points=2, thorough=thorough) == 2.0
        assert gad.check_vjp(_NB["vjp"], seed=seed, points=2, thorough=thorough) == 2.0
        assert gad.check_jvp(_NB["jvp"], seed=seed, points=2, thorough=thorough) == 2.0
        assert gad.check_partial_derivative(_NB["partial_derivative"], seed=seed, points=1, thorough=thorough) == 1.0
        assert gad.check_jacobian(_NB["jacobian_forward"], "forward", seed=seed, points=1, thorough=thorough) == 1.0
        assert gad.check_jacobian(_NB["jacobian_reverse"], "reverse", seed=seed, points=1, thorough=thorough) == 1.0
        assert gad.check_checkpointed_backward(_NB["checkpointed_backward"], seed=seed, points=3,
                                               thorough=thorough) == 3.0
        assert ex.check_activation_memory(_NB["activation_memory"], seed=seed, points=1, thorough=thorough) == 1.0


# --- HVP by finite differences: NUMERIC_NOT_ANALYTIC at every step size


def _gradient(f, x):
    """The notebook's reverse mode: the exact gradient of a scalar f at x (one backward pass)."""
    leaves = object_array([Value(float(v)) for v in x])
    y = outputs_of(f(leaves))[0]
    y.backward()
    return np.array([leaf.grad for leaf in leaves], dtype=np.float64)


def hvp_gradient_differences(h):
    def hvp(f, x, v):   # "H v is the directional derivative of the gradient": difference two exact gradients
        return (_gradient(f, x + h * v) - _gradient(f, x - h * v)) / (2 * h)
    return hvp


def hvp_second_differences(h):
    def hvp(f, x, v):   # no AD at all: the gradient of v . grad f by differences of f
        def g(p):
            return float(outputs_of(f(p))[0])
        out = np.zeros(len(x))
        for i in range(len(x)):
            e = np.zeros(len(x))
            e[i] = h
            out[i] = (g(x + e + h * v) - g(x + e - h * v) - g(x - e + h * v) + g(x - e - h * v)) / (4 * h * h)
        return out
    return hvp


@pytest.mark.parametrize("h", [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8])
@pytest.mark.parametrize("make", [hvp_gradient_differences, hvp_second_differences])
@pytest.mark.parametrize("seed,thorough", [(0, False), (17, True)])
def test_hvp_by_finite_differences_fails_at_every_step_size(make, h, seed, thorough, capsys):
    text = _fails_with(capsys, gad.check_hvp, make(h), seed=seed, points=2, thorough=thorough,
                       code="NUMERIC_NOT_ANALYTIC")
    assert "✗ H v with a huge constant gradient" in text and "✗ one pass" in text, text


def test_hvp_huge_gradient_case_is_exact_for_forward_over_reverse():
    rng = np.random.default_rng(3)
    tf = _AF._offset_function(rng, 4)
    x, v = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)
    plain = _AF._TestFunction("scalar", 4, None, "", (tf.params[0],))
    want = _modes._ref_fwd.hvp(plain.f, x, v)        # the huge linear term has no curvature
    assert core.rel_error(_NB["hvp"](tf.f, x, v), want) < 1e-12
    best = min(core.rel_error(hvp_gradient_differences(h)(tf.f, x, v), want) for h in 10.0 ** -np.arange(2, 9))
    assert best > 1e-4   # more than 100 times the tolerance (1e-6) even at the best step


# --- "ONE backward()" counted on the learner's own Value class


def vjp_row_by_row_own_value(f, x, u):   # right numbers, m backward passes of the notebook's Value
    leaves = object_array([Value(float(v)) for v in x])
    ys = outputs_of(f(leaves))
    total = np.zeros(len(x))
    for ui, yi in zip(u, ys):
        for leaf in leaves:
            leaf.grad = 0.0
        yi.backward()
        total += float(ui) * np.array([leaf.grad for leaf in leaves])
    return np.array([y.data for y in ys]), total


def vjp_backward_twice(f, x, u):   # a "warm-up" backward before the real one
    leaves = object_array([Value(float(v)) for v in x])
    ys = outputs_of(f(leaves))
    L = sum(float(ui) * yi for ui, yi in zip(u, ys))
    L.backward()
    L.backward()
    return np.array([y.data for y in ys]), np.array([leaf.grad for leaf in leaves])


@pytest.mark.parametrize("fn", [vjp_row_by_row_own_value, vjp_backward_twice])
def test_vjp_counts_backward_calls_of_the_notebooks_own_value(fn, capsys):
    before = Value.backward
    text = _fails_with(capsys, gad.check_vjp, fn, points=2, phrase="counted on your Value class")
    assert "✗ a single pass" in text and "✓ u^T J" in text
    assert Value.backward is before and "backward" in vars(Value)   # the class is left as it was


def jacobian_reverse_twice_per_row(f, x):
    leaves = object_array([Value(float(v)) for v in x])
    ys = outputs_of(f(leaves))
    J = np.zeros((len(ys), len(x)))
    for i, y in enumerate(ys):
        for _ in range(2):
            for leaf in leaves:
                leaf.grad = 0.0
            y.backward()
        J[i] = [leaf.grad for leaf in leaves]
    return J


def test_jacobian_reverse_counts_backward_calls_of_the_notebooks_own_value(capsys):
    text = _fails_with(capsys, gad.check_jacobian, jacobian_reverse_twice_per_row, "reverse", points=1,
                       phrase="reverse mode needs exactly m")
    assert "✓ J" in text


def test_a_student_value_class_without_own_backward_is_counted_and_restored(capsys):
    class Base(Value):
        pass

    def vjp_subclass(f, x, u):
        leaves = object_array([Base(float(v)) for v in x])
        ys = outputs_of(f(leaves))
        for yi in ys:
            yi.backward()
        L = sum(float(ui) * yi for ui, yi in zip(u, ys))
        L.backward()
        return np.array([y.data for y in ys]), np.array([leaf.grad for leaf in leaves])

    _fails_with(capsys, gad.check_vjp, vjp_subclass, points=2, phrase="backward() ran")
    assert "backward" not in vars(Base)


# --- the stale-leaf-gradient pitfall: outputs that depend on subsets of the inputs


def jacobian_reverse_no_reset(f, x):   # the notebook's warning ignored: leaves keep the previous row's .grad
    leaves = object_array([Value(float(v)) for v in x])
    ys = outputs_of(f(leaves))
    J = np.zeros((len(ys), len(x)))
    for i, y in enumerate(ys):
        y.backward()
        J[i] = [leaf.grad for leaf in leaves]
    return J


def test_jacobian_reverse_without_resetting_the_leaves_is_caught_by_the_visible_test(capsys):
    text = _fails_with(capsys, gad.check_jacobian, jacobian_reverse_no_reset, "reverse", points=1,
                       code="JACOBIAN_STALE_GRADS")
    assert "some inputs only" in text and "✓ reverse mode: m passes" in text


def test_the_subset_functions_really_leave_leaves_unreached():
    rng = np.random.default_rng(0)
    for _ in range(20):
        tf = _AF._subset_function(rng, 4, 3, unused=True)
        W = tf.params[0]
        assert (W != 0).any(axis=1).all() and not (W != 0).any(axis=0).all()
        assert any(np.any((W[i - 1] != 0) & (W[i] == 0)) for i in range(1, 3))
        x = rng.uniform(-1, 1, 4)
        J = jacobian_reverse_no_reset(tf.f, x)
        assert not np.allclose(J, _NB["jacobian_reverse"](tf.f, x))


# --- one input-mutation rule in 05


def jvp_reuses_x(f, x, v):
    out = _NB["jvp"](f, x, v)
    x -= x            # "free" the buffer: the caller's x is now zeros
    return out


def checkpoint_scales_dout(layers, x, dout, k):
    dx, grads = _NB["checkpointed_backward"](layers, x, dout, k)
    dout *= 0.0
    return dx, grads


@pytest.mark.parametrize("check,fn,args,points", [
    (gad.check_jvp, jvp_reuses_x, (), 2),
    (gad.check_checkpointed_backward, checkpoint_scales_dout, (), 3),
])
def test_input_mutation_costs_the_course_wide_quarter(check, fn, args, points, capsys):
    assert check(fn, *args, points=points) == pytest.approx(0.75 * points)
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


# --- activation memory: N + 1 and the ceil


def memory_without_input(B, T, H, N, k, bytes_per_value=4):
    per = B * T * H * bytes_per_value / 1e9
    return {"per_layer_gb": per, "full_gb": N * per, "checkpointed_gb": (math.ceil(N / k) + k) * per}


def memory_without_ceil(B, T, H, N, k, bytes_per_value=4):
    per = B * T * H * bytes_per_value / 1e9
    return {"per_layer_gb": per, "full_gb": (N + 1) * per, "checkpointed_gb": (N / k + k) * per}


@pytest.mark.parametrize("fn,phrase", [(memory_without_input, "the input h_0 is missing"),
                                        (memory_without_ceil, "math.ceil")])
def test_memory_counts_the_input_and_the_ceil(fn, phrase, capsys):
    assert ex.check_activation_memory(fn, points=1) == pytest.approx(0.6667)
    assert phrase in capsys.readouterr().out


# --- the visible test shows every kind of case the hidden test tries


def _kinds_of_vector_cases(thorough):
    kinds = set()
    for tf, _ in _modes._vector_cases(np.random.default_rng(0), thorough):
        kinds.add((tf.form, "n=1" if tf.n == 1 else "m=1" if tf.m == 1 else "square" if tf.n == tf.m else
                   "n>m" if tf.n > tf.m else "n<m"))
    return kinds


def test_visible_cases_cover_the_hidden_kinds_in_05():
    assert _kinds_of_vector_cases(True) <= _kinds_of_vector_cases(False)
    memory = [ex._memory_cases(np.random.default_rng(s), t) for s, t in ((0, False), (8, True))]
    kinds = [{(N % k == 0, b) for _, _, _, N, k, b in cases} for cases in memory]
    assert {d for d, _ in kinds[1]} <= {d for d, _ in kinds[0]} and {b for _, b in kinds[1]} <= {b for _, b in kinds[0]}
    fd = [{p.get("kind", "random") for p, *_ in ex._fd_cases(np.random.default_rng(s), t)} for s, t in ((0, False),
                                                                                                  (13, True))]
    assert fd[1] <= fd[0]


@pytest.mark.parametrize("check,args", [
    (gad.check_hvp, ()), (gad.check_jvp, ()), (gad.check_vjp, ()), (gad.check_partial_derivative, ()),
    (gad.check_jacobian, ("forward",)), (gad.check_jacobian, ("reverse",)), (gad.check_checkpointed_backward, ()),
    (ex.check_activation_memory, ()), (ex.check_derivative_sizes, ()),
])
def test_hidden_sub_checks_are_visible_sub_checks_and_points_are_split(check, args, monkeypatch):
    answers = {gad.check_hvp: _NB["hvp"], gad.check_jvp: _NB["jvp"], gad.check_vjp: _NB["vjp"],
               gad.check_partial_derivative: _NB["partial_derivative"],
               gad.check_checkpointed_backward: _NB["checkpointed_backward"],
               ex.check_activation_memory: _NB["activation_memory"], ex.check_derivative_sizes: sizes_good}
    fn = answers.get(check) or _NB[f"jacobian_{args[0]}"]
    seen = []
    original = core.Report.finish
    monkeypatch.setattr(core.Report, "finish", lambda self: (seen.append(list(self.checks)), original(self))[1])
    check(fn, *args, seed=0, points=2)
    check(fn, *args, seed=9, points=2, thorough=True)
    visible, hidden = seen
    assert len(visible) >= 2 and set(hidden) <= set(visible), (visible, hidden)


def test_stale_gradients_of_a_value_class_that_never_resets_are_named_too(capsys):
    from tests.test_graders_autodiff import make_value
    V = make_value(reset=False)   # backward() adds onto whatever .grad holds: row i gets rows 0..i summed

    def jacobian_reverse_accumulating(f, x):
        leaves = [V(float(v)) for v in x]
        ys = outputs_of(f(leaves))
        rows = []
        for y in ys:
            y.backward()
            rows.append([leaf.grad for leaf in leaves])
        return np.array(rows, dtype=np.float64)

    _fails_with(capsys, gad.check_jacobian, jacobian_reverse_accumulating, "reverse", points=1,
                code="JACOBIAN_STALE_GRADS")


def test_dual_class_sub_checks_and_kinds_are_visible(monkeypatch):
    seen = []
    original = core.Report.finish
    monkeypatch.setattr(core.Report, "finish", lambda self: (seen.append(list(self.checks)), original(self))[1])
    assert gad.check_dual_class(Dual, seed=0, points=3) == 3.0
    assert gad.check_dual_class(Dual, seed=105, points=3, thorough=True) == 3.0
    assert set(seen[1]) <= set(seen[0]) and len(seen[0]) >= 3
