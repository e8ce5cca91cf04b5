"""What the drills say is true: the content items of issue 16 pinned (the concept bank's initialization answers
agree with notebooks 03 s8 and 08 s7 and with a computation, 4^n is the right answer to "by what factor does
the gradient shrink", the notebook says truthfully where answers come from, the README's day 21 and drill
section match the code), the banks' sizes, and the numbers the banks quote recomputed."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from graders.drill import concept_questions as C
from graders.drill import explanations as E
from graders.drill import find_the_bug as F
from graders.drill import live_coding as L
from graders.drill import problems as P
from graders.drill.session import MOCK_MINUTES, MOCK_PLAN
from reference_impl import batchnorm as ref_bn
from reference_impl import layers as ref_layers
from reference_impl import losses as ref_losses
from reference_impl import network as ref_net
from reference_impl import symbolic as ref_sym

ROOT = Path(__file__).resolve().parents[1]
CONCEPTS = {c.id: c for c in C.BANK}


def _markdown(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


# ------------------------------------------------------------------------------------------ the banks


def test_at_least_40_concept_questions_and_free_response_concepts():
    assert len(C.BANK) + len(E.BANK) >= 40 and len(C.BANK) >= 30 and len(E.BANK) >= 15
    assert len({c.id for c in C.BANK}) == len(C.BANK) and len({e.id for e in E.BANK}) == len(E.BANK)


@pytest.mark.parametrize("c", C.BANK, ids=[c.id for c in C.BANK])
def test_every_concept_question_is_well_formed(c):
    for seed in range(6):
        text, right, wrong, why = c.draw(np.random.default_rng(seed))
        assert text and why and len(wrong) >= 3 and right not in wrong and len(set(wrong)) == len(wrong)


@pytest.mark.parametrize("e", E.BANK, ids=[e.id for e in E.BANK])
def test_every_explanation_has_a_checklist_whose_patterns_compile(e):
    assert len(e.points) >= 4 and 3 <= e.minutes <= 5
    for k in e.points:
        re.compile(k.pattern)
        assert k.weight > 0 and k.pattern


def test_concept_problems_shuffle_and_key_correctly():
    for seed in range(50):
        p = P.generate("concept", np.random.default_rng(seed))
        assert p.data["shown"][p.choices.index(p.expected)] == p.data["correct_option"]
        assert len(p.choices) == C.N_SHOWN


# ------------------------------------------------------------------------------------------ issue 16 content


def _hidden_units_after(params, X, y, activation, steps=300):
    new, _ = ref_net.train_mlp(params, X, y, lr=0.5, steps=steps, activation=activation)
    return np.unique(np.round(new["W1"].T, 8), axis=0).shape[0], new


def test_initialization_answers_agree_with_notebooks_03_and_08_and_with_a_computation():
    """The old distractor said 'same value (e.g. zero)' gives identical units that stay identical; 03 s8 and
    08 s7 teach that all ZERO weights are worse (nothing but the output bias moves) and that a nonzero constant
    keeps the units identical. Both facts are computed here and the bank's keys say exactly that."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 4))
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])  # unbalanced labels
    zeros = ref_net.init_params([4, 6, 3], scheme="zeros")
    _, grads = ref_net.mlp_loss_and_grads(zeros, X, y)
    assert all(np.all(grads[k] == 0) for k in ("W1", "b1", "W2")) and np.any(grads["b2"] != 0)
    const = {"W1": np.full((4, 6), 0.5), "b1": np.zeros(6), "W2": np.full((6, 3), 0.5), "b2": np.zeros(3)}
    n_const, _ = _hidden_units_after(const, X, y, "tanh")
    n_random, _ = _hidden_units_after(ref_net.init_params([4, 6, 3], rng=np.random.default_rng(1)), X, y, "tanh")
    assert n_const == 1 and n_random == 6

    zero_q = CONCEPTS["zero_init_relu"]
    assert "output bias b2" in zero_q.right and "every weight" in " ".join(zero_q.wrong).lower()
    sym = CONCEPTS["symmetry"]
    assert "same gradient" in sym.right and "stay identical" in sym.right and "zero" not in sym.right.lower()
    assert "output bias moves" in sym.why
    for c in C.BANK:  # no right answer claims that ZERO weights give identical units that stay identical
        assert not ("zero" in c.right.lower() and "identical" in c.right.lower()), c.id
    zero_e = next(e for e in E.BANK if e.id == "zero_init")
    assert any("output bias" in k.text for k in zero_e.points) and any("symmetry" in k.text for k in zero_e.points)


def test_vanishing_accepts_the_natural_answer_4_to_the_n():
    seen = 0
    for seed in range(40):
        p = P.generate("vanishing", np.random.default_rng(seed))
        if p.data["kind"] != "sigmoid":
            continue
        n = p.data["n"]
        assert "shrink" in p.prompt
        assert P.check_answer(p, f"4**{n}").correct and P.check_answer(p, f"0.25**{n}").correct
        assert P.check_answer(p, f"1/4**{n}").correct
        for wrong in (f"2**{n}", f"0.5**{n}"):
            assert P.check_answer(p, wrong).diagnosis == "SIGMOID_DERIVATIVE"
        seen += 1
    assert seen >= 5


def test_the_notebook_says_truthfully_where_answers_come_from():
    text = _markdown(ROOT / "solutions" / "09_mock_interview" / "mock_interview.ipynb")
    assert "Every answer is computed" not in text
    assert "written by hand" in text and "mutation operators applied to the reference code" in text
    assert "same checks as notebooks 03, 06, 07 and 10" in text
    notebooks = {L.SPECS[n].notebook for n in L.SPECS}
    assert notebooks == {"03", "06", "07", "10"}
    assert {t.notebook for t in F.TARGETS.values()} <= {"03", "04", "06", "07", "08"}


def test_the_notebook_rubric_tables_match_the_code():
    from graders.drill import scoring

    text = _markdown(ROOT / "solutions" / "09_mock_interview" / "mock_interview.ipynb")
    assert "0.9, 0.7 and, after the third hint" in text and list(scoring.HINT_CAPS) == [1.0, 0.9, 0.7, 0.3]
    assert "costs 1/3" in text and scoring.choice_penalty(C.N_SHOWN) == pytest.approx(-1 / 3)
    assert "0.25 for each wrong answer" in text and scoring.WRONG_PENALTY["quick"] == 0.25
    assert "0.1 for each check" in text and scoring.WRONG_PENALTY["coding"] == 0.1
    assert "at most 0.5" in text and scoring.LATE_CAP == 0.5
    for level, overall, floor in scoring.RUBRIC[:2]:
        assert f"| {level} | ≥ {overall:.2f} | ≥ {floor:.2f} |" in text


def test_readme_day_21_and_drill_section_match_the_code():
    readme = (ROOT / "README.md").read_text()
    day21 = next(line for line in readme.splitlines() if line.startswith("| 21 |"))
    assert "8 minutes" not in day21 and "--mock" in day21 and f"{MOCK_MINUTES} minutes" in day21
    budgets = dict(zip(["explanation", "quick", "derivation", "coding"], [None] * 4))
    for kind, seconds in MOCK_PLAN:
        budgets[kind] = seconds // 60
    assert f"live coding {budgets['coding']}" in day21 and f"a derivation {budgets['derivation']}" in day21
    assert f"two explanations {budgets['explanation']} each" in day21
    assert f"two quick problems {budgets['quick']}" in day21
    section = readme[readme.index("## For candidates"):readme.index("## For instructors")]
    assert f"{len(P.FAMILIES)} problem families" in section
    assert f"{len(C.BANK)} concept questions" in section and f"{len(E.BANK)} questions" in section
    assert f"among {len(F.bank())} bugs generated by mutating {len(F.TARGETS)} reference functions" in section
    limits = {k: [f.make(np.random.default_rng(0)).time_limit / 60 for f in P.FAMILIES.values() if f.kind == k]
              for k in ("coding", "derivation", "explanation", "quick", "choice")}
    for kind, label in (("coding", "15-30 min"), ("derivation", "5-10 min"), ("quick", "1.5-4 min"),
                        ("choice", "1.5-2 min")):
        lo, hi = (float(v) for v in label.split()[0].split("-"))
        assert label in section and lo == min(limits[kind]) and hi == max(limits[kind]), kind
    lo, hi = min(e.minutes for e in E.BANK), max(e.minutes for e in E.BANK)
    assert f"{lo}-{hi} min" in section


# ------------------------------------------------------------------------------------------ numbers the banks quote


def test_sigmoid_and_tanh_slopes():
    assert ref_sym.activation_derivative_max("sigmoid") == (0, ref_sym.sp.Rational(1, 4))
    assert ref_sym.activation_derivative_max("tanh")[1] == 1
    assert "0.25, at x = 0" == CONCEPTS["sigmoid_max"].right and "1, at x = 0" == CONCEPTS["tanh_max"].right


def test_numbers_quoted_in_explanations():
    vanish = next(e for e in E.BANK if e.id == "vanishing")
    assert "0.25^4 = 0.0039" in vanish.points[1].text and round(0.25 ** 4, 4) == 0.0039
    assert "about 4e17" in vanish.points[2].text and f"{1.5 ** 100:.0e}" == "4e+17"


@pytest.mark.parametrize("seed", range(30))
def test_parameterized_concept_questions_compute_their_keys(seed):
    text, right, wrong, why = CONCEPTS["sigmoid_depth"].draw(np.random.default_rng(seed))
    threshold = float(re.search(r"less than ([0-9.e-]+)\?", text).group(1))
    n = int(right)
    assert 0.25 ** n < threshold <= 0.25 ** (n - 1)
    text, right, wrong, why = CONCEPTS["explode"].draw(np.random.default_rng(seed))
    s, n = re.search(r"by ([0-9.]+)\. About how large is the factor over (\d+) layers", text).groups()
    assert float(right) == pytest.approx(float(s) ** int(n), rel=5e-3)
    assert all(abs(float(w) / float(right) - 1) > 0.05 for w in wrong)
    text, right, wrong, why = CONCEPTS["jacobian_shape"].draw(np.random.default_rng(seed))
    n_in, m_out = (int(v) for v in re.search(r"maps R\^(\d+) to R\^(\d+)", text).groups())
    assert right == f"({m_out}, {n_in})"


def test_initialization_variances_in_the_bank():
    rng = np.random.default_rng(0)
    he = ref_net.init_params([400, 300], scheme="he", rng=rng)["W1"]
    xavier = ref_net.init_params([400, 300], scheme="xavier", rng=rng)["W1"]
    assert he.var() == pytest.approx(2 / 400, rel=0.02) and CONCEPTS["he_variance"].right == "2 / n_in"
    assert xavier.var() == pytest.approx(2 / 700, rel=0.02)
    assert CONCEPTS["xavier_variance"].right == "2 / (n_in + n_out)"


def test_gradient_formulas_in_the_bank():
    rng = np.random.default_rng(1)
    N, D, M, C_ = 5, 3, 4, 6
    x, W, b, dout = (rng.standard_normal(s) for s in ((N, D), (D, M), (M,), (N, M)))
    _, cache = ref_layers.affine_forward(x, W, b)
    dx, dW, db = ref_layers.affine_backward(dout, cache)
    np.testing.assert_allclose(dW, x.T @ dout) and np.testing.assert_allclose(db, dout.sum(axis=0))
    assert CONCEPTS["dW_shape"].right == "x.T @ dout, shape (D, M)" and dW.shape == (D, M)
    assert CONCEPTS["bias_shape"].right == "dout.sum(axis=0), shape (M,)" and db.shape == (M,)
    scores, y = rng.standard_normal((N, C_)), rng.integers(0, C_, N)
    _, ds = ref_losses.softmax_cross_entropy(scores, y)
    np.testing.assert_allclose(ds, (ref_losses.softmax(scores) - np.eye(C_)[y]) / N)
    assert CONCEPTS["softmax_ce_grad"].right == "(p - onehot(y)) / N"
    pred, target = rng.standard_normal((N, M)), rng.standard_normal((N, M))
    np.testing.assert_allclose(ref_losses.mse_loss(pred, target)[1], (pred - target) / N)
    assert CONCEPTS["mse_grad"].right == "(pred - target) / N"
    xb = rng.standard_normal((6, 3)) + 2
    out, bcache = ref_bn.batchnorm_forward(xb, rng.uniform(0.5, 2, 3), rng.standard_normal(3))
    dxb = ref_bn.batchnorm_backward(np.ones_like(out), bcache)[0]
    assert np.max(np.abs(dxb)) < 1e-12 and "exactly zero" in CONCEPTS["dout_ones"].right


def test_find_the_bug_diagnoses_exist_and_mock_fits_45_minutes():
    assert all(b.code in P.FAMILIES["find_the_bug"].make.__globals__["diagnoses"].CATALOGUE for b in F.bank())
    assert sum(b for _, b in MOCK_PLAN) <= MOCK_MINUTES * 60 and math.isclose(MOCK_MINUTES, 45)
