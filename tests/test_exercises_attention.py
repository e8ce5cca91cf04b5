"""graders.exercises.attention (notebook 10): the notebook's own answers get full marks, unanswered stubs get zero,
every planted mistake is named by its diagnosis (each new ATTN_* code and NUMERIC_NOT_ANALYTIC included), a
finite-difference backward fails at every step size, garbage gets a clear message; the question bank, the public
inputs and the pictures. Also run with ``-p tests.remote_plugin`` (the checks then see proxies of these functions
served from a forked process)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import concepts, core, diagnoses  # noqa: E402
from graders.exercises import attention as ex  # noqa: E402
from graders.exercises.attention import questions as ex_questions  # noqa: E402
from graders.public import attention as pub  # noqa: E402
from graders.question_bank import attention as bank  # noqa: E402
from reference_impl import attention as ref  # noqa: E402
from tests.grading_helpers import fails as _fails  # noqa: E402
from tests.grading_helpers import fails_with  # noqa: E402
from visuals import attention_plots as vis  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NEW_CODES = {"ATTN_SOFTMAX_AXIS", "ATTN_SCALE_MISSING", "ATTN_SCALE_WRONG", "ATTN_MASK_AFTER_SOFTMAX",
             "ATTN_MASK_ZERO_SCORE", "ATTN_MASK_IGNORED", "ATTN_MASK_GRAD_LEAK", "ATTN_DV_PATH", "ATTN_TRANSPOSE",
             "ATTN_HEADS_RESHAPE", "ATTN_QUADRATIC_COST", "NUMERIC_NOT_ANALYTIC"}


def _solutions() -> dict:
    """The answer cells of solutions/10_attention executed in one namespace, as the notebook runs them."""
    nb = nbformat.read(str(ROOT / "solutions" / "10_attention" / "attention.ipynb"), as_version=4)
    ns = {"np": np, "sp": sp, "math": math, "pub": pub, "print": lambda *a, **k: None}
    for c in nb.cells:
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(c.source, c.metadata["nbgrader"]["grade_id"], "exec"), ns)
    return ns


S = _solutions()


# ============================================================================================ planted functions


def _softmax(x, mask=None, axis=-1, fill=-np.inf, shift=True):
    if mask is not None:
        x = np.where(mask, x, fill)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True)) if shift else np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def sm_axis(x, mask=None):
    P = _softmax(x, mask, axis=-2)
    return P, P


def sm_after(x, mask=None):
    P = _softmax(x) * (1.0 if mask is None else mask)
    return P, P


def sm_zero_score(x, mask=None):
    P = _softmax(x, mask, fill=0.0)
    return P, P


def sm_unstable(x, mask=None):
    P = _softmax(x, mask, shift=False)
    return P, P


def sm_fill_minus_30(x, mask=None):
    P = _softmax(x, mask, fill=-30.0)
    return P, P


def sm_keep_x(x, mask=None):
    return _softmax(x, mask), (x, mask)


def smb_rank_one(dP, cache):
    return cache * dP


def smb_leak(dP, cache):
    x, mask = cache
    P = _softmax(x)
    return P * (dP - np.sum(dP * P, axis=-1, keepdims=True))


def _fd(f, x, dout, h):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = np.sum(f(x) * dout)
        x[i] = old - h
        minus = np.sum(f(x) * dout)
        x[i] = old
        g[i] = (plus - minus) / (2 * h)
    return g


def smb_numeric(h):
    def backward(dP, cache):
        x, mask = cache
        return _fd(lambda v: _softmax(v, mask), x, dP, h)
    return backward


def attn(Q, K, V, mask=None, *, scale="right", axis=-1, mask_mode="before"):
    d = Q.shape[-1]
    c = {"right": 1 / np.sqrt(d), "none": 1.0, "d": 1 / d}[scale]
    S_ = (Q @ np.swapaxes(K, -1, -2)) * c
    if mask is None or mask_mode == "ignore":
        P = _softmax(S_, axis=axis)
    elif mask_mode == "after":
        P = _softmax(S_, axis=axis) * mask
    else:
        P = _softmax(S_, mask, axis=axis)
    return P @ V, {"Q": Q, "K": K, "V": V, "P": P, "c": c, "S": S_}


def attn_back(dout, cache, *, dv="right", dq="right", scale=True, leak=False, rank_one=False):
    Q, K, V, P, c = cache["Q"], cache["K"], cache["V"], cache["P"], cache["c"]
    if leak:
        P = _softmax(cache["S"])
    T = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731
    dV = np.zeros_like(V) if dv == "zero" else T(P) @ dout
    dP = dout @ T(V)
    dS = P * dP if rank_one else P * (dP - np.sum(dP * P, axis=-1, keepdims=True))
    s = c if scale else 1.0
    dQ = (T(dS) @ K if dq == "transpose" else dS @ K) * s
    dK = T(dS) @ Q * s
    return dQ, dK, dV


def attn_numeric(h):
    def backward(dout, cache):
        Q, K, V = cache["Q"], cache["K"], cache["V"]
        mask = cache.get("mask")
        f = lambda q, k, v: attn(q, k, v, mask)[0]  # noqa: E731
        return (_fd(lambda q: f(q, K, V), Q, dout, h), _fd(lambda k: f(Q, k, V), K, dout, h),
                _fd(lambda v: f(Q, K, v), V, dout, h))
    return backward


def attn_keep_mask(Q, K, V, mask=None):
    out, cache = attn(Q, K, V, mask)
    cache["mask"] = mask
    return out, cache


def mha(X, Wq, Wk, Wv, Wo, h, mask=None, *, split="right", scale="right"):
    B, T, D = X.shape
    dh = D // h
    sp_ = (lambda A: A.reshape(B, h, T, dh)) if split == "reshape" else \
        (lambda A: A.reshape(B, T, h, dh).transpose(0, 2, 1, 3))
    mg = (lambda A: A.reshape(B, T, D)) if split == "reshape" else \
        (lambda A: A.transpose(0, 2, 1, 3).reshape(B, T, D))
    if mask is not None and np.ndim(mask) == 3:
        mask = np.asarray(mask)[:, None]
    Qh, Kh, Vh = sp_(X @ Wq), sp_(X @ Wk), sp_(X @ Wv)
    c = 1 / np.sqrt(dh) if scale == "right" else 1 / np.sqrt(D)
    S_ = (Qh @ np.swapaxes(Kh, -1, -2)) * c
    P = _softmax(S_, mask)
    A = P @ Vh
    M = mg(A)
    return M @ Wo, {"args": (X, Wq, Wk, Wv, Wo, h, mask), "M": M, "P": P, "c": c, "Qh": Qh, "Kh": Kh, "Vh": Vh}


def mha_back(dout, cache, *, paths=("q", "k", "v"), transpose_dwq=False):
    X, Wq, Wk, Wv, Wo, h, _ = cache["args"]
    B, T, D = X.shape
    dh = D // h
    split = lambda A: A.reshape(B, T, h, dh).transpose(0, 2, 1, 3)  # noqa: E731
    merge = lambda A: A.transpose(0, 2, 1, 3).reshape(B, T, D)  # noqa: E731
    dWo = cache["M"].reshape(-1, D).T @ dout.reshape(-1, D)
    dQ, dK, dV = (merge(g) for g in attn_back(split(dout @ Wo.T), {"Q": cache["Qh"], "K": cache["Kh"],
                                                                   "V": cache["Vh"], "P": cache["P"], "c": cache["c"]}))
    X2 = X.reshape(-1, D)
    dWq, dWk, dWv = (X2.T @ g.reshape(-1, D) for g in (dQ, dK, dV))
    dX = sum(g @ W.T for name, g, W in (("q", dQ, Wq), ("k", dK, Wk), ("v", dV, Wv)) if name in paths)
    return dX, dWq.T if transpose_dwq else dWq, dWk, dWv, dWo


def mha_numeric(h_step):
    def backward(dout, cache):
        X, Wq, Wk, Wv, Wo, nh, mask = cache["args"]
        args = [X, Wq, Wk, Wv, Wo]
        grads = []
        for k in range(5):
            def f(v, k=k):
                a = list(args)
                a[k] = v
                return mha(*a, nh, mask)[0]
            grads.append(_fd(f, args[k], dout, h_step))
        return tuple(grads)
    return backward


def stub(*args, **kwargs):
    raise NotImplementedError()


# ============================================================================================ the notebook's answers


def test_the_notebooks_answers_get_full_marks_in_the_visible_and_the_hidden_tests():
    for thorough, seed in ((False, 0), (True, 91)):
        kw = {"seed": seed, "thorough": thorough}
        assert ex.check_one_query_trace(S["trace"], points=2, **kw) == 2.0
        assert ex.check_score_derivation(S["derivs"], points=2, **kw) == 2.0
        assert ex.check_softmax(S["softmax_forward"], S["softmax_backward"], points=3, **kw) == 3.0
        assert ex.check_masks(S["causal_mask"], S["padding_mask"], points=2, **kw) == 2.0
        assert ex.check_attention_forward(S["attention_forward"], points=2, **kw) == 2.0
        assert ex.check_attention_backward(S["attention_forward"], S["attention_backward"], points=3, **kw) == 3.0
        assert ex.check_split_merge_heads(S["split_heads"], S["merge_heads"], points=2, **kw) == 2.0
        assert ex.check_multihead_attention(S["multihead_attention_forward"], S["multihead_attention_backward"],
                                            points=3, **kw) == 3.0
        assert ex.check_variance_law(S["law"], points=2, **kw) == 2.0
        assert ex.check_memory_answers(S["cost"], points=2, **kw) == 2.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds_and_equivalent_forms_also_get_full_marks(seed):
    assert ex.check_softmax(sm_keep_x, lambda dP, c: _softmax(c[0], c[1]) * (
        dP - np.sum(dP * _softmax(c[0], c[1]), axis=-1, keepdims=True)), seed=seed, points=1, thorough=True) == 1.0
    assert ex.check_attention_backward(attn, attn_back, seed=seed, points=1, thorough=True) == 1.0
    assert ex.check_multihead_attention(mha, mha_back, seed=seed, points=1, thorough=True) == 1.0
    # a mask filled with -1e9 instead of -inf is exact too (exp underflows to 0.0)
    assert ex.check_softmax(lambda x, mask=None: (lambda P: (P, P))(_softmax(x, mask, fill=-1e9)),
                            S["softmax_backward"], seed=seed, points=1) == 1.0


def test_unanswered_stubs_score_zero_everywhere():
    for call in (lambda: ex.check_softmax(stub, stub, points=3), lambda: ex.check_attention_forward(stub, points=2),
                 lambda: ex.check_attention_backward(stub, stub, points=3),
                 lambda: ex.check_masks(stub, stub, points=2),
                 lambda: ex.check_split_merge_heads(stub, stub, points=2),
                 lambda: ex.check_multihead_attention(stub, stub, points=3)):
        assert "NotImplementedError" in _fails(call)
    # a right forward with a stub backward keeps only its forward sub-checks: the exact-zero checks are not free
    score = ex.check_softmax(S["softmax_forward"], stub, points=7)
    assert score is not None and score < 7
    with pytest.raises(AssertionError, match="not checked"):
        ex.check_attention_backward(S["attention_forward"], stub, points=3)


# ============================================================================================ planted mistakes

# codes named by the tests below outside the parametrized lists
NAMED_ELSEWHERE = {"NUMERIC_NOT_ANALYTIC", "ATTN_MASK_ZERO_SCORE", "ATTN_HEADS_RESHAPE", "ATTN_SCALE_MISSING",
                   "ATTN_SCALE_WRONG", "ATTN_QUADRATIC_COST", "MISSING_RANK_ONE", "UPSTREAM_GRAD_MISSING"}


def _named(capsys, fn, *args, code, **kwargs):
    return fails_with(capsys, fn, *args, code=code, points=kwargs.pop("points", 3), **kwargs)


SOFTMAX_PLANTED = [
    (sm_axis, S["softmax_backward"], "ATTN_SOFTMAX_AXIS"),
    (sm_after, S["softmax_backward"], "ATTN_MASK_AFTER_SOFTMAX"),
    (sm_zero_score, S["softmax_backward"], "ATTN_MASK_ZERO_SCORE"),
    (sm_unstable, S["softmax_backward"], "SOFTMAX_UNSTABLE"),
    (sm_fill_minus_30, S["softmax_backward"], "ATTN_MASK_GRAD_LEAK"),
    (S["softmax_forward"], smb_rank_one, "MISSING_RANK_ONE"),
    (sm_keep_x, smb_leak, "ATTN_MASK_GRAD_LEAK"),
]


@pytest.mark.parametrize("forward,backward,code", SOFTMAX_PLANTED)
def test_softmax_mistakes_are_named(capsys, forward, backward, code):
    text = _named(capsys, ex.check_softmax, forward, backward, code=code)
    if forward is sm_fill_minus_30:
        assert "masked weights must be exactly 0" in text


@pytest.mark.parametrize("h", [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
def test_a_finite_difference_softmax_backward_fails_at_every_step_size(capsys, h):
    text = fails_with(capsys, ex.check_softmax, sm_keep_x, smb_numeric(h), points=1)
    assert "✗ analytic backward" in text
    if 1e-6 <= h <= 1e-3:  # right everywhere else: named for what it is
        assert "[NUMERIC_NOT_ANALYTIC]" in text


ATTN_FORWARD_PLANTED = [
    ({"scale": "none"}, "ATTN_SCALE_MISSING"),
    ({"scale": "d"}, "ATTN_SCALE_WRONG"),
    ({"axis": -2}, "ATTN_SOFTMAX_AXIS"),
    ({"mask_mode": "after"}, "ATTN_MASK_AFTER_SOFTMAX"),
    ({"mask_mode": "ignore"}, "ATTN_MASK_IGNORED"),
]


@pytest.mark.parametrize("kwargs,code", ATTN_FORWARD_PLANTED)
def test_attention_forward_mistakes_are_named(capsys, kwargs, code):
    text = _named(capsys, ex.check_attention_forward, lambda Q, K, V, mask=None: attn(Q, K, V, mask, **kwargs),
                  code=code, points=2)
    if "mask_mode" in kwargs:  # only the masked kinds lose points
        assert "✓ no mask" in text and "✓ Tq != Tk and d != dv" in text


def test_attention_forward_zero_score_mask_is_named(capsys):
    def fwd(Q, K, V, mask=None):
        S_ = (Q @ np.swapaxes(K, -1, -2)) / np.sqrt(Q.shape[-1])
        if mask is not None:
            S_ = np.where(mask, S_, 0.0)
        return _softmax(S_) @ V, None
    _named(capsys, ex.check_attention_forward, fwd, code="ATTN_MASK_ZERO_SCORE", points=2)


ATTN_BACKWARD_PLANTED = [
    ({"dv": "zero"}, "ATTN_DV_PATH", "dV"),
    ({"dq": "transpose"}, "ATTN_TRANSPOSE", "dQ"),
    ({"scale": False}, "ATTN_SCALE_MISSING", "dQ"),
    ({"leak": True}, "ATTN_MASK_GRAD_LEAK", "padded keys"),
    ({"rank_one": True}, "MISSING_RANK_ONE", "dK"),
]


@pytest.mark.parametrize("kwargs,code,sub", ATTN_BACKWARD_PLANTED)
def test_attention_backward_mistakes_are_named(capsys, kwargs, code, sub):
    text = _named(capsys, ex.check_attention_backward, attn,
                  lambda dout, cache: attn_back(dout, cache, **kwargs), code=code)
    assert f"✗ {sub}" in text


def test_a_backward_that_ignores_the_mask_also_leaks_into_dq(capsys):
    text = fails_with(capsys, ex.check_attention_backward, attn, lambda d, c: attn_back(d, c, leak=True), points=3)
    assert "✗ dQ" in text and "✗ padded keys: dK and dV exactly 0" in text and "✓ analytic gradients" in text


@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-7])
def test_a_finite_difference_attention_backward_fails_at_every_step_size(capsys, h):
    text = fails_with(capsys, ex.check_attention_backward, attn_keep_mask, attn_numeric(h), points=1)
    assert "✗ analytic gradients (values with a large common part)" in text
    if 1e-5 <= h <= 1e-4:
        assert "[NUMERIC_NOT_ANALYTIC]" in text


def test_a_wrong_forward_is_pointed_out_by_the_backward_check(capsys):
    text = fails_with(capsys, ex.check_attention_backward, lambda Q, K, V, mask=None: attn(Q, K, V, mask, scale="none"),
                      attn_back, points=3)
    assert "Your attention_forward is wrong on this input: fix it first" in text


@pytest.mark.parametrize("which", ["split", "merge"])
def test_heads_split_by_reshape_alone_are_named(capsys, which):
    split = ((lambda X, h: X.reshape(X.shape[0], h, X.shape[1], X.shape[2] // h)) if which == "split"
             else S["split_heads"])
    merge = (lambda Xh: Xh.reshape(Xh.shape[0], Xh.shape[2], -1)) if which == "merge" else S["merge_heads"]
    text = _named(capsys, ex.check_split_merge_heads, split, merge, code="ATTN_HEADS_RESHAPE", points=2)
    assert f"✗ {which}_heads" in text and f"✓ {'merge' if which == 'split' else 'split'}_heads" in text


MHA_PLANTED = [
    (lambda *a, mask=None: mha(*a, mask, split="reshape"), mha_back, "ATTN_HEADS_RESHAPE", "forward"),
    (lambda *a, mask=None: mha(*a, mask, scale="D"), mha_back, "ATTN_SCALE_WRONG", "forward"),
    (mha, lambda d, c: mha_back(d, c, paths=("v",)), "OVERWRITE_NOT_ACCUMULATE", "dX"),
    (mha, lambda d, c: mha_back(d, c, paths=("q", "k")), "PATH_MISSING", "dX"),
    (mha, lambda d, c: mha_back(d, c, transpose_dwq=True), "MISSING_TRANSPOSE", "dWq, dWk, dWv"),
]


@pytest.mark.parametrize("forward,backward,code,sub", MHA_PLANTED)
def test_multihead_mistakes_are_named(capsys, forward, backward, code, sub):
    text = _named(capsys, ex.check_multihead_attention, forward, backward, code=code)
    assert f"✗ {sub}" in text


@pytest.mark.parametrize("h", [1e-3, 1e-5, 1e-7])
def test_a_finite_difference_multihead_backward_fails(capsys, h):
    text = fails_with(capsys, ex.check_multihead_attention, mha, mha_numeric(h), points=1)
    assert "✗ analytic gradients (values with a large common part)" in text and "[NUMERIC_NOT_ANALYTIC]" in text


def test_mask_mistakes_are_explained(capsys):
    cases = [(lambda T: np.triu(np.ones((T, T), bool)), "this is the transpose"),
             (lambda T: np.tril(np.ones((T, T), bool), -1), "the diagonal is missing"),
             (lambda T: ~np.tril(np.ones((T, T), bool)), "the mask is inverted"),
             (lambda T: np.tril(np.ones((T, T))), "expected bool")]
    for causal, phrase in cases:
        text = fails_with(capsys, ex.check_masks, causal, S["padding_mask"], points=2)
        assert phrase in text and "✓ padding_mask" in text
    text = fails_with(capsys, ex.check_masks, S["causal_mask"],
                      lambda lengths, T: np.arange(T)[None, :] < np.asarray(lengths)[:, None], points=2)
    assert "add the middle axis of size 1" in text


def test_trace_derivation_variance_and_cost_mistakes_are_named(capsys):
    t = dict(S["trace"])
    ex_ = pub.one_query_example()
    t["s"] = ex_["K"] @ ex_["q"]
    t["dv"] = S["trace"]["p"]
    text = _named(capsys, ex.check_one_query_trace, t, code="ATTN_SCALE_MISSING", points=2)
    assert "[UPSTREAM_GRAD_MISSING]" in text and "✓ ds" in text
    t = dict(S["trace"])
    t["ds"] = ex_["g"] * S["trace"]["p"] * ex_["v"]
    _named(capsys, ex.check_one_query_trace, t, code="MISSING_RANK_ONE", points=2)
    d = dict(S["derivs"])
    s0, v0 = sp.Symbol("s0", real=True), sp.Symbol("v0", real=True)
    Z = sum(sp.exp(sp.Symbol(f"s{j}", real=True)) for j in range(3))
    d["dout_ds0"] = sp.exp(s0) / Z * v0
    _named(capsys, ex.check_score_derivation, d, code="MISSING_RANK_ONE", points=2)
    _named(capsys, ex.check_variance_law, {"var_qk": "d", "scale": "1/d"}, code="ATTN_SCALE_WRONG", points=2)
    assert "standard deviation" in fails_with(capsys, ex.check_variance_law, {"var_qk": "sqrt(d)",
                                                                              "scale": "1/sqrt(d)"}, points=2)
    cost = dict(S["cost"])
    cost["growth_when_T_doubles"] = 2
    _named(capsys, ex.check_memory_answers, cost, code="ATTN_QUADRATIC_COST", points=2)
    cost = dict(S["cost"])
    cost["score_gib"] = S["cost"]["score_gib"] / pub.MEMORY_QUESTION["h"]
    assert "left out the heads" in fails_with(capsys, ex.check_memory_answers, cost, points=2)


def test_every_new_code_is_in_the_catalogue_and_produced_by_a_planted_mistake():
    planted = ({c[2] for c in SOFTMAX_PLANTED} | {c[1] for c in ATTN_FORWARD_PLANTED}
               | {c[1] for c in ATTN_BACKWARD_PLANTED} | {c[2] for c in MHA_PLANTED} | NAMED_ELSEWHERE)
    assert NEW_CODES <= set(diagnoses.CATALOGUE) and planted <= set(diagnoses.CATALOGUE)
    assert NEW_CODES <= planted, NEW_CODES - planted
    source = Path(__file__).read_text()
    for code in NAMED_ELSEWHERE:  # each is asserted in a test's text, not only listed
        assert source.count(f'"{code}"') + source.count(f"[{code}]") >= 2, code


# ============================================================================================ garbage


@pytest.mark.parametrize("bad,phrase", [
    (lambda x, mask=None: None, "returned None"),
    (lambda x, mask=None: (np.zeros(3), None), "shape"),
    (lambda x, mask=None: (np.full(x.shape, np.nan), None), "non-finite"),
    (lambda x, mask=None: (_softmax(x, mask).astype(np.float32), None), "float64"),
    (lambda x, mask=None: 1 / 0, "ZeroDivisionError"),
    (lambda x, mask=None: ("P", "cache", "extra"), "returned 3 values"),
])
def test_garbage_softmax_gets_a_clear_message(bad, phrase):
    assert phrase in _fails(ex.check_softmax, bad, S["softmax_backward"], points=3)


@pytest.mark.parametrize("bad,phrase", [
    (lambda d, c: None, "returned None"),
    (lambda d, c: (1, 2), "returned 2 values"),
    (lambda d, c: tuple(np.zeros(3) for _ in range(3)), "shape"),
    (lambda d, c: [g.astype(np.float32) for g in attn_back(d, c)], "float64"),
])
def test_garbage_attention_backward_gets_a_clear_message(capsys, bad, phrase):
    text = fails_with(capsys, ex.check_attention_backward, attn, bad, phrase=phrase, points=3)
    assert "NUMERIC_NOT_ANALYTIC" not in text


def test_an_endless_loop_is_stopped(monkeypatch):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def forever(*args, **kwargs):
        while True:
            pass
    for call in (lambda: ex.check_attention_forward(forever, points=2),
                 lambda: ex.check_attention_backward(forever, forever, points=2),
                 lambda: ex.check_softmax(forever, forever, points=2),
                 lambda: ex.check_masks(forever, forever, points=2),
                 lambda: ex.check_split_merge_heads(forever, forever, points=2),
                 lambda: ex.check_multihead_attention(forever, forever, points=2)):
        text = _fails(call)  # nothing is credited for the cases never reached
        assert "did not finish within 0.3 s" in text and "not checked" in text


def test_a_function_that_modifies_its_inputs_loses_that_share(capsys):
    def fwd(Q, K, V, mask=None):
        out, cache = attn(Q, K, V, mask)
        Q *= 0.0
        return out, cache
    score = ex.check_attention_forward(fwd, points=4)
    assert score == pytest.approx(3.0) and "[INPUT_MUTATED]" in capsys.readouterr().out


@pytest.mark.parametrize("check,args", [
    (ex.check_one_query_trace, (None,)), (ex.check_one_query_trace, ([1, 2],)),
    (ex.check_score_derivation, (None,)), (ex.check_memory_answers, ("16",)),
    (ex.check_variance_law, ({"var_qk": "import os", "scale": 1},)),
    (ex.check_softmax, (None, None)), (ex.check_attention_forward, (3,)),
])
def test_missing_or_malformed_answers_get_a_clear_message(check, args):
    text = _fails(check, *args, points=2)
    assert text and "Traceback" not in text


def test_trace_accepts_lists_and_rejects_wrong_lengths(capsys):
    t = {k: np.asarray(v).tolist() for k, v in S["trace"].items()}
    assert ex.check_one_query_trace(t, points=2) == 2.0
    t["dq"] = t["dq"][:3]
    assert "expected 4 numbers" in fails_with(capsys, ex.check_one_query_trace, t, points=2)


# ============================================================================================ expected values


def test_the_trace_example_numbers_quoted_in_the_notebook():
    want, _ = ex_questions._trace_expected()
    np.testing.assert_allclose(want["s"], [2.0, 1.0, 0.0])
    np.testing.assert_allclose(want["p"], [0.665, 0.245, 0.090], atol=5e-4)
    assert want["out"] == pytest.approx(1.219, abs=5e-4)
    np.testing.assert_allclose(want["ds"], 2.0 * want["p"] * (pub.one_query_example()["v"] - want["out"]))


def test_cost_numbers_quoted_in_the_notebook():
    want, _ = ex_questions._memory_expected()
    assert want["score_gib"] == 16.0 and want["growth_when_T_doubles"] == 4.0 and want["all_layers_gib"] == 512.0
    assert ref.attention_score_memory(1, 1, 4096, 4) == 64 * 2 ** 20
    assert int(math.sqrt(80 * 2 ** 30 / 4)) // 1000 == 146


def test_variance_expected_is_d_and_one_over_sqrt_d():
    want, _, sym = ex_questions._variance_expected()
    d = sym["d"]
    assert sp.simplify(want["var_qk"] - d) == 0 and sp.simplify(want["scale"] - 1 / sp.sqrt(d)) == 0


# ============================================================================================ questions, pictures


def test_question_bank_answers_and_feedback():
    right = {"attn_masked_zero_grad": "b", "attn_backward_keeps": "d", "attn_flash": "a"}
    for qid, q in bank.QUESTIONS.items():
        assert concepts.digest(qid, right[qid]) == q.answer_digest
        wrong = [k for k in q.options if k != right[qid]]
        assert {concepts.digest(qid, k) for k in wrong} == set(q.feedback)


def test_the_masked_zero_gradient_fact_holds_for_a_minus_1e9_fill():
    x = np.array([[1.0, 2.0, 3.0]])
    P = _softmax(x, np.array([[True, True, False]]), fill=-1e9)
    assert P[0, 2] == 0.0 and (P * (np.ones_like(P) - np.sum(P))).ravel()[2] == 0.0


def test_public_module_imports_only_numpy():
    code = ("import sys, graders.public.attention as a; a.demo_qkv(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('graders', 'reference_impl', 'sympy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert all(m == "graders" or m.startswith("graders.public") for m in eval(out))
    code = ("import sys, visuals.attention_plots; "
            "print([m for m in sys.modules if m.startswith(('reference_impl', 'graders'))])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip() == "[]"


def test_pictures_draw_and_the_measurement_matches_the_theory():
    stats = vis.measure_scores([1, 16, 256], np.random.default_rng(0))
    np.testing.assert_allclose(stats["var_raw"], [1, 16, 256], rtol=0.1)
    np.testing.assert_allclose(stats["var_scaled"], 1.0, rtol=0.1)
    assert stats["max_p_raw"][-1] > 0.8 and stats["max_p_scaled"][-1] < 0.4
    ref_stats = ref.softmax_saturation([256], np.random.default_rng(1))
    assert ref_stats["max_prob_raw"][0] > 0.8 and ref_stats["max_prob_scaled"][0] < 0.4
    Q, K, V = pub.demo_qkv()
    m = ref.causal_mask(6)
    _, cache = ref.scaled_dot_product_attention_forward(Q, K, V, m)
    for fig in (vis.draw_attention_graph(), vis.plot_attention_weights(cache["P"][0], mask=m, tokens=pub.demo_tokens()),
                vis.plot_score_scaling(stats), vis.plot_score_memory([1024, 2048])):
        assert fig.axes
        plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_attention_weights(np.ones(3))
