"""Scoring like an interview, rule by rule, through the session the widget and the terminal both drive: hint
caps, wrong attempts, no guessing floor, late answers said out loud, partial credit for code, checklist
scores, weights, competencies and levels, quitting, the mock interview and its debrief."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from graders.drill import problems as P
from graders.drill import scoring
from graders.drill.history import History
from graders.drill.session import MOCK_MINUTES, MOCK_PLAN, DrillSession, mock_interview, mock_plan, rubric_level


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def _text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return ", ".join(f"{k}={float(x)!r}" for k, x in v.items())
    if np.ndim(v) == 0:
        return repr(float(v))
    return str(np.asarray(v, dtype=float).tolist())


def _session(family="vanishing", n=1, seed=0, **kw):
    return DrillSession([family], n, np.random.default_rng(seed), **kw)


# ------------------------------------------------------------------------------------------ per problem


def test_hint_caps_and_the_third_hint_is_well_below_lean_hire():
    assert [scoring.hint_cap(h) for h in range(4)] == [1.0, 0.9, 0.7, 0.3]
    assert scoring.hint_cap(3) <= 0.5 * scoring.RUBRIC[1][1]
    for hints, want in enumerate([1.0, 0.9, 0.7, 0.3]):
        s = _session()
        for _ in range(hints):
            assert "earns at most" in s.hint()
        assert s.submit(_text(s.current.problem.expected)).correct
        assert s.current.points() == want


def test_hints_after_the_final_answer_cost_nothing():
    s = _session()
    s.submit(_text(s.current.problem.expected))
    assert "cost nothing now" in s.hint() and s.current.points() == 1.0 and s.current.hints_used == 0
    p = P.generate("concept", np.random.default_rng(0))
    c = DrillSession(problems=[p])
    c.submit(p.expected)
    c.hint()
    assert c.current.points() == 1.0


def test_a_wrong_answer_before_the_right_one_costs():
    s = _session()
    assert not s.submit("12345").correct
    assert s.submit(_text(s.current.problem.expected)).correct
    assert s.current.points() == 0.75
    s = _session()
    for _ in range(2):
        s.submit("12345")
    s.submit(_text(s.current.problem.expected))
    assert s.current.points() == 0.5


def test_an_unreadable_answer_costs_nothing():
    s = _session()
    fb = s.submit("banana")
    assert fb.diagnosis == "FORMAT" and not fb.counts
    s.submit(_text(s.current.problem.expected))
    assert s.current.points() == 1.0


@pytest.mark.parametrize("family", ["concept", "find_the_bug"])
@pytest.mark.parametrize("seed", range(8))
def test_multiple_choice_has_no_guessing_floor(family, seed):
    """Blind guessing among the options is worth exactly 0 on average; one answer only."""
    p = P.generate(family, np.random.default_rng(seed))
    total = 0.0
    for letter in p.choices:
        s = DrillSession(problems=[p])
        s.submit(letter)
        again = s.submit(p.expected)
        assert not again.counts and "one answer only" in again.message
        total += s.current.points()
    assert total / len(p.choices) == pytest.approx(0.0, abs=1e-9)
    assert scoring.choice_penalty(len(p.choices)) < 0


def test_a_late_answer_is_told_and_capped_never_silently_halved():
    clock = FakeClock()
    s = _session(clock=clock)
    limit = s.current.problem.time_limit
    clock.t = limit - 1
    assert s.late_notice() is None
    clock.t = limit + 4
    note = s.late_notice()
    assert note and "Time is up" in note and "0.50" in note
    assert s.late_notice() is None  # said once
    fb = s.submit(_text(s.current.problem.expected))
    assert fb.correct and "after the time limit" in fb.message and "0.50" in fb.message
    assert s.current.points() == 0.5 and not s.current.in_time()


def test_code_scores_the_graders_partial_credit_minus_failed_checks():
    p = P.generate("code_affine", np.random.default_rng(0))
    s = DrillSession(problems=[p])
    s.record_code(P.Feedback(False, "half", score=0.5))
    assert s.current.points() == 0.5  # the final version scores its partial credit
    s.record_code(P.Feedback(False, "more", score=0.75))
    assert s.current.points() == pytest.approx(0.75 * 0.9)
    s.record_code(P.Feedback(True, "all", score=1.0))
    assert s.current.points() == pytest.approx(0.8)
    assert scoring.problem_points("coding", quality=1.0, answered=True, wrong_before=9) == scoring.CODING_FLOOR


def test_explanations_score_the_ticked_checklist_after_the_answer():
    p = P.generate("explain", np.random.default_rng(1))
    s = DrillSession(problems=[p])
    with pytest.raises(RuntimeError, match="answer first"):
        s.tick([0])
    fb = s.submit("my answer")
    assert "tick the points" in fb.message and all(k.text in fb.message for k in p.checklist)
    weights = [k.weight for k in p.checklist]
    points = s.tick([0, 1])
    assert points == pytest.approx(round((weights[0] + weights[1]) / sum(weights), 4))
    with pytest.raises(RuntimeError, match="already scored"):
        s.tick([2])
    s2 = DrillSession(problems=[p])
    s2.submit("")
    with pytest.raises(ValueError, match="does not exist"):
        s2.tick([len(p.checklist)])


def test_an_explanation_counts_as_solved_for_the_plan_from_75_percent(tmp_path):
    from graders.drill.session import EXPLANATION_PASS

    p = P.generate("explain", np.random.default_rng(6))
    weights = [k.weight for k in p.checklist]
    with History(tmp_path / "e.sqlite3") as h:
        for picks in (range(len(weights)), [0]):
            s = DrillSession(problems=[p], history=h)
            s.submit("")
            s.tick(picks)
            assert s.current.correct == (sum(weights[i] for i in picks) / sum(weights) >= EXPLANATION_PASS)
            s.next()
        assert [a.correct for a in h.attempts()] == [True, False]


def test_unsupported_ticks_are_pointed_out_in_the_debrief():
    p = P.generate("explain", np.random.default_rng(2))
    s = DrillSession(problems=[p])
    s.submit("I have no idea.")
    s.tick(list(range(len(p.checklist))))
    s.next()
    assert "ticked, but not in your written answer" in s.debrief()
    said = DrillSession(problems=[p])
    said.submit("")  # answered out loud: nothing to compare with
    said.tick([0])
    said.next()
    assert "ticked, but not in your written answer" not in said.debrief() and "not covered" in said.debrief()


# ------------------------------------------------------------------------------------------ the rubric


def _scored(points, competency="derivation", weight=1.0, in_time=True):
    return scoring.Scored("f", "F", "quick", competency, weight, points, in_time, answered=True)


def test_problems_are_weighted_by_interview_frequency_and_size():
    fam = P.FAMILIES
    assert fam["two_layer_dW1"].weight == 3 and fam["forward_trace"].weight == 1
    assert scoring.problem_weight(fam["code_affine"].weight, "coding") == 12.0
    assert scoring.problem_weight(fam["forward_trace"].weight, "quick") == 1.0
    r = scoring.rubric([_scored(1.0, weight=3.0), _scored(0.0, weight=1.0)])
    assert r.overall == 0.75


def test_the_rubric_is_reported_per_competency_and_gates_the_level():
    good = [_scored(0.9, "coding"), _scored(0.9, "derivation"), _scored(0.9, "explanation")]
    r = scoring.rubric(good)
    assert r.level == "Strong Hire" and r.competencies["coding"] == 0.9 and r.competencies["speed"] == 1.0
    weak = [_scored(1.0, "coding", 2), _scored(1.0, "derivation", 2), _scored(0.5, "explanation", 1)]
    r = scoring.rubric(weak)
    assert r.overall == 0.9 and r.level == "Lean Hire" and "explanation 0.50" in r.reasons[0]
    poor = [_scored(1.0, "coding", 3), _scored(0.1, "explanation", 1)]
    assert scoring.rubric(poor).level == "No Hire"
    slow = [_scored(1.0, "coding", in_time=False), _scored(1.0, "derivation", in_time=False)]
    assert scoring.rubric(slow).competencies["speed"] == 0.0 and scoring.rubric(slow).level == "No Hire"
    assert scoring.rubric([_scored(0.8)]).competencies["coding"] is None  # not measured, not gated
    assert rubric_level(0.8) == "Strong Hire" and rubric_level(0.79) == "Lean Hire" and rubric_level(0.59) == "No Hire"


def test_negative_choice_points_do_not_push_the_score_below_zero():
    assert scoring.rubric([_scored(-1 / 3)]).overall == 0.0


# ------------------------------------------------------------------------------------------ moving on


def test_quit_records_only_the_problem_that_was_worked_on(tmp_path):
    with History(tmp_path / "h.sqlite3") as h:
        s = DrillSession(["vanishing", "chain_rule", "vjp"], 3, np.random.default_rng(0), history=h)
        s.hint()
        s.quit()
        assert [a.family for a in h.attempts()] == ["vanishing"]  # never-shown problems are not recorded
        assert s.done and s.ended_early
        assert [p["shown"] for p in s.summary()["problems"]] == [True, False, False]
        assert "not reached" in s.debrief()
    with History(tmp_path / "h2.sqlite3") as h:
        s = DrillSession(["vanishing", "chain_rule"], 2, np.random.default_rng(0), history=h)
        s.quit()  # the shown problem was not touched: nothing is recorded
        assert h.attempts() == [] and len(h.sessions()) == 1


def test_skip_records_a_miss_and_moves_on(tmp_path):
    with History(tmp_path / "h.sqlite3") as h:
        s = DrillSession(["vanishing", "chain_rule"], 2, np.random.default_rng(0), history=h)
        s.next()
        assert [(a.family, a.correct, a.points) for a in h.attempts()] == [("vanishing", False, 0.0)]
        assert s.current.problem.family == "chain_rule"


def test_the_summary_and_debrief_use_titles_and_name_the_mistakes():
    s = _session("bptt_2step", seed=1)
    wrong = s.current.problem.mistakes["BPTT_NO_CARRY"]
    fb = s.submit(_text(wrong))
    assert fb.diagnosis == "BPTT_NO_CARRY"
    s.next()
    summary = s.summary()
    assert summary["problems"][0]["title"] == "Two-step BPTT gradient"
    text = s.debrief()
    assert "Two-step BPTT gradient" in text and "bptt_2step" not in text
    assert "[BPTT_NO_CARRY]" in text and "What to work on" in text and "06_bptt" in text


# ------------------------------------------------------------------------------------------ mock interview


def test_the_mock_plan_has_the_interview_shape():
    for seed in range(10):
        problems = mock_plan(np.random.default_rng(seed))
        kinds = [p.kind for p in problems]
        assert sorted(kinds).count("coding") == 1 and kinds.count("derivation") == 1
        assert kinds.count("explanation") == 2 and sum(k in ("quick", "choice") for k in kinds) == 2
        explained = [p.data["question"] for p in problems if p.kind == "explanation"]
        assert len(set(explained)) == 2
        assert [p.time_limit for p in problems] == [b for _, b in MOCK_PLAN]
    assert sum(b for _, b in MOCK_PLAN) <= MOCK_MINUTES * 60


def test_the_mock_interview_ends_when_its_45_minutes_are_over(tmp_path):
    clock = FakeClock()
    with History(tmp_path / "m.sqlite3") as h:
        s = mock_interview(np.random.default_rng(3), history=h, clock=clock)
        assert s.total_left() == MOCK_MINUTES * 60
        s.submit("some words")
        s.tick([0])
        s.next()
        clock.t = MOCK_MINUTES * 60 + 1
        assert s.time_up() and s.done
        summary = s.summary()
        assert [p["shown"] for p in summary["problems"]] == [True, True, False, False, False, False]
        text = s.debrief()
        assert text.startswith("Mock interview debrief") and text.count("not reached") == 4
        (rec,) = h.sessions()
        assert rec.mode == "mock" and rec.debrief == text and set(rec.competencies) == set(scoring.COMPETENCIES)
        assert {a.mode for a in h.attempts()} == {"mock"}


def test_a_mock_interview_played_well_is_a_strong_hire():
    from tests.test_drill_live_coding import RIGHT, _src

    clock = FakeClock()
    s = mock_interview(np.random.default_rng(5), clock=clock)
    while not s.done:
        st = s.current
        p = st.problem
        clock.t += 30
        if p.kind == "explanation":
            s.submit("out loud")
            s.tick(range(len(p.checklist)))
        elif p.kind == "coding":
            assert s.submit(_src(p.family)).correct, p.family
        elif p.kind == "derivation":
            answer = f"{p.data['shape']}: {p.data['solution']}" if p.family == "derive_matrix" else str(p.expected)
            assert s.submit(answer.replace("E", "exp(1)")).correct
        else:
            assert s.submit(_text(p.expected)).correct
        s.next()
    r = s.rubric()
    assert r.level == "Strong Hire" and r.overall == 1.0 and all(v == 1.0 for v in r.competencies.values())
    assert set(RIGHT) >= {p.problem.family for p in s.states if p.problem.kind == "coding"}


def test_session_input_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least one"):
        DrillSession([], 3, rng)
    with pytest.raises(ValueError, match="unknown families"):
        DrillSession(["nope"], 3, rng)
    with pytest.raises(ValueError, match="length"):
        DrillSession(["vjp"], 0, rng)
    s = _session()
    s.next()
    with pytest.raises(RuntimeError, match="over"):
        s.submit("1")
    p = P.generate("vjp", rng)
    with pytest.raises(ValueError, match="coding"):
        DrillSession(problems=[p]).record_code(P.Feedback(True, "x"))
    with pytest.raises(ValueError, match="explanation"):
        DrillSession(problems=[replace(p)]).tick([0])
