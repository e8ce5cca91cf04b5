"""graders.answers: symbolic answers accepted in any equal form, wrong ones named, garbage reported, time capped."""

from __future__ import annotations

import threading
import time

import pytest
import sympy as sp

from graders import answers as ga
from reference_impl import symbolic as S

x, y = sp.symbols("x y", real=True)
XY = {"x": x, "y": y}
CHAIN = sp.diff((3 * x + 2) ** 2, x)  # 6 (3x + 2)


def _fails(*args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        ga.check_expression(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("answer", ["6*(3*x+2)", "6(3x+2)", "18x + 12", "2*(3*x + 2)*3", "2 (3x+2)^1 * 3",
                                    6 * (3 * x + 2), sp.expand(CHAIN)])
def test_equal_forms_get_full_points(answer):
    assert ga.check_expression(answer, CHAIN, XY, exercise="d/dx (3x+2)^2", points=2) == 2.0


def test_sigmoid_forms_are_equal_although_they_look_different():
    expected = sp.diff(1 / (1 + sp.exp(-x)), x)
    assert ga.check_expression("sigmoid(x)*(1 - sigmoid(x))", expected, XY, exercise="s", points=1) == 1.0


@pytest.mark.parametrize("wrong, code", [("2*(3*x+2)", "MISSING_INNER_DERIVATIVE"), ("-6*(3*x+2)", "SIGN_FLIP")])
def test_named_mistakes(wrong, code):
    mistakes = {"MISSING_INNER_DERIVATIVE": 2 * (3 * x + 2), "SIGN_FLIP": -CHAIN}
    msg = _fails(wrong, CHAIN, XY, exercise="chain", mistakes=mistakes)
    assert code in msg


def test_free_text_mistake_label_and_hint_are_shown():
    msg = _fails("3", CHAIN, XY, exercise="chain", mistakes={"you differentiated only the inner function": 3},
                 hint="outer derivative first")
    assert "only the inner function" in msg and "outer derivative first" in msg


def test_unnamed_wrong_answer_says_not_equal():
    msg = _fails("x**2", CHAIN, XY, exercise="chain")
    assert "not equal" in msg and "x**2" in msg


@pytest.mark.parametrize("garbage, words", [
    (None, "no answer yet"), ([1, 2], "one scalar expression"), ("6*(3*z+2)", "could not read"),
    ("__import__('os')", "could not read"), ("6*(3x+", "could not read"), (sp.nan, "NaN"),
    (sp.Matrix([x]), "one scalar expression"), (True, "could not read"),
])
def test_garbage_fails_with_a_clear_message(garbage, words):
    assert words in _fails(garbage, CHAIN, XY, exercise="chain")


def test_garbage_gets_partial_credit_elsewhere(capsys):
    score = ga.check_expressions({"a": "6(3x+2)", "b": None}, {"a": CHAIN, "b": 2 * y}, XY, exercise="two",
                                 points=4)
    assert score == 2.0
    assert "'b'" in capsys.readouterr().out


def test_check_expressions_rejects_a_non_dict_and_a_missing_key():
    with pytest.raises(AssertionError, match="expected a dict"):
        ga.check_expressions("6x", {"a": CHAIN}, XY, exercise="e")
    with pytest.raises(AssertionError, match="missing"):
        ga.check_expressions({}, {"a": CHAIN}, XY, exercise="e")


def test_positive_domain_for_logs():
    expected = sp.diff(sp.log(x) * x, x)
    assert ga.check_expression("log(x) + 1", expected, XY, exercise="log", positive=True, points=1) == 1.0


def test_a_slow_simplify_is_cut_off_and_still_graded(monkeypatch):
    # simplify never returns: the cap and the numeric fallback must still give the right verdicts
    monkeypatch.setattr(S.sp, "simplify", lambda *a, **k: time.sleep(3600))
    box = []

    def run():
        box.append(ga.check_expression("18x + 12", CHAIN, XY, exercise="c", points=1, time_limit=0.5))
        try:
            ga.check_expression("18x + 13", CHAIN, XY, exercise="c", time_limit=0.5)
        except AssertionError as exc:
            box.append(str(exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(120)
    assert box and box[0] == 1.0, "a right answer was not accepted when simplify could not finish"
    assert len(box) == 2 and "not equal" in box[1]
