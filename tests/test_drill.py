"""Mock-interview drills, quick and choice problems: answers recomputed independently (finite differences,
plain NumPy), wrong answers rejected with the named mistake, the SQLite history (and its migration from
schema 1), spaced repetition. Scoring, the other problem kinds, the terminal and the widget have their own
test files (tests/test_drill_*.py)."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest
import sympy as sp

from graders import diagnoses
from graders.drill import problems as P
from graders.drill import schedule
from graders.drill.history import APPLICATION_ID, Attempt, History, HistoryError

SEEDS = range(12)
ANSWERED_BY_VALUE = [n for n, f in P.FAMILIES.items() if f.kind in ("quick", "choice")]
TYPED = [n for n, f in P.FAMILIES.items() if f.kind in ("quick", "choice", "derivation")]
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
        if d["kind"] == "sigmoid":  # the shrink factor: 1 / (the largest sigmoid slope) per layer
            z = np.linspace(-10, 10, 200001)
            s = 1 / (1 + np.exp(-z))
            return float(1 / np.max(s * (1 - s))) ** d["n"]
        return float(d["factor"]) ** d["n"]
    if p.family == "attention_memory":  # bytes of a (B, h, T, T) array of that dtype, counted by NumPy's dtype
        dtype = {2: np.float16, 4: np.float32}[d["bytes_per_value"]]
        return float(np.prod([d["B"], d["h"], d["T"], d["T"]], dtype=np.float64) * np.dtype(dtype).itemsize / 2 ** 30)
    if p.family == "concept":
        return "ABCD"[d["shown"].index(d["correct_option"])]
    if p.family == "find_the_bug":
        return "ABCDEFGH"[d["shown"].index(d["bug"])]
    raise AssertionError(f"no independent check for {p.family}")


def _text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return ", ".join(f"{k}={float(x)!r}" for k, x in v.items())
    if np.ndim(v) == 0:
        return repr(float(v))
    return str(np.asarray(v, dtype=float).tolist())


def test_every_kind_of_problem_exists():
    kinds = {f.kind for f in P.FAMILIES.values()}
    assert kinds == set(P.KINDS)
    assert len(P.by_kind("coding")) >= 5 and len(P.by_kind("derivation")) >= 2 and "find_the_bug" in P.FAMILIES
    for f in P.FAMILIES.values():
        assert f.competency in P.COMPETENCIES and f.weight in (1, 2, 3) and f.check is not None


@pytest.mark.parametrize("family", ANSWERED_BY_VALUE)
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


@pytest.mark.parametrize("family", ANSWERED_BY_VALUE)
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


@pytest.mark.parametrize("text", [None, "", "abc", "[1, 2", "import os", "1/0", "x=1", "[[1, 2], [3]]", "nan",
                                  "__import__('os')", "banana"])
def test_unreadable_answers_get_a_format_message_not_an_exception(text):
    for family in TYPED:
        fb = P.check_answer(P.generate(family, np.random.default_rng(0)), text)
        assert not fb.correct and fb.diagnosis == "FORMAT" and "Expected" in fb.message and not fb.counts


@pytest.mark.parametrize("family", [n for n, f in P.FAMILIES.items() if f.kind == "quick"])
def test_a_word_is_called_not_a_number(family):
    """The issue's 'banana' case: a non-numeric answer is never reported as 'rows of different lengths'."""
    p = P.generate(family, np.random.default_rng(1))
    fb = P.check_answer(p, "banana")
    assert fb.diagnosis == "FORMAT" and "different lengths" not in fb.message
    assert ("name=number" if isinstance(p.expected, dict) else "'banana' is not a number") in fb.message


def test_ragged_lists_are_called_ragged():
    p = P.generate("vjp", np.random.default_rng(0))
    fb = P.check_answer(p, "[[1, 2], [3]]")
    assert fb.diagnosis == "FORMAT" and "different lengths" in fb.message


def test_arithmetic_answers_are_accepted():
    for seed in range(6):
        p = P.generate("vanishing", np.random.default_rng(seed))
        n = p.data["n"]
        base = "4" if p.data["kind"] == "sigmoid" else f"{p.data['factor']}"
        assert P.check_answer(p, f"{base}^{n}").correct and P.check_answer(p, f"{base}**{n}").correct


def test_generate_rejects_unknown_family_and_bad_rng():
    with pytest.raises(KeyError, match="unknown problem family"):
        P.generate("nope", np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        P.generate("vjp", 0)


def test_problems_differ_between_seeds():
    for family in P.FAMILIES:
        drawn = [P.generate(family, np.random.default_rng(s)) for s in range(10)]
        if P.FAMILIES[family].kind == "coding":  # the same task, graded on fresh random inputs each time
            assert len({p.seed for p in drawn}) == 10, family
        else:
            assert len({p.prompt for p in drawn}) >= 3, family


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


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


_SCHEMA_V1 = """
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    family TEXT NOT NULL,
    correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
    seconds REAL NOT NULL CHECK (seconds >= 0),
    hints INTEGER NOT NULL DEFAULT 0,
    diagnosis TEXT,
    session TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_family_ts ON attempts (family, ts);
"""


def _v1_history(path):
    """A history file exactly as schema 1 (the previous release) wrote it."""
    con = sqlite3.connect(path)
    con.executescript(_SCHEMA_V1)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    con.executemany("INSERT INTO attempts (ts, family, correct, seconds, hints, diagnosis, session) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?)", [(1000.0, "vjp", 1, 12.5, 1, None, "old"),
                                              (2000.0, "batchnorm3", 0, 80.0, 0, "BN_MISSING_VAR_TERM", "old")])
    con.commit()
    con.close()


def test_a_schema_1_history_is_migrated_and_stays_readable(tmp_path):
    path = tmp_path / "old.sqlite3"
    _v1_history(path)
    with History(path) as h:
        old = h.attempts()
        assert [(a.family, a.correct, a.diagnosis, a.points, a.mode) for a in old] == [
            ("vjp", True, None, None, "drill"), ("batchnorm3", False, "BN_MISSING_VAR_TERM", None, "drill")]
        h.record(Attempt(3000.0, "explain", True, 200.0, 0, None, "new", 0.75, "explanation", 0, "mock"))
        assert h.sessions() == []
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()
    with History(path) as h:
        got = h.attempts()
        assert len(got) == 3 and got[-1].points == 0.75 and got[-1].mode == "mock"
        assert schedule.status("batchnorm3", got).reason.startswith("missed")  # the old rows still drive the plan


def test_an_unknown_older_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "odd.sqlite3"
    _v1_history(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 0")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="unknown drill-history schema"):
        History(path)
    assert path.read_bytes() == before


def test_sessions_are_recorded_with_their_debrief(tmp_path):
    from graders.drill.history import SessionRecord

    with History(tmp_path / "s.sqlite3") as h:
        h.record_session(SessionRecord("abc", 5.0, "mock", 0.7, "Lean Hire", {"coding": 0.5, "speed": None}, "text"))
        assert h.sessions() == [SessionRecord("abc", 5.0, "mock", 0.7, "Lean Hire", {"coding": 0.5, "speed": None},
                                              "text")]


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
