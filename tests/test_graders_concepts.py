"""graders.concepts: hashed multiple choice, numbers with named mistakes, trace tables with partial credit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graders import concepts
from graders.concepts import Question, digest


@pytest.fixture
def bank(monkeypatch):
    q = Question(text="Which is right?", options={"a": "one", "b": "two", "c": "three"},
                 answer_digest=digest("demo", "b"),
                 feedback={digest("demo", "a"): "one is too few.", digest("demo", "b"): ""})
    monkeypatch.setattr(concepts, "questions", lambda: {"demo": q})
    return q


@pytest.mark.parametrize("answer", ["b", "B", " (b) "])
def test_right_letter_scores(bank, answer):
    assert concepts.check_choice("demo", answer, points=2) == 2.0


def test_wrong_letter_shows_its_feedback(bank):
    with pytest.raises(AssertionError, match="one is too few"):
        concepts.check_choice("demo", "a", points=1)
    with pytest.raises(AssertionError, match="not the best answer"):
        concepts.check_choice("demo", "c", points=1)


@pytest.mark.parametrize("garbage, words", [(None, "no answer yet"), ("z", "not one of the options"),
                                            (2, "not one of the options"), ("ab", "not one of the options")])
def test_choice_garbage(bank, garbage, words):
    with pytest.raises(AssertionError, match=words):
        concepts.check_choice("demo", garbage, points=1)


def test_show_question_prints_every_option(bank, capsys):
    concepts.show_question("demo")
    out = capsys.readouterr().out
    assert "Which is right?" in out and "(a) one" in out and "(c) three" in out


def test_unknown_question_id_is_a_key_error(bank):
    with pytest.raises(KeyError, match="nope"):
        concepts.check_choice("nope", "a")


def test_the_real_bank_is_consistent():
    """Every question in graders/question_bank has exactly one right option, feedback only for its own options,
    and an explanation for every wrong option; the stored digests reveal no letter in plain text."""
    bank = concepts.questions()
    for qid, q in bank.items():
        letters = list(q.options)
        assert letters == sorted(letters) and letters[0] == "a" and len(letters) >= 2, qid
        right = [letter for letter in letters if digest(qid, letter) == q.answer_digest]
        assert len(right) == 1, f"{qid}: {len(right)} options match the stored answer"
        option_digests = {digest(qid, letter) for letter in letters}
        assert set(q.feedback) <= option_digests, f"{qid}: feedback for a digest that is no option"
        for letter in letters:
            if letter != right[0]:
                assert q.feedback.get(digest(qid, letter)), f"{qid}: wrong option ({letter}) has no explanation"
        assert concepts.check_choice(qid, right[0], points=1) == 1.0
        for letter in letters:
            if letter != right[0]:
                with pytest.raises(AssertionError):
                    concepts.check_choice(qid, letter, points=1)


def test_number_right_wrong_and_named():
    assert concepts.check_number(0.0039, 0.25 ** 4, exercise="n", rel_tol=1e-2, points=1) == 1.0
    assert concepts.check_number(np.float64(0.00390625), 0.25 ** 4, exercise="n", points=1) == 1.0
    with pytest.raises(AssertionError, match="MISSING_1_OVER_N"):
        concepts.check_number(8.0, 2.0, exercise="n", mistakes={"MISSING_1_OVER_N": 8.0})
    with pytest.raises(AssertionError, match="not right.*Hint: think"):
        concepts.check_number(5.0, 2.0, exercise="n", hint="think")


@pytest.mark.parametrize("garbage, words", [(None, "no answer yet"), (math.nan, "not finite"),
                                            ("2", "expected a real number"), (np.array([1.0, 2.0]), "expected a real"),
                                            (True, "expected a real number")])
def test_number_garbage(garbage, words):
    with pytest.raises(AssertionError, match=words):
        concepts.check_number(garbage, 2.0, exercise="n")


def test_trace_table_partial_credit_and_messages(capsys):
    want = {"q": 7.0, "L": 49.0, "dL/dq": 14.0, "dL/dw": 42.0}
    score = concepts.check_trace_table({"q": 7, "L": 49.0, "dL/dq": 7.0, "extra": 1}, want, exercise="t",
                                       points=4, hints={"dL/dq": "d(q^2)/dq = 2q"},
                                       mistakes={"dL/dq": {"dropped the factor 2": 7.0}})
    out = capsys.readouterr().out
    assert score == 2.0
    assert "dropped the factor 2" in out and "2q" in out and "'dL/dw' is missing" in out and "extra" in out


def test_trace_table_all_right_and_garbage():
    want = {"a": 1.5, "b": -2.0}
    assert concepts.check_trace_table({"a": 1.5, "b": -2}, want, exercise="t", points=3) == 3.0
    with pytest.raises(AssertionError, match="expected a dict"):
        concepts.check_trace_table([1.5, -2.0], want, exercise="t")
    with pytest.raises(AssertionError, match="no answer yet"):
        concepts.check_trace_table(None, want, exercise="t")
    with pytest.raises(AssertionError, match="'a'.*expected a real number"):
        concepts.check_trace_table({"a": "1.5", "b": math.inf}, want, exercise="t")


def test_digest_is_salted_and_normalised():
    assert digest("q", "B") == digest("q", " b ")
    assert digest("q", "b") != digest("r", "b")
    assert len(digest("q", "b")) == 64
    assert digest("q", "b") != digest("q", "c")
