"""graders.rnn: the reference scores full marks, planted RNN/BPTT/clipping mistakes are named, garbage fails
with a clear message and never crashes the grader, partial credit is exact."""

from __future__ import annotations

import numpy as np
import pytest

import graders.core as core
from graders import rnn as gr
from reference_impl import rnn as R
from tests.grading_helpers import fails_with as _fails_with

SEEDS = [(0, False), (1234, True)]


# ----------------------------------------------------------------------------------- the reference passes

@pytest.mark.parametrize("seed,thorough", SEEDS)
def test_reference_gets_full_marks(seed, thorough, capsys):
    checks = [
        (gr.check_rnn_step, (R.rnn_step_forward, R.rnn_step_backward), {}),
        (gr.check_rnn_forward, (R.rnn_forward,), {}),
        (gr.check_clip_grad_norm, (R.clip_grad_norm,), {}),
        (gr.check_gradient_norm_vs_lag, (R.gradient_norms_by_lag,), {}),
    ] + [(gr.check_rnn_backward, (R.rnn_forward, R.rnn_backward), {"truncate": k}) for k in (None, 1, 2, 3, 6)]
    for check, fns, kw in checks:
        assert check(*fns, seed=seed, points=6, thorough=thorough, **kw) == 6.0
        assert check(*fns, seed=seed, thorough=thorough, **kw) is None
    out = capsys.readouterr()
    assert out.out.count("checks passed") == 2 * len(checks) and out.err == ""


def test_a_full_bptt_backward_without_truncate_parameter_is_fine_for_full_bptt():
    def bwd(dh, cache):
        return R.rnn_backward(dh, cache)
    assert gr.check_rnn_backward(R.rnn_forward, bwd, points=1, thorough=True) == 1.0


def test_truncation_argument_is_validated():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="truncate must be None or an int >= 1"):
            gr.check_rnn_backward(R.rnn_forward, R.rnn_backward, truncate=bad)


# ----------------------------------------------------------------------------------- one step

def step_tanh_unsquared(dnext, cache):
    x, h_prev, Wx, Wh, next_h = cache
    da = dnext * (1 - next_h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(0)


def step_carry_no_transpose(dnext, cache):
    g = list(R.rnn_step_backward(dnext, cache))
    x, h_prev, Wx, Wh, next_h = cache
    g[1] = (dnext * (1 - next_h ** 2)) @ Wh
    return tuple(g)


def step_dWh_transposed(dnext, cache):
    g = list(R.rnn_step_backward(dnext, cache))
    g[3] = g[3].T
    return tuple(g)


def step_db_keepdims(dnext, cache):
    g = list(R.rnn_step_backward(dnext, cache))
    g[4] = g[4][None, :]
    return tuple(g)


def step_forward_transposed(x, h_prev, Wx, Wh, b):
    return R.rnn_step_forward(x, h_prev, Wx, Wh.T, b)


@pytest.mark.parametrize("fwd,bwd,code", [
    (R.rnn_step_forward, step_tanh_unsquared, "TANH_DERIVATIVE"),
    (R.rnn_step_forward, step_carry_no_transpose, "MISSING_TRANSPOSE"),
    (R.rnn_step_forward, step_dWh_transposed, "MISSING_TRANSPOSE"),
    (R.rnn_step_forward, step_db_keepdims, "BIAS_KEEPDIMS"),
    (step_forward_transposed, R.rnn_step_backward, "MISSING_TRANSPOSE"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_step_planted_mistakes(fwd, bwd, code, thorough, capsys):
    _fails_with(capsys, gr.check_rnn_step, fwd, bwd, points=6, thorough=thorough, code=code)


def test_step_partial_credit_is_exact(capsys):
    # 5 of 6 sub-checks (0.75 of the points) plus "inputs left unchanged" (0.25)
    assert gr.check_rnn_step(R.rnn_step_forward, step_db_keepdims, points=6) == 5.25
    out = capsys.readouterr().out
    assert "Partial credit: 5.25 of 6 points" in out and "✗ backward db" in out


# ----------------------------------------------------------------------------------- sequence forward

def fwd_no_recurrence(x, h0, Wx, Wh, b):
    h = np.tanh(x @ Wx + (h0 @ Wh)[:, None, :] + b)
    return h, None


def fwd_shifted(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]))
    prev = h0
    for t in range(T):
        h[:, t] = prev
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
    return h, None


def fwd_with_h0(x, h0, Wx, Wh, b):
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b)
    return np.concatenate([h0[:, None], h], axis=1), cache


def fwd_time_major(x, h0, Wx, Wh, b):
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b)
    return np.ascontiguousarray(h.transpose(1, 0, 2)), cache


def fwd_transposed(x, h0, Wx, Wh, b):
    return R.rnn_forward(x, h0, Wx, Wh.T, b)


@pytest.mark.parametrize("fwd,code,phrase", [
    (fwd_no_recurrence, "RNN_RECURRENCE", None),
    (fwd_shifted, "RNN_RECURRENCE", None),
    (fwd_with_h0, "RNN_H0_INCLUDED", "shape (2, 6, 4), expected (2, 5, 4)"),
    (fwd_time_major, None, "h looks time-major (T, N, H)"),
    (fwd_transposed, "MISSING_TRANSPOSE", None),
])
def test_forward_planted_mistakes(fwd, code, phrase, capsys):
    for thorough in (False, True):
        _fails_with(capsys, gr.check_rnn_forward, fwd, points=2, thorough=thorough, code=code, phrase=phrase)


# ----------------------------------------------------------------------------------- BPTT

def _bptt(dh, cache, *, window=None, segment=None, local=lambda h, hp: 1 - h ** 2, carry_T=True, weights="sum"):
    """A student-style BPTT with switchable mistakes (explicit loops, as a learner would write it)."""
    x, h0, Wx, Wh, h = cache
    N, T, D = x.shape
    H = h0.shape[1]
    dx, dh0 = np.zeros_like(x), np.zeros_like(h0)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H)
    W = Wh.T if carry_T else Wh
    for s in range(T):  # the loss term at s, sent back through its window
        g = dh[:, s]
        stop = -1 if window is None else s - window
        if segment is not None:
            stop = max(stop, (s // segment) * segment - 1)
        for t in range(s, max(stop, -1), -1):
            hp = h[:, t - 1] if t > 0 else h0
            da = g * local(h[:, t], hp)
            dx[:, t] += da @ Wx.T
            if weights == "sum":
                dWx += x[:, t].T @ da
                dWh += hp.T @ da
                db += da.sum(0)
            elif weights == "last" and t == T - 1:
                dWx += x[:, t].T @ da
                dWh += hp.T @ da
                db += da.sum(0)
            g = da @ W
            if t == 0:
                dh0 += g
    return dx, dh0, dWx, dWh, db


def no_carry(dh, cache):
    return _bptt(dh, cache, window=1)


def weights_last_step_only(dh, cache):
    return _bptt(dh, cache, weights="last")


def tanh_unsquared(dh, cache):
    return _bptt(dh, cache, local=lambda h, hp: 1 - h)


def tanh_of_previous_state(dh, cache):
    return _bptt(dh, cache, local=lambda h, hp: 1 - hp ** 2)


def carry_through_Wh(dh, cache):
    return _bptt(dh, cache, carry_T=False)


def overwritten_weights(dh, cache):
    """The classic `dWx = ...` instead of `dWx += ...` in a reversed loop: step 0's gradient survives."""
    x, h0, Wx, Wh, h = cache
    N, T, D = x.shape
    dx, carry = np.zeros_like(x), np.zeros_like(h0)
    for t in reversed(range(T)):
        hp = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + carry) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx = x[:, t].T @ da
        dWh = hp.T @ da
        db = da.sum(0)
        carry = da @ Wh.T
    return dx, carry, dWx, dWh, db


def test_student_style_bptt_matches_the_reference():
    """The planted family is trustworthy: with no mistake switched on it IS the reference."""
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4))
    Wx, Wh, b = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((4, 4)) * 0.4, rng.standard_normal(4)
    dh = rng.standard_normal((2, 6, 4))
    _, cache = R.rnn_forward(x, h0, Wx, Wh, b)
    for k in (None, 1, 2, 3, 6, 9):
        for mine, ref in zip(_bptt(dh, cache, window=k), R.rnn_backward(dh, cache, truncate=k)):
            np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("bwd,code", [
    (no_carry, "BPTT_NO_CARRY"),
    (weights_last_step_only, "BPTT_NO_TIME_SUM"),
    (overwritten_weights, "BPTT_NO_TIME_SUM"),
    (tanh_unsquared, "TANH_DERIVATIVE"),
    (tanh_of_previous_state, "TANH_DERIVATIVE"),
    (carry_through_Wh, "MISSING_TRANSPOSE"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_full_bptt_planted_mistakes(bwd, code, thorough, capsys):
    text = _fails_with(capsys, gr.check_rnn_backward, R.rnn_forward, bwd, points=6, thorough=thorough, code=code)
    assert "Your forward is right, so the mistake is in the backward." in text


def test_no_time_sum_keeps_dx_and_dh0_and_gets_exact_partial_credit(capsys):
    assert gr.check_rnn_backward(R.rnn_forward, overwritten_weights, points=6) == 3.75
    out = capsys.readouterr().out
    assert "✓ backward dx" in out and "✓ backward dh0" in out and "✗ backward dWh" in out
    assert "Partial credit: 3.75 of 6 points" in out


def _truncated(**kw):
    def bwd(dh, cache, truncate=None):
        return _bptt(dh, cache, **{"window": truncate, **kw})
    return bwd


def window_plus_one(dh, cache, truncate=None):
    return _bptt(dh, cache, window=truncate + 1)


def window_minus_one(dh, cache, truncate=None):
    return _bptt(dh, cache, window=truncate - 1)


def segments(dh, cache, truncate=None):
    """TBPTT(k, k): detach the state every k steps (what a training loop over chunks of k steps does)."""
    return _bptt(dh, cache, segment=truncate)


def _chunked(**kw):
    def bwd(dh, cache, truncate=None):
        return _bptt(dh, cache, **{"segment": truncate, **kw})
    return bwd


def chunks_plus_one(dh, cache, truncate=None):
    return _bptt(dh, cache, segment=truncate + 1)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("thorough", [False, True])
def test_both_truncation_schemes_get_full_marks_and_are_named(k, thorough, capsys):
    sliding = _truncated()
    assert gr.check_rnn_backward(R.rnn_forward, sliding, truncate=k, points=6, thorough=thorough) == 6.0
    out = capsys.readouterr().out
    assert f"checked as TBPTT(1, {k}), a sliding window" in out and f"TBPTT({k}, {k})" in out
    assert gr.check_rnn_backward(R.rnn_forward, segments, truncate=k, points=6, thorough=thorough) == 6.0
    out = capsys.readouterr().out
    assert f"checked as TBPTT({k}, {k}), detaching the state every {k} steps" in out


def test_reference_chunked_scheme_gets_full_marks(capsys):
    def bwd(dh, cache, truncate=None):
        return R.rnn_backward(dh, cache, truncate=truncate, scheme="chunked")
    for thorough in (False, True):
        assert gr.check_rnn_backward(R.rnn_forward, bwd, truncate=3, points=2, thorough=thorough) == 2.0


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("bwd,code", [
    (chunks_plus_one, "TRUNCATION_OFF_BY_ONE"),
    (_chunked(local=lambda h, hp: 1 - h), "TANH_DERIVATIVE"),
    (_chunked(weights="last"), "BPTT_NO_TIME_SUM"),
    (_chunked(carry_T=False), "MISSING_TRANSPOSE"),
])
def test_chunked_bptt_planted_mistakes_are_named_and_checked_as_chunked(k, bwd, code, capsys):
    text = _fails_with(capsys, gr.check_rnn_backward, R.rnn_forward, bwd, truncate=k, points=6, code=code)
    assert f"checked as TBPTT({k}, {k})" in text


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("bwd,code", [
    (window_plus_one, "TRUNCATION_OFF_BY_ONE"),
    (window_minus_one, "TRUNCATION_OFF_BY_ONE"),
    (_truncated(local=lambda h, hp: 1 - h), "TANH_DERIVATIVE"),
    (_truncated(weights="last"), "BPTT_NO_TIME_SUM"),
    (_truncated(carry_T=False), "MISSING_TRANSPOSE"),
])
def test_truncated_bptt_planted_mistakes(k, bwd, code, capsys):
    for thorough in (False, True):
        text = _fails_with(capsys, gr.check_rnn_backward, R.rnn_forward, bwd, truncate=k, points=6,
                           thorough=thorough, code=code)
        assert f"truncate={k}" in text


def test_truncation_ignored_fails(capsys):
    text = _fails_with(capsys, gr.check_rnn_backward, R.rnn_forward, lambda dh, cache, truncate=None:
                       R.rnn_backward(dh, cache), truncate=2, points=6)
    assert "✗ backward dWh" in text and "✓ forward h" in text


def test_truncated_backward_consistent_with_a_wrong_forward_is_told_to_fix_the_forward(capsys):
    """Forward uses Wh.T; the backward is the exact truncated gradient of THAT forward: blame the forward."""
    def fwd(x, h0, Wx, Wh, b):
        return R.rnn_forward(x, h0, Wx, Wh.T, b)

    def bwd(dh, cache, truncate=None):
        dx, dh0, dWx, dWhT, db = R.rnn_backward(dh, cache, truncate=truncate)
        return dx, dh0, dWx, dWhT.T, db

    for k in (None, 2):
        text = _fails_with(capsys, gr.check_rnn_backward, fwd, bwd, truncate=k, points=6, code="MISSING_TRANSPOSE")
        assert "✗ forward h" in text and "fix the forward first" in text, text


def test_truncated_wrong_backward_with_right_forward_blames_the_backward(capsys):
    text = _fails_with(capsys, gr.check_rnn_backward, R.rnn_forward, window_plus_one, truncate=2, points=6)
    assert "the mistake is in the backward" in text and "fix the forward" not in text


def test_backward_without_truncate_keyword_is_explained():
    with pytest.raises(AssertionError, match="must accept a keyword argument truncate"):
        gr.check_rnn_backward(R.rnn_forward, lambda dh, cache: R.rnn_backward(dh, cache), truncate=2)


# ----------------------------------------------------------------------------------- clipping

def _norm(grads):
    return float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))


def clip_per_tensor(grads, max_norm):
    out = {}
    for k, g in grads.items():
        n = np.linalg.norm(g)
        out[k] = g * (max_norm / (n + 1e-6)) if n > max_norm else g.copy()
    return out, _norm(grads)


def clip_always(grads, max_norm):
    t = _norm(grads)
    return {k: g * (max_norm / (t + 1e-6)) for k, g in grads.items()}, t


def clip_reports_norm_after(grads, max_norm):
    new, _ = R.clip_grad_norm(grads, max_norm)
    return new, _norm(new)


def clip_in_place(grads, max_norm):
    t = _norm(grads)
    if t > max_norm:
        for g in grads.values():
            g *= max_norm / (t + 1e-6)
    return {k: g.copy() for k, g in grads.items()}, t


def clip_squared(grads, max_norm):
    new, t = R.clip_grad_norm(grads, max_norm)
    return new, t ** 2


def clip_without_epsilon_returning_same_dict(grads, max_norm):
    t = _norm(grads)
    if t <= max_norm:
        return grads, t
    return {k: g * (max_norm / t) for k, g in grads.items()}, t


@pytest.mark.parametrize("fn,code,sub", [
    (clip_per_tensor, "CLIP_PER_TENSOR", "clipped gradients"),
    (clip_always, "CLIP_ALWAYS", "unchanged below max_norm"),
    (clip_reports_norm_after, "CLIP_NORM_AFTER", "total_norm"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_clip_planted_mistakes(fn, code, sub, thorough, capsys):
    text = _fails_with(capsys, gr.check_clip_grad_norm, fn, points=4, thorough=thorough, code=code)
    assert f"✗ {sub}" in text


def test_clip_in_place_loses_exactly_the_mutation_point(capsys):
    assert gr.check_clip_grad_norm(clip_in_place, points=4) == 3.0   # the course-wide 25 %
    out = capsys.readouterr().out
    assert "✗ inputs left unchanged" in out and "[INPUT_MUTATED]" in out


def test_clip_squared_norm_hint(capsys):
    assert gr.check_clip_grad_norm(clip_squared, points=4) == 3.0
    assert "That is the SQUARED norm" in capsys.readouterr().out


def test_clip_without_epsilon_is_accepted_and_aliasing_is_only_noted(capsys):
    assert gr.check_clip_grad_norm(clip_without_epsilon_returning_same_dict, points=4, thorough=True) == 4.0
    assert "returned the input dict or its arrays themselves" in capsys.readouterr().out


@pytest.mark.parametrize("fn,phrase", [
    (lambda g, m: None, "returned None"),
    (lambda g, m: R.clip_grad_norm(g, m)[0], "returned a single dict"),
    (lambda g, m: (list(R.clip_grad_norm(g, m)[0].values()), R.clip_grad_norm(g, m)[1]), "must be a dict"),
    (lambda g, m: ({k: v for k, v in list(R.clip_grad_norm(g, m)[0].items())[:-1]}, R.clip_grad_norm(g, m)[1]),
     "missing"),
    (lambda g, m: (R.clip_grad_norm(g, m)[0], "big"), "expected a number"),
    (lambda g, m: ({k: v * np.nan for k, v in g.items()}, np.nan), "non-finite"),
    (lambda g, m: ({k: v.astype(np.float32) for k, v in R.clip_grad_norm(g, m)[0].items()}, 1.0), "dtype float32"),
    (lambda g, m: (R.clip_grad_norm(g, m)[0], np.array([R.clip_grad_norm(g, m)[1]])), "must be one number"),
])
def test_clip_garbage(fn, phrase, capsys):
    _fails_with(capsys, gr.check_clip_grad_norm, fn, points=4, phrase=phrase)


def test_clip_that_raises_earns_nothing_for_not_mutating():
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        gr.check_clip_grad_norm(lambda g, m: 1 / 0, points=4)


# ----------------------------------------------------------------------------------- norm vs lag

def _lag_family(local=lambda h, hp: 1 - h ** 2, transpose=True, order="lag"):
    def fn(x, h0, Wx, Wh, b, g):
        h, _ = R.rnn_forward(x, h0, Wx, Wh, b)
        T = x.shape[1]
        carry, norms = g, [np.linalg.norm(g)]
        for t in reversed(range(T)):
            hp = h[:, t - 1] if t > 0 else h0
            carry = (carry * local(h[:, t], hp)) @ (Wh.T if transpose else Wh)
            norms.append(np.linalg.norm(carry))
        norms = np.array(norms)
        return {"lag": norms, "time": norms[::-1], "no_h0": norms[:-1]}[order]
    return fn


@pytest.mark.parametrize("fn,code", [
    (_lag_family(local=lambda h, hp: np.ones_like(h)), "TANH_DERIVATIVE"),
    (_lag_family(local=lambda h, hp: 1 - hp ** 2), "TANH_DERIVATIVE"),
    (_lag_family(transpose=False), "MISSING_TRANSPOSE"),
    (_lag_family(order="time"), "LAG_INDEXING"),
    (_lag_family(order="no_h0"), "LAG_INDEXING"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_lag_planted_mistakes(fn, code, thorough, capsys):
    # (ignoring tanh' is nearly exact in the linear regime: that kind keeps its share)
    _fails_with(capsys, gr.check_gradient_norm_vs_lag, fn, points=2, thorough=thorough, code=code)


def test_lag_student_family_without_mistakes_passes():
    assert gr.check_gradient_norm_vs_lag(_lag_family(), points=2, thorough=True) == 2.0


def test_lag_shape_hint_and_garbage():
    with pytest.raises(AssertionError, match=r"Expected T \+ 1 = 9 norms"):
        gr.check_gradient_norm_vs_lag(_lag_family(order="no_h0"))
    with pytest.raises(AssertionError, match="got list"):
        gr.check_gradient_norm_vs_lag(lambda *a: list(R.gradient_norms_by_lag(*a)))
    with pytest.raises(AssertionError, match="must accept 6 positional"):
        gr.check_gradient_norm_vs_lag(lambda x, h0, Wx, Wh, b: None)
    with pytest.raises(AssertionError, match="got None"):
        gr.check_gradient_norm_vs_lag(lambda *a: None)


def test_lag_small_norms_are_compared_entry_by_entry():
    want = np.array([1.0, 1e-3, 1e-9])
    assert gr._lag_problem(want.copy(), want) is None
    got = want * np.array([1.0, 1.0, 1.1])  # whole-array relative error 1e-10: invisible without the entry check
    assert "values differ at lag 2" in gr._lag_problem(got, want)


@pytest.mark.in_process(reason="the spy appends each case's spectral radius to a list of the test process")
def test_lag_cases_include_vanishing_and_exploding():
    seen = []

    def spy(x, h0, Wx, Wh, b, g):
        seen.append(np.max(np.abs(np.linalg.eigvals(Wh))))
        return R.gradient_norms_by_lag(x, h0, Wx, Wh, b, g)

    gr.check_gradient_norm_vs_lag(spy)
    assert min(seen) < 1 < max(seen)


# ----------------------------------------------------------------------------------- garbage and robustness

def test_none_and_non_callables():
    with pytest.raises(AssertionError, match="got None. Define the function `rnn_forward`"):
        gr.check_rnn_forward(None)
    with pytest.raises(AssertionError, match="expected a function, got int"):
        gr.check_rnn_backward(R.rnn_forward, 5)
    with pytest.raises(AssertionError, match="must accept 5 positional"):
        gr.check_rnn_step(lambda x, h: None, R.rnn_step_backward)
    with pytest.raises(AssertionError, match="clip_grad_norm: it must accept 2 positional"):
        gr.check_clip_grad_norm(lambda g: None)


@pytest.mark.parametrize("bwd,phrase", [
    (lambda dh, cache: None, "returned None"),
    (lambda dh, cache: R.rnn_backward(dh, cache)[:4], "returned 4 values; it must return 5"),
    (lambda dh, cache: (dh,) * 5, "shape"),
    (lambda dh, cache: tuple(g.astype(np.float32) for g in R.rnn_backward(dh, cache)), "dtype float32"),
    (lambda dh, cache: tuple(g * np.nan for g in R.rnn_backward(dh, cache)), "non-finite"),
    (lambda dh, cache: tuple(g.tolist() for g in R.rnn_backward(dh, cache)), "got list"),
    (lambda dh, cache: cache.nope, "raised AttributeError"),
])
def test_garbage_backward_gives_a_clear_message(bwd, phrase, capsys):
    _fails_with(capsys, gr.check_rnn_backward, R.rnn_forward, bwd, points=6, phrase=phrase)


def test_garbage_forward(capsys):
    with pytest.raises(AssertionError, match="returned a single ndarray"):
        gr.check_rnn_forward(lambda *a: R.rnn_forward(*a)[0])
    with pytest.raises(AssertionError, match="not checked because rnn_forward failed"):
        gr.check_rnn_backward(lambda *a: 1 / 0, R.rnn_backward)
    _fails_with(capsys, gr.check_rnn_backward, lambda *a: R.rnn_forward(*a)[0], R.rnn_backward, truncate=2,
                points=6, phrase="returned a single ndarray")


def test_infinite_loops_time_out(monkeypatch, capsys):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def spin(*a, **k):
        while True:
            pass

    for check, fns in [(gr.check_rnn_forward, (spin,)), (gr.check_clip_grad_norm, (spin,)),
                       (gr.check_gradient_norm_vs_lag, (spin,)), (gr.check_rnn_backward, (R.rnn_forward, spin))]:
        _fails_with(capsys, check, *fns, points=6, phrase="did not finish within 0.3 s")


@pytest.mark.in_process(reason="forward and backward share a flag and an interrupted list with the test process")
def test_forward_that_hangs_during_finite_differences_cannot_hang_the_grader(monkeypatch, capsys):
    """The own-forward finite differences run under the time limit too; they are skipped when it expires.

    The forward hangs on every call made after the backward was graded (the finite differences of the
    student's own forward) until the alarm interrupts it; the next case's graded forward then runs normally.
    A time limit that the numeric helper's ``except Exception`` swallowed would hang this test.
    """
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.5)
    hang = [False]
    interrupted = []

    def fwd(x, h0, Wx, Wh, b):
        try:
            while hang[0]:
                pass
        finally:
            if hang[0]:
                interrupted.append(1)
            hang[0] = False
        return R.rnn_forward(x, h0, Wx, Wh, b)

    for k in (None, 2):
        wrong = window_plus_one if k else no_carry

        def bwd(dh, cache, truncate=None, wrong=wrong, k=k):
            hang[0] = dh.shape[1] > (k or 1)   # the mistake shows (and is compared with finite differences)
            return wrong(dh, cache, truncate=truncate) if k else wrong(dh, cache)

        interrupted.clear()
        text = _fails_with(capsys, gr.check_rnn_backward, fwd, bwd, truncate=k, points=6)
        assert "✓ forward h" in text and "Likely mistake" in text
        assert interrupted, "the finite differences never called the hanging forward"


def test_prints_warnings_and_input_mutation_cost_nothing(capsys):
    import sys
    import warnings

    def noisy_forward(x, h0, Wx, Wh, b):
        print("step", file=sys.stderr)
        print("debug to stdout")
        warnings.warn("careful")
        x *= 1.0  # harmless in-place touch; values unchanged
        return R.rnn_forward(x, h0, Wx, Wh, b)

    def bwd(dh, cache, truncate=None):
        return R.rnn_backward(dh, cache, truncate=truncate)

    assert gr.check_rnn_backward(noisy_forward, bwd, truncate=2, points=6) == 6.0
    out = capsys.readouterr()
    assert out.err == "" and "wrote to stderr" in out.out and "UserWarning" in out.out


@pytest.mark.in_process(reason="the spy forward appends its inputs to a list of the test process")
def test_checks_are_pure_functions_of_the_seed():
    seen = []

    def spy(x, h0, Wx, Wh, b):
        seen.append(x.copy())
        return R.rnn_forward(x, h0, Wx, Wh, b)

    for seed in (3, 3, 4):
        gr.check_rnn_forward(spy, seed=seed)
    n = len(seen) // 3
    assert all(np.array_equal(a, b) for a, b in zip(seen[:n], seen[n:2 * n]))
    assert not np.array_equal(seen[0], seen[2 * n])


def test_new_diagnosis_codes_are_in_the_catalogue():
    from graders import diagnoses
    for code in ("BN_EPS", "NORM_AXIS", "BN_RUNNING_UPDATE", "BN_EVAL_BATCH_STATS", "RNN_RECURRENCE",
                 "CLIP_NORM_AFTER", "CLIP_ALWAYS", "LAG_INDEXING"):
        assert diagnoses.get(code).advice


# ----------------------------------------------------------------------------------- issue 12: fair grading in 06

from graders.exercises import bptt as ex  # noqa: E402
from graders.public import bptt as course  # noqa: E402
from tests.solution_cells import solution_namespace  # noqa: E402

_NB = solution_namespace("06_bptt", ["rnn_step", "rnn_forward", "rnn_backward", "norms_by_lag", "clip_grad_norm"])


def test_the_notebook_answers_get_full_marks():
    for seed, thorough in ((0, False), (63, True)):
        assert gr.check_rnn_step(_NB["rnn_step_forward"], _NB["rnn_step_backward"], seed=seed, points=3,
                                 thorough=thorough) == 3.0
        assert gr.check_rnn_forward(_NB["rnn_forward"], seed=seed, points=1, thorough=thorough) == 1.0
        for k in (None, 3):
            assert gr.check_rnn_backward(_NB["rnn_forward"], _NB["rnn_backward"], truncate=k, seed=seed, points=3,
                                         thorough=thorough) == 3.0
        assert gr.check_gradient_norm_vs_lag(_NB["gradient_norms_by_lag"], seed=seed, points=2,
                                             thorough=thorough) == 2.0
        assert gr.check_clip_grad_norm(_NB["clip_grad_norm"], seed=seed, points=2, thorough=thorough) == 2.0


def fwd_all_states(x, h0, Wx, Wh, b):   # a list that starts with h0, stacked whole: T + 1 states
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ Wx + states[-1] @ Wh + b))
    return np.stack(states, axis=1), None


def test_t_plus_one_states_are_named_for_what_they_are(capsys):
    text = _fails_with(capsys, gr.check_rnn_forward, fwd_all_states, points=1, code="RNN_H0_INCLUDED")
    assert "[RNN_RECURRENCE]" not in text


def bptt_accumulates_into_dh(dh, cache, truncate=None):   # the carry added into the caller's dh, in place
    x, h0, Wx, Wh, h = cache[0], cache[1], cache[2], cache[3], cache[4]
    N, T, _ = x.shape
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    carry = np.zeros_like(h0)
    for t in reversed(range(T)):
        dh[:, t] += carry
        da = dh[:, t] * (1 - h[:, t] ** 2)
        prev = h[:, t - 1] if t > 0 else h0
        dx[:, t], dWx, dWh, db = da @ Wx.T, dWx + x[:, t].T @ da, dWh + prev.T @ da, db + da.sum(axis=0)
        carry = da @ Wh.T
    return dx, carry, dWx, dWh, db


def norms_scaling_g_in_place(x, h0, Wx, Wh, b, g):
    out = _NB["gradient_norms_by_lag"](x, h0, Wx, Wh, b, g)
    g /= np.linalg.norm(g)   # "normalise for the plot" on the caller's array
    return out


@pytest.mark.parametrize("check,args,points", [
    (gr.check_rnn_backward, (_NB["rnn_forward"], bptt_accumulates_into_dh), 3),
    (gr.check_gradient_norm_vs_lag, (norms_scaling_g_in_place,), 2),
])
def test_in_place_changes_to_inputs_cost_the_course_wide_quarter(check, args, points, capsys):
    assert check(*args, points=points) == pytest.approx(0.75 * points)
    text = capsys.readouterr().out
    assert "✗ inputs left unchanged" in text and "[INPUT_MUTATED]" in text


@pytest.mark.parametrize("rho,phrase", [
    (lambda e, W: float(np.max(e.real)), "largest REAL PART"),
    (lambda e, W: np.max(e), "largest REAL PART"),              # complex, imaginary part 0
    (lambda e, W: float(np.max(np.abs(e.real))), "largest |real part|"),
    (lambda e, W: float(np.linalg.norm(W, 2)), "largest singular value"),
])
def test_spectral_radius_is_the_modulus_of_the_largest_eigenvalue(rho, phrase, capsys):
    W = course.decay_matrix()
    e = np.linalg.eigvals(W)
    right = float(np.max(np.abs(e)))
    lags = int(np.floor(np.log(1e-6) / np.log(right))) + 1
    assert ex.check_decay_prediction({"spectral_radius": right, "lags_to_1e-6": lags}, points=2) == 2.0
    assert ex.check_decay_prediction({"spectral_radius": rho(e, W), "lags_to_1e-6": lags}, points=2) == 1.0
    assert phrase in capsys.readouterr().out


def test_the_decay_matrix_tells_the_wrong_radii_apart():
    W = course.decay_matrix()
    e = np.linalg.eigvals(W)
    right = np.max(np.abs(e))
    for wrong in (np.max(e.real), np.max(np.abs(e.real)), np.linalg.norm(W, 2)):
        assert abs(wrong - right) > 0.1
    assert abs(np.log(1e-6) / np.log(right) % 1 - 0.5) < 0.45   # the lag is not at a rounding edge


def _kinds(cases, labels):
    """The union of the kind labels of the cases (a case may be of several kinds)."""
    return set().union(*(labels(c) for c in cases))


def _flags(**named):
    return {name for name, on in named.items() if on}


def test_visible_cases_cover_the_hidden_kinds_in_06():
    step = [gr._step_cases(np.random.default_rng(s), t) for s, t in ((0, False), (61, True))]
    labels = lambda c: _flags(batch_of_one=c.args[0].shape[0] == 1, one_feature=c.args[0].shape[1] == 1,
                              square=c.args[0].shape[1] == c.args[1].shape[1], several=c.args[0].shape[0] > 1)
    assert _kinds(step[1], labels) <= _kinds(step[0], labels)
    for k in (None, 3):
        bw = [gr._backward_cases(np.random.default_rng(s), t, k) for s, t in ((0, False), (63, True))]
        T = lambda c: c.args[0].shape[1]
        labels = lambda c: _flags(batch_of_one=c.args[0].shape[0] == 1, one_step=T(c) == 1,
                                  square=c.args[0].shape[2] == c.args[1].shape[1], t_is_k=k is not None and T(c) == k,
                                  long=k is not None and T(c) > 2 * k, a_bit_longer=k is not None and k < T(c) <= 2 * k)
        assert _kinds(bw[1], labels) <= _kinds(bw[0], labels), k
    clip = [gr._clip_cases(np.random.default_rng(s), t) for s, t in ((0, False), (68, True))]
    labels = lambda c: _flags(above=c[0] == "above", below=c[0] == "below",
                              huge=max(np.max(np.abs(g)) for g in c[1].values()) > 1e50,
                              zeros=any(not np.any(g) for g in c[1].values()),
                              zero_d=any(np.ndim(g) == 0 for g in c[1].values()))
    assert _kinds(clip[1], labels) <= _kinds(clip[0], labels)


@pytest.mark.parametrize("check,fns", [
    (gr.check_rnn_forward, ("rnn_forward",)), (gr.check_gradient_norm_vs_lag, ("gradient_norms_by_lag",)),
    (gr.check_clip_grad_norm, ("clip_grad_norm",)), (gr.check_rnn_step, ("rnn_step_forward", "rnn_step_backward")),
    (gr.check_rnn_backward, ("rnn_forward", "rnn_backward")),
])
def test_hidden_sub_checks_are_visible_sub_checks_and_points_are_split(check, fns, monkeypatch):
    seen = []
    original = core.Report.finish
    monkeypatch.setattr(core.Report, "finish", lambda self: (seen.append(list(self.checks)), original(self))[1])
    check(*(_NB[f] for f in fns), seed=0, points=2)
    check(*(_NB[f] for f in fns), seed=9, points=2, thorough=True)
    visible, hidden = seen
    assert len(visible) >= 3 and set(hidden) <= set(visible), (visible, hidden)
