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
                                            ("two", "could not read 'two' as a number"),
                                            (np.array([1.0, 2.0]), "expected a number"),
                                            (True, "expected a number")])
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
    with pytest.raises(AssertionError, match="'a'.*could not read '1.5 m' as a number"):
        concepts.check_trace_table({"a": "1.5 m", "b": math.inf}, want, exercise="t")


def test_digest_is_salted_and_normalised():
    assert digest("q", "B") == digest("q", " b ")
    assert digest("q", "b") != digest("r", "b")
    assert len(digest("q", "b")) == 64
    assert digest("q", "b") != digest("q", "c")


# ------------------------------------------------------------------------------ issue 12: answers as students type them

@pytest.mark.parametrize("answer", ["b", "B", " b ", "b.", "B.", "(b)", "b)", "[b]", "b:", "Option b", "option (b)",
                                    "Option B.", "answer: b", "Answer: (b)", "answer b", "The answer is B.",
                                    "choice: b", "the correct option is (b)"])
def test_a_decorated_right_letter_scores(bank, answer):
    assert concepts.check_choice("demo", answer, points=1) == 1.0


def test_a_decorated_wrong_letter_gets_its_feedback(bank):
    for answer in ("Option a", "(a).", "answer: a"):
        with pytest.raises(AssertionError, match="one is too few"):
            concepts.check_choice("demo", answer, points=1)


@pytest.mark.parametrize("answer", ["a or b", "b or c", "a, b", "b and c", "(a) or (b)", "Option b or c"])
def test_two_letters_are_refused_with_one_letter_only(bank, answer):
    with pytest.raises(AssertionError, match="one letter only"):
        concepts.check_choice("demo", answer, points=1)


def test_decorated_letters_in_a_dict_of_answers(bank):
    assert concepts.check_choices({"demo": "Option (b)."}, ["demo"], points=1) == 1.0
    with pytest.raises(AssertionError, match="one letter only"):
        concepts.check_choices({"demo": "b or c"}, ["demo"], points=1)


@pytest.mark.parametrize("answer, expected", [
    ("1/256", 0.25 ** 4), ("0.25^4", 0.25 ** 4), ("0.25**4", 0.25 ** 4), ("2**-8", 2.0 ** -8), ("2^-8", 2.0 ** -8),
    ("0.003906", 0.25 ** 4), ("3.906e-3", 0.25 ** 4), ("1000000", 1e6), ("1e6", 1e6), ("1_000_000", 1e6),
    ("10**6", 1e6), (" -(3 + 4) / 2 ", -3.5), ("1.5**100", 1.5 ** 100), ("4.066e17", 1.5 ** 100),
])
def test_numbers_typed_as_strings_are_read(answer, expected):
    assert concepts.check_number(answer, expected, exercise="n", points=1) == 1.0
    assert concepts.check_trace_table({"k": answer}, {"k": expected}, exercise="t", points=1) == 1.0


@pytest.mark.parametrize("answer, words", [
    ("1,000,000", "without commas"), ("x + 1", "'x' is a name"), ("sqrt(2)", "function calls"),
    ("1/0", "divides by zero"), ("(-8)**(1/3)", "not a real number"), ("9**9**9", "too large"),
    ("1e999", "not finite"), ("", "empty"), ("__import__('os')", "function calls"), ("2 +", "not arithmetic"),
    ("1" * 300, "longer than"),
])
def test_a_string_that_is_not_a_number_gets_a_clear_message(answer, words):
    with pytest.raises(AssertionError, match=words):
        concepts.check_number(answer, 1.0, exercise="n")


def test_a_wrong_number_typed_as_a_string_is_still_named():
    with pytest.raises(AssertionError, match="MISSING_1_OVER_N"):
        concepts.check_number("8", 2.0, exercise="n", mistakes={"MISSING_1_OVER_N": 8.0})


@pytest.mark.parametrize("exact", [1.0005, 0.00390625, -2.5838531634528574, 123456.7, 9.99949, 0.11781, -7e-9, 0.0])
def test_the_default_precision_accepts_every_value_rounded_to_4_significant_digits(exact):
    for typed in (float(f"{exact:.4g}"), f"{exact:.4g}"):
        assert concepts.check_number(typed, exact, exercise="n", points=1) == 1.0
        assert concepts.check_trace_table({"v": typed}, {"v": exact}, exercise="t", points=1) == 1.0


def test_the_default_precision_still_rejects_three_significant_digits_when_they_differ():
    with pytest.raises(AssertionError, match="relative tolerance 0.0005"):
        concepts.check_number(0.0039, 0.25 ** 4, exercise="n")


def test_a_value_close_but_below_four_significant_digits_is_told_so():
    with pytest.raises(AssertionError, match="close, but not to the precision asked"):
        concepts.check_number(0.0039, 0.25 ** 4, exercise="n")
