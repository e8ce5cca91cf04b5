"""Concept questions: multiple choice stored hashed, numeric estimates, and hand-traced tables of numbers.

Multiple choice
    Questions live in the modules of :mod:`graders.question_bank` (one per notebook). Each module defines
    ``QUESTIONS = {qid: Question(...)}``; ids are unique across the bank. The right letter is stored only as
    ``digest(qid, letter)`` (salted SHA-256), and per-option feedback is keyed by the digest of that option,
    so reading the bank does not give the answer away at a glance. An author computes a digest with
    ``python -c "from graders import concepts; print(concepts.digest('qid', 'b'))"``.

    In a notebook: ``show_question("qid")`` (graders.public.questions) prints the question and its options; a test cell ends with
    ``score = concepts.check_choice("qid", my_choice, points=1)``.

Numbers
    :func:`check_number` compares one number with a tolerance and names known wrong values
    (``mistakes={"forgot the 1/N": value}``); :func:`check_trace_table` compares a dict of hand-traced
    numbers entry by entry with partial credit per entry. Both read numbers typed as strings (``"1/256"``,
    ``"1e6"``, ``"0.25^4"``: :func:`graders.typed.number`) and default to the course's precision for typed
    numbers, four significant digits (:data:`graders.typed.REL_TOL` 5e-4, :data:`graders.typed.ABS_TOL` 1e-8).

Every check is a pure function of its arguments: it returns ``float(points)`` when right, a partial score when
some entries are right and ``points`` is given, and raises :class:`graders.core.GradingError` otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from graders import diagnoses, typed
from graders.core import GradingError, Report

__all__ = ["Question", "digest", "questions", "show_question", "check_choice", "check_choices", "check_number",
           "check_trace_table"]

SALT = "backprop-course-concepts-v1"


@dataclass(frozen=True)
class Question:
    """A multiple-choice question.

    text: the question; options: letter -> option text (letters "a", "b", ...);
    answer_digest: ``digest(qid, right_letter)``; feedback: ``digest(qid, letter)`` -> why that option is
    wrong, shown after a wrong answer; only wrong options have an entry (a key equal to ``answer_digest`` would
    point at the right letter).
    """
    text: str
    options: Mapping[str, str]
    answer_digest: str
    feedback: Mapping[str, str] = field(default_factory=dict)


def digest(qid: str, letter: str) -> str:
    """Salted SHA-256 of a question id and a lower-case option letter (hex string of 64 characters)."""
    return hashlib.sha256(f"{SALT}|{qid}|{letter.strip().lower()}".encode()).hexdigest()


@functools.cache
def questions() -> dict[str, Question]:
    """Every question of every module in graders.question_bank (qid -> Question); duplicate ids are an error.

    Built once per process and kept in the function's cache, not in a module global: the cohort recheck
    treats any change to a grader module's globals during a test as tampering.
    """
    from graders import question_bank
    bank: dict[str, Question] = {}
    for info in sorted(pkgutil.iter_modules(question_bank.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"graders.question_bank.{info.name}")
        for qid, q in getattr(module, "QUESTIONS", {}).items():
            if qid in bank:
                raise ValueError(f"question id {qid!r} is defined twice in graders.question_bank")
            bank[qid] = q
    return bank


def _question(qid: str) -> Question:
    bank = questions()
    if qid not in bank:
        raise KeyError(f"no question {qid!r} in graders.question_bank")
    return bank[qid]


def show_question(qid: str) -> None:
    """Print the question and its lettered options."""
    q = _question(qid)
    lines = [q.text, ""] + [f"  ({letter}) {text}" for letter, text in q.options.items()]
    print("\n".join(lines))


def check_choice(qid: str, answer: Any, *, points: float | None = None, seed: int = 0,
                 thorough: bool = False) -> float | None:
    """Grade one multiple-choice answer: one letter such as ``"b"``; ``"B"``, ``"b."``, ``"(b)"``, ``"b)"``,
    ``"Option b"``, ``"answer: b"`` are read as ``"b"`` (:func:`graders.typed.letter`); ``"a or b"`` is refused
    with a message saying one letter only."""
    rep = Report(f"question {qid}", points, seed)
    rep.declare("choice")
    rep.record("choice", _choice_problem(qid, answer))
    return rep.finish()


def _choice_problem(qid: str, answer: Any, what: str = "") -> str | None:
    q = _question(qid)
    letters = sorted(q.options)
    if answer is None:
        return f"{what}no answer yet: set your choice to one letter, e.g. 'a'."
    letter = typed.letter(answer, letters)
    if letter is None:
        return f"{what}{typed.letter_problem(answer, letters)}"
    if digest(qid, letter) != q.answer_digest:
        why = q.feedback.get(digest(qid, letter)) or "read the options again."
        return f"{what}({letter}) is not the best answer: {why}"
    return None


def check_choices(answers: Any, qids: Sequence[str], *, exercise: str = "concept questions",
                  points: float | None = None, seed: int = 0, thorough: bool = False) -> float | None:
    """Grade several multiple-choice answers given as one dict qid -> letter, one equally weighted sub-check
    per question id in ``qids``."""
    if not isinstance(answers, Mapping):
        got = "None (assign the dict in the cell above)" if answers is None else type(answers).__name__
        raise GradingError(f"{exercise}: expected a dict like {{{qids[0]!r}: 'a', ...}}, got {got}.")
    rep = Report(exercise, points, seed)
    for qid in qids:
        rep.declare(qid)
    for qid in qids:
        if qid not in answers:
            rep.fail(qid, f"answers['{qid}'] is missing.")
        else:
            rep.record(qid, _choice_problem(qid, answers[qid], what=f"answers['{qid}']: "))
    return rep.finish()


def _diagnosed(code: str) -> str:
    """The catalogue text for a diagnosis code, or the label itself when it is free text."""
    diag = diagnoses.CATALOGUE.get(code)
    return code if diag is None else f"{diag.title} [{diag.code}]: {diag.advice}"


def _number_problem(answer: Any, expected: float, *, rel_tol: float, abs_tol: float,
                    mistakes: Mapping[str, float] | None, what: str) -> str | None:
    if answer is None:
        return f"{what}: no answer yet (the variable is still None)."
    value = typed.number(answer)
    if value is None:
        return f"{what}: {typed.number_problem(answer)}"
    if math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol):
        return None
    for code, wrong in (mistakes or {}).items():
        if math.isclose(value, wrong, rel_tol=rel_tol, abs_tol=abs_tol) and not math.isclose(
                wrong, expected, rel_tol=rel_tol, abs_tol=abs_tol):
            return f"{what}: got {value:.6g}; this is what you get when {_diagnosed(code)}"
    if rel_tol < 1e-2 and math.isclose(value, expected, rel_tol=1e-2):
        return (f"{what}: got {value:.6g}: close, but not to the precision asked (relative tolerance {rel_tol:g}); "
                f"give four significant digits or more.")
    return f"{what}: got {value:.6g}, which is not right (relative tolerance {rel_tol:g})."


def check_number(answer: Any, expected: float, *, exercise: str, rel_tol: float = typed.REL_TOL,
                 abs_tol: float = typed.ABS_TOL,
                 mistakes: Mapping[str, float] | None = None, hint: str | None = None, points: float | None = None,
                 seed: int = 0, thorough: bool = False) -> float | None:
    """Grade one number against ``expected`` (a float computed by the grader, never typed in a notebook).

    answer: a number, or a string of arithmetic on numbers (``"1/256"``, ``"2**-8"``). The tolerance defaults to
    the course's precision for typed numbers (four significant digits).

    mistakes: diagnosis code (graders.diagnoses) or a short description -> the value that mistake produces; a
    matching answer is named in the message. hint: appended to a wrong answer's message.
    """
    rep = Report(exercise, points, seed)
    rep.declare("value")
    problem = _number_problem(answer, float(expected), rel_tol=rel_tol, abs_tol=abs_tol, mistakes=mistakes,
                              what="answer")
    if problem and hint:
        problem += f" Hint: {hint}"
    rep.record("value", problem)
    return rep.finish()


def check_trace_table(answers: Any, expected: Mapping[str, float], *, exercise: str, rel_tol: float = typed.REL_TOL,
                      abs_tol: float = typed.ABS_TOL, hints: Mapping[str, str] | None = None,
                      mistakes: Mapping[str, Mapping[str, float]] | None = None, points: float | None = None,
                      seed: int = 0, thorough: bool = False) -> float | None:
    """Grade a dict of hand-traced numbers, one sub-check (equal weight) per key of ``expected``.

    answers: dict key -> number (or a string of arithmetic on numbers). The tolerance defaults to the course's
    precision for typed numbers (four significant digits). hints: key -> a hint shown when that entry is wrong.
    mistakes: key ->
    {diagnosis code or description -> wrong value}. Extra keys are reported but cost nothing.
    """
    if answers is None:
        raise GradingError(f"{exercise}: no answer yet: fill in the dict with keys {', '.join(expected)}.")
    if not isinstance(answers, Mapping):
        raise GradingError(f"{exercise}: expected a dict with keys {', '.join(expected)}, got "
                           f"{type(answers).__name__}.")
    rep = Report(exercise, points, seed)
    for key in expected:
        rep.declare(key)
    for key, want in expected.items():
        if key not in answers:
            rep.fail(key, f"'{key}' is missing from the dict.")
            continue
        problem = _number_problem(answers[key], float(want), rel_tol=rel_tol, abs_tol=abs_tol,
                                  mistakes=(mistakes or {}).get(key), what=f"'{key}'")
        if problem and hints and key in hints:
            problem += f" Hint: {hints[key]}"
        rep.record(key, problem)
    extra = sorted(set(map(str, answers)) - set(expected))
    if extra:
        print(f"{exercise}: ignored keys not asked for: {', '.join(extra)}")
    return rep.finish()
