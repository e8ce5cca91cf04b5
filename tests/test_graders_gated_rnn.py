"""graders.gated_rnn (notebook 12): the reference and a learner-style solution score full marks, every planted LSTM
and GRU mistake is named by its diagnosis, a finite-difference backward is named NUMERIC_NOT_ANALYTIC, garbage
fails with a clear message and never a traceback from the grader, every check stays under 0.5 s.

Run also as ``pytest -p tests.remote_plugin tests/test_graders_gated_rnn.py``: the checks then receive proxies of
these functions served from a forked process, and the verdicts must be the same."""

from __future__ import annotations

import numpy as np
import pytest

import graders.core as core
from graders import gated_rnn as gg
from reference_impl import gated_rnn as R
from tests.grading_helpers import fails, fails_with

SEEDS = [(0, False), (77, True)]


def sig(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# =============================================================================================== a learner's LSTM


def make_lstm(order="ifgo", cell_f=True, out_tanh=True, use_dc=True, forget=True, slope="ok", dsig="ok",
              dtanh="ok", db_keepdims=False, mutate=False, numeric=False):
    """lstm_step_forward/backward written the way a learner would, with one mistake switched on."""

    def forward(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx + h_prev @ Wh + b
        blocks = {name: a[:, j * H:(j + 1) * H] for j, name in enumerate(order)}
        i, f, o = sig(blocks["i"]), sig(blocks["f"]), sig(blocks["o"])
        g = np.tanh(blocks["g"])
        c = f * c_prev + i * g if cell_f else i * g
        h = o * np.tanh(c) if out_tanh else o * c
        if mutate:
            c_prev *= 0.5
        return h, c, (x, h_prev, c_prev, Wx, Wh, b, a, i, f, g, o, c)

    def backward(dh, dc, cache):
        x, h_prev, c_prev, Wx, Wh, b, a, i, f, g, o, c = cache
        if numeric:
            return numeric_backward(forward, (x, h_prev, c_prev, Wx, Wh, b), (dh, dc))
        H = i.shape[1]
        t = np.tanh(c)
        local = {"ok": 1 - t ** 2, "none": 1.0, "at_c": 1 - c ** 2}[slope]
        dct = (dc if use_dc else 0.0) + dh * o * local
        dprev = dct * f if forget else dct
        ds = {"ok": lambda s, p: s * (1 - s), "output": lambda s, p: sig(s) * (1 - sig(s)),
              "pre": lambda s, p: p * (1 - p)}[dsig]
        dgt = {"ok": 1 - g ** 2, "output": 1 - np.tanh(g) ** 2}[dtanh]
        da = np.hstack([dct * g * ds(i, a[:, :H]), dct * c_prev * ds(f, a[:, H:2 * H]), dct * i * dgt,
                        dh * t * ds(o, a[:, 3 * H:])])
        db = da.sum(axis=0, keepdims=db_keepdims)
        if mutate:
            dh *= 0
        return da @ Wx.T, da @ Wh.T, dprev, x.T @ da, h_prev.T @ da, db

    return forward, backward


def numeric_backward(forward, args, ups, h=1e-5):
    """The shortcut NOTEBOOKS.md forbids: centred differences of the forward for every input entry."""
    grads = []
    for pos in range(len(args)):
        base = np.array(args[pos], dtype=np.float64)
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for sgn in (1, -1):
                a = [np.array(v, dtype=np.float64) for v in args]
                a[pos][idx] += sgn * h
                outs = forward(*a)
                vals.append(sum(np.sum(u * o) for u, o in zip(ups, outs)))
            grad[idx] = (vals[0] - vals[1]) / (2 * h)
        grads.append(grad)
    return tuple(grads)


def make_lstm_seq(step=None, carry_h=True, carry_c=True, fwd_carry_c=True, last_only=False, numeric=False,
                  no_c0=False):
    step_f, step_b = step or make_lstm()

    if no_c0:
        def forward(x, h0, Wx, Wh, b):
            return forward_c0(x, h0, Wx, Wh, b)
    else:
        def forward(x, h0, Wx, Wh, b, c0=None):
            return forward_c0(x, h0, Wx, Wh, b, c0)

    def forward_c0(x, h0, Wx, Wh, b, c0=None):
        N, T, _ = x.shape
        c0 = np.zeros_like(h0) if c0 is None else c0
        h, c, caches, hs = h0, c0, [], []
        for t in range(T):
            h, c_new, cache = step_f(x[:, t], h, c if fwd_carry_c else c0, Wx, Wh, b)
            c = c_new
            hs.append(h)
            caches.append(cache)
        return np.stack(hs, axis=1), (caches, x, h0, Wx, Wh, b, c0)

    def backward(dh, cache):
        caches, x, h0, Wx, Wh, b, c0 = cache
        if numeric:
            return numeric_backward(lambda *a: (forward_c0(*a)[0],), (x, h0, Wx, Wh, b, c0), (dh,))
        N, T, H = dh.shape
        dx = np.zeros_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
        for t in reversed(range(T)):
            dx[:, t], dhp, dcp, gWx, gWh, gb = step_b(dh[:, t] + dh_next, dc_next, caches[t])
            dh_next = dhp if carry_h else 0 * dhp
            dc_next = dcp if carry_c else 0 * dcp
            if not last_only or t == T - 1:
                dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
        return dx, dh_next, dWx, dWh, db, dc_next

    return forward, backward


# =============================================================================================== a learner's GRU


def make_gru(convention="torch", reset="after", dz_sign=1, direct=True, dhn_r=True, dsig="ok", numeric=False,
             consistent=True):
    def forward(x, h_prev, Wx, Wh, bx, bh):
        H = h_prev.shape[1]
        ax, ah = x @ Wx + bx, h_prev @ Wh + bh
        a_r, a_z = ax[:, :H] + ah[:, :H], ax[:, H:2 * H] + ah[:, H:2 * H]
        r, z = sig(a_r), sig(a_z)
        hn = ah[:, 2 * H:]
        inner = r * hn if reset == "after" else (r * h_prev) @ Wh[:, 2 * H:] + bh[2 * H:]
        n = np.tanh(ax[:, 2 * H:] + inner)
        h = (1 - z) * n + z * h_prev if convention == "torch" else z * n + (1 - z) * h_prev
        return h, (x, h_prev, Wx, Wh, bx, bh, r, z, n, hn, a_r, a_z)

    def backward(dh, cache):
        x, h_prev, Wx, Wh, bx, bh, r, z, n, hn, a_r, a_z = cache
        if numeric:
            return numeric_backward(lambda *a: (forward(*a)[0],), (x, h_prev, Wx, Wh, bx, bh), (dh,))
        H = r.shape[1]
        if convention == "other" and consistent:
            dn, dz, dd = dh * z, dh * (n - h_prev), dh * (1 - z)
        else:
            dn, dz, dd = dh * (1 - z), dz_sign * dh * (h_prev - n), dh * z
        ds = {"ok": lambda s, p: s * (1 - s), "output": lambda s, p: sig(s) * (1 - sig(s))}[dsig]
        dan = dn * (1 - n ** 2)
        dar = dan * hn * ds(r, a_r)
        daz = dz * ds(z, a_z)
        dax = np.hstack([dar, daz, dan])
        dah = np.hstack([dar, daz, dan * r if dhn_r else dan])
        dh_prev = (dd if direct else 0.0) + dah @ Wh.T
        return dax @ Wx.T, dh_prev, x.T @ dax, h_prev.T @ dah, dax.sum(0), dah.sum(0)

    return forward, backward


LSTM_OK = make_lstm()
SEQ_OK = make_lstm_seq()
GRU_OK = make_gru()


# =============================================================================================== right answers


@pytest.mark.parametrize("seed,thorough", SEEDS)
def test_reference_and_a_learners_solution_get_full_marks(seed, thorough, capsys):
    for fns in [(R.lstm_step_forward, R.lstm_step_backward), LSTM_OK]:
        assert gg.check_lstm_step_forward(fns[0], seed=seed, points=2, thorough=thorough) == 2.0
        assert gg.check_lstm_step_backward(*fns, seed=seed, points=3, thorough=thorough) == 3.0
        assert gg.check_lstm_step(*fns, seed=seed, points=1, thorough=thorough) == 1.0
    for fns in [(R.lstm_forward, R.lstm_backward), SEQ_OK]:
        assert gg.check_lstm_forward(fns[0], seed=seed, points=2, thorough=thorough) == 2.0
        assert gg.check_lstm_backward(*fns, seed=seed, points=3, thorough=thorough) == 3.0
    for fns in [(R.gru_step_forward, R.gru_step_backward), GRU_OK]:
        assert gg.check_gru_step_forward(fns[0], seed=seed, points=2, thorough=thorough) == 2.0
        assert gg.check_gru_step_backward(*fns, seed=seed, points=3, thorough=thorough) == 3.0
    out = capsys.readouterr()
    assert out.err == "" and "note:" not in out.out


def test_without_points_a_passing_check_returns_none():
    assert gg.check_lstm_step_backward(*LSTM_OK) is None


# =============================================================================================== LSTM step


@pytest.mark.parametrize("kw,code", [
    ({"order": "ifog"}, "GATE_ORDER"),
    ({"order": "fiog"}, "GATE_ORDER"),
    ({"cell_f": False}, "LSTM_NO_CELL_PATH"),
    ({"out_tanh": False}, "LSTM_OUTPUT_TANH"),
])
def test_lstm_forward_mistakes_are_named(kw, code, capsys):
    fails_with(capsys, gg.check_lstm_step_forward, make_lstm(**kw)[0], points=2, code=code)


@pytest.mark.parametrize("kw,code,grads", [
    ({"use_dc": False}, "LSTM_NO_CELL_PATH", ("dx", "dc_prev", "dWx")),
    ({"forget": False}, "LSTM_FORGET_FACTOR", ("dc_prev",)),
    ({"slope": "none"}, "LSTM_OUTPUT_TANH", ("dc_prev", "dWh")),
    ({"slope": "at_c"}, "GATE_DERIVATIVE_POINT", ("dc_prev",)),
    ({"dsig": "output"}, "GATE_DERIVATIVE_POINT", ("dx", "dWx", "db")),
    ({"dsig": "pre"}, "GATE_DERIVATIVE_POINT", ("dh_prev", "db")),
    ({"dtanh": "output"}, "GATE_DERIVATIVE_POINT", ("dWh",)),
    ({"db_keepdims": True}, "BIAS_KEEPDIMS", ("db",)),
])
def test_lstm_backward_mistakes_are_named_and_cost_only_their_gradients(kw, code, grads, capsys):
    text = fails_with(capsys, gg.check_lstm_step_backward, *make_lstm(**kw), points=3, code=code)
    for g in grads:
        assert f"✗ backward {g}:" in text
    if kw == {"forget": False}:  # only dc_prev is wrong: partial credit for the other five and the inputs
        score = gg.check_lstm_step_backward(*make_lstm(**kw), points=7)
        assert score == pytest.approx(7 * (1 - 0.75 / 6))
    assert "Your forward is right, so the mistake is in the backward." in text


def test_a_finite_difference_backward_is_named_numeric_not_analytic(capsys):
    fwd, bwd = make_lstm(numeric=True)
    text = fails_with(capsys, gg.check_lstm_step_backward, fwd, bwd, points=3, code="NUMERIC_NOT_ANALYTIC")
    assert "case large-scale" in text and "✗ backward dc_prev" in text
    assert "case ordinary" not in text  # right on the ordinary cases: only the large-scale case fails


def test_the_trap_defeats_finite_differences_at_every_step_size():
    rng = np.random.default_rng(5)
    case = gg._lstm_step_cases(rng, False, True)[-1]
    assert case.large
    want = R.lstm_step_backward(*case.upstream, R.lstm_step_forward(*case.args)[2])
    fwd = make_lstm()[0]
    for h in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        got = numeric_backward(fwd, case.args, case.upstream, h=h)
        assert max(core.rel_error(g, w) for g, w in zip(got, want)) > 1e-5, h


def test_a_wrong_forward_is_reported_in_the_backward_check(capsys):
    text = fails_with(capsys, gg.check_lstm_step_backward, *make_lstm(out_tanh=False, slope="none"), points=3)
    assert "fix the forward" in text


def test_modified_inputs_cost_the_input_share(capsys):
    text = fails_with(capsys, gg.check_lstm_step_backward, *make_lstm(mutate=True), points=4, code="INPUT_MUTATED")
    assert "✗ inputs left unchanged" in text
    fails_with(capsys, gg.check_lstm_step_forward, make_lstm(mutate=True)[0], points=4, code="INPUT_MUTATED")
    assert gg.check_lstm_step_forward(make_lstm(mutate=True)[0], points=4) == pytest.approx(3.0)


def test_the_combined_step_check_grades_both_halves(capsys):
    text = fails_with(capsys, gg.check_lstm_step, *make_lstm(order="ifog"), points=1, code="GATE_ORDER")
    assert "✗ forward h" in text
    text = fails_with(capsys, gg.check_lstm_step, *make_lstm(forget=False), points=1, code="LSTM_FORGET_FACTOR")
    assert "✓ forward h" in text and "✓ forward c" in text


# =============================================================================================== LSTM sequence


@pytest.mark.parametrize("kw,code", [
    ({"fwd_carry_c": False}, "LSTM_NO_CELL_PATH"),
    ({"step": make_lstm(cell_f=False)}, "LSTM_NO_CELL_PATH"),
    ({"step": make_lstm(order="ifog")}, "GATE_ORDER"),
])
def test_sequence_forward_mistakes_are_named(kw, code, capsys):
    fails_with(capsys, gg.check_lstm_forward, make_lstm_seq(**kw)[0], points=2, code=code)


@pytest.mark.parametrize("kw,code", [
    ({"carry_h": False}, "BPTT_NO_CARRY"),
    ({"carry_c": False}, "LSTM_NO_CELL_PATH"),
    ({"last_only": True}, "BPTT_NO_TIME_SUM"),
    ({"step": make_lstm(slope="none")}, "LSTM_OUTPUT_TANH"),
    ({"step": make_lstm(dsig="output")}, "GATE_DERIVATIVE_POINT"),
    ({"step": make_lstm(forget=False)}, "LSTM_FORGET_FACTOR"),
    ({"numeric": True}, "NUMERIC_NOT_ANALYTIC"),
])
def test_bptt_mistakes_are_named(kw, code, capsys):
    fails_with(capsys, gg.check_lstm_backward, *make_lstm_seq(**kw), points=3, code=code)


def test_a_forward_without_c0_is_told_what_the_contract_is(capsys):
    text = fails_with(capsys, gg.check_lstm_forward, make_lstm_seq(no_c0=True)[0], points=2)
    assert "c0" in text and "unexpected keyword" in text


# =============================================================================================== GRU


@pytest.mark.parametrize("kw,code", [
    ({"convention": "other"}, "GRU_CONVENTION"),
    ({"reset": "before"}, "GRU_RESET"),
])
def test_gru_forward_mistakes_are_named(kw, code, capsys):
    fails_with(capsys, gg.check_gru_step_forward, make_gru(**kw)[0], points=2, code=code)


@pytest.mark.parametrize("kw,code", [
    ({"dz_sign": -1}, "GRU_INTERPOLATION_SIGN"),
    ({"convention": "other"}, "GRU_CONVENTION"),
    ({"direct": False}, "GRU_DIRECT_PATH"),
    ({"dhn_r": False}, "GRU_RESET"),
    ({"dsig": "output"}, "GATE_DERIVATIVE_POINT"),
    ({"numeric": True}, "NUMERIC_NOT_ANALYTIC"),
])
def test_gru_backward_mistakes_are_named(kw, code, capsys):
    fails_with(capsys, gg.check_gru_step_backward, *make_gru(**kw), points=3, code=code)


def test_the_other_convention_is_named_in_both_checks_and_its_backward_is_recognised(capsys):
    fwd, bwd = make_gru(convention="other")
    text = fails_with(capsys, gg.check_gru_step_forward, fwd, points=2, code="GRU_CONVENTION")
    assert "h = (1 - z) * n + z * h_prev" in text
    text = fails_with(capsys, gg.check_gru_step_backward, fwd, bwd, points=3, code="GRU_CONVENTION")
    assert "Your backward IS consistent with your own forward" in text


def test_a_right_backward_behind_the_other_forward_keeps_its_points_with_a_note(capsys):
    """r, z and n do not depend on the convention, so the course's backward formulas on the other forward's cache
    give the course's gradients: the backward exercise is right, and the note says the forward is not."""
    fwd, bwd = make_gru(convention="other", consistent=False)
    assert gg.check_gru_step_backward(fwd, bwd, points=3) == 3.0
    assert "fix the forward (its own exercise) first" in capsys.readouterr().out


# =============================================================================================== garbage


def _returns(value):
    def fwd(*args, **kwargs):
        return value
    return fwd


@pytest.mark.parametrize("check,n_out", [(gg.check_lstm_step_forward, 3), (gg.check_lstm_forward, 2),
                                         (gg.check_gru_step_forward, 2)])
@pytest.mark.parametrize("value", [None, (np.zeros(3), None), "abc", (np.full(3, np.nan),) * 3])
def test_garbage_forwards_fail_clearly(check, n_out, value):
    if value is None:
        phrase = "returned None"
    elif isinstance(value, str):
        phrase = "returned a single str"
    elif len(value) != n_out:
        phrase = f"returned {len(value)} values; it must return {n_out}"
    else:
        phrase = "shape (3,), expected"
    text = fails(check, _returns(value), points=2)
    assert phrase in text and "Traceback" not in text


def test_garbage_gradients_fail_clearly(capsys):
    fwd = R.lstm_step_forward

    def nan_bwd(dh, dc, cache):
        return tuple(np.full_like(g, np.nan) for g in R.lstm_step_backward(dh, dc, cache))

    def f32_bwd(dh, dc, cache):
        return tuple(g.astype(np.float32) for g in R.lstm_step_backward(dh, dc, cache))

    def raises(dh, dc, cache):
        raise KeyError("i")

    def wrong_shapes(dh, dc, cache):
        return tuple(g.T for g in R.lstm_step_backward(dh, dc, cache))

    for bwd, phrase in [(nan_bwd, "non-finite"), (f32_bwd, "dtype float32"), (raises, "KeyError"),
                        (_returns(None), "returned None")]:
        text = fails(gg.check_lstm_step_backward, fwd, bwd, points=3)
        assert phrase in text and "Traceback" not in text, text
    text = fails_with(capsys, gg.check_lstm_step_backward, fwd, wrong_shapes, points=3, code="MISSING_TRANSPOSE")
    assert "shape (5, 3), expected (3, 5)" in text


def test_not_a_function_and_wrong_signature():
    assert "got None" in fails(gg.check_lstm_step_forward, None)
    assert "6 positional" in fails(gg.check_lstm_step_forward, lambda x, h: None)
    assert "3 positional" in fails(gg.check_lstm_step_backward, R.lstm_step_forward, lambda dh, cache: None)


def test_an_endless_backward_times_out(monkeypatch):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def endless(dh, cache):
        while True:
            pass

    text = fails(gg.check_gru_step_backward, R.gru_step_forward, endless, points=3)
    assert "0.3" in text or "time" in text.lower()
