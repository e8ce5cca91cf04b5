"""A drill or a mock interview in progress: problems, answers, hints, the clocks, history and the debrief.

:class:`DrillSession` is driven the same way by the widget, the terminal and the tests:

- ``submit(answer)`` judges an answer (quick, choice, derivation), a version of the code (coding; or
  ``record_code(feedback)`` when the code was graded elsewhere, as the terminal does in a child process), or
  the written answer of an explanation, which reveals its checklist; ``tick(indices)`` then scores it;
- ``hint()``, ``next()`` (close this problem, record it, show the next), ``quit()`` (close this problem if it
  was worked on, record nothing for problems never shown, end);
- ``time_left()`` for the problem and ``total_left()`` for a mock interview; ``late_notice()`` returns a
  message the first time the current problem goes over its limit (so that a late answer is never scored at
  half credit silently).

Scoring follows :mod:`graders.drill.scoring`. For the history and the spaced-repetition plan a problem is
solved when it was answered right (code: every check passes; an explanation: at least 75% of its checklist). A mock interview (:func:`mock_interview`) is a session of six
problems in a fixed plan: an explanation, a quick problem, a derivation, a coding problem, a quick problem
and an explanation, 42 minutes of problem budgets inside a 45-minute interview; when the 45 minutes are over
the interview ends and what was not reached scores 0.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from graders.drill import explanations, scoring
from graders.drill import problems as P
from graders.drill.history import Attempt, History, SessionRecord

MOCK_MINUTES = 45
EXPLANATION_PASS = 0.75  # an explanation covering this share of its checklist counts as solved for the plan
MOCK_PLAN = (("explanation", 240), ("quick", 180), ("derivation", 480), ("coding", 1200), ("quick", 180),
             ("explanation", 240))


def rubric_level(score: float) -> str:
    """The level for an overall score alone (the full rubric also looks at the competencies)."""
    for level, threshold, _ in scoring.RUBRIC:
        if score >= threshold:
            return level
    return scoring.RUBRIC[-1][0]


def rubric_text() -> str:
    return scoring.rubric_text()


@dataclass
class ProblemState:
    problem: P.Problem
    started: float | None = None
    finished: float | None = None
    hints_used: int = 0
    wrong: int = 0                  # wrong readable answers (failed checks for code) so far
    correct: bool = False
    quality: float = 0.0            # 1/0, the grader's fraction (code), the ticked share (explanation)
    answered: bool = False          # a final answer exists (right answer, choice pick, graded code, ticks)
    answered_at: float | None = None
    wrong_before: int = 0           # wrong attempts before the answer that counts
    last_feedback: P.Feedback | None = None
    diagnoses: list[str] = field(default_factory=list)
    revealed: bool = False          # explanation: checklist shown
    text: str = ""                  # explanation: the written answer
    ticked: tuple[int, ...] = ()
    touched: bool = False           # the candidate did something (answer, hint, code, ...)
    late_told: bool = False

    @property
    def shown(self) -> bool:
        return self.started is not None

    def seconds(self) -> float | None:
        if self.started is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.finished
        return None if end is None else end - self.started

    def in_time(self) -> bool:
        s = self.seconds()
        return self.answered and s is not None and s <= self.problem.time_limit

    def points(self) -> float:
        if not self.shown:
            return 0.0
        late = self.answered_at is not None and self.answered_at - self.started > self.problem.time_limit
        return scoring.problem_points(self.problem.kind, quality=self.quality, answered=self.answered,
                                      wrong_before=self.wrong_before, hints=self.hints_used, late=late,
                                      n_choices=max(2, len(self.problem.choices)))


class DrillSession:
    """Drive a drill (or a mock interview) from Python.

    Args:
        families: problem family names, drawn in order (cycled) for ``length`` problems; or ``problems``.
        length: number of problems (1-50).
        rng: a numpy Generator (fresh problems each session).
        history: optional History; each closed problem and the session's debrief are recorded.
        clock: seconds, monotonic (injectable for tests). wall_clock: seconds since the epoch (history).
        problems: ready-made problems instead of families (the mock interview uses this).
        total_limit: seconds for the whole session (mock interview), or None.
    """

    def __init__(self, families: Sequence[str] = (), length: int = 1, rng: np.random.Generator | None = None, *,
                 history: History | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, problems: Sequence[P.Problem] | None = None,
                 mode: str = "drill", total_limit: float | None = None):
        if problems is None:
            families = list(families)
            if not families:
                raise ValueError("choose at least one problem family")
            unknown = [f for f in families if f not in P.FAMILIES]
            if unknown:
                raise ValueError(f"unknown families {unknown}; choose from {', '.join(P.FAMILIES)}")
            if not isinstance(length, (int, np.integer)) or not 1 <= length <= 50:
                raise ValueError(f"length must be an integer from 1 to 50, got {length!r}")
            rng = rng if rng is not None else np.random.default_rng()
            problems = [P.generate(families[i % len(families)], rng) for i in range(int(length))]
        if not problems:
            raise ValueError("a session needs at least one problem")
        self.id = uuid.uuid4().hex[:12]
        self.clock = clock
        self.wall_clock = wall_clock
        self.history = history
        self.mode = mode
        self.total_limit = total_limit
        self.states = [ProblemState(p) for p in problems]
        self.index = 0
        self.done = False
        self.ended_early = False
        self.start_time = clock()
        self.end_time: float | None = None
        self.states[0].started = self.start_time

    # ------------------------------------------------------------------------------------------- clocks
    @property
    def current(self) -> ProblemState:
        return self.states[self.index]

    def time_left(self) -> float:
        """Seconds left for the current problem (negative once over time)."""
        s = self.current
        end = s.finished if s.finished is not None else self.clock()
        return s.problem.time_limit - (end - s.started)

    def total_left(self) -> float | None:
        """Seconds left in a mock interview (None for a drill without a total limit)."""
        if self.total_limit is None:
            return None
        end = self.end_time if self.end_time is not None else self.clock()
        return self.total_limit - (end - self.start_time)

    def late_notice(self) -> str | None:
        """A message the first time the current problem is over its limit (None otherwise, or when answered)."""
        s = self.current
        if self.done or s.answered or s.revealed or s.late_told or self.time_left() >= 0:
            return None
        s.late_told = True
        return (f"Time is up for this problem ({_clock(s.problem.time_limit)}): you may still answer, but an answer "
                f"from now on earns at most {scoring.LATE_CAP:.2f}.")

    # ------------------------------------------------------------------------------------------- answers
    def _check_open(self) -> ProblemState:
        if self.done:
            raise RuntimeError("the drill is over; start a new one")
        return self.current

    def submit(self, answer: Any) -> P.Feedback:
        """Judge an answer to the current problem (see the module docstring)."""
        s = self._check_open()
        kind = s.problem.kind
        if kind == "explanation":
            return self._explain(s, answer)
        if s.answered and (kind == "choice" or s.correct):
            return P.Feedback(s.correct, "Already answered: one answer only for this problem. Press Next."
                              if kind == "choice" else "Already correct: press Next.", counts=False)
        return self._record(s, P.check_answer(s.problem, answer))

    def record_code(self, feedback: P.Feedback) -> P.Feedback:
        """Record a code check made elsewhere (the terminal grades the candidate's file in a child process)."""
        s = self._check_open()
        if s.problem.kind != "coding":
            raise ValueError("record_code is for coding problems")
        return self._record(s, feedback)

    def _record(self, s: ProblemState, fb: P.Feedback) -> P.Feedback:
        now = self.clock()
        s.last_feedback = fb
        if not fb.counts:
            return fb
        s.touched = True
        s.diagnoses.extend(d for d in fb.diagnoses if d not in s.diagnoses)
        kind = s.problem.kind
        if kind == "coding":
            s.wrong_before = s.wrong  # failed checks before this version
            s.quality, s.answered, s.answered_at = fb.quality, True, now
            s.correct = fb.correct
            if not fb.correct:
                s.wrong += 1
        elif kind == "choice":
            s.answered, s.answered_at, s.quality, s.correct = True, now, 1.0 if fb.correct else 0.0, fb.correct
        elif fb.correct:
            s.correct, s.answered, s.answered_at, s.quality, s.wrong_before = True, True, now, 1.0, s.wrong
        else:
            s.wrong += 1
        return self._with_time(s, fb)

    def _with_time(self, s: ProblemState, fb: P.Feedback) -> P.Feedback:
        if s.answered and s.answered_at - s.started > s.problem.time_limit:
            s.late_told = True
            return replace(fb, message=fb.message + f"\n(Answered after the time limit of "
                                                    f"{_clock(s.problem.time_limit)}: this problem earns at most "
                                                    f"{scoring.LATE_CAP:.2f}.)")
        return fb

    def _explain(self, s: ProblemState, text: Any) -> P.Feedback:
        if s.revealed:
            return P.Feedback(False, "The checklist is already shown: tick what you covered.", counts=False)
        s.text = "" if text is None else str(text)
        s.revealed, s.touched = True, True
        s.answered_at = self.clock()
        items = "\n".join(f"  {i + 1}. {p.text}" for i, p in enumerate(s.problem.checklist))
        return P.Feedback(False, "Now tick the points your answer covered:\n" + items, None, counts=False)

    def tick(self, indices: Sequence[int]) -> float:
        """Score an explanation from the ticked checklist items (0-based); returns the problem's points."""
        s = self._check_open()
        if s.problem.kind != "explanation":
            raise ValueError("tick is for explanation problems")
        if not s.revealed:
            raise RuntimeError("answer first: the checklist is revealed after the answer")
        if s.answered:
            raise RuntimeError("the checklist is already scored")
        s.quality = explanations.score_ticks(s.problem, indices)
        s.ticked = tuple(sorted(set(int(i) for i in indices)))
        s.answered, s.correct = True, s.quality >= EXPLANATION_PASS
        s.touched = True
        return s.points()

    def hint(self) -> str:
        s = self._check_open()
        n = len(s.problem.hints)
        final = s.answered and (s.correct or s.problem.kind in ("choice", "explanation"))
        if final:  # the answer that counts is in: a hint now can only explain it, so it costs nothing
            return "The problem is answered; hints cost nothing now:\n" + "\n".join(
                f"Hint {i + 1}: {h}" for i, h in enumerate(s.problem.hints))
        s.touched = True
        if s.hints_used >= n:
            return f"No more hints. Hint {n}: {s.problem.hints[-1]}"
        s.hints_used += 1
        cap = scoring.hint_cap(s.hints_used)
        return f"Hint {s.hints_used} (this problem now earns at most {cap:.2f}): {s.problem.hints[s.hints_used - 1]}"

    # ------------------------------------------------------------------------------------------- moving on
    def _close(self, s: ProblemState, record: bool) -> None:
        s.finished = self.clock()
        if record and self.history is not None:
            self.history.record(Attempt(
                self.wall_clock(), s.problem.family, bool(s.correct), s.finished - s.started, s.hints_used,
                s.diagnoses[-1] if s.diagnoses else None, self.id, s.points(), s.problem.kind, s.wrong, self.mode))

    def next(self) -> ProblemState | None:
        """Close the current problem (recording it) and move on; None when the session is over."""
        if self.done:
            return None
        self._close(self.current, record=True)
        if self.index + 1 >= len(self.states) or (self.total_limit is not None and self.total_left() <= 0):
            self._end()
            return None
        self.index += 1
        self.current.started = self.clock()
        return self.current

    def quit(self) -> None:
        """End now: the current problem is recorded only if it was worked on; later ones were never shown and
        are not recorded (the spaced-repetition plan does not count them as missed)."""
        if self.done:
            return
        s = self.current
        self._close(s, record=s.touched)
        self.ended_early = self.index + 1 < len(self.states)
        self._end()

    def time_up(self) -> bool:
        """In a mock interview: end the interview when its total time is over. Returns True if it ended."""
        if self.done or self.total_limit is None or self.total_left() > 0:
            return False
        self._close(self.current, record=True)
        self.ended_early = self.index + 1 < len(self.states)
        self._end()
        return True

    def _end(self) -> None:
        self.done = True
        self.end_time = self.clock()
        if self.history is not None:
            r = self.rubric()
            self.history.record_session(SessionRecord(self.id, self.wall_clock(), self.mode, r.overall, r.level,
                                                      dict(r.competencies), self.debrief()))

    # ------------------------------------------------------------------------------------------- results
    def scored(self) -> list[scoring.Scored]:
        out = []
        for s in self.states:
            fam = P.FAMILIES[s.problem.family]
            notes = []
            if s.problem.kind == "explanation" and s.answered:
                missed = [p.text for i, p in enumerate(s.problem.checklist) if i not in s.ticked]
                notes += [f"not covered: {m}" for m in missed]
                notes += [f"ticked, but not in your written answer: {m}"
                          for m in explanations.unsupported_ticks(s.problem, s.ticked, s.text)]
            out.append(scoring.Scored(
                s.problem.family, s.problem.title, s.problem.kind, fam.competency,
                scoring.problem_weight(fam.weight, s.problem.kind), s.points(), s.in_time(), s.shown, s.seconds(),
                s.problem.time_limit, s.hints_used, s.wrong, tuple(s.diagnoses),
                str(s.problem.data.get("notebook") or fam.notebook), tuple(notes), s.answered))
        return out

    def rubric(self) -> scoring.Rubric:
        return scoring.rubric(self.scored())

    def score(self) -> float:
        return self.rubric().overall

    def debrief(self) -> str:
        elapsed = None if self.end_time is None else self.end_time - self.start_time
        return scoring.debrief(self.scored(), mode=self.mode, elapsed=elapsed, total_limit=self.total_limit)

    def summary(self) -> dict:
        r = self.rubric()
        return {"score": r.overall, "level": r.level, "competencies": dict(r.competencies),
                "reasons": list(r.reasons), "mode": self.mode, "ended_early": self.ended_early,
                "problems": [{"family": x.family, "title": x.title, "kind": x.kind, "points": x.points,
                              "shown": x.shown, "correct": s.correct, "hints": x.hints, "wrong": x.wrong,
                              "seconds": None if x.seconds is None else round(x.seconds, 1),
                              "time_limit": x.time_limit, "in_time": x.in_time, "mistakes": list(x.mistakes)}
                             for x, s in zip(self.scored(), self.states)]}


def _clock(seconds: float) -> str:
    s = int(round(abs(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def _weighted_pick(rng: np.random.Generator, names: Sequence[str], exclude: set) -> str:
    pool = [n for n in names if n not in exclude] or list(names)
    w = np.array([P.FAMILIES[n].weight for n in pool], dtype=float)
    return pool[int(rng.choice(len(pool), p=w / w.sum()))]


def mock_plan(rng: np.random.Generator) -> list[P.Problem]:
    """Six problems for a 45-minute mock interview (see the module docstring), families drawn at random in
    proportion to how often interviews ask them, with the plan's time budget as each problem's limit."""
    quick = P.by_kind("quick") + P.by_kind("choice")
    pools = {"explanation": P.by_kind("explanation"), "quick": quick, "derivation": P.by_kind("derivation"),
             "coding": P.by_kind("coding")}
    used: set = set()
    problems = []
    explain_seen: set = set()
    for kind, budget in MOCK_PLAN:
        name = _weighted_pick(rng, pools[kind], used)
        if kind != "explanation":
            used.add(name)
        for _ in range(20):  # two different explanation questions
            p = P.generate(name, rng)
            if kind != "explanation" or p.data.get("question") not in explain_seen:
                break
        explain_seen.add(p.data.get("question"))
        problems.append(replace(p, time_limit=int(budget)))
    return problems


def mock_interview(rng: np.random.Generator, **kwargs) -> DrillSession:
    """A 45-minute mock interview session."""
    return DrillSession(problems=mock_plan(rng), mode="mock", total_limit=MOCK_MINUTES * 60, **kwargs)
