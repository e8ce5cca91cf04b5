"""Checks of notebook 13 (graders/exercises/tensor_*.py): the notebook's own answers get full marks with the seeds of
its test cells, the release stubs score zero, every planted mistake loses points with its diagnosis named, garbage
gets a clear message (never a grader traceback), and the facts the notebook states are pinned.

Run also as ``pytest -p tests.remote_plugin tests/test_exercises_tensor_backprop.py``: every check then receives
proxies of the functions and classes below, served from a forked process (the cohort grader's link).
"""

from __future__ import annotations

import functools
import math
import pathlib
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import concepts, core, diagnoses  # noqa: E402
from graders.exercises import tensor_backprop as ex  # noqa: E402
from graders.exercises import tensor_engine as exe  # noqa: E402
from graders.exercises import tensor_losses as exl  # noqa: E402
from graders.exercises import tensor_precision as exp16  # noqa: E402
from graders.public import tensor_backprop as pub  # noqa: E402
from graders.question_bank import tensor_backprop as qbank  # noqa: E402
from reference_impl import datasets as ref_data  # noqa: E402
from reference_impl import losses as ref_losses  # noqa: E402
from reference_impl import network as ref_net  # noqa: E402
from tests.grading_helpers import fails as _fails  # noqa: E402
from visuals import tensor_plots as vis  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NB = ROOT / "solutions" / "13_tensor_backprop" / "tensor_backprop.ipynb"
ANSWERS = ("unbroadcast", "cross_entropy", "loss_derivatives", "sigmoid_bce", "label_smoothing", "huber",
           "embedding_backward", "tied_lm", "dropout", "tensor_engine", "inplace", "combine_micro_batches",
           "mlp_with_engine", "train_mlp", "fp16_cast_report", "mlp_grads_fp16", "mixed_precision_step")


@functools.lru_cache(maxsize=1)
def _solutions() -> dict:
    """The notebook's answer cells executed in one namespace (as a learner's kernel would)."""
    nb = nbformat.read(str(NB), as_version=4)
    src = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    ns = {"np": np, "sp": sp}
    for gid in ANSWERS:
        exec(compile(src[gid], gid, "exec"), ns)
    return ns


S = _solutions()


def _partial(capsys, fn, *args, points, **kwargs):
    capsys.readouterr()
    score = fn(*args, points=points, **kwargs)
    return score, capsys.readouterr().out


def _named(capsys, code, fn, *args, points=4, **kwargs):
    """The check loses points (partially or entirely) and names ``code``."""
    capsys.readouterr()
    try:
        score = fn(*args, points=points, **kwargs)
    except AssertionError as exc:
        text = str(exc)
    else:
        text = capsys.readouterr().out
        assert score < points, text
    assert f"[{code}]" in text, text
    return text


# ============================================================================================ the notebook's answers


def _test_cell_calls():
    """(check name, args, seed, thorough) of every check call in the notebook's test cells."""
    nb = nbformat.read(str(NB), as_version=4)
    calls = []
    for c in nb.cells:
        if not c.metadata.get("nbgrader", {}).get("grade"):
            continue
        for m in re.finditer(r"(\w+)\.(check_\w+)\((.*?), seed=(\d+), points=(\d+)(, thorough=True)?\)", c.source):
            calls.append((m.group(1), m.group(2), m.group(3), int(m.group(4)), int(m.group(5)), bool(m.group(6))))
    return calls


MODULES = {"ex": ex, "exe": exe, "exl": exl, "exp16": exp16}
CALLS = _test_cell_calls()


def test_every_test_cell_is_found():
    assert len(CALLS) == 2 * 18  # visible + hidden for each of the 18 graded exercises (plus 4 choice cells)
    nb = nbformat.read(str(NB), as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == 22 and sum(c.metadata.nbgrader["points"] for c in graded) == 48


@pytest.mark.parametrize("module,check,args,seed,points,thorough", CALLS,
                         ids=[f"{c[1]}-{c[3]}" for c in CALLS])
def test_the_notebooks_answers_get_full_marks(module, check, args, seed, points, thorough):
    fn = getattr(MODULES[module], check)
    names = [a.strip() for a in args.split(",")]
    values = [S[n] for n in names]
    assert fn(*values, seed=seed, points=points, thorough=thorough) == float(points)


def test_the_graded_training_seeds_reach_the_stated_accuracy():
    for seed in (0, 62):
        task = exe.moons_task(seed, pub.TRAIN_SETTINGS)
        params, _ = S["train_mlp"](task["params"], task["X"], task["y"], pub.TRAIN_SETTINGS["lr"],
                                   pub.TRAIN_SETTINGS["steps"])
        acc = np.mean(ref_net.mlp_scores(params, task["X_test"]).argmax(axis=1) == task["y_test"])
        assert acc >= pub.TRAIN_ACCURACY + 0.02, (seed, acc)


def _stub(*args, **kwargs):
    raise NotImplementedError()


class StubTensor:
    def __init__(self, data, requires_grad=False):
        raise NotImplementedError()


@pytest.mark.parametrize("check", [ex.check_unbroadcast, ex.check_embedding_backward, ex.check_tied_lm,
                                   ex.check_combine_micro_batches, exl.check_cross_entropy, exl.check_sigmoid_bce,
                                   exl.check_label_smoothing, exl.check_huber, exe.check_mlp_loss_and_grads,
                                   exe.check_train_mlp, exp16.check_fp16_cast_report, exp16.check_mlp_grads_fp16,
                                   exp16.check_mixed_precision_step])
def test_release_stubs_score_zero(check):
    assert "NotImplementedError" in _fails(check, _stub, points=2)


def test_release_stubs_score_zero_for_classes_pairs_and_answers():
    assert "NotImplementedError" in _fails(ex.check_dropout, _stub, _stub, points=3)
    for check in (exe.check_tensor_ops, exe.check_tensor_semantics):
        assert "NotImplementedError" in _fails(check, StubTensor, points=3)
    assert "still None" in _fails(exl.check_loss_derivatives, {"dlse_dz1": None, "dbce_dz": None}, points=2)
    assert "still None" in _fails(exe.check_inplace_breaks, None, points=2)


# ============================================================================================ unbroadcast


def ub_no_keepdims(grad, shape):
    return np.squeeze(S["unbroadcast"](grad, shape))


def ub_leading_only(grad, shape):
    return grad.sum(axis=tuple(range(grad.ndim - len(shape))))


def ub_size1_only(grad, shape):
    lead = grad.ndim - len(shape)
    axes = tuple(lead + i for i, d in enumerate(shape) if d == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True)


def ub_mean(grad, shape):
    return S["unbroadcast"](grad, shape) * np.prod(shape) / grad.size


def ub_mutates(grad, shape):
    out = S["unbroadcast"](grad, shape)
    grad *= 0
    return out


@pytest.mark.parametrize("fn,code", [(ub_no_keepdims, "UNBROADCAST_KEEPDIMS"),
                                     (ub_leading_only, "UNBROADCAST_SIZE1_AXES"),
                                     (ub_size1_only, "UNBROADCAST_LEADING_AXES"), (ub_mean, "UNBROADCAST_MEAN"),
                                     (ub_mutates, "INPUT_MUTATED")])
def test_unbroadcast_mistakes_named(capsys, fn, code):
    _named(capsys, code, ex.check_unbroadcast, fn)


def ub_none(grad, shape):
    return None


def ub_list(grad, shape):
    return S["unbroadcast"](grad, shape).tolist()


def ub_nan(grad, shape):
    return S["unbroadcast"](grad, shape) * np.nan


def ub_int(grad, shape):
    return S["unbroadcast"](grad, shape).astype(np.int64)


def ub_loops(grad, shape):
    while True:
        pass


@pytest.mark.parametrize("fn,phrase", [(ub_none, "got None"), (ub_list, "expected a NumPy array"),
                                       (ub_nan, "non-finite"), (ub_int, "dtype int64")])
def test_unbroadcast_garbage_is_explained(fn, phrase):
    assert phrase in _fails(ex.check_unbroadcast, fn, points=3)


def test_an_endless_loop_is_stopped_with_a_message(monkeypatch):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.5)
    msg = _fails(ex.check_unbroadcast, ub_loops, points=3)
    assert "did not finish within 0.5 s" in msg
    assert "check_unbroadcast" not in msg  # no grader traceback, only the learner's side
    with pytest.raises(AssertionError, match="unbroadcast: got None"):
        ex.check_unbroadcast(None)


# ============================================================================================ embeddings and tying


def emb_lost(dout, idx, V):
    dW = np.zeros((V, dout.shape[-1]))
    dW[idx] += dout
    return dW


def emb_transposed(dout, idx, V):
    return S["embedding_backward"](dout, idx, V).T.copy()


def test_embedding_mistakes_named(capsys):
    text = _named(capsys, "EMBEDDING_LOST_UPDATES", ex.check_embedding_backward, emb_lost)
    assert "✓ ids used once" in text  # without repeats the buggy version is right
    _named(capsys, "MISSING_TRANSPOSE", ex.check_embedding_backward, emb_transposed)


def tied_projection_only(E, W, b, idx, y):
    h = np.tanh(E[idx] @ W + b)
    loss, dlogits = S["cross_entropy"](h @ E.T, y)
    dz = (dlogits @ E) * (1 - h * h)
    return loss, dlogits.T @ h, E[idx].T @ dz, dz.sum(axis=0)


def tied_lookup_only(E, W, b, idx, y):
    loss, dE, dW, db = S["tied_lm_loss_and_grads"](E, W, b, idx, y)
    h = np.tanh(E[idx] @ W + b)
    _, dlogits = S["cross_entropy"](h @ E.T, y)
    return loss, dE - dlogits.T @ h, dW, db


def tied_lost_updates(E, W, b, idx, y):
    loss, dE, dW, db = S["tied_lm_loss_and_grads"](E, W, b, idx, y)
    h = np.tanh(E[idx] @ W + b)
    _, dlogits = S["cross_entropy"](h @ E.T, y)
    de = ((dlogits @ E) * (1 - h * h)) @ W.T
    lost = np.zeros_like(E)
    lost[idx] += de
    return loss, dlogits.T @ h + lost, dW, db


@pytest.mark.parametrize("fn,code", [(tied_projection_only, "TIED_ONE_USE"), (tied_lookup_only, "TIED_ONE_USE"),
                                     (tied_lost_updates, "EMBEDDING_LOST_UPDATES")])
def test_tied_mistakes_named(capsys, fn, code):
    text = _named(capsys, code, ex.check_tied_lm, fn)
    assert "✓ loss" in text and "✓ dW and db" in text


def test_tied_garbage():
    assert "returned 2 values; it must return 4" in _fails(ex.check_tied_lm, lambda E, W, b, i, y: (1.0, E), points=3)
    assert "IndexError" in _fails(ex.check_tied_lm, lambda E, W, b, i, y: E[len(E) + 5], points=3)


# ============================================================================================ dropout


def drop_no_scale(x, p, rng, train=True):
    if not train:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask, mask


def drop_swapped(x, p, rng, train=True):
    if not train:
        return x.copy(), None
    mask = (rng.random(x.shape) < p) / (1 - p)
    return x * mask, mask


def drop_not_inverted(x, p, rng, train=True):
    if not train:
        return x * (1 - p), 1 - p
    mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask, mask


def drop_in_eval(x, p, rng, train=True):
    return S["dropout_forward"](x, p, rng, True)


def drop_backward_unscaled(dout, cache):
    return dout if cache is None else dout * (cache > 0)


def test_dropout_mistakes_named(capsys):
    _named(capsys, "DROPOUT_SCALE", ex.check_dropout, drop_no_scale, S["dropout_backward"])
    _named(capsys, "DROPOUT_KEEP_PROB_SWAPPED", ex.check_dropout, drop_swapped, S["dropout_backward"])
    _named(capsys, "DROPOUT_NOT_INVERTED", ex.check_dropout, drop_not_inverted, S["dropout_backward"])
    _named(capsys, "DROPOUT_IN_EVAL", ex.check_dropout, drop_in_eval, S["dropout_backward"])
    text = _named(capsys, "DROPOUT_SCALE", ex.check_dropout, S["dropout_forward"], drop_backward_unscaled)
    assert "✓ train forward" in text


def drop_two_draws(x, p, rng, train=True):
    rng.random(1)
    return S["dropout_forward"](x, p, rng, train)


def test_dropout_other_draw_and_garbage(capsys):
    score, out = _partial(capsys, ex.check_dropout, drop_two_draws, S["dropout_backward"], points=4)
    assert score == 3.0 and "drawn once" in out  # eval mode and the backward of its own mask are still right
    assert "it must return a tuple of 2" in _fails(ex.check_dropout, lambda x, p, rng, train=True: x,
                                                   S["dropout_backward"], points=3)


# ============================================================================================ accumulation


def acc_sum(losses, grads, sizes):
    return float(sum(losses)), {k: sum(g[k] for g in grads) for k in grads[0]}


def acc_mean(losses, grads, sizes):
    k = len(sizes)
    return float(sum(losses) / k), {n: sum(g[n] for g in grads) / k for n in grads[0]}


def test_accumulation_mistakes_named(capsys):
    _named(capsys, "ACCUMULATION_NO_1_OVER_K", ex.check_combine_micro_batches, acc_sum)
    text = _named(capsys, "ACCUMULATION_UNEQUAL", ex.check_combine_micro_batches, acc_mean)
    assert "✓ equal micro-batches" in text


def test_accumulation_garbage():
    assert "keys" in _fails(ex.check_combine_micro_batches, lambda l, g, s: (1.0, {"W": 0}), points=2)


# ============================================================================================ losses


def ce_log_of_softmax(scores, y):
    N = len(y)
    p = ref_losses.softmax(scores)
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(-np.log(p[np.arange(N), y]).mean()), d / N


def ce_clipped(scores, y):
    N = len(y)
    p = ref_losses.softmax(scores)
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(-np.log(p[np.arange(N), y] + 1e-12).mean()), d / N


def ce_unstable(scores, y):
    N = len(y)
    e = np.exp(scores)
    p = e / e.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(-np.log(p[np.arange(N), y]).mean()), d / N


def ce_no_onehot(scores, y):
    loss, _ = S["cross_entropy"](scores, y)
    return loss, ref_losses.softmax(scores) / len(y)


def ce_no_mean(scores, y):
    loss, d = S["cross_entropy"](scores, y)
    return loss, d * len(y)


@pytest.mark.parametrize("fn,code", [(ce_log_of_softmax, "LOG_SOFTMAX_UNDERFLOW"),
                                     (ce_clipped, "LOG_SOFTMAX_UNDERFLOW"), (ce_unstable, "SOFTMAX_UNSTABLE"),
                                     (ce_no_onehot, "SOFTMAX_GRAD_NO_ONEHOT"), (ce_no_mean, "MISSING_1_OVER_N")])
def test_cross_entropy_mistakes_named(capsys, fn, code):
    _named(capsys, code, exl.check_cross_entropy, fn)


def test_cross_entropy_underflow_costs_only_its_sub_check(capsys):
    score, out = _partial(capsys, exl.check_cross_entropy, ce_log_of_softmax, points=4)
    assert score == 3.0 and "✓ dscores" in out


def test_derivations_named_and_garbage(capsys):
    z, y = sp.symbols("z y")
    s = 1 / (1 + sp.exp(-z))
    good_lse = "exp(z1)/(exp(z1)+exp(z2)+exp(z3))"
    _named(capsys, "DL_DP_NOT_DL_DZ", exl.check_loss_derivatives,
           {"dlse_dz1": good_lse, "dbce_dz": -y / s + (1 - y) / (1 - s)})
    _named(capsys, "SIGN_FLIP", exl.check_loss_derivatives, {"dlse_dz1": good_lse, "dbce_dz": "y - sigmoid(z)"})
    text = _named(capsys, "SIGMOID_DERIVATIVE", exl.check_loss_derivatives,
                  {"dlse_dz1": good_lse, "dbce_dz": "sigmoid(z)*(1 - sigmoid(z))"})
    assert "✓ dlse_dz1" in text
    score, out = _partial(capsys, exl.check_loss_derivatives, {"dlse_dz1": "exp(z1)", "dbce_dz": "sigmoid(z) - y"},
                          points=2)
    assert score == 1.0 and "denominator" in out
    assert exl.check_loss_derivatives({"dlse_dz1": good_lse, "dbce_dz": "1/(1+exp(-z)) - y"}, points=2) == 2.0
    assert "could not read" in _fails(exl.check_loss_derivatives, {"dlse_dz1": "import os", "dbce_dz": "q"}, points=2)
    assert "expected a dict" in _fails(exl.check_loss_derivatives, "sigmoid(z) - y", points=2)


def test_derivation_expected_values_come_from_sympy_diff():
    sym = exl.derivation_symbols()
    z = sym["z"]
    expected, _ = exl._derivations()
    s = 1 / (1 + sp.exp(-z))
    assert sp.simplify(expected["dbce_dz"] - (s - sym["y"])) == 0


def bce_naive(z, y):
    s = 1 / (1 + np.exp(-z))
    return float(np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s))), (s - y) / z.size


def bce_clipped(z, y):
    s = np.clip(1 / (1 + np.exp(-z)), 1e-7, 1 - 1e-7)
    return float(np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s))), (1 / (1 + np.exp(-z)) - y) / z.size


def bce_no_mean(z, y):
    loss, dz = S["sigmoid_bce_with_logits"](z, y)
    return loss, dz * z.size


def bce_dp(z, y):
    loss, _ = S["sigmoid_bce_with_logits"](z, y)
    s = 1 / (1 + np.exp(-z))
    return loss, (-y / s + (1 - y) / (1 - s)) / z.size


@pytest.mark.parametrize("fn,code", [(bce_naive, "BCE_NOT_FROM_LOGITS"), (bce_clipped, "BCE_PROB_CLIPPED"),
                                     (bce_no_mean, "MISSING_1_OVER_N"), (bce_dp, "DL_DP_NOT_DL_DZ")])
def test_bce_mistakes_named(capsys, fn, code):
    _named(capsys, code, exl.check_sigmoid_bce, fn)


def ls_hard_grad(scores, y, eps):
    loss, _ = S["label_smoothing_cross_entropy"](scores, y, eps)
    return loss, S["cross_entropy"](scores, y)[1]


def ls_true_one_minus_eps(scores, y, eps):
    N, C = scores.shape
    logp = ref_losses.log_softmax(scores)
    q = np.full((N, C), eps / C)
    q[np.arange(N), y] = 1 - eps
    return float(-(q * logp).sum() / N), (np.exp(logp) - q) / N


def ls_c_minus_one(scores, y, eps):
    N, C = scores.shape
    logp = ref_losses.log_softmax(scores)
    q = np.full((N, C), eps / (C - 1))
    q[np.arange(N), y] = 1 - eps
    return float(-(q * logp).sum() / N), (np.exp(logp) - q) / N


@pytest.mark.parametrize("fn,code", [(ls_hard_grad, "LABEL_SMOOTHING_HARD_GRAD"),
                                     (ls_true_one_minus_eps, "LABEL_SMOOTHING_TARGET"),
                                     (ls_c_minus_one, "LABEL_SMOOTHING_TARGET")])
def test_label_smoothing_mistakes_named(capsys, fn, code):
    text = _named(capsys, code, exl.check_label_smoothing, fn)
    assert "✓ eps = 0 is plain cross-entropy" in text


def huber_mse_grad(pred, target, delta=1.0):
    loss, _ = S["huber_loss"](pred, target, delta)
    return loss, (pred - target) / pred.size


def huber_sign_slope(pred, target, delta=1.0):
    loss, _ = S["huber_loss"](pred, target, delta)
    r = pred - target
    return loss, np.where(np.abs(r) <= delta, r, np.sign(r)) / pred.size


def huber_no_offset(pred, target, delta=1.0):
    r = pred - target
    a = np.abs(r)
    return float(np.where(a <= delta, 0.5 * r * r, delta * a).mean()), np.clip(r, -delta, delta) / r.size


def test_huber_mistakes_named(capsys):
    text = _named(capsys, "HUBER_NOT_CLIPPED", exl.check_huber, huber_mse_grad)
    assert "✓ gradient inside" in text and "✓ loss" in text
    _named(capsys, "HUBER_NOT_CLIPPED", exl.check_huber, huber_sign_slope)
    text = _named(capsys, "HUBER_LINEAR_OFFSET", exl.check_huber, huber_no_offset)
    assert "✓ gradient outside" in text


def test_loss_garbage(capsys):
    assert "returned a single float; it must return a tuple of 2" in _fails(exl.check_huber, lambda p, t, d=1.0: 1.0,
                                                                             points=2)
    score, out = _partial(capsys, exl.check_cross_entropy, lambda s, y: ("big", S["cross_entropy"](s, y)[1]), points=4)
    assert score == 2.0 and "loss must be a finite real number (a float), got str" in out
    msg = _fails(exl.check_sigmoid_bce, lambda z, y: (np.nan, z * np.nan), points=2)
    assert "loss is nan (not finite)" in msg and "non-finite value" in msg


# ============================================================================================ the engine


def _tensor_variant(*edits):
    """The notebook's Tensor class with text edits applied to its source (a planted mistake)."""
    nb = nbformat.read(str(NB), as_version=4)
    source = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "tensor_engine")
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    ns = dict(S)
    exec(compile(source, "planted Tensor", "exec"), ns)
    return ns["Tensor"]


_MUL = ("self.grad += unbroadcast(g * other.data, self.shape)", "other.grad += unbroadcast(g * self.data, other.shape)")
_ADD = ("self.grad += unbroadcast(g, self.shape)", "other.grad += unbroadcast(g, other.shape)")
_RESET = "if not (node.is_leaf and node.requires_grad and node.grad is not None):"
_FREE = "elif node._prev and not retain_graph:"

MulSwapped = _tensor_variant((_MUL[0], "self.grad += unbroadcast(g * self.data, self.shape)"),
                             (_MUL[1], "other.grad += unbroadcast(g * other.data, other.shape)"))
NoUnbroadcast = _tensor_variant((_ADD[0], "self.grad = self.grad + g"), (_ADD[1], "other.grad = other.grad + g"))
ReluNoMask = _tensor_variant(("self.grad += g * (out.data > 0)", "self.grad += g"))
Overwrites = _tensor_variant((_MUL[0], _MUL[0].replace("+=", "=")), (_MUL[1], _MUL[1].replace("+=", "=")))
NoCrossEntropy = _tensor_variant(("    def cross_entropy(self, y):",
                                  "    def cross_entropy(self, y):\n        return None\n\n    def unused(self, y):"))
Overwriting = _tensor_variant((_RESET, "if True:"))
Stale = _tensor_variant((_RESET, "if node.grad is None:"))
NeverFrees = _tensor_variant((_FREE, "elif False:"))
AlwaysFrees = _tensor_variant((_FREE, "elif node._prev:"))
TypeErrorOnSecond = _tensor_variant(('raise RuntimeError("trying to backward', 'raise TypeError("trying to backward'))
ZeroGradNoop = _tensor_variant(("self.grad = None\n        ### END SOLUTION", "pass\n        ### END SOLUTION"))
DetachSelf = _tensor_variant(("return Tensor(self.data)", "return self"))


def test_engine_ops_mistakes_named(capsys):
    text = _named(capsys, "PRODUCT_RULE", exe.check_tensor_ops, MulSwapped, points=7)
    assert "✓ sum" in text and "✓ cross_entropy node" in text and "fix it first" in text
    score, text = _partial(capsys, exe.check_tensor_ops, NoUnbroadcast, points=7)
    assert score == 5.0 and "must be unbroadcast" in text and "✓ matmul" in text  # add and the add of CE's bias
    text = _named(capsys, "RELU_MASK", exe.check_tensor_ops, ReluNoMask, points=7)
    assert "✓ matmul" in text
    text = _named(capsys, "OVERWRITE_NOT_ACCUMULATE", exe.check_tensor_ops, Overwrites, points=7)
    assert "✓ sum" in text


def test_engine_garbage(capsys):
    score, out = _partial(capsys, exe.check_tensor_ops, NoCrossEntropy, points=7)
    assert score == 6.0 and "not a Tensor" in out
    assert "Tensor: got None" in _fails(exe.check_tensor_ops, None, points=3)


@pytest.mark.parametrize("cls,code", [(Overwriting, "GRAD_NOT_ACCUMULATED"), (Stale, "STALE_INTERMEDIATE_GRAD"),
                                      (NeverFrees, "GRAPH_NOT_FREED"), (AlwaysFrees, "RETAIN_GRAPH_IGNORED"),
                                      (ZeroGradNoop, "ZERO_GRAD_INEFFECTIVE"), (DetachSelf, "DETACH_NOT_STOPPING")])
def test_engine_semantics_mistakes_named(capsys, cls, code):
    _named(capsys, code, exe.check_tensor_semantics, cls, points=5)


def test_engine_semantics_each_mistake_costs_its_own_sub_check(capsys):
    score, out = _partial(capsys, exe.check_tensor_semantics, ZeroGradNoop, points=5)
    assert score == 4.0
    score, out = _partial(capsys, exe.check_tensor_semantics, TypeErrorOnSecond, points=5)
    assert score == 4.0 and "raise RuntimeError" in out and "TypeError" in out


# ============================================================================================ in-place (erratum 7)


BREAKS = {"sigmoid_output_modified", "tanh_output_modified", "matmul_operand_modified", "mul_operand_modified",
          "log_input_modified"}


def test_erratum_7_pinned_by_the_reference_engine():
    truth = exe._inplace_truth()
    assert {n for n, v in truth.items() if v} == BREAKS
    # what saves what: ReLU, sigmoid, tanh, exp save their output; changing their input is harmless
    assert not any(truth[n] for n in ("relu_inplace_after_matmul", "relu_input_modified", "sigmoid_input_modified",
                                      "exp_input_modified"))
    assert set(exe.INPLACE_NAMES) == set(pub.INPLACE_SCENARIOS)


def test_erratum_7_is_taught_precisely_in_the_notebook():
    nb = nbformat.read(str(NB), as_version=4)
    text = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    assert "ReLU, sigmoid, tanh and exp save their OUTPUT for the backward" in text
    assert "changing their input in place after the forward is harmless, and an in-place ReLU is fine" in text
    assert "the output of such an operation, an operand saved by a multiply or a matmul, the input of `log`" in text
    assert "version counter" in text and '"In-place ReLU breaks backprop" is wrong' in text


def test_inplace_answers(capsys):
    assert exe.check_inplace_breaks(BREAKS, points=2) == 2.0
    assert exe.check_inplace_breaks(sorted(BREAKS), points=2) == 2.0
    _named(capsys, "INPLACE_RELU_MYTH", exe.check_inplace_breaks, BREAKS | {"relu_inplace_after_matmul"}, points=9)
    _named(capsys, "INPLACE_SAVED_OUTPUT", exe.check_inplace_breaks, BREAKS - {"tanh_output_modified"}, points=9)
    _named(capsys, "INPLACE_SAVED_OUTPUT", exe.check_inplace_breaks, BREAKS | {"exp_input_modified"}, points=9)
    text = _named(capsys, "INPLACE_SAVED_INPUT", exe.check_inplace_breaks, BREAKS - {"log_input_modified"}, points=9)
    assert exe.check_inplace_breaks(BREAKS - {"log_input_modified"}, points=9) == 8.0
    del text
    assert "not scenario names" in _fails(exe.check_inplace_breaks, {"relu"}, points=2)
    assert "expected a set" in _fails(exe.check_inplace_breaks, "tanh_output_modified", points=2)


# ============================================================================================ MLP and training


def mlp_relu_on_output(params, X, y):
    L = len(params) // 2
    h = X
    for l in range(1, L + 1):
        h = np.maximum(h @ params[f"W{l}"] + params[f"b{l}"], 0)
    loss, _ = S["cross_entropy"](h, y)
    return loss, S["mlp_loss_and_grads"](params, X, y)[1]


def mlp_no_mean(params, X, y):
    loss, g = S["mlp_loss_and_grads"](params, X, y)
    return loss, {k: v * len(y) for k, v in g.items()}


def mlp_bias_keepdims(params, X, y):
    loss, g = S["mlp_loss_and_grads"](params, X, y)
    return loss, {k: (v[None, :] if k.startswith("b") else v) for k, v in g.items()}


@pytest.mark.parametrize("fn,code", [(mlp_relu_on_output, "RELU_ON_OUTPUT"), (mlp_no_mean, "MISSING_1_OVER_N"),
                                     (mlp_bias_keepdims, "BIAS_KEEPDIMS")])
def test_mlp_mistakes_named(capsys, fn, code):
    _named(capsys, code, exe.check_mlp_loss_and_grads, fn)


def train_after_step(params, X, y, lr, steps):
    p, losses = S["train_mlp"](params, X, y, lr, steps)
    return p, losses[1:] + [S["mlp_loss_and_grads"](p, X, y)[0]]


def train_ascent(params, X, y, lr, steps):
    return S["train_mlp"](params, X, y, -lr, steps)


def train_mutates(params, X, y, lr, steps):
    p, losses = S["train_mlp"](params, X, y, lr, steps)
    params["W1"][...] = 0.0
    return p, losses


def train_too_few_steps(params, X, y, lr, steps):
    p, losses = S["train_mlp"](params, X, y, lr, 3)
    return p, losses + [losses[-1]] * (steps - 3)


def test_training_mistakes_named(capsys):
    text = _named(capsys, "TRAIN_LOSS_AFTER_STEP", exe.check_train_mlp, train_after_step)
    assert "✓ held-out accuracy" in text
    text = _named(capsys, "SIGN_FLIP", exe.check_train_mlp, train_ascent)
    assert "✗ held-out accuracy" in text and "must reach 95%" in text
    _named(capsys, "INPUT_MUTATED", exe.check_train_mlp, train_mutates)
    msg = _fails(exe.check_train_mlp, train_too_few_steps, points=3)
    assert "loss at step" in msg and "must reach 95%" in msg
    assert "losses must be a list" in _fails(exe.check_train_mlp, lambda p, X, y, lr, s: (p, 3.0), points=3)


# ============================================================================================ mixed precision


def cast_after(g, S_):
    return S["fp16_cast_report"](g.astype(np.float16).astype(np.float64) * S_ / S_, 1.0) if S_ == 1.0 else {
        **S["fp16_cast_report"](g, 1.0), "overflow": S["fp16_cast_report"](g, S_)["overflow"],
        "rel_error": S["fp16_cast_report"](g, S_)["rel_error"]}


def cast_not_unscaled(g, S_):
    r = S["fp16_cast_report"](g, S_)
    if r["rel_error"] is not None:
        h = (g * S_).astype(np.float16).astype(np.float64)
        r["rel_error"] = float(np.max(np.abs(h - g)) / max(1e-8, np.max(np.abs(h) + np.abs(g))))
    return r


def test_cast_report_mistakes_named(capsys):
    text = _named(capsys, "FP16_SCALED_AFTER_CAST", exp16.check_fp16_cast_report, cast_after)
    assert "✓ overflow" in text
    text = _named(capsys, "LOSS_SCALE_NOT_UNSCALED", exp16.check_fp16_cast_report, cast_not_unscaled)
    assert "✓ flushed" in text
    assert "expected a dict" in _fails(exp16.check_fp16_cast_report, lambda g, s: [0.1], points=2)


def grads_fp64_then_cast(params, X, y, loss_scale):
    p = {k: v.astype(np.float64) for k, v in params.items()}
    loss, _ = S["mlp_grads_fp16"](params, X, y, loss_scale)
    _, g = ref_net.mlp_loss_and_grads(p, X, y)
    return loss, {k: (v * loss_scale).astype(np.float16) for k, v in g.items()}


def grads_float32(params, X, y, loss_scale):
    loss, g = S["mlp_grads_fp16"](params, X, y, loss_scale)
    return loss, {k: v.astype(np.float32) for k, v in g.items()}


def test_fp16_backward_mistakes_named(capsys):
    text = _named(capsys, "FP16_BACKWARD_NOT_FP16", exp16.check_mlp_grads_fp16, grads_fp64_then_cast)
    assert "✓ loss scaling recovers them" in text
    _named(capsys, "FP16_BACKWARD_NOT_FP16", exp16.check_mlp_grads_fp16, grads_float32)


def step_not_unscaled(master, grads16, S_, good, lr, interval):
    return S["mixed_precision_step"](master, grads16, 1.0, good, lr, interval)[:1] + \
        S["mixed_precision_step"](master, grads16, S_, good, lr, interval)[1:]


def step_fp16_master(master, grads16, S_, good, lr, interval):
    new, S2, good2, took = S["mixed_precision_step"](master, grads16, S_, good, lr, interval)
    if took:
        new = {k: (master[k].astype(np.float16) - np.float16(lr) * (grads16[k] / np.float16(S_))).astype(np.float32)
               for k in master}
    return new, S2, good2, took


def step_takes_overflow(master, grads16, S_, good, lr, interval):
    g = {k: v.astype(np.float32) / np.float32(S_) for k, v in grads16.items()}
    return {k: (master[k] - np.float32(lr) * g[k]).astype(np.float32) for k in master}, S_ * 0.5, 0, False


def step_doubles_on_overflow(master, grads16, S_, good, lr, interval):
    new, S2, good2, took = S["mixed_precision_step"](master, grads16, S_, good, lr, interval)
    return new, (S_ * 2.0 if not took else S2), good2, took


@pytest.mark.parametrize("fn,code", [(step_not_unscaled, "LOSS_SCALE_NOT_UNSCALED"),
                                     (step_fp16_master, "MASTER_WEIGHTS_FP16"),
                                     (step_takes_overflow, "OVERFLOW_STEP_TAKEN"),
                                     (step_doubles_on_overflow, "LOSS_SCALE_UPDATE")])
def test_mixed_precision_step_mistakes_named(capsys, fn, code):
    _named(capsys, code, exp16.check_mixed_precision_step, fn)


def test_confident_network_underflows_completely_without_scaling():
    from reference_impl import precision
    master, X, y = exp16.confident_network(0)
    _, g16, g64, (flushed, nonzero) = precision._fp16_pass(master, X, y, 1.0)
    assert flushed == nonzero  # every per-example signal rounds to 0 in float16
    assert all(np.all(g16[k] == 0) for k in g16) and all(np.any(g64[k] != 0) for k in g64)
    _, g16s, _, (flushed_s, _) = precision._fp16_pass(master, X, y, 2.0**16)
    assert flushed_s < 0.9 * nonzero and all(np.any(g16s[k] != 0) for k in g16s)


# ============================================================================================ no finite-difference shortcut


def _fd(f, x, h):
    """Centred differences of a scalar function f at x (the shortcut a learner might take)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def fd_answers(h):
    """Each loss exercise answered with the learner's own (right) loss and a finite-difference gradient."""
    ce, ls, bce, hub = S["cross_entropy"], S["label_smoothing_cross_entropy"], S["sigmoid_bce_with_logits"], \
        S["huber_loss"]
    mlp, tied = S["mlp_loss_and_grads"], S["tied_lm_loss_and_grads"]

    def fd_ce(scores, y):
        return ce(scores, y)[0], _fd(lambda v: ce(v, y)[0], scores, h)

    def fd_ls(scores, y, eps):
        return ls(scores, y, eps)[0], _fd(lambda v: ls(v, y, eps)[0], scores, h)

    def fd_bce(z, y):
        return bce(z, y)[0], _fd(lambda v: bce(v, y)[0], z, h)

    def fd_huber(pred, target, delta=1.0):
        return hub(pred, target, delta)[0], _fd(lambda v: hub(v, target, delta)[0], pred, h)

    def fd_mlp(params, X, y):
        def at(name, v):
            return mlp({**params, name: v}, X, y)[0]
        return mlp(params, X, y)[0], {k: _fd(lambda v, k=k: at(k, v), params[k], h) for k in params}

    def fd_tied(E, W, b, idx, y):
        loss = tied(E, W, b, idx, y)[0]
        return (loss, _fd(lambda v: tied(v, W, b, idx, y)[0], E, h), _fd(lambda v: tied(E, v, b, idx, y)[0], W, h),
                _fd(lambda v: tied(E, W, v, idx, y)[0], b, h))

    return {"ce": (exl.check_cross_entropy, fd_ce), "ls": (exl.check_label_smoothing, fd_ls),
            "bce": (exl.check_sigmoid_bce, fd_bce), "huber": (exl.check_huber, fd_huber),
            "mlp": (exe.check_mlp_loss_and_grads, fd_mlp), "tied": (ex.check_tied_lm, fd_tied)}


@pytest.mark.parametrize("name", ["ce", "ls", "bce", "huber", "mlp", "tied"])
def test_a_finite_difference_gradient_is_named(capsys, name):
    check, fn = fd_answers(1e-5)[name]
    text = _named(capsys, "NUMERIC_NOT_ANALYTIC", check, fn, points=4)
    assert "✓ inputs left unchanged" in text
    text_hidden = _named(capsys, "NUMERIC_NOT_ANALYTIC", check, fn, points=4, seed=9, thorough=True)
    del text_hidden


@pytest.mark.parametrize("h", [1e-2, 3e-3, 1e-3, 1e-4, 1e-6, 1e-7])
@pytest.mark.parametrize("name", ["ce", "ls", "bce", "huber", "mlp", "tied"])
def test_finite_differences_fail_at_every_step_size(capsys, name, h):
    check, fn = fd_answers(h)[name]
    capsys.readouterr()
    try:
        score = check(fn, points=4)
    except AssertionError:
        return
    assert score < 4, (name, h)


# ============================================================================================ diagnoses, data, visuals


NEW_CODES = ("UNBROADCAST_KEEPDIMS", "UNBROADCAST_SIZE1_AXES", "UNBROADCAST_LEADING_AXES", "UNBROADCAST_MEAN",
             "EMBEDDING_LOST_UPDATES", "TIED_ONE_USE", "LOG_SOFTMAX_UNDERFLOW", "BCE_NOT_FROM_LOGITS",
             "BCE_PROB_CLIPPED", "LABEL_SMOOTHING_HARD_GRAD", "LABEL_SMOOTHING_TARGET", "HUBER_NOT_CLIPPED",
             "HUBER_LINEAR_OFFSET", "DROPOUT_NOT_INVERTED", "DROPOUT_KEEP_PROB_SWAPPED", "DROPOUT_IN_EVAL",
             "ACCUMULATION_NO_1_OVER_K", "ACCUMULATION_UNEQUAL", "GRAD_NOT_ACCUMULATED", "STALE_INTERMEDIATE_GRAD",
             "GRAPH_NOT_FREED", "RETAIN_GRAPH_IGNORED", "DETACH_NOT_STOPPING", "ZERO_GRAD_INEFFECTIVE",
             "INPLACE_RELU_MYTH", "INPLACE_SAVED_OUTPUT", "INPLACE_SAVED_INPUT", "FP16_SCALED_AFTER_CAST",
             "LOSS_SCALE_NOT_UNSCALED", "FP16_BACKWARD_NOT_FP16", "MASTER_WEIGHTS_FP16", "OVERFLOW_STEP_TAKEN",
             "LOSS_SCALE_UPDATE", "NUMERIC_NOT_ANALYTIC")


def test_every_new_code_is_in_the_catalogue_and_planted_here():
    text = pathlib.Path(__file__).read_text()
    for code in NEW_CODES:
        assert diagnoses.get(code).advice
        assert text.count(f'"{code}"') >= 2, f"{code} is not produced by a planted-mistake test"


def test_public_data_equals_the_reference_generators():
    for seed in (0, 5):
        a = pub.make_spirals(np.random.default_rng(seed), 40, 3, 0.2)
        b = ref_data.make_spirals(np.random.default_rng(seed), 40, 3, 0.2)
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
        a = pub.make_moons(np.random.default_rng(seed), 51, 0.15)
        b = ref_data.make_moons(np.random.default_rng(seed), 51, 0.15)
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
        pa = pub.init_mlp([2, 16, 3], np.random.default_rng(seed))
        pb = ref_net.init_params([2, 16, 3], "he", np.random.default_rng(seed))
        assert all(np.array_equal(pa[k], pb[k]) for k in pb)
    assert pub.FP16_MAX == 65504.0 and pub.FP16_SMALLEST_NORMAL == 2.0**-14
    assert pub.FP16_SMALLEST_SUBNORMAL == 2.0**-24 and pub.FP16_SPACING_AT_1 == 2.0**-10
    with pytest.raises(ValueError):
        pub.micro_batches(10, [4, 4])


def test_small_numbers_stated_in_the_notebook():
    text = "".join(c.source for c in nbformat.read(str(NB), as_version=4).cells if c.cell_type == "markdown")
    z = np.array([[2.0, 1.0, 0.1]])
    lse = float(ref_losses.logsumexp(z)[0])
    loss, d = ref_losses.softmax_cross_entropy(z, np.array([0]))
    assert f"{lse:.3f}" in text and f"loss $= {loss:.3f}$" in text
    assert "(" + ", ".join(f"{v:.3f}" for v in ref_losses.softmax(z)[0]) + ")" in text
    assert "(" + ", ".join(f"{v:.3f}" for v in d[0]) + ")" in text
    loss, dz = ref_losses.sigmoid_binary_cross_entropy(np.array([2.0]), np.array([1.0]))
    assert f"{loss:.4f}" in text and f"{dz[0]:.4f}" in text
    assert ref_losses.huber_loss(np.array([0.5]), np.zeros(1))[0] == 0.125 and "$\\ell = 0.125$" in text
    assert ref_losses.huber_loss(np.array([-3.0]), np.zeros(1))[0] == 2.5 and "$\\ell = 2.5$" in text
    e = pub.EMBEDDING_EXAMPLE
    dW = np.zeros_like(e["W"])
    np.add.at(dW, e["idx"], e["dout"])
    assert list(dW[2]) == [6.0, 8.0] and "[6, 8]" in text
    assert f"`db = [{', '.join(f'{v:g}' for v in pub.BROADCAST_EXAMPLE['dout'].sum(axis=0))}]`" in text.replace(
        "[1 + 3, -1 + 0.5, 2 - 2] = ", "")
    s = pub.TRAIN_SETTINGS
    assert f"{s['n_samples']} points of two moons (noise {s['noise']})" in text and f"lr {s['lr']} for {s['steps']}" \
        in text and f"**at least {pub.TRAIN_ACCURACY:.0%}**" in text
    float16_facts = ("65504", "2^{-14}", "2^{-24}", "2^{-10}")
    assert all(f in text for f in float16_facts)
    assert 1.0 - 1.0 / (1.0 + np.exp(-38.0)) == 0.0 and 1.0 - 1.0 / (1.0 + np.exp(-36.0)) > 0  # "above about 37"


def test_question_bank():
    right = {"embedding_fancy_index": "b", "dropout_test_time": "c", "loss_scale_overflow": "b",
             "accumulation_scale": "b"}
    assert set(qbank.QUESTIONS) == set(right)
    for qid, letter in right.items():
        q = concepts.questions()[qid]
        assert concepts.check_choice(qid, letter, points=1) == 1.0
        wrong = [x for x in q.options if x != letter]
        assert {concepts.digest(qid, x) for x in wrong} == set(q.feedback)
    idx, dout = np.array([2, 0, 2]), np.arange(6.0).reshape(3, 2)
    dW = np.zeros((4, 2))
    dW[idx] += dout
    assert np.array_equal(dW[2], dout[2])  # the fact the first question asks about


def test_pictures_draw():
    figs = [vis.draw_broadcast(**pub.BROADCAST_EXAMPLE), vis.draw_embedding(4, [2, 0, 2]), vis.plot_huber_and_bce(),
            vis.plot_dropout_average(np.ones(3), np.ones(3), 10, 0.5),
            vis.plot_training([1.0, 0.5], np.random.default_rng(0).standard_normal((10, 2)), np.arange(10) % 2,
                              lambda P: (P[:, 0] > 0).astype(int)),
            vis.plot_fp16_range({"a": 10.0 ** np.linspace(-12, 2, 50)}),
            vis.plot_mixed_precision({"run": {"losses": [1, 0.5], "scales": [4.0, 2.0], "skipped": [0]}})]
    assert all(len(f.axes) >= 1 for f in figs)
    plt.close("all")


# ============================================================================================ the round trip


def test_one_wrong_answer_loses_exactly_its_cell(tmp_path):
    """The solution notebook with the Huber gradient not clipped: only the Huber cell loses points (partially),
    every other graded cell keeps full marks (nbgrader's validate pipeline, as tests/test_notebooks.py runs it)."""
    from tests.test_notebooks import _executed, _grades
    nb = nbformat.read(str(NB), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "huber")
    old = "np.clip(r, -delta, delta) / r.size"
    assert old in cell.source
    cell.source = cell.source.replace(old, "r / r.size")
    path = tmp_path / "13_tensor_backprop" / NB.name
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    grades = _grades(_executed(path))
    lost = {gid: g for gid, g in grades.items() if g[0] != g[1]}
    assert set(lost) == {"test_huber"} and 0 < lost["test_huber"][0] < lost["test_huber"][1], lost
