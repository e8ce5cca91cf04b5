"""What a drill problem is, the registry of problem families, and judging an answer.

A *family* turns a ``numpy.random.Generator`` into a fresh :class:`Problem`. Every family has a kind, which
decides how it is answered and scored (:mod:`graders.drill.scoring`):

=============  ========================================================================================
quick          a number, list, matrix or named values worked out on the spot (1-4 minutes)
choice         one letter; ONE answer only, and a wrong pick costs points (no guessing floor)
derivation     a symbolic expression (or a matrix expression with its shape) checked with SymPy (5-15 min)
explanation    free text or out loud; a checklist of key points is revealed afterwards and ticked (3-5 min)
coding         live coding: fill a stub, graded by the notebooks' own graders with partial credit (15-45 min)
=============  ========================================================================================

and a competency (coding, derivation or explanation; speed is measured on every problem) and a weight: how
often backprop interviews ask it (3 = in most interviews, 2 = often, 1 = now and then). The weights are the
course authors' judgement from the interview question collections the course was built from, not a survey.

Family modules register themselves with :func:`family`; :mod:`graders.drill.problems` imports all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from graders.drill import parsing

KINDS = ("quick", "choice", "derivation", "explanation", "coding")
COMPETENCIES = ("coding", "derivation", "explanation")


@dataclass(frozen=True)
class KeyPoint:
    """One item of an explanation checklist: what a good answer says, its weight, and a regular expression
    that finds it in a written answer (used only to point out ticks the written text does not support)."""
    text: str
    weight: float = 1.0
    pattern: str = ""


@dataclass(frozen=True)
class Problem:
    """One drill problem.

    ``expected`` is a float, a tuple/ndarray of floats, a dict of floats, a letter, or (derivations, coding)
    whatever the family's checker needs; ``accept`` holds other answers that mean the same thing; ``mistakes``
    maps diagnosis codes to the answer that mistake produces. ``time_limit`` is in seconds.
    """
    family: str
    title: str
    prompt: str
    answer_format: str
    expected: Any
    hints: tuple[str, str, str]
    solution: str
    time_limit: int
    mistakes: dict = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    data: dict = field(default_factory=dict)  # the raw ingredients, so tests can recompute the answer
    kind: str = "quick"
    accept: tuple = ()
    checklist: tuple[KeyPoint, ...] = ()
    stub: str = ""
    seed: int = 0

    def to_dict(self) -> dict:
        exp = self.expected
        if isinstance(exp, np.ndarray):
            exp = exp.tolist()
        elif not isinstance(exp, (str, int, float, dict, list, tuple, type(None))):
            exp = str(exp)
        return {"family": self.family, "title": self.title, "kind": self.kind, "prompt": self.prompt,
                "answer_format": self.answer_format, "expected": exp, "time_limit": self.time_limit}


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer.

    ``score`` is the quality of the answer in [0, 1] (partial credit for code); ``counts`` is False when the
    answer could not be read at all (a format problem is not a wrong attempt); ``diagnoses`` lists every
    mistake named, ``diagnosis`` the first of them.
    """
    correct: bool
    message: str
    diagnosis: str | None = None
    score: float | None = None
    diagnoses: tuple[str, ...] = ()
    counts: bool = True

    @property
    def quality(self) -> float:
        if self.score is not None:
            return float(self.score)
        return 1.0 if self.correct else 0.0


def format_problem(message: str, answer_format: str) -> Feedback:
    return Feedback(False, f"Could not read your answer: {message}. Expected {answer_format}.", "FORMAT",
                    counts=False)


def check_choice(problem: "Problem", text: Any) -> Feedback:
    """One letter. The verdict reveals the answer, because a choice problem takes one answer only."""
    try:
        got = parsing.letter("" if text is None else text, problem.choices)
    except parsing.AnswerFormatError as exc:
        return format_problem(str(exc), problem.answer_format)
    if got == problem.expected:
        return Feedback(True, "Correct. " + problem.solution)
    return Feedback(False, f"Not right: the answer is {problem.expected}. {problem.solution}")


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    make: Callable[[np.random.Generator], Problem]
    kind: str = "quick"
    competency: str = "derivation"
    weight: float = 1.0
    check: Callable[[Problem, Any], Feedback] | None = None
    notebook: str = ""


FAMILIES: dict[str, Family] = {}


def family(name: str, title: str, *, kind: str = "quick", competency: str = "derivation", weight: float = 1.0,
           check: Callable[[Problem, Any], Feedback] | None = None, notebook: str = ""):
    """Decorator registering ``make(rng) -> Problem`` as the family ``name``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if competency not in COMPETENCIES:
        raise ValueError(f"competency must be one of {COMPETENCIES}, got {competency!r}")
    if not weight > 0:
        raise ValueError(f"weight must be positive, got {weight!r}")

    def register(fn):
        if name in FAMILIES:
            raise ValueError(f"problem family {name!r} is registered twice")
        FAMILIES[name] = Family(name, title, fn, kind, competency, float(weight), check, notebook)
        return fn
    return register


def generate(name: str, rng: np.random.Generator) -> Problem:
    """A fresh problem of family ``name`` (KeyError lists the families)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown problem family {name!r}; choose from {', '.join(FAMILIES)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    fam = FAMILIES[name]
    p = fam.make(rng)
    return replace(p, family=name, kind=fam.kind)


def check_answer(problem: Problem, answer: Any) -> Feedback:
    """Judge an answer with the family's checker; never raises for bad input (a format problem is feedback)."""
    fam = FAMILIES[problem.family]
    if fam.check is None:
        raise RuntimeError(f"family {problem.family!r} has no checker")
    return fam.check(problem, answer)


def by_kind(kind: str) -> list[str]:
    return [n for n, f in FAMILIES.items() if f.kind == kind]
