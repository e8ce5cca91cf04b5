"""Checks of notebook 06 (graders/exercises/bptt.py, graders/question_bank/bptt.py, visuals/bptt_plots.py):
the reference answer gets full points, planted mistakes are named, garbage fails with a clear AssertionError."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import concepts, rnn as gr  # noqa: E402
from graders.core import GradingError  # noqa: E402
from graders.exercises import bptt as ex  # noqa: E402
from graders.question_bank import bptt as bank  # noqa: E402
from reference_impl import rnn as ref  # noqa: E402
from visuals import bptt_plots as vis  # noqa: E402


# ============================================================================ two-step trace


def _trace(**overrides):
    p = ex.TRACE_PROBLEM
    h0, x1, x2, w, u, y1, y2 = (p[k] for k in ("h0", "x1", "x2", "w", "u", "y1", "y2"))
    h1 = math.tanh(w * h0 + u * x1)
    h2 = math.tanh(w * h1 + u * x2)
    da2 = (h2 - y2) * (1 - h2 ** 2)
    carry = overrides.pop("carry", True)
    dh1 = (h1 - y1) + (da2 * w if carry else 0.0)
    da1 = dh1 * (1 - h1 ** 2)
    t = {"h1": h1, "h2": h2, "dL_dh2": h2 - y2, "dL_da2": da2, "dL_dh1": dh1, "dL_da1": da1,
         "dL_dw": da2 * h1 + da1 * h0, "dL_du": da2 * x2 + da1 * x1, "dL_dh0": da1 * w}
    t.update(overrides)
    return t


def test_trace_reference_full_marks():
    assert ex.check_two_step_trace(_trace(), points=2) == 2.0
    assert ex.check_two_step_trace(_trace(), seed=65, points=2, thorough=True) == 2.0


def test_trace_rounded_to_four_digits_passes():
    rounded = {k: float(f"{v:.4g}") for k, v in _trace().items()}
    assert ex.check_two_step_trace(rounded, points=2) == 2.0


def test_trace_no_carry_named(capsys):
    score = ex.check_two_step_trace(_trace(carry=False), points=2)
    out = capsys.readouterr().out
    assert 0 < score < 2
    assert "BPTT_NO_CARRY" in out and "dL_dh1" in out


def test_trace_no_time_sum_named(capsys):
    t = _trace()
    t["dL_dw"] = t["dL_da2"] * t["h1"]
    score = ex.check_two_step_trace(t, points=2)
    out = capsys.readouterr().out
    assert score < 2 and "BPTT_NO_TIME_SUM" in out


def test_trace_tanh_derivative_named(capsys):
    t = _trace()
    t["dL_da2"] = t["dL_dh2"] * (1 - t["h2"])
    ex.check_two_step_trace(t, points=2)
    assert "TANH_DERIVATIVE" in capsys.readouterr().out


def test_trace_h2_from_h0_named(capsys):
    p = ex.TRACE_PROBLEM
    t = _trace(h2=math.tanh(p["w"] * p["h0"] + p["u"] * p["x2"]))
    ex.check_two_step_trace(t, points=2)
    assert "started step 2 from h0" in capsys.readouterr().out


@pytest.mark.parametrize("garbage", [None, 3.0, "abc", [1, 2], {}, {k: None for k in ex.TRACE_KEYS},
                                     {k: float("nan") for k in ex.TRACE_KEYS}, {k: "x" for k in ex.TRACE_KEYS}])
def test_trace_garbage(garbage):
    with pytest.raises(AssertionError):
        ex.check_two_step_trace(garbage, points=2)


# ============================================================================ decay prediction


def _decay():
    W = ex.decay_matrix()
    rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    k = 1
    while rho ** k >= 1e-6:
        k += 1
    return {"spectral_radius": rho, "lags_to_1e-6": k}, W


def test_decay_reference_full_marks():
    ans, W = _decay()
    assert ex.check_decay_prediction(ans, points=2) == 2.0
    assert ex.check_decay_prediction(ans, seed=67, points=2, thorough=True) == 2.0
    assert np.linalg.norm(W, 2) > 1 > ans["spectral_radius"]  # the lesson: norm above 1, radius below
    assert ex.decay_matrix() is not ex.decay_matrix()


def test_decay_singular_value_named(capsys):
    ans, W = _decay()
    ans["spectral_radius"] = float(np.linalg.norm(W, 2))
    score = ex.check_decay_prediction(ans, points=2)
    assert score == 1.0 and "singular value" in capsys.readouterr().out


def test_decay_off_by_one_named(capsys):
    ans, _ = _decay()
    ans["lags_to_1e-6"] -= 1
    ex.check_decay_prediction(ans, points=2)
    assert "off by one" in capsys.readouterr().out


@pytest.mark.parametrize("garbage", [None, 0.9, "0.9", {}, {"spectral_radius": None, "lags_to_1e-6": None},
                                     {"spectral_radius": float("nan"), "lags_to_1e-6": float("inf")},
                                     {"spectral_radius": np.zeros(3), "lags_to_1e-6": "many"}])
def test_decay_garbage(garbage):
    with pytest.raises(AssertionError):
        ex.check_decay_prediction(garbage, points=2)


# ============================================================================ cell path


def _cell():
    s = ex.CELL_SYMBOLS
    return {"rnn_dh_dhprev": s["w"] * (1 - sp.tanh(s["w"] * s["h_prev"] + s["u"] * s["x"]) ** 2),
            "lstm_dc_dcprev": s["f"]}


def test_cell_reference_full_marks():
    assert ex.check_cell_path(_cell(), points=2) == 2.0
    assert ex.check_cell_path(_cell(), seed=69, points=2, thorough=True) == 2.0
    strings = {"rnn_dh_dhprev": "w*(1 - tanh(w*h_prev + u*x)^2)", "lstm_dc_dcprev": "f"}
    assert ex.check_cell_path(strings, points=2) == 2.0


@pytest.mark.parametrize("key,wrong,words", [
    ("lstm_dc_dcprev", "f + i*g", "input term"),
    ("lstm_dc_dcprev", "1", "without a forget gate"),
    ("lstm_dc_dcprev", "f*c_prev + i*g", "the value c_t"),
    ("rnn_dh_dhprev", "w", "tanh slope was dropped"),
    ("rnn_dh_dhprev", "1 - tanh(w*h_prev + u*x)^2", "inner derivative"),
    ("rnn_dh_dhprev", "w*(1 - tanh(w*h_prev + u*x))", "TANH_DERIVATIVE"),
])
def test_cell_mistakes_named(key, wrong, words, capsys):
    ans = _cell()
    ans[key] = wrong
    assert ex.check_cell_path(ans, points=2) == 1.0
    assert words in capsys.readouterr().out


@pytest.mark.parametrize("garbage", [None, "f", 1.0, {}, {"rnn_dh_dhprev": None, "lstm_dc_dcprev": None},
                                     {"rnn_dh_dhprev": "import os", "lstm_dc_dcprev": "__class__"},
                                     {"rnn_dh_dhprev": [1], "lstm_dc_dcprev": np.ones(2)},
                                     {"rnn_dh_dhprev": "zz", "lstm_dc_dcprev": "q"}])
def test_cell_garbage(garbage):
    with pytest.raises(AssertionError):
        ex.check_cell_path(garbage, points=2)


# ============================================================================ question bank


RIGHT = {"bptt_lstm_additive": "b", "bptt_truncation": "c", "bptt_clip_direction": "a"}


@pytest.mark.parametrize("qid", sorted(bank.QUESTIONS))
def test_questions(qid, capsys):
    assert qid in RIGHT
    assert concepts.check_choice(qid, RIGHT[qid], points=1) == 1.0
    assert concepts.check_choice(qid, f"({RIGHT[qid].upper()})", points=1) == 1.0
    q = bank.QUESTIONS[qid]
    for letter in q.options:
        if letter == RIGHT[qid]:
            continue
        assert concepts.digest(qid, letter) in q.feedback  # every wrong option explains itself
        with pytest.raises(AssertionError, match="not the best answer"):
            concepts.check_choice(qid, letter, points=1)
    for garbage in (None, 1, "z", ["a"]):
        with pytest.raises(AssertionError):
            concepts.check_choice(qid, garbage, points=1)
    concepts.show_question(qid)
    assert q.text[:30] in capsys.readouterr().out


# ============================================================================ the generic checks the notebook uses


def test_reference_passes_the_notebook_checks():
    assert gr.check_rnn_step(ref.rnn_step_forward, ref.rnn_step_backward, points=3) == 3.0
    assert gr.check_rnn_forward(ref.rnn_forward, points=1) == 1.0
    assert gr.check_rnn_backward(ref.rnn_forward, ref.rnn_backward, points=3) == 3.0
    assert gr.check_rnn_backward(ref.rnn_forward, ref.rnn_backward, truncate=3, points=2) == 2.0
    assert gr.check_gradient_norm_vs_lag(ref.gradient_norms_by_lag, points=2) == 2.0
    assert gr.check_clip_grad_norm(ref.clip_grad_norm, points=2) == 2.0


def test_truncation_off_by_one_is_named(capsys):
    def backward(dh, cache, truncate=None):
        return ref.rnn_backward(dh, cache, truncate=None if truncate is None else truncate + 1)

    score = gr.check_rnn_backward(ref.rnn_forward, backward, truncate=3, points=2)
    assert score < 2 and "TRUNCATION_OFF_BY_ONE" in capsys.readouterr().out


# ============================================================================ visuals


def test_plot_norms_by_lag():
    norms = {"a": 0.8 ** np.arange(11), "b": np.r_[1.5 ** np.arange(10), 0.0]}
    fig = vis.plot_norms_by_lag(norms, guides={"a": 0.8}, title="t")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 3
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_norms_by_lag({})
    with pytest.raises(ValueError):
        vis.plot_norms_by_lag({"x": []})


def test_draw_unrolled():
    fig = vis.draw_unrolled([0.5, 0.76, 0.3], [0.2, 0.6, 0.2], loss_grads=[0, 0.46, 0.2])
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "h=0.76" in texts and "dL/dh=0.6" in texts and "L2" in texts
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.draw_unrolled([1.0], [1.0])
