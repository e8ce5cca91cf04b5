"""The terminal drill with scripted input: answers, hints, the time told (never a stale clock and silent half
credit), quit and skip, live coding with a stub file and a check command, explanations with a checklist, the
mock interview, and one run inside tmux as a candidate sees it."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graders.drill import problems as P
from graders.drill.history import History
from graders.drill.session import DrillSession
from graders.drill.terminal import _Terminal, main
from tests.test_drill_live_coding import _src

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


class Script:
    """stdin for the terminal: each line may first run an action (write a file, move the clock)."""

    def __init__(self, *items):
        self.items = list(items)

    def readline(self) -> str:
        while self.items:
            item = self.items.pop(0)
            if callable(item):
                item()
                continue
            return item + "\n"
        return ""


def _run(session, *items, workdir=None):
    out = io.StringIO()
    _Terminal(session, Script(*items), out, Path(workdir or "/tmp")).run()
    return out.getvalue()


def _expected_text(p) -> str:
    v = p.expected
    return repr(float(v)) if np.ndim(v) == 0 else str(np.asarray(v, dtype=float).tolist())


def test_terminal_drill_end_to_end(tmp_path):
    db = tmp_path / "t.sqlite3"
    p = P.generate("vanishing", np.random.default_rng(0))  # the same seed gives the same first problem
    out = io.StringIO()
    rc = main(["--families", "vanishing", "--n", "2", "--seed", "0", "--db", str(db)],
              stdin=io.StringIO(f"hint\n{_expected_text(p)}\nskip\n"), stdout=out)
    text = out.getvalue()
    assert rc == 0 and "Hint 1" in text and "✓ Correct" in text and "Points for this problem: 0.90" in text
    assert "Drill debrief" in text and "Vanishing/exploding gradient estimate: 0.90" in text
    with History(db) as h:
        assert [a.correct for a in h.attempts()] == [True, False] and len(h.sessions()) == 1


def test_a_word_gets_a_word_message():
    text = _run(DrillSession(["vjp"], 1, np.random.default_rng(0)), "banana", "quit")
    assert "'banana' is not a number" in text and "different lengths" not in text


def test_the_time_limit_is_said_before_a_late_answer_is_judged():
    clock = FakeClock()
    s = DrillSession(["vanishing"], 1, np.random.default_rng(0), clock=clock)
    limit = s.current.problem.time_limit

    def late():
        clock.t = limit + 4  # the candidate typed for a while after the prompt was printed

    text = _run(s, "hint", late, _expected_text(s.current.problem))
    assert f"[{limit // 60}:{limit % 60:02d} left]" in text
    note = text.index("Time is up for this problem")
    verdict = text.index("✓ Correct")
    assert note < verdict and "after the time limit" in text[verdict:] and "0.50" in text[verdict:]
    assert "Points for this problem: 0.50" in text


def test_the_prompt_shows_time_over_once_past_the_limit():
    clock = FakeClock()
    s = DrillSession(["vanishing"], 1, np.random.default_rng(0), clock=clock)

    def late():
        clock.t = s.current.problem.time_limit + 64

    text = _run(s, late, "time", "quit")
    assert "1:04 over" in text and "Time is up" in text


def test_quit_records_only_what_was_worked_on(tmp_path):
    with History(tmp_path / "q.sqlite3") as h:
        _run(DrillSession(["vanishing", "vjp"], 2, np.random.default_rng(0), history=h), "quit")
        assert h.attempts() == []
        _run(DrillSession(["vanishing", "vjp"], 2, np.random.default_rng(0), history=h), "12345", "quit")
        assert [a.family for a in h.attempts()] == ["vanishing"]


def test_end_of_input_stops_like_quit(tmp_path):
    with History(tmp_path / "e.sqlite3") as h:
        s = DrillSession(["vanishing", "vjp"], 2, np.random.default_rng(0), history=h)
        _run(s)
        assert s.done and h.attempts() == []


def test_live_coding_stub_file_check_and_done(tmp_path):
    s = DrillSession(["code_affine"], 1, np.random.default_rng(0))
    term_out = io.StringIO()
    term = _Terminal(s, None, term_out, tmp_path)
    right = _src("code_affine")

    def write(text):
        return lambda: term.stub_file().write_text(text)

    term.stdin = Script("check", write(right.replace("x.T @ dout", "dout.T @ x")), "check", write(right), "check")
    term.run()
    text = term_out.getvalue()
    path = next(tmp_path.glob("code_affine_*.py"))
    assert f"Your file: {path}" in text and "untouched stub" in text
    assert "[MISSING_TRANSPOSE]" in text and "Score 0.70 of 1" in text and "Points if you submit now: 0.70" in text
    assert "✓ affine forward/backward: all 6 checks passed." in text and "Points if you submit now: 0.90" in text
    assert s.done and s.current.points() == 0.9


def test_live_coding_done_submits_partial_code(tmp_path):
    s = DrillSession(["code_rnn_step"], 1, np.random.default_rng(0))
    term_out = io.StringIO()
    term = _Terminal(s, None, term_out, tmp_path)
    wrong = _src("code_rnn_step").replace("(1 - h ** 2)", "(1 - h)")
    term.stdin = Script(lambda: term.stub_file().write_text(wrong), "done")
    term.run()
    text = term_out.getvalue()
    assert "[TANH_DERIVATIVE]" in text and "Submitted:" in text
    assert 0 < s.states[0].points() < 1 and s.states[0].wrong_before == 0


def test_explanation_flow(tmp_path):
    p = P.generate("explain", np.random.default_rng(4))
    s = DrillSession(problems=[p])
    text = _run(s, "Reverse mode gives every partial derivative in one backward pass.", "It stores activations.",
                "", "x", "1 2")
    assert "Now tick the points" in text and "Give the numbers" in text and "Points for this explanation" in text
    assert s.states[0].ticked == (0, 1) and "one backward pass" in s.states[0].text
    s2 = DrillSession(problems=[p])
    _run(s2, "said", "none")
    assert s2.states[0].answered and s2.states[0].points() == 0.0


def test_mock_interview_from_the_command_line(tmp_path):
    out = io.StringIO()
    rc = main(["--mock", "--seed", "1", "--db", str(tmp_path / "m.sqlite3"), "--workdir", str(tmp_path / "code"),
               "--debrief", str(tmp_path / "debrief.txt")], stdin=io.StringIO("said\n1\nskip\nquit\n"), stdout=out)
    text = out.getvalue()
    assert rc == 0 and "Full mock interview: 45 minutes" in text and "Mock interview debrief" in text
    assert (tmp_path / "debrief.txt").read_text().startswith("Mock interview debrief")


def test_the_mock_interview_ends_when_its_time_is_over_in_the_terminal(tmp_path):
    from graders.drill.session import mock_interview

    clock = FakeClock()
    s = mock_interview(np.random.default_rng(2), clock=clock)

    def over():
        clock.t = 45 * 60 + 5

    text = _run(s, "said", "1 2", over, "an answer typed too late", workdir=tmp_path)
    assert "The interview's 45 minutes are over." in text and s.done
    assert [p["shown"] for p in s.summary()["problems"]] == [True, True, False, False, False, False]
    assert not s.states[1].touched  # the late answer was not judged


def test_grade_file_prints_one_json_line(tmp_path):
    f = tmp_path / "a.py"
    f.write_text(_src("code_affine"))
    done = subprocess.run([sys.executable, "-m", "graders.drill", "--grade-file", str(f), "--family", "code_affine",
                           "--seed", "3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout.strip().splitlines()[-1])["score"] == 1.0
    bad = subprocess.run([sys.executable, "-m", "graders.drill", "--grade-file", str(f), "--family", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--family must be one of" in bad.stdout


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


# ------------------------------------------------------------------------------------------ tmux


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_terminal_drill_in_tmux(tmp_path):
    """A real terminal: the drill runs in a tmux pane, keys are typed into it, and the screen is read back."""
    sock = str(tmp_path / "tmux.sock")
    p = P.generate("vanishing", np.random.default_rng(7))
    cmd = (f"cd {ROOT} && {sys.executable} -m graders.drill --families vanishing --n 1 --seed 7 "
           f"--db {tmp_path / 'h.sqlite3'} --no-schedule; echo DRILL-EXITED; sleep 30")
    tmux = ["tmux", "-S", sock]
    subprocess.run(tmux + ["new-session", "-d", "-x", "160", "-y", "50", "-s", "drill", cmd], check=True, timeout=30)
    try:
        def screen() -> str:
            return subprocess.run(tmux + ["capture-pane", "-p", "-J", "-S", "-200", "-t", "drill"], capture_output=True,
                                  text=True, timeout=30).stdout

        def wait_for(text: str, timeout: float = 90.0) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                s = screen()
                if text in s:
                    return s
                time.sleep(0.2)
            raise AssertionError(f"{text!r} never appeared on the screen:\n{screen()}")

        wait_for("left] >")
        for keys in ("banana", "hint", _expected_text(p)):
            subprocess.run(tmux + ["send-keys", "-t", "drill", keys, "Enter"], check=True, timeout=30)
            time.sleep(0.3)
        s = wait_for("DRILL-EXITED")
        assert "'banana' is not a number" in s and "Hint 1 (this problem now earns at most 0.90)" in s
        assert "✓ Correct" in s and "Drill debrief" in s and "Overall 0.90" in s
        (tmp_path / "screen.txt").write_text(s)
    finally:
        subprocess.run(tmux + ["kill-server"], timeout=30)
