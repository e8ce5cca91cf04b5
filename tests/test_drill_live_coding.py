"""Live coding: the registry, the stub, grading a candidate's code with the notebooks' graders (same mistake
names, same partial credit), in a namespace of its own or in a separate process, and bad code reported
clearly."""

from __future__ import annotations

import contextlib
import io
import re
import textwrap

import numpy as np
import pytest

from graders import batchnorm as g_bn
from graders import layers as g_layers
from graders import network as g_net
from graders import rnn as g_rnn
from graders.exercises import attention as g_attn
from graders.drill import live_coding as L
from graders.drill import problems as P
from graders.drill import scoring

RIGHT = {
    "code_affine": """
        import numpy as np

        def affine_forward(x, W, b):
            return x @ W + b, (x, W)

        def affine_backward(dout, cache):
            x, W = cache
            return dout @ W.T, x.T @ dout, dout.sum(axis=0)
    """,
    "code_softmax_ce": """
        import numpy as np

        def softmax_cross_entropy(scores, y):
            shifted = scores - scores.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            N = scores.shape[0]
            loss = -logp[np.arange(N), y].mean()
            d = np.exp(logp)
            d[np.arange(N), y] -= 1
            return loss, d / N
    """,
    "code_batchnorm": """
        import numpy as np

        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(0)
            inv_std = 1 / np.sqrt(x.var(0) + eps)
            xhat = (x - mu) * inv_std
            return gamma * xhat + beta, (xhat, inv_std, gamma)

        def batchnorm_backward(dout, cache):
            xhat, inv_std, gamma = cache
            dxhat = dout * gamma
            dx = inv_std * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))
            return dx, (dout * xhat).sum(0), dout.sum(0)
    """,
    "code_layernorm": """
        import numpy as np

        def layernorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(1, keepdims=True)
            inv_std = 1 / np.sqrt(x.var(1, keepdims=True) + eps)
            xhat = (x - mu) * inv_std
            return gamma * xhat + beta, (xhat, inv_std, gamma)

        def layernorm_backward(dout, cache):
            xhat, inv_std, gamma = cache
            dxhat = dout * gamma
            dx = inv_std * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True))
            return dx, (dout * xhat).sum(0), dout.sum(0)
    """,
    "code_rnn_step": """
        import numpy as np

        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            h = np.tanh(x @ Wx + h_prev @ Wh + b)
            return h, (x, h_prev, Wx, Wh, h)

        def rnn_step_backward(dnext_h, cache):
            x, h_prev, Wx, Wh, h = cache
            da = dnext_h * (1 - h ** 2)
            return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)
    """,
    "code_attention": """
        import numpy as np

        def attention_forward(Q, K, V, mask=None):
            scale = 1 / np.sqrt(Q.shape[-1])
            S = Q @ np.swapaxes(K, -1, -2) * scale
            if mask is not None:
                S = np.where(mask, S, -np.inf)
            P = np.exp(S - S.max(axis=-1, keepdims=True))
            P = P / P.sum(axis=-1, keepdims=True)
            return P @ V, (Q, K, V, P, scale)

        def attention_backward(dout, cache):
            Q, K, V, P, scale = cache
            dV = np.swapaxes(P, -1, -2) @ dout
            dP = dout @ np.swapaxes(V, -1, -2)
            dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
            return dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, dV
    """,
}

# (family, text replaced in RIGHT, replacement, the diagnosis the notebook grader names)
WRONG = [
    ("code_affine", "x.T @ dout", "dout.T @ x", "MISSING_TRANSPOSE"),
    ("code_affine", "dout.sum(axis=0)", "dout.sum(axis=1)", "BIAS_SUM_AXIS"),
    ("code_softmax_ce", "    d[np.arange(N), y] -= 1\n", "", "SOFTMAX_GRAD_NO_ONEHOT"),
    ("code_batchnorm", "dxhat = dout * gamma", "dxhat = dout", "BN_GAMMA_FORGOTTEN"),
    ("code_batchnorm", " - xhat * (dxhat * xhat).mean(0)", "", "BN_MISSING_VAR_TERM"),
    ("code_layernorm", "dxhat = dout * gamma", "dxhat = dout", "BN_GAMMA_FORGOTTEN"),
    ("code_rnn_step", "(1 - h ** 2)", "(1 - h)", "TANH_DERIVATIVE"),
    ("code_rnn_step", "da @ Wh.T", "da @ Wh", "MISSING_TRANSPOSE"),
    ("code_attention", "dV = np.swapaxes(P, -1, -2) @ dout", "dV = 0 * V", "ATTN_DV_PATH"),
    ("code_attention", "return dS @ K * scale,", "return dS @ K,", "ATTN_SCALE_MISSING"),
]

CHECKS = {"code_affine": g_layers.check_affine, "code_softmax_ce": g_net.check_softmax_cross_entropy,
          "code_batchnorm": g_bn.check_batchnorm_backward, "code_layernorm": g_bn.check_layernorm,
          "code_rnn_step": g_rnn.check_rnn_step, "code_attention": g_attn.check_attention_backward}


def _src(name: str) -> str:
    return textwrap.dedent(RIGHT[name]).lstrip()


def test_the_layers_are_registered_with_realistic_limits():
    assert set(L.SPECS) == set(RIGHT)
    for name, spec in L.SPECS.items():
        assert 15 <= spec.minutes <= 45 and P.FAMILIES[name].kind == "coding"
        assert spec.check is CHECKS[name]  # the notebook's own check, not a copy


def test_a_spec_outside_15_to_45_minutes_is_refused():
    spec = L.SPECS["code_affine"]
    with pytest.raises(ValueError, match="15-45"):
        L.register(L.LiveSpec("code_x", "x", spec.functions, spec.check, 5, "03", 1, spec.hints, ""))


@pytest.mark.parametrize("name", list(RIGHT))
def test_the_stub_defines_the_functions_and_scores_zero(name):
    spec = L.SPECS[name]
    stub = spec.stub()
    assert all(f"def {sig}:" in stub for sig, _ in spec.functions)
    r = L.grade_source(name, stub, seed=3)
    assert r.ran and r.score == 0.0 and "NotImplementedError" in r.report


@pytest.mark.parametrize("name", list(RIGHT))
def test_a_right_solution_gets_full_marks(name):
    r = L.grade_source(name, _src(name), seed=5)
    assert r.score == 1.0 and r.diagnoses == () and r.feedback().correct


@pytest.mark.parametrize("name,old,new,code", WRONG)
def test_a_wrong_solution_gets_the_notebook_graders_partial_credit_and_mistake_name(name, old, new, code, capsys):
    src = _src(name)
    assert old in src
    wrong = src.replace(old, new)
    r = L.grade_source(name, wrong, seed=7)
    assert 0 < r.score < 1 and r.diagnoses[0] == code and f"[{code}]" in r.feedback().message
    # exactly what the notebook check says about the same functions with the same seed
    ns: dict = {}
    exec(compile(wrong, "<wrong>", "exec"), ns)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        score = CHECKS[name](*[ns[n] for n in L.SPECS[name].names], seed=7, points=1.0)
    assert score == pytest.approx(r.score) and sorted(set(re.findall(r"\[([A-Z0-9_]+)\]", out.getvalue()))) == \
        sorted(set(r.diagnoses))


@pytest.mark.parametrize("source,phrase", [
    ("def affine_forward(x, W, b)\n    return x", "does not compile"),
    ("raise RuntimeError('boom')", "RuntimeError while loading: boom"),
    ("import numpy as np\n", "Define `affine_forward`, `affine_backward`"),
    ("affine_forward = 3\ndef affine_backward(d, c): pass", "Define `affine_forward`"),
])
def test_bad_code_is_reported_clearly(source, phrase):
    r = L.grade_source("code_affine", source, seed=0)
    assert r.score == 0.0 and phrase in r.report


def test_an_endless_top_level_loop_is_stopped(monkeypatch):
    monkeypatch.setattr(L, "EXEC_SECONDS", 0.5)
    r = L.grade_source("code_affine", "while True:\n    pass\n", seed=0)
    assert r.score == 0.0 and "longer than 0.5 s" in r.report


def test_the_candidates_prints_are_kept_apart_from_the_report():
    r = L.grade_source("code_affine", "print('hello from the candidate')\n" + _src("code_affine"), seed=0)
    assert r.score == 1.0 and "hello from the candidate" in r.output and "hello" not in r.report


def test_the_code_runs_in_a_namespace_of_its_own():
    before = dict(vars(L))
    src = "SPECS = {}\nEXEC_SECONDS = -1\ngrade_source = None\n" + _src("code_affine")
    assert L.grade_source("code_affine", src, seed=0).score == 1.0
    assert vars(L).keys() == before.keys() and all(vars(L)[k] is before[k] for k in before)


def test_a_file_is_graded_in_a_separate_process_that_cannot_touch_the_drill(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text("import graders.drill.scoring as s\ns.LATE_CAP = 1.0\n" + _src("code_affine").replace(
        "x.T @ dout", "dout.T @ x"))
    r = L.grade_file("code_affine", f, seed=2)
    assert 0 < r.score < 1 and r.diagnoses == ("MISSING_TRANSPOSE",)
    assert scoring.LATE_CAP == 0.5  # the file ran in another process


def test_an_unreadable_file_is_reported(tmp_path):
    r = L.grade_file("code_affine", tmp_path / "missing.py", seed=0)
    assert r.score == 0.0 and "Cannot read" in r.report


def test_the_untouched_stub_and_empty_code_do_not_count_as_attempts():
    p = P.generate("code_affine", np.random.default_rng(0))
    for text in (p.stub, "", None):
        fb = P.check_answer(p, text)
        assert not fb.correct and not fb.counts
