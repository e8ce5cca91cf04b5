"""Scoring like an interview: points per problem, the rubric per competency, and the written debrief.

Points for one problem (at most 1):

- **quick and derivation**: a correct answer earns 1, minus 0.25 for every wrong (readable) answer before it;
  a wrong or missing answer earns 0. An answer that cannot be read at all costs nothing.
- **choice** (concept questions, find-the-bug): ONE answer. Right: 1. Wrong: -1/3 with four options (in
  general -1/(k-1) for k options), so blind guessing is worth 0 on average: there is no guessing floor. Not
  answering: 0.
- **coding**: the grader's fraction of passed sub-checks for the final version of the code (the notebooks'
  partial credit), times 1 - 0.1 for every check before it that did not pass everything (at least 0.5).
- **explanation**: the ticked share of the checklist's weight.

Then two caps, whichever is lower: hints (0 or 1 hint: 1.0 and 0.9, 2 hints: 0.7, the third hint: 0.3, well
below Lean Hire) and time (an answer given after the problem's time limit: at most 0.5, and the drill says so
when it happens). A problem never shown (the drill was left early or the interview's time ran out) scores 0.

Weights: a problem counts ``family weight x kind size``. The family weight says how often backprop interviews
ask it (3 in most interviews, 2 often, 1 now and then: see :mod:`graders.drill.registry`); the kind size says
how much of an interview it fills (quick and choice 1, derivation and explanation 2, coding 4).

Rubric: the weighted mean of the points is the overall score; the same mean within coding, derivation and
explanation problems gives each competency; speed is the weighted share of problems answered within their
time limit. Strong Hire needs an overall score >= 0.80 with no measured competency below 0.60; Lean Hire
>= 0.60 with none below 0.40; anything else is No Hire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from graders import diagnoses

HINT_CAPS = (1.0, 0.9, 0.7, 0.3)
WRONG_PENALTY = {"quick": 0.25, "derivation": 0.25, "coding": 0.10}
CODING_FLOOR = 0.5
LATE_CAP = 0.5
KIND_SIZE = {"quick": 1.0, "choice": 1.0, "derivation": 2.0, "explanation": 2.0, "coding": 4.0}
COMPETENCIES = ("coding", "derivation", "explanation", "speed")
RUBRIC = (("Strong Hire", 0.80, 0.60), ("Lean Hire", 0.60, 0.40), ("No Hire", 0.0, 0.0))

NOTEBOOKS = {"01": "01_chain_rule", "02": "02_computational_graphs", "03": "03_two_layer_network",
             "04": "04_jacobians_vjps", "05": "05_ad_modes", "06": "06_bptt", "07": "07_batchnorm",
             "08": "08_vanishing_exploding", "10": "10_attention"}


def hint_cap(hints: int) -> float:
    return HINT_CAPS[min(max(int(hints), 0), len(HINT_CAPS) - 1)]


def choice_penalty(n_choices: int) -> float:
    """The points of a wrong pick among ``n_choices`` options: blind guessing then averages exactly 0."""
    if n_choices < 2:
        raise ValueError("a choice problem needs at least two options")
    return -1.0 / (n_choices - 1)


def problem_points(kind: str, *, quality: float, answered: bool, wrong_before: int = 0, hints: int = 0,
                   late: bool = False, n_choices: int = 4) -> float:
    """Points of one problem (see the module docstring). ``quality`` is 1/0 for right/wrong answers, the
    grader's fraction for code and the ticked share for explanations."""
    if kind not in KIND_SIZE:
        raise ValueError(f"unknown kind {kind!r}")
    if not answered:
        return 0.0
    cap = min(hint_cap(hints), LATE_CAP if late else 1.0)
    if kind == "choice":
        return round(cap, 4) if quality >= 1.0 else choice_penalty(n_choices)  # exact: guessing averages 0
    if kind in ("quick", "derivation"):
        if quality < 1.0:
            return 0.0
        return round(cap * max(0.0, 1.0 - WRONG_PENALTY[kind] * wrong_before), 4)
    if kind == "coding":
        return round(max(0.0, quality) * cap * max(CODING_FLOOR, 1.0 - WRONG_PENALTY["coding"] * wrong_before), 4)
    return round(max(0.0, min(1.0, quality)) * cap, 4)


@dataclass(frozen=True)
class Scored:
    """What the rubric needs to know about one problem."""
    family: str
    title: str
    kind: str
    competency: str
    weight: float
    points: float
    in_time: bool
    shown: bool = True
    seconds: float | None = None
    time_limit: int = 0
    hints: int = 0
    wrong: int = 0
    mistakes: tuple[str, ...] = ()
    notebook: str = ""
    notes: tuple[str, ...] = ()
    answered: bool = False


def problem_weight(family_weight: float, kind: str) -> float:
    return float(family_weight) * KIND_SIZE[kind]


@dataclass(frozen=True)
class Rubric:
    overall: float
    level: str
    competencies: dict[str, float | None]
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _mean(items: Sequence[Scored], value) -> float | None:
    total = sum(s.weight for s in items)
    if total == 0:
        return None
    return round(min(1.0, max(0.0, sum(s.weight * value(s) for s in items) / total)), 4)


def rubric(scored: Sequence[Scored]) -> Rubric:
    """Overall score, competencies and level (see the module docstring)."""
    overall = _mean(scored, lambda s: s.points) or 0.0
    comps: dict[str, float | None] = {c: _mean([s for s in scored if s.competency == c], lambda s: s.points)
                                      for c in COMPETENCIES[:3]}
    comps["speed"] = _mean(scored, lambda s: 1.0 if s.in_time else 0.0)
    measured = {c: v for c, v in comps.items() if v is not None}
    reasons = []
    for level, threshold, floor in RUBRIC:
        low = [c for c, v in measured.items() if v < floor]
        if overall >= threshold and not low:
            return Rubric(overall, level, comps, tuple(reasons))
        if overall >= threshold and low:
            reasons.append(f"{level} needs every competency >= {floor:.2f}: "
                           + ", ".join(f"{c} {measured[c]:.2f}" for c in low))
    return Rubric(overall, RUBRIC[-1][0], comps, tuple(reasons))


def rubric_text() -> str:
    return ("Rubric: each problem earns up to 1 point. Quick and derivation answers: -0.25 per wrong answer before "
            "the right one. Multiple choice: ONE answer, -1/3 for a wrong pick (guessing is worth 0). Code: the "
            "grader's partial credit, -0.1 per failed check before it. Explanations: the share of key points you "
            "tick. Hints cap a problem at 0.9 / 0.7 / 0.3; an answer after the time limit at 0.5. Problems are "
            "weighted by how often interviews ask them and how big they are; problems not reached score 0. Strong "
            "Hire: >= 0.80 with every competency >= 0.60; Lean Hire: >= 0.60 with every competency >= 0.40; "
            "otherwise No Hire.")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def debrief(scored: Sequence[Scored], *, mode: str = "drill", elapsed: float | None = None,
            total_limit: float | None = None) -> str:
    """The written debrief: the level, the competencies, every problem with its mistakes, what to work on."""
    r = rubric(scored)
    head = "Mock interview debrief" if mode == "mock" else "Drill debrief"
    lines = [head + (f" ({_clock(elapsed)} of {_clock(total_limit)})" if total_limit else ""), "",
             f"Overall {r.overall:.2f}: {r.level}"]
    comp = "  ".join(f"{c} {'-' if v is None else f'{v:.2f}'}" for c, v in r.competencies.items())
    lines += [f"Competencies: {comp}"] + [f"  ({x})" for x in r.reasons] + ["", "Problem by problem:"]
    for i, s in enumerate(scored, 1):
        if not s.shown:
            lines.append(f"{i}. {s.title}: not reached (0 points).")
            continue
        if s.answered:
            timing = f"answered in {_clock(s.seconds)} of {_clock(s.time_limit)}" + ("" if s.in_time else
                                                                                    ", over time")
        else:
            timing = f"not answered, {_clock(s.seconds)} spent of {_clock(s.time_limit)}"
        extras = []
        if s.hints:
            extras.append(f"{s.hints} hint{'s' if s.hints > 1 else ''}")
        if s.wrong:
            extras.append(f"{s.wrong} wrong attempt{'s' if s.wrong > 1 else ''}")
        lines.append(f"{i}. {s.title}: {s.points:.2f} ({timing}{', ' if extras else ''}{', '.join(extras)})")
        for code in dict.fromkeys(s.mistakes):
            d = diagnoses.CATALOGUE.get(code)
            if d is not None:
                lines.append(f"   - {d.title} [{code}]: {d.advice}")
        lines += [f"   - {n}" for n in s.notes]
    work = _to_work_on(scored, r)
    if work:
        lines += ["", "What to work on:"] + [f"- {w}" for w in work]
    return "\n".join(lines)


def _to_work_on(scored: Sequence[Scored], r: Rubric) -> list[str]:
    out = []
    measured = {c: v for c, v in r.competencies.items() if v is not None and c != "speed"}
    if measured:
        weakest = min(measured, key=measured.get)
        if measured[weakest] < 0.8:
            out.append(f"{weakest} is your weakest competency ({measured[weakest]:.2f}).")
    lost: dict[str, float] = {}
    for s in scored:
        if s.shown and s.points < 0.8:
            for nb in s.notebook.replace(" ", "").split(","):
                for key in _notebook_keys(nb):
                    lost[key] = lost.get(key, 0.0) + s.weight * (1.0 - max(s.points, 0.0))
    for key, _ in sorted(lost.items(), key=lambda kv: -kv[1])[:3]:
        out.append(f"redo the exercises of notebooks/{NOTEBOOKS[key]}")
    speed = r.competencies.get("speed")
    if speed is not None and speed < 0.8:
        out.append(f"speed ({speed:.2f}): say the plan out loud first, write the shapes, then compute.")
    if any(s.hints >= 3 for s in scored):
        out.append("a third hint gives most of the answer away: re-drill those problems without hints.")
    return out


def _notebook_keys(text: str) -> list[str]:
    if "-" in text:
        a, b = text.split("-", 1)
        if a.isdigit() and b.isdigit():
            return [f"{i:02d}" for i in range(int(a), int(b) + 1) if f"{i:02d}" in NOTEBOOKS]
    return [text] if text in NOTEBOOKS else []
