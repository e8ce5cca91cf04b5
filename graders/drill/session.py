"""A timed drill: a sequence of fresh problems, answers, hints, time limits and a rubric score.

Scoring per problem (1 point at most):

- correct within the time limit: 1, minus 0.15 per hint used beyond the first (so 1, 1, 0.85, 0.70);
- correct after the time limit: half of that;
- wrong, skipped or unanswered: 0.

A wrong answer may be corrected until the problem is submitted with :meth:`DrillSession.next` or the
session ends; the first correct answer counts. The final score is the mean over the problems.

Rubric (stated in the notebook and the terminal drill): Strong Hire >= 0.80, Lean Hire >= 0.60, otherwise
No Hire.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from graders.drill import problems as P
from graders.drill.history import Attempt, History

RUBRIC = (("Strong Hire", 0.80), ("Lean Hire", 0.60), ("No Hire", 0.0))
HINT_PENALTY = 0.15
LATE_FACTOR = 0.5


def rubric_level(score: float) -> str:
    for level, threshold in RUBRIC:
        if score >= threshold:
            return level
    return RUBRIC[-1][0]


@dataclass
class ProblemState:
    problem: P.Problem
    started: float | None = None
    finished: float | None = None
    hints_used: int = 0
    tries: int = 0
    correct: bool = False
    correct_at: float | None = None
    last_feedback: P.Feedback | None = None
    diagnoses: list[str] = field(default_factory=list)

    def points(self) -> float:
        if not self.correct or self.correct_at is None or self.started is None:
            return 0.0
        base = 1.0 - HINT_PENALTY * max(0, self.hints_used - 1)
        late = (self.correct_at - self.started) > self.problem.time_limit
        return round(base * (LATE_FACTOR if late else 1.0), 4)


class DrillSession:
    """Drive a drill from Python (the widget and the terminal drill both use this).

    Args:
        families: problem family names, drawn in order (cycled) for ``length`` problems.
        length: number of problems (1-50).
        rng: a numpy Generator (fresh problems each session).
        history: optional History; each finished problem is recorded.
        clock: seconds, monotonic (injectable for tests).
        wall_clock: seconds since the epoch for the history timestamps.
    """

    def __init__(self, families: Sequence[str], length: int, rng: np.random.Generator, *,
                 history: History | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time):
        families = list(families)
        if not families:
            raise ValueError("choose at least one problem family")
        unknown = [f for f in families if f not in P.FAMILIES]
        if unknown:
            raise ValueError(f"unknown families {unknown}; choose from {', '.join(P.FAMILIES)}")
        if not isinstance(length, (int, np.integer)) or not 1 <= length <= 50:
            raise ValueError(f"length must be an integer from 1 to 50, got {length!r}")
        self.id = uuid.uuid4().hex[:12]
        self.clock = clock
        self.wall_clock = wall_clock
        self.history = history
        self.states = [ProblemState(P.generate(families[i % len(families)], rng)) for i in range(int(length))]
        self.index = 0
        self.done = False
        self.states[0].started = clock()

    @property
    def current(self) -> ProblemState:
        return self.states[self.index]

    def time_left(self) -> float:
        """Seconds left for the current problem (negative once over time)."""
        s = self.current
        end = s.finished if s.finished is not None else self.clock()
        return s.problem.time_limit - (end - s.started)

    def submit(self, text) -> P.Feedback:
        if self.done:
            raise RuntimeError("the drill is over; start a new one")
        s = self.current
        if s.correct:
            return P.Feedback(True, "Already correct: press Next.")
        fb = P.check_answer(s.problem, text)
        if fb.diagnosis != "FORMAT":
            s.tries += 1
        s.last_feedback = fb
        if fb.diagnosis and fb.diagnosis != "FORMAT":
            s.diagnoses.append(fb.diagnosis)
        if fb.correct:
            s.correct = True
            s.correct_at = self.clock()
        return fb

    def hint(self) -> str:
        s = self.current
        if s.hints_used >= len(s.problem.hints):
            return f"No more hints. Hint {len(s.problem.hints)}: {s.problem.hints[-1]}"
        s.hints_used += 1
        return f"Hint {s.hints_used}: {s.problem.hints[s.hints_used - 1]}"

    def next(self) -> ProblemState | None:
        """Close the current problem (recording it) and move on; None when the drill is over."""
        if self.done:
            return None
        s = self.current
        s.finished = self.clock()
        if self.history is not None:
            self.history.record(Attempt(self.wall_clock(), s.problem.family, s.correct, s.finished - s.started,
                                        s.hints_used, s.diagnoses[-1] if s.diagnoses else None, self.id))
        if self.index + 1 >= len(self.states):
            self.done = True
            return None
        self.index += 1
        self.current.started = self.clock()
        return self.current

    def score(self) -> float:
        return round(float(np.mean([s.points() for s in self.states])), 4)

    def summary(self) -> dict:
        score = self.score()
        return {"score": score, "level": rubric_level(score), "problems": [
            {"family": s.problem.family, "points": s.points(), "correct": s.correct, "hints": s.hints_used,
             "seconds": None if s.finished is None or s.started is None else round(s.finished - s.started, 1),
             "time_limit": s.problem.time_limit, "mistakes": list(s.diagnoses)} for s in self.states]}


def rubric_text() -> str:
    return ("Rubric: each problem is worth 1 point (0.15 off per hint after the first, half credit when over "
            "time, 0 when wrong or skipped). Mean score >= 0.80: Strong Hire; >= 0.60: Lean Hire; "
            "below: No Hire.")
