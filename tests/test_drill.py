"""Mock-interview drills: answers recomputed independently (finite differences, plain NumPy), wrong answers
rejected with the named mistake, the session's scoring and rubric, SQLite history, spaced repetition, the
widget driven from Python, and the terminal drill."""

from __future__ import annotations

import io
import math
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from graders import diagnoses
from graders.drill import problems as P
from graders.drill import schedule
from graders.drill.history import Attempt, History, HistoryError
from graders.drill.session import DrillSession, rubric_level

SEEDS = range(12)
H = 1e-6


def _fd(f, x, h=H):
    """Centred difference of a scalar function of one float."""
    return (f(x + h) - f(x - h)) / (2 * h)


def _fd_grad(f, v):
    v = np.array(v, dtype=np.float64)
    g = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        e = np.zeros_like(v)
        e[i] = H
        g[i] = (f(v + e) - f(v - e)) / (2 * H)
    return g


def _independent(p: P.Problem):
    """The answer recomputed without the generator's method."""
    d = p.data
    if p.family == "chain_rule":
        f = sp.lambdify(sp.Symbol("x"), sp.sympify(d["f"]), "math")
        return _fd(f, d["x0"])
    if p.family == "graph_fanout":
        f = sp.lambdify(sp.symbols("x y z"), sp.sympify(d["f"]), "math")
        pt = [d["point"][n] for n in "xyz"]
        g = _fd_grad(lambda v: f(*v), pt)
        return dict(zip("xyz", g))
    if p.family == "two_layer_dW1":
        x, W2, y = d["x"], d["W2"], d["y"]

        def loss(W1):
            s = np.maximum(x @ W1, 0) @ W2
            return -(s[y] - np.log(np.exp(s).sum()))
        return _fd_grad(loss, d["W1"])[d["i"], d["j"]]
    if p.family == "jacobian":
        x, y = sp.symbols("x y")
        F = sp.lambdify((x, y), sp.sympify(d["F"]), "math")
        a, b = d["point"]
        return np.array([[(F(a + H, b)[k] - F(a - H, b)[k]) / (2 * H), (F(a, b + H)[k] - F(a, b - H)[k]) / (2 * H)]
                         for k in range(2)])
    if p.family == "forward_trace":
        a, b = d["x1"], d["x2"]
        f = lambda u, v: u * v + math.sin(u)  # noqa: E731
        der = _fd(lambda t: f(t, b), a) if d["wrt"] == 0 else _fd(lambda t: f(a, t), b)
        return np.array([f(a, b), der])
    if p.family == "vjp":
        return _fd_grad(lambda v: d["u"] @ np.tanh(d["W"] @ v), d["x"])
    if p.family == "bptt_2step":
        def L(w, u):
            h1 = math.tanh(w * d["h0"] + u * d["x1"])
            return math.tanh(w * h1 + u * d["x2"])
        return _fd(lambda t: L(t, d["u"]), d["w"]) if d["wrt"] == "w" else _fd(lambda t: L(d["w"], t), d["u"])
    if p.family == "batchnorm3":
        def f(x):
            xhat = (x - x.mean()) / np.sqrt(x.var() + 1e-5)
            return np.sum(d["dout"] * d["gamma"] * xhat)
        return _fd_grad(f, d["x"])
    if p.family == "vanishing":
        z = np.linspace(-10, 10, 200001)
        s = 1 / (1 + np.exp(-z))
        per_layer = np.max(s * (1 - s)) if d["kind"] == "sigmoid" else d["factor"]
        return float(per_layer) ** d["n"]
    if p.family == "concept":
        return "ABCD"[d["shown"].index(d["correct_option"])]
    if p.family == "find_the_bug":
        return "ABCD"[d["shown"].index(d["bug"])]
    raise AssertionError(f"no independent check for {p.family}")


def _text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return ", ".join(f"{k}={float(x)!r}" for k, x in v.items())
    if np.ndim(v) == 0:
        return repr(float(v))
    return str(np.asarray(v, dtype=float).tolist())


def test_at_least_ten_families_plus_find_the_bug():
    assert len(P.FAMILIES) >= 11 and "find_the_bug" in P.FAMILIES and "concept" in P.FAMILIES


@pytest.mark.parametrize("family", list(P.FAMILIES))
@pytest.mark.parametrize("seed", SEEDS)
def test_generated_answer_is_correct_independently(family, seed):
    p = P.generate(family, np.random.default_rng(seed))
    truth = _independent(p)
    if isinstance(truth, str):
        assert p.expected == truth
    elif isinstance(truth, dict):
        for k in truth:
            assert p.expected[k] == pytest.approx(truth[k], rel=1e-6, abs=1e-7)
    else:
        np.testing.assert_allclose(p.expected, truth, rtol=1e-6, atol=1e-7)
    assert P.check_answer(p, _text(truth)).correct


@pytest.mark.parametrize("family", list(P.FAMILIES))
@pytest.mark.parametrize("seed", SEEDS)
def test_wrong_answers_are_rejected_and_known_mistakes_named(family, seed):
    p = P.generate(family, np.random.default_rng(seed))
    exp = p.expected
    if isinstance(exp, str):
        for letter in p.choices:
            if letter != exp:
                assert not P.check_answer(p, letter).correct
    elif isinstance(exp, dict):
        for k in exp:
            wrong = dict(exp)
            wrong[k] = exp[k] + 0.5
            assert not P.check_answer(p, _text(wrong)).correct
    else:
        for wrong in (np.asarray(exp) * 1.1 + 0.01, np.asarray(exp) * 0.9 - 0.05):
            assert not P.check_answer(p, _text(wrong)).correct
    for code, variants in p.mistakes.items():
        assert code in diagnoses.CATALOGUE, f"{family} uses unknown diagnosis {code}"
        for w in variants if isinstance(variants, list) else [variants]:
            if callable(w) or P._close(w, exp):
                continue
            fb = P.check_answer(p, _text(w))
            same = [c for c, vs in p.mistakes.items() for x in (vs if isinstance(vs, list) else [vs])
                    if not callable(x) and P._close(x, w)]
            assert not fb.correct and fb.diagnosis in same, (family, code, fb)


def test_fanout_overwrite_is_named():
    for seed in range(40):
        p = P.generate("graph_fanout", np.random.default_rng(seed))
        multi = [n for n in "xyz" if len(p.data["per_use"][n]) > 1
                 and not any(P._close(g, p.expected[n]) for g in p.data["per_use"][n])]
        if multi:
            n = multi[0]
            wrong = dict(p.expected)
            wrong[n] = p.data["per_use"][n][-1]
            fb = P.check_answer(p, _text(wrong))
            assert not fb.correct and fb.diagnosis == "OVERWRITE_NOT_ACCUMULATE"
            return
    raise AssertionError("no fan-out problem found")


@pytest.mark.parametrize("text", [None, "", "abc", "[1, 2", "import os", "1/0", "x=1", "[[1, 2], [3]]", "nan"])
def test_unreadable_answers_get_a_format_message_not_an_exception(text):
    for family in P.FAMILIES:
        fb = P.check_answer(P.generate(family, np.random.default_rng(0)), text)
        assert not fb.correct and fb.diagnosis == "FORMAT" and "Expected" in fb.message


def test_arithmetic_answers_are_accepted():
    p = P.generate("vanishing", np.random.default_rng(0))
    n = p.data["n"]
    base = "0.25" if p.data["kind"] == "sigmoid" else f"{p.data['factor']}"
    assert P.check_answer(p, f"{base}^{n}").correct and P.check_answer(p, f"{base}**{n}").correct


def test_generate_rejects_unknown_family_and_bad_rng():
    with pytest.raises(KeyError, match="unknown problem family"):
        P.generate("nope", np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        P.generate("vjp", 0)


def test_problems_differ_between_seeds():
    for family in P.FAMILIES:
        prompts = {P.generate(family, np.random.default_rng(s)).prompt for s in range(10)}
        assert len(prompts) >= 3, family


# ------------------------------------------------------------------------------------------ session


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def test_session_scoring_hints_time_and_rubric(tmp_path):
    clock = FakeClock()
    s = DrillSession(["vanishing"], 4, np.random.default_rng(0), clock=clock)
    # 1: correct fast, no hints -> 1
    assert s.submit(_text(s.current.problem.expected)).correct
    s.next()
    # 2: three hints, correct -> 1 - 2 * 0.15 = 0.7
    for _ in range(3):
        s.hint()
    clock.t += 5
    assert s.submit(_text(s.current.problem.expected)).correct
    s.next()
    # 3: correct but over time -> 0.5
    clock.t += s.current.problem.time_limit + 1
    assert s.submit(_text(s.current.problem.expected)).correct
    s.next()
    # 4: wrong then skipped -> 0
    assert not s.submit("12345").correct
    assert s.next() is None and s.done
    pts = [st.points() for st in s.states]
    assert pts == [1.0, 0.7, 0.5, 0.0]
    assert s.score() == pytest.approx(0.55) and s.summary()["level"] == "No Hire"
    assert rubric_level(0.8) == "Strong Hire" and rubric_level(0.79) == "Lean Hire" and rubric_level(0.6) == \
        "Lean Hire" and rubric_level(0.59) == "No Hire"
    with pytest.raises(RuntimeError, match="over"):
        s.submit("1")


def test_session_input_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least one"):
        DrillSession([], 3, rng)
    with pytest.raises(ValueError, match="unknown families"):
        DrillSession(["nope"], 3, rng)
    with pytest.raises(ValueError, match="length"):
        DrillSession(["vjp"], 0, rng)


# ------------------------------------------------------------------------------------------ history


def test_history_survives_a_restart(tmp_path):
    path = tmp_path / "sub" / "h.sqlite3"
    with History(path) as h:
        h.record(Attempt(1000.0, "vjp", True, 12.5, 1, None, "s1"))
        h.record(Attempt(2000.0, "bptt_2step", False, 30.0, 0, "BPTT_NO_CARRY", "s1"))
    with History(path) as h:
        got = h.attempts()
    assert [(a.family, a.correct, a.diagnosis) for a in got] == [("vjp", True, None),
                                                                 ("bptt_2step", False, "BPTT_NO_CARRY")]


def test_history_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_DRILL_DB", str(tmp_path / "env.sqlite3"))
    with History() as h:
        assert h.path == tmp_path / "env.sqlite3"
    assert (tmp_path / "env.sqlite3").exists()


@pytest.mark.parametrize("content", [b"not a database at all", b"SQLite format 3\x00" + b"\xff" * 600])
def test_corrupt_history_gives_a_clear_error_and_is_not_overwritten(tmp_path, content):
    path = tmp_path / "h.sqlite3"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match="left untouched|cannot be read|damaged"):
        History(path)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="another program"):
        History(path)
    assert path.read_bytes() == before


# ------------------------------------------------------------------------------------------ schedule

DAY = schedule.DAY


def _a(day, correct, family="vjp"):
    return Attempt(day * DAY, family, correct, 10.0)


def test_checkpoints_day_0_3_7_14_21():
    hist = [_a(0, True)]
    assert schedule.status("vjp", hist).due == 3 * DAY
    hist.append(_a(1, True))  # before the day-3 checkpoint: does not advance
    assert schedule.status("vjp", hist).stage == 1
    hist.append(_a(3, True))
    assert schedule.status("vjp", hist).due == 7 * DAY
    hist += [_a(7, True), _a(14, True)]
    assert schedule.status("vjp", hist).due == 21 * DAY
    hist.append(_a(21.5, True))
    assert schedule.status("vjp", hist).due == float("inf")


def test_missed_family_comes_back_early():
    hist = [_a(0, True), _a(3, True), _a(4, False)]  # next checkpoint day 7, but missed on day 4
    st = schedule.status("vjp", hist)
    assert st.due == 5 * DAY and st.reason.startswith("missed")


def test_pick_puts_due_missed_first_then_new_then_later():
    hist = [_a(0, True, "vjp"), _a(0, False, "jacobian"), _a(0, True, "concept")]
    now = 2 * DAY
    picked = schedule.pick(["vjp", "jacobian", "concept", "bptt_2step"], hist, now, 4)
    assert picked[0] == "jacobian" and picked[1] == "bptt_2step" and set(picked[2:]) == {"vjp", "concept"}
    with pytest.raises(ValueError):
        schedule.pick(["vjp"], hist, now, 0)


# ------------------------------------------------------------------------------------------ widget


def test_widget_driven_from_python(tmp_path):
    from graders.drill.widget import DrillUI, progress_figure

    clock = FakeClock(100.0)
    ui = DrillUI(history_path=tmp_path / "h.sqlite3", seed=3, clock=clock, start_timer=False)
    ui.families.value = ("vanishing", "concept")
    ui.length.value = 2
    ui.start_button.click()
    assert ui.session is not None and "Problem 1 of 2" in ui.prompt.value
    first_timer = ui.timer.value
    clock.t += 7
    ui.tick()
    assert ui.timer.value != first_timer and "left" in ui.timer.value
    ui.answer.value = "definitely wrong"
    ui.check_button.click()
    assert "Could not read" in ui.feedback.value or "Not" in ui.feedback.value
    ui.hint_button.click()
    assert "Hint 1" in ui.feedback.value
    ui.answer.value = _text(ui.session.current.problem.expected)
    ui.check_button.click()
    assert "Correct" in ui.feedback.value
    ui.next_button.click()
    assert "Problem 2 of 2" in ui.prompt.value
    ui.answer.value = _text(ui.session.current.problem.expected)
    ui.check_button.click()
    ui.next_button.click()
    assert ui.session.done and "Score" in ui.summary.value and ("Hire" in ui.summary.value)
    assert len(ui.history.attempts()) == 2
    fig = progress_figure(ui.history)
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_widget_reports_a_corrupt_history_without_crashing(tmp_path):
    from graders.drill.widget import DrillUI

    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"garbage")
    ui = DrillUI(history_path=path, seed=0, start_timer=False)
    assert ui.history is None and "left untouched" in ui.status.value
    ui.families.value = ("vjp",)
    ui.start_button.click()  # drilling still works, nothing is written
    assert ui.session is not None and path.read_bytes() == b"garbage"


# ------------------------------------------------------------------------------------------ terminal


def test_terminal_drill_end_to_end(tmp_path):
    from graders.drill.__main__ import main

    db = tmp_path / "t.sqlite3"
    p = P.generate("vanishing", np.random.default_rng(0))  # the same seed gives the same first problem
    out = io.StringIO()
    rc = main(["--families", "vanishing", "--n", "2", "--seed", "0", "--db", str(db)],
              stdin=io.StringIO(f"hint\n{_text(p.expected)}\nskip\n"), stdout=out)
    text = out.getvalue()
    assert rc == 0 and "Hint 1" in text and "✓ Correct" in text and "Score 0.50" in text
    with History(db) as h:
        assert [a.correct for a in h.attempts()] == [True, False]


def test_terminal_drill_refuses_a_corrupt_history(tmp_path):
    db = tmp_path / "bad.sqlite3"
    db.write_bytes(b"junk")
    done = subprocess.run([sys.executable, "-m", "graders.drill", "--db", str(db), "--n", "1"], input="",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "left untouched" in done.stdout and db.read_bytes() == b"junk"


def test_terminal_plan_and_list(tmp_path):
    done = subprocess.run([sys.executable, "-m", "graders.drill", "--db", str(tmp_path / "x.sqlite3"), "--plan"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "new: never drilled" in done.stdout
    done = subprocess.run([sys.executable, "-m", "graders.drill", "--list"], capture_output=True, text=True,
                          timeout=120)
    assert all(f in done.stdout for f in P.FAMILIES)
