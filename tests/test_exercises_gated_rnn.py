"""Checks of notebook 12 (graders/exercises/gated_rnn.py, graders/question_bank/gated_rnn.py,
graders/public/gated_rnn.py, visuals/gated_rnn_plots.py): the expected values agree three ways (reference_impl,
plain arithmetic or finite differences, SymPy), the right answers get full points, planted mistakes are named,
garbage fails with a clear message, the public module matches the reference draws, the pictures draw, and every
new diagnosis code of the notebook is produced by a planted-mistake test.

Run also as ``pytest -p tests.remote_plugin tests/test_exercises_gated_rnn.py``."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import concepts, diagnoses  # noqa: E402
from graders.exercises import gated_rnn as ex  # noqa: E402
from graders.public import gated_rnn as pub  # noqa: E402
from graders.question_bank import gated_rnn as bank  # noqa: E402
from reference_impl import gated_rnn as R  # noqa: E402
from reference_impl import symbolic_layers as SL  # noqa: E402
from reference_impl.gradcheck import numeric_vjp  # noqa: E402
from tests.grading_helpers import fails, fails_with  # noqa: E402
from visuals import gated_rnn_plots as vis  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def sig(a):
    return 1.0 / (1.0 + math.exp(-a))


# ============================================================================================ scalar LSTM trace


def learner_trace(p=pub.TRACE_STEP, **mistake):
    """The trace as a learner computes it with a calculator."""
    a = {k: p[f"wx_{k}"] * p["x"] + p[f"wh_{k}"] * p["h_prev"] + p[f"b_{k}"] for k in "ifgo"}
    i, f, g, o = sig(a["i"]), sig(a["f"]), math.tanh(a["g"]), sig(a["o"])
    c = f * p["c_prev"] + i * g
    tc = math.tanh(c)
    do = p["dh"] * tc
    dct = (0 if mistake.get("no_dc") else p["dc"]) + p["dh"] * o * (1 - tc ** 2)
    dcp = dct if mistake.get("no_f") else dct * f
    ds = (lambda s: sig(s) * (1 - sig(s))) if mistake.get("sig_at_output") else (lambda s: s * (1 - s))
    da = {"i": dct * g * ds(i), "f": dct * p["c_prev"] * ds(f), "g": dct * i * (1 - g ** 2), "o": do * ds(o)}
    return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * tc, "do": do, "dc_total": dct, "dc_prev": dcp,
            "da_i": da["i"], "da_f": da["f"], "da_g": da["g"], "da_o": da["o"],
            "dh_prev": sum(p[f"wh_{k}"] * da[k] for k in "ifgo")}


@pytest.mark.parametrize("step", [pub.WORKED_STEP, pub.TRACE_STEP])
def test_trace_values_agree_three_ways(step):
    right, _ = ex._trace_values(step)
    assert right == pytest.approx(learner_trace(step), rel=1e-12)
    # SymPy: diff of the scalar step, evaluated at the point
    s = SL.lstm_scalar_step()
    point = {sym: step[name] for name, sym in s["symbols"].items()}
    assert float(s["dc_dcprev"].subs(point)) == pytest.approx(right["f"], rel=1e-12)
    L = step["dh"] * s["h"] + step["dc"] * s["c"]
    assert float(sp.diff(L, s["symbols"]["c_prev"]).subs(point)) == pytest.approx(right["dc_prev"], rel=1e-10)
    assert float(sp.diff(L, s["symbols"]["h_prev"]).subs(point)) == pytest.approx(right["dh_prev"], rel=1e-10)
    assert float(sp.diff(L, s["symbols"]["b_f"]).subs(point)) == pytest.approx(right["da_f"], rel=1e-10)
    # finite differences of the reference forward, with the upstream (dh, dc)
    x, h, c, Wx, Wh, b = ex._scalar_arrays(step)
    up = np.array([[[step["dh"]]], [[step["dc"]]]])
    num = numeric_vjp(lambda v: np.stack(R.lstm_step_forward(x, h, v, Wx, Wh, b)[:2]), c, up)
    assert num[0, 0] == pytest.approx(right["dc_prev"], rel=1e-7)


def test_trace_full_marks_rounded_and_exact():
    assert ex.check_lstm_trace(learner_trace(), points=2) == 2.0
    rounded = {k: float(f"{v:.4g}") for k, v in learner_trace().items()}
    assert ex.check_lstm_trace(rounded, seed=3, points=2, thorough=True) == 2.0


@pytest.mark.parametrize("mistake,key,code", [
    ({"no_dc": True}, "dc_total", "LSTM_NO_CELL_PATH"),
    ({"no_f": True}, "dc_prev", "LSTM_FORGET_FACTOR"),
    ({"sig_at_output": True}, "da_f", "GATE_DERIVATIVE_POINT"),
])
def test_trace_mistakes_are_named(mistake, key, code, capsys):
    text = fails_with(capsys, ex.check_lstm_trace, learner_trace(**mistake), points=2, code=code)
    assert f"✗ {key}:" in text


def test_trace_output_path_mistakes_are_named(capsys):
    t = learner_trace()
    t["h"] = t["o"] * t["c"]
    t["dc_total"] = pub.TRACE_STEP["dc"] + pub.TRACE_STEP["dh"] * t["o"]
    text = fails_with(capsys, ex.check_lstm_trace, t, points=2, code="LSTM_OUTPUT_TANH")
    assert "✗ h:" in text and "✗ dc_total:" in text


@pytest.mark.parametrize("garbage", [None, 3.0, "abc", [1, 2], {}, {k: None for k in pub.TRACE_KEYS},
                                     {k: float("nan") for k in pub.TRACE_KEYS}, {k: "x" for k in pub.TRACE_KEYS}])
def test_trace_garbage(garbage):
    assert "Traceback" not in fails(ex.check_lstm_trace, garbage, points=2)


def test_trace_extra_keys_cost_nothing(capsys):
    t = dict(learner_trace(), extra=1.0)
    assert ex.check_lstm_trace(t, points=2) == 2.0
    assert "ignored keys not asked for: extra" in capsys.readouterr().out


# ============================================================================================ LSTM derivation


S = pub.LSTM_SYMBOLS


def lstm_parts(symbols=S):
    a = {k: symbols[f"wx_{k}"] * symbols["x"] + symbols[f"wh_{k}"] * symbols["h_prev"] + symbols[f"b_{k}"]
         for k in "ifgo"}
    i, f, g, o = pub.sigmoid(a["i"]), pub.sigmoid(a["f"]), sp.tanh(a["g"]), pub.sigmoid(a["o"])
    return i, f, g, o, f * symbols["c_prev"] + i * g


def lstm_answers(symbols=S):
    i, f, g, o, c = lstm_parts(symbols)
    slope = 1 - sp.tanh(c) ** 2
    return {"dc_dcprev": f, "dh_dc": o * slope, "dh_dcprev": o * slope * f}


def test_public_symbols_are_the_references():
    assert pub.LSTM_SYMBOLS == SL.lstm_scalar_step()["symbols"]
    assert pub.GRU_SYMBOLS == SL.gru_scalar_step()["symbols"]
    assert sp.simplify(pub.sigmoid(sp.Symbol("a")) - 1 / (1 + sp.exp(-sp.Symbol("a")))) == 0


def test_lstm_derivation_right_forms_score_full():
    assert ex.check_lstm_derivation(lstm_answers(), points=2) == 2.0
    own = {n: sp.Symbol(n) for n in S}  # a learner's symbols without assumptions
    assert ex.check_lstm_derivation(lstm_answers(own), points=2, seed=4, thorough=True) == 2.0
    s = SL.lstm_scalar_step()
    by_diff = {"dc_dcprev": sp.diff(s["c"], S["c_prev"]), "dh_dc": s["dh_dc"],
               "dh_dcprev": sp.diff(s["h"], S["c_prev"])}
    assert ex.check_lstm_derivation(by_diff, points=2) == 2.0
    text = {"dc_dcprev": "sigmoid(wx_f*x + wh_f*h_prev + b_f)",
            "dh_dc": "sigmoid(wx_o x + wh_o h_prev + b_o) (1 - tanh(sigmoid(wx_f x + wh_f h_prev + b_f) c_prev + "
                     "sigmoid(wx_i x + wh_i h_prev + b_i) tanh(wx_g x + wh_g h_prev + b_g))^2)",
            "dh_dcprev": str(lstm_answers()["dh_dcprev"])}
    assert ex.check_lstm_derivation(text, points=1) == 1.0


@pytest.mark.parametrize("key,build,code", [
    ("dc_dcprev", lambda i, f, g, o, c: sp.Integer(1), "LSTM_FORGET_FACTOR"),
    ("dh_dc", lambda i, f, g, o, c: o, "LSTM_OUTPUT_TANH"),
    ("dh_dc", lambda i, f, g, o, c: o * (1 - c ** 2), "GATE_DERIVATIVE_POINT"),
    ("dh_dcprev", lambda i, f, g, o, c: o * (1 - sp.tanh(c) ** 2), "LSTM_FORGET_FACTOR"),
    ("dh_dcprev", lambda i, f, g, o, c: o * f, "LSTM_OUTPUT_TANH"),
])
def test_lstm_derivation_mistakes_are_named(key, build, code, capsys):
    ans = dict(lstm_answers(), **{key: build(*lstm_parts())})
    text = fails_with(capsys, ex.check_lstm_derivation, ans, points=2, code=code)
    assert f"✗ {key}:" in text


@pytest.mark.parametrize("garbage", [None, "f", [1], {"dc_dcprev": "import os"},
                                     {k: None for k in ex.LSTM_DERIVATION_KEYS},
                                     {k: "q + 1" for k in ex.LSTM_DERIVATION_KEYS}])
def test_lstm_derivation_garbage(garbage):
    assert "Traceback" not in fails(ex.check_lstm_derivation, garbage, points=2)


# ============================================================================================ GRU derivation


G = pub.GRU_SYMBOLS


def gru_parts(symbols=G):
    x, hp = symbols["x"], symbols["h_prev"]
    r = pub.sigmoid(symbols["wx_r"] * x + symbols["bx_r"] + symbols["wh_r"] * hp + symbols["bh_r"])
    z = pub.sigmoid(symbols["wx_z"] * x + symbols["bx_z"] + symbols["wh_z"] * hp + symbols["bh_z"])
    hn = symbols["wh_n"] * hp + symbols["bh_n"]
    n = sp.tanh(symbols["wx_n"] * x + symbols["bx_n"] + r * hn)
    return r, z, n, hn, hp


def gru_answer(symbols=G, *, direct=True, sign=1, reset=True):
    r, z, n, hn, hp = gru_parts(symbols)
    dn = (1 - n ** 2) * (r * symbols["wh_n"] + (hn * r * (1 - r) * symbols["wh_r"] if reset else 0))
    return (z if direct else 0) + sign * (hp - n) * z * (1 - z) * symbols["wh_z"] + (1 - z) * dn


def test_gru_derivation_right_forms_score_full():
    assert ex.check_gru_derivation(gru_answer(), points=2) == 2.0
    assert ex.check_gru_derivation(gru_answer({n: sp.Symbol(n) for n in G}), points=2, thorough=True) == 2.0
    r, z, n, hn, hp = gru_parts()
    assert ex.check_gru_derivation(sp.diff((1 - z) * n + z * hp, hp), points=2) == 2.0
    assert ex.check_gru_derivation(str(gru_answer()), points=1) == 1.0
    # reference_impl's hand-derived closed form equals SymPy's derivative (the expected value is not typed anywhere)
    assert ex.check_gru_derivation(SL.gru_scalar_step()["closed_form"], points=1) == 1.0


@pytest.mark.parametrize("kw,code", [
    ({"direct": False}, "GRU_DIRECT_PATH"),
    ({"sign": -1}, "GRU_INTERPOLATION_SIGN"),
    ({"reset": False}, "GRU_RESET"),
])
def test_gru_derivation_mistakes_are_named(kw, code, capsys):
    fails_with(capsys, ex.check_gru_derivation, gru_answer(**kw), points=2, code=code)


def test_gru_other_convention_is_named(capsys):
    r, z, n, hn, hp = gru_parts()
    fails_with(capsys, ex.check_gru_derivation, sp.diff(z * n + (1 - z) * hp, hp), points=2, code="GRU_CONVENTION")


@pytest.mark.parametrize("garbage", [None, "", "h_prev +", {"a": 1}, "foo(h_prev)"])
def test_gru_derivation_garbage(garbage):
    assert "Traceback" not in fails(ex.check_gru_derivation, garbage, points=2)


# ============================================================================================ norms by lag


def learner_norms(cell, x, h0, params, g, *, carry_c=True, direct=True, reverse=False, mutate=False):
    """A learner's gradient_norms_by_lag, written without the reference."""
    sg = lambda a: 0.5 * (1 + np.tanh(0.5 * a))  # noqa: E731
    N, T, _ = x.shape
    H = h0.shape[1]
    Wx, Wh = params["Wx"], params["Wh"]
    hs, recs, h, c = [], [], h0, np.zeros_like(h0)
    for t in range(T):
        if cell == "rnn":
            h = np.tanh(x[:, t] @ Wx + h @ Wh + params["b"])
            recs.append(h)
        elif cell == "lstm":
            a = x[:, t] @ Wx + h @ Wh + params["b"]
            i, f, gg, o = sg(a[:, :H]), sg(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sg(a[:, 3 * H:])
            c_prev, c = c, f * c + i * gg
            h = o * np.tanh(c)
            recs.append((i, f, gg, o, c, c_prev))
        else:
            ax, ah = x[:, t] @ Wx + params["bx"], h @ Wh + params["bh"]
            r, z = sg(ax[:, :H] + ah[:, :H]), sg(ax[:, H:2 * H] + ah[:, H:2 * H])
            n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
            recs.append((h, r, z, n, ah[:, 2 * H:]))
            h = (1 - z) * n + z * h
    if mutate:
        x *= 2
    dh, dc, out = g.copy(), np.zeros_like(h0), [np.linalg.norm(g)]
    for t in reversed(range(T)):
        if cell == "rnn":
            dh = (dh * (1 - recs[t] ** 2)) @ Wh.T
        elif cell == "lstm":
            i, f, gg, o, c, c_prev = recs[t]
            tc = np.tanh(c)
            dct = dc + dh * o * (1 - tc ** 2)
            da = np.hstack([dct * gg * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - gg ** 2),
                            dh * tc * o * (1 - o)])
            dh, dc = da @ Wh.T, (dct * f if carry_c else 0 * dct)
        else:
            hp, r, z, n, hn = recs[t]
            dan = dh * (1 - z) * (1 - n ** 2)
            dah = np.hstack([dan * hn * r * (1 - r), dh * (hp - n) * z * (1 - z), dan * r])
            dh = (dh * z if direct else 0) + dah @ Wh.T
        out.append(np.linalg.norm(dh))
    out = np.array(out)
    return out[::-1] if reverse else out


def test_expected_norms_are_the_references_bptt():
    for cell in ("rnn", "lstm", "gru"):
        x, h0, params, g = pub.lag_problem(cell, T=12, N=3, D=4, H=5)
        want = ex._norms(cell, x, h0, params, g)
        assert want.shape == (13,)
        np.testing.assert_allclose(want[:-1], R.gradient_norms_for(cell, x, h0, params, g)["dh"], rtol=1e-12)
        np.testing.assert_allclose(want, learner_norms(cell, x, h0, params, g), rtol=1e-9)
        # the last entry is ||dL/dh0||: finite differences of the reference forward
        fwd = {"rnn": lambda v: _rnn_last(x, v, params), "lstm": lambda v: R.lstm_forward(x, v, **params)[0][:, -1],
               "gru": lambda v: R.gru_forward(x, v, **params)[0][:, -1]}[cell]
        assert np.linalg.norm(numeric_vjp(fwd, h0, g)) == pytest.approx(want[-1], rel=1e-6)


def _rnn_last(x, h0, p):
    from reference_impl import rnn
    return rnn.rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])[0][:, -1]


def test_norms_learner_full_marks(capsys):
    assert ex.check_norms_by_lag(learner_norms, points=2) == 2.0
    assert ex.check_norms_by_lag(learner_norms, seed=9, points=2, thorough=True) == 2.0


@pytest.mark.parametrize("kw,code,cell", [
    ({"carry_c": False}, "LSTM_NO_CELL_PATH", "lstm"),
    ({"direct": False}, "GRU_DIRECT_PATH", "gru"),
    ({"reverse": True}, "LAG_INDEXING", "rnn"),
])
def test_norms_mistakes_are_named(kw, code, cell, capsys):
    def fn(*args):
        return learner_norms(*args, **kw)
    text = fails_with(capsys, ex.check_norms_by_lag, fn, points=2, code=code)
    assert f"✗ {cell}:" in text


def test_norms_mutation_and_garbage(capsys):
    def mutating(*args):
        return learner_norms(*args, mutate=True)
    assert ex.check_norms_by_lag(mutating, points=4) == pytest.approx(3.0)
    assert "[INPUT_MUTATED]" in capsys.readouterr().out
    for bad, phrase in [(lambda *a: None, "got None"), (lambda *a: np.zeros(3), "shape"),
                        (lambda *a: 1 / 0, "ZeroDivisionError")]:
        assert phrase in fails(ex.check_norms_by_lag, bad, points=2)

    # a small norm off by 10 % passes a whole-array relative error but not the per-lag comparison
    want = np.array([1.0, 0.5, 1e-6])
    assert "as accurate as the large ones" in ex._lag_problem(np.array([1.0, 0.5, 1.1e-6]), want)
    assert ex._lag_problem(want.copy(), want) is None


# ============================================================================================ public module


@pytest.mark.parametrize("cell,kw", [("rnn", {}), ("lstm", {"forget_bias": 0.0}), ("lstm", {"forget_bias": 2.0}),
                                     ("gru", {"update_bias": 1.0})])
def test_lag_problem_draws_what_the_reference_draws(cell, kw):
    x, h0, params, g = pub.lag_problem(cell, **kw)
    rng = np.random.default_rng(pub.LAG_SEED)
    want = R.init_params(cell, 8, 32, rng, **kw)
    assert params.keys() == want.keys() and all(np.array_equal(params[k], want[k]) for k in want)
    assert np.array_equal(x, rng.standard_normal((8, 50, 8))) and np.array_equal(g, rng.standard_normal((8, 32)))
    assert not h0.any() and pub.LAG_SIZES == {"T": 50, "N": 8, "D": 8, "H": 32}
    with pytest.raises(ValueError, match="cell must be one of"):
        pub.lag_problem("cnn")


def test_public_module_imports_no_grader_or_reference():
    code = ("import sys, graders.public.gated_rnn; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('graders', 'reference_impl', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    loaded = eval(out)
    assert all(m == "graders" or m.startswith("graders.public") for m in loaded), loaded


# ============================================================================================ questions


RIGHT = {"gated_forget_bias": "c", "gated_gru_convention": "b", "gated_gate_point": "d"}


@pytest.mark.parametrize("qid", sorted(bank.QUESTIONS))
def test_questions_keyed_with_feedback_for_every_wrong_option(qid):
    q = bank.QUESTIONS[qid]
    assert concepts.check_choice(qid, RIGHT[qid], points=1) == 1.0
    assert set(q.feedback) == {concepts.digest(qid, letter) for letter in q.options if letter != RIGHT[qid]}
    for letter in q.options:
        if letter != RIGHT[qid]:
            with pytest.raises(AssertionError, match="is not the best answer"):
                concepts.check_choice(qid, letter, points=1)


def test_numbers_quoted_in_the_forget_bias_question_are_computed():
    text = bank.QUESTIONS["gated_forget_bias"].text
    def ratio(cell, **kw):
        d = R.gradient_norms_by_lag(cell, np.random.default_rng(pub.LAG_SEED), **kw)["dh"]
        return f"{d[30] / d[0]:.1e}"
    assert f"{ratio('rnn')} for the vanilla RNN" in text
    for bias in (0, 1, 2):
        assert f"{ratio('lstm', forget_bias=float(bias))} with" in text and f"bias {bias}" in text
    right = bank.QUESTIONS["gated_forget_bias"].options["c"]
    assert "about 0.5, 0.73 and 0.88" in right and [round(sig(b), 2) for b in (0, 1, 2)] == [0.5, 0.73, 0.88]
    assert R.gradient_norms_by_lag("lstm", np.random.default_rng(1), forget_bias=0.0)["dh"][30] < \
        R.gradient_norms_by_lag("rnn", np.random.default_rng(1))["dh"][30]


# ============================================================================================ pictures


def test_pictures_draw():
    right, _ = ex._trace_values(pub.WORKED_STEP)
    fig = vis.draw_lstm_cell({k: right[k] for k in "ifgoch"}, {"dc_total": right["dc_total"], "dh": 1.0})
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"dc_total = {right['dc_total']:.4g}" in texts and r"\times f_t$ only" in texts
    plt.close(fig)
    fig = vis.draw_lstm_cell()
    plt.close(fig)
    fig = vis.plot_norms_by_lag({"a": [1.0, 0.5, 0.25], "b": [2.0, 2.0, 1.0]}, mark_lag=2)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["a  (lag 2: 2.5e-01)", "b  (lag 2: 5.0e-01)"]
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_norms_by_lag({})
    with pytest.raises(ValueError, match="lag 0"):
        vis.plot_norms_by_lag({"z": [0.0, 1.0]})


# ============================================================================================ diagnosis codes


NEW_CODES = ["NUMERIC_NOT_ANALYTIC", "LSTM_NO_CELL_PATH", "LSTM_FORGET_FACTOR", "LSTM_OUTPUT_TANH",
             "GATE_DERIVATIVE_POINT", "GATE_ORDER", "GRU_CONVENTION", "GRU_INTERPOLATION_SIGN", "GRU_DIRECT_PATH",
             "GRU_RESET"]


def test_every_new_code_is_in_the_catalogue_and_produced_by_a_planted_mistake_test():
    tests = (Path(__file__).read_text() + (ROOT / "tests" / "test_graders_gated_rnn.py").read_text())
    for code in NEW_CODES:
        assert code in diagnoses.CATALOGUE
        assert re.search(rf'"{code}"\)', tests), f"no planted-mistake test names {code}"
