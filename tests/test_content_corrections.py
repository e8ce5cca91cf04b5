"""Content corrections of issue 13, each pinned: the corrected statement is in the notebook (source and student
release), the wrong one is gone, and where a number is involved the number is computed here.

(1) 03: the ROWS (classes) of the whiteboard W2 differ by 0.2, the columns by 0.1.
(2) 03 Ex 5 no longer points at a "reference solution above" that students never see.
(3) 03 Ex 17: backward costs about 2x the forward (as 05's checkpointing estimate assumes).
(4) 08 Ex 3: 0.25**4 bounds |delta_1| / |delta_5| with unit-gain weights, not |dW1| / |dW5|.
(5) 06, 08 and two questions: clipping rescales the gradient; momentum or Adam set the step.
(6) 04: softmax Jacobian rows sum to 0 by shift invariance, columns because p sums to 1, J symmetric.
(7) 06: the initial state is h_{-1} (argument h0); h_0 is h[:, 0].
(8) 06: TBPTT(1, k) and TBPTT(k, k) are taught, named and both accepted by the grader.
(9) 08: L is the loss, K the depth.
(10) 07: PyTorch's momentum convention, unbiased running variance, a batch of one refused.
(11) errata item 7, in-place operations, taught in 03 and listed in the README.
(12) no answer letter in plain text anywhere, no feedback key equal to an answer digest in the whole bank.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from graders import concepts
from graders import rnn as gr
from reference_impl import batchnorm as ref_bn
from reference_impl import layers as ref_layers
from reference_impl import rnn as ref_rnn

ROOT = Path(__file__).resolve().parents[1]


def _cells(folder: str, where: str = "solutions") -> list:
    (path,) = sorted((ROOT / where / folder).glob("*.ipynb"))
    return nbformat.read(str(path), as_version=4).cells


def _markdown(folder: str, where: str = "solutions") -> str:
    return "\n".join(c.source for c in _cells(folder, where) if c.cell_type == "markdown")


def _cell(folder: str, cid: str, where: str = "solutions") -> str:
    return next(c.source for c in _cells(folder, where) if c.get("id") == cid)


BOTH = ["solutions", "notebooks"]


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


# ------------------------------------------------------------------------------------------------ (1)
@pytest.mark.parametrize("where", BOTH)
def test_03_whiteboard_w2_rows_differ_by_02_and_columns_by_01(where):
    W2_col = np.array([[0.5, 0.6], [0.7, 0.8]])        # rows = classes, as on the whiteboard
    np.testing.assert_allclose(W2_col[1] - W2_col[0], [0.2, 0.2])
    np.testing.assert_allclose(W2_col[:, 1] - W2_col[:, 0], [0.1, 0.1])
    p = _softmax(np.array([1.12, 1.48]))
    dh1 = W2_col.T @ (p - np.array([1.0, 0.0]))        # both hidden units receive 0.2 * p_1
    np.testing.assert_allclose(dh1, [0.2 * p[1]] * 2)
    assert abs(dh1[0] - 0.118) < 5e-4
    text = _cell("03_two_layer_network", "cell-025", where)
    assert "**rows** (the classes)" in text and "$[0.7, 0.8] - [0.5, 0.6] = [0.2, 0.2]$" in text
    assert "only by $0.1$" in text
    assert "two columns of the whiteboard $W_2$ differ" not in text


# ------------------------------------------------------------------------------------------------ (2) (3)
@pytest.mark.parametrize("where", BOTH)
def test_03_no_reference_solution_above_and_backward_about_twice_forward(where):
    text = _markdown("03_two_layer_network", where)
    assert "The reference solution above" not in text
    assert "the course's reference library caches the ReLU\n**output**" in text
    assert "backward pass costs about twice the forward" in text
    q = concepts.questions()["two_layer_60_second"]
    assert concepts.digest("two_layer_60_second", "d") == q.answer_digest   # still the right option
    assert "costs about twice the forward pass" in q.options["d"] and "one extra forward" not in q.options["d"]
    # 05's checkpointing estimate makes the same assumption
    assert "taking a backward as 2 forwards" in _cell("05_ad_modes", "checkpoint_figure", where)


# ------------------------------------------------------------------------------------------------ (4)
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _deltas_and_weight_grads(Ws, bs, x, g5):
    """5-layer sigmoid net z_l = W_l^T h_{l-1} + b_l, h_l = sigmoid(z_l); delta_5 = g5 is given.
    Returns (|delta_1| / |delta_5|, |dW_1| / |dW_5|)."""
    hs, zs = [x], []
    for W, b in zip(Ws, bs):
        zs.append(W.T @ hs[-1] + b)
        hs.append(_sigmoid(zs[-1]))
    deltas = [None] * 5
    deltas[4] = g5
    for l in range(4, 0, -1):     # delta_{l-1} = sigma'(z_{l-1}) * (W_l delta_l)
        s = _sigmoid(zs[l - 1])
        deltas[l - 1] = s * (1 - s) * (Ws[l] @ deltas[l])
    dW1, dW5 = np.outer(hs[0], deltas[0]), np.outer(hs[4], deltas[4])
    return (np.linalg.norm(deltas[0]) / np.linalg.norm(deltas[4]), np.linalg.norm(dW1) / np.linalg.norm(dW5))


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def test_08_quarter_to_the_fourth_bounds_the_deltas_with_unit_gain_weights():
    rng = np.random.default_rng(0)
    n = 16
    for trial in range(200):
        Ws = [_orthogonal(rng, n) for _ in range(5)]
        bs = [rng.normal(0, 1.0, n) for _ in range(5)]
        ratio, _ = _deltas_and_weight_grads(Ws, bs, rng.normal(0, 2.0, n), rng.standard_normal(n))
        assert ratio <= 0.25 ** 4 * (1 + 1e-12), trial
    # the bound is reached when every pre-activation is 0: a zero input, and biases that cancel W_l^T h_{l-1}
    # (each h_{l-1} = sigmoid(0) = 0.5 everywhere)
    Ws = [_orthogonal(rng, n) for _ in range(5)]
    centred = [np.zeros(n)] + [-W.T @ np.full(n, 0.5) for W in Ws[1:]]
    ratio, _ = _deltas_and_weight_grads(Ws, centred, np.zeros(n), rng.standard_normal(n))
    assert ratio == pytest.approx(0.25 ** 4, rel=1e-6)


def test_08_the_bound_is_not_a_bound_on_the_weight_gradients_nor_is_xavier_unit_gain():
    rng = np.random.default_rng(1)
    n = 16
    Ws = [_orthogonal(rng, n) for _ in range(5)]
    x = 100.0 * rng.standard_normal(n)
    bs = [-Ws[0].T @ x] + [np.zeros(n)] * 4          # z_1 = 0: the slope of layer 1 is as large as it gets
    ratio, weight_ratio = _deltas_and_weight_grads(Ws, bs, x, rng.standard_normal(n))
    assert ratio <= 0.25 ** 4 < weight_ratio         # |x| / |h_4| carries the weight gradients past 0.25**4
    W = rng.standard_normal((256, 256)) / np.sqrt(256)  # Xavier-like n x n: spectral norm about 2, not 1
    assert 1.8 < np.linalg.norm(W, 2) < 2.2


@pytest.mark.parametrize("where", BOTH)
def test_08_exercise_3_is_framed_on_the_deltas(where):
    text = _cell("08_vanishing_exploding", "cell-009", where)
    assert r"the upper bound of $\|\delta_1\| / \|\delta_5\|$ with unit-gain weights" in text
    assert "**unit gain**" in text and "spectral norm close to 2" in text
    assert r"\|\nabla_{W_1} L\| / \|\nabla_{W_5} L\|$ described above" not in text
    assert "matrix norms about 1). How much" not in text


# ------------------------------------------------------------------------------------------------ (5)
def test_clipping_keeps_the_gradient_direction_but_momentum_and_adam_set_the_step():
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(20) * s for s in (0.5, 3.0, 50.0)]
    max_norm, lr = 5.0, 0.1
    clipped = [ref_rnn.clip_grad_norm({"g": g}, max_norm)[0]["g"] for g in grads]
    last, raw = clipped[-1], grads[-1]
    cos = last @ raw / (np.linalg.norm(last) * np.linalg.norm(raw))
    assert cos == pytest.approx(1.0) and np.linalg.norm(last) == pytest.approx(max_norm, rel=1e-6)
    v = np.zeros(20)                                  # momentum: the step mixes earlier gradients in
    for g in clipped:
        v = 0.9 * v + g
    m, s = np.zeros(20), np.zeros(20)                 # Adam: per-coordinate scaling
    for t, g in enumerate(clipped, start=1):
        m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g * g
    adam = lr * (m / (1 - 0.9 ** 3)) / (np.sqrt(s / (1 - 0.999 ** 3)) + 1e-8)
    for step in (lr * v, adam):
        c = step @ last / (np.linalg.norm(step) * np.linalg.norm(last))
        assert c < 0.999 and abs(np.linalg.norm(step) - lr * max_norm) > 0.01


@pytest.mark.parametrize("where", BOTH)
def test_clipping_text_speaks_of_the_gradient(where):
    text06 = _markdown("06_bptt", where)
    text08 = _markdown("08_vanishing_exploding", where)
    assert "update keeps its direction" not in text06 and "why that keeps the update's direction" not in text06
    assert "gradient keeps its direction and only its length is capped" in text06
    assert "momentum or Adam" in text06 and "momentum or Adam" in text08
    assert "only the step length\nis capped" not in text08 and "Clipping caps the step that is about" not in text08
    bank = concepts.questions()
    a = bank["bptt_clip_direction"].options["a"]
    b = bank["clip_vs_decay"].options["b"]
    assert "the gradient keeps its direction and gets global norm 5" in a and "momentum or Adam" in a
    assert "the update keeps its" not in a and "update has norm at most" not in b and "momentum or Adam" in b
    assert concepts.digest("bptt_clip_direction", "a") == bank["bptt_clip_direction"].answer_digest
    assert concepts.digest("clip_vs_decay", "b") == bank["clip_vs_decay"].answer_digest


# ------------------------------------------------------------------------------------------------ (6)
@pytest.mark.parametrize("where", BOTH)
def test_04_softmax_jacobian_sums_and_symmetry_with_their_reasons(where):
    rng = np.random.default_rng(3)
    z = rng.standard_normal(5)
    p = _softmax(z)
    J = np.diag(p) - np.outer(p, p)
    h = 1e-6
    J_num = np.array([(_softmax(z + h * e) - _softmax(z - h * e)) / (2 * h) for e in np.eye(5)]).T
    np.testing.assert_allclose(J, J_num, atol=1e-9)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-15)        # rows: shift invariance
    np.testing.assert_allclose(_softmax(z + 3.7), p, atol=1e-15)
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-15)        # columns: sum(p) = 1
    np.testing.assert_allclose(J, J.T)
    text = _cell("04_jacobians_vjps", "cell-016", where)
    assert "every **row** sums to zero because softmax is *shift invariant*" in text
    assert "every **column** sums to zero because the outputs always sum to 1" in text
    assert "$J$ is symmetric" in text
    assert "Every row sums to zero (the outputs always" not in text


# ------------------------------------------------------------------------------------------------ (7) (8)
@pytest.mark.parametrize("where", BOTH)
def test_06_initial_state_is_h_minus_one_and_both_truncations_are_taught(where):
    text = _markdown("06_bptt", where)
    assert "the initial state, which no step computes, is $h_{-1}$" in text
    assert "$h_0$ is `h[:, 0]`, the first new state" in text
    assert "starting from $h_{-1} = h_0$" not in text
    assert r"entry $T$ is $\|\partial L/\partial h_0\|$" not in text
    assert r"after step 0 is $\partial L/\partial h_0$." not in text
    assert "**TBPTT(1, k), a sliding window.**" in text and "**TBPTT(k, k), detaching every $k$ steps.**" in text
    assert "Implement either truncation scheme" in text


def test_06_grader_accepts_both_truncation_schemes_and_names_them(capsys):
    def chunked(dh, cache, truncate=None):
        return ref_rnn.rnn_backward(dh, cache, truncate=truncate, scheme="chunked")

    assert gr.check_rnn_backward(ref_rnn.rnn_forward, ref_rnn.rnn_backward, truncate=3, points=2) == 2.0
    assert "checked as TBPTT(1, 3)" in capsys.readouterr().out
    assert gr.check_rnn_backward(ref_rnn.rnn_forward, chunked, truncate=3, points=2) == 2.0
    assert "checked as TBPTT(3, 3)" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ (9)
@pytest.mark.parametrize("where", BOTH)
def test_08_loss_is_L_and_depth_is_K(where):
    text = _markdown("08_vanishing_exploding", where)
    assert "Take a chain of $K$ layers" in text and r"\prod_{l=2}^{K}" in text
    assert "Take a chain of $L$ layers" not in text and r"\prod_{l=2}^{L}" not in text and "2^{-L}" not in text
    assert '"WK", "bK"' in text and '"WL", "bL"' not in text


# ------------------------------------------------------------------------------------------------ (10)
def test_07_running_statistics_conventions_and_a_batch_of_one():
    rng = np.random.default_rng(4)
    x, gamma, beta = rng.standard_normal((6, 3)) + 2.0, np.ones(3), np.zeros(3)
    old_mean, old_var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    _, cache = ref_bn.batchnorm_forward(x, gamma, beta, momentum=0.9, running_mean=old_mean, running_var=old_var)
    torch_momentum = 0.1          # PyTorch: running = (1 - momentum) * running + momentum * batch
    np.testing.assert_allclose(cache["running_mean"], (1 - torch_momentum) * old_mean + torch_momentum * x.mean(0))
    biased, unbiased = x.var(axis=0), x.var(axis=0, ddof=1)
    np.testing.assert_allclose(cache["running_var"], 0.9 * old_var + 0.1 * biased)   # the course: biased
    assert not np.allclose(cache["running_var"], 0.9 * old_var + 0.1 * unbiased)     # PyTorch would store this
    with pytest.raises(ValueError, match="N >= 2"):
        ref_bn.batchnorm_forward(x[:1], gamma, beta)
    one = x[:1]
    assert np.all(one - one.mean(axis=0) == 0)        # with N = 1, xhat = 0 and out = beta whatever x is


@pytest.mark.parametrize("where", BOTH)
def test_07_says_how_pytorch_differs(where):
    text = _cell("07_batchnorm", "cell-002", where)
    for phrase in ("PyTorch's default `momentum=0.1` is this\nnotebook's `momentum=0.9`", "**unbiased**",
                   "Expected more\nthan 1 value per channel when training"):
        assert phrase in text


# ------------------------------------------------------------------------------------------------ (11)
def test_in_place_relu_is_safe_and_overwriting_a_cached_input_is_not():
    rng = np.random.default_rng(5)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), np.zeros(4)
    G = rng.standard_normal((5, 4))
    z, cache_aff = ref_layers.affine_forward(X.copy(), W, b)
    h, _ = ref_layers.relu_forward(z)
    mask_from_input = z > 0
    np.maximum(z, 0.0, out=z)                          # in-place ReLU overwrites its input with its output
    assert np.array_equal(z > 0, mask_from_input)      # the output still holds the mask the backward needs
    _, dW_right, _ = ref_layers.affine_backward(G * (z > 0), cache_aff)
    cache_aff[0][...] *= 2.0                           # overwrite the input the affine layer cached
    _, dW_wrong, _ = ref_layers.affine_backward(G * (z > 0), cache_aff)
    assert np.max(np.abs(dW_wrong - dW_right)) > 0.1
    # a sigmoid's backward written with its output is unaffected by overwriting the input in place
    s, cache_s = ref_layers.sigmoid_forward(X.copy())
    dx_before = ref_layers.sigmoid_backward(G[:, :3], cache_s)
    np.testing.assert_allclose(dx_before, G[:, :3] * s * (1 - s))


@pytest.mark.parametrize("where", BOTH)
def test_in_place_correction_is_taught_in_03_and_listed_in_the_readme(where):
    cells = _cells("03_two_layer_network", where)
    ids = [c.get("id") for c in cells]
    assert ids.index("inplace-text") < ids.index("inplace-demo")
    text = cells[ids.index("inplace-text")].source
    assert "For ReLU that is safe" in text and "modified by an inplace operation" in text
    assert "relu_backward" not in cells[ids.index("inplace-demo")].source   # runs without any exercise done
    readme = (ROOT / "README.md").read_text()
    assert "in-place ReLU is safe" in readme


# ------------------------------------------------------------------------------------------------ (12)
def test_no_feedback_key_in_the_whole_bank_equals_an_answer_digest():
    bank = concepts.questions()
    assert len(bank) >= 18
    for qid, q in bank.items():
        right = [letter for letter in q.options if concepts.digest(qid, letter) == q.answer_digest]
        assert len(right) == 1, qid
        wrong = {concepts.digest(qid, letter) for letter in q.options if letter != right[0]}
        assert q.answer_digest not in q.feedback, f"{qid}: a feedback key repeats the answer digest"
        assert set(q.feedback) <= wrong, f"{qid}: feedback keyed by something other than a wrong option"
        assert all(text.strip() for text in q.feedback.values()), qid


def test_no_plain_text_answer_letter_in_graders():
    pattern = re.compile(r"""["'](?:answer|right|correct)["']\s*:\s*["'][a-e]["']""")
    for path in sorted((ROOT / "graders").rglob("*.py")):
        assert not pattern.search(path.read_text()), path


def _choice_variables() -> list[tuple[str, str, str]]:
    """(folder, variable, right letter) of every multiple-choice answer cell of the solutions."""
    out = []
    for folder in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        for cell in _cells(folder):
            for var, letter in re.findall(r'### BEGIN SOLUTION\n(\w+) = "([a-d])"\n### END SOLUTION', cell.source):
                out.append((folder, var, letter))
    return out


def test_no_release_notebook_stores_a_right_letter():
    found = _choice_variables()
    assert len(found) >= 16
    for folder, var, letter in found:
        release = "\n".join(c.source for c in _cells(folder, "notebooks"))
        assert not re.search(rf"""\b{var}\s*=\s*["'][a-d]["']""", release), (folder, var)
    for folder in sorted(p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir()):
        release = "\n".join(c.source for c in _cells(folder, "notebooks"))
        assert not re.search(r"""["']\w+["']\s*:\s*["'][a-d]["']""", release), folder   # e.g. {"qid": "b"}
        assert "WHY_VJP" not in release
    assert 'show_question("why_vjp")' in "\n".join(c.source for c in _cells("04_jacobians_vjps", "notebooks"))
