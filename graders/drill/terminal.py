"""The drill in a terminal: ``python -m graders.drill`` (see :func:`main` and ``--help``).

At the prompt: an answer, or ``hint``, ``skip`` (close this problem, it counts as missed), ``quit`` (end now;
problems never shown are not recorded), ``time`` (the clocks), ``help``. Live coding writes a stub file to edit
in any editor; ``check`` grades the file in a separate Python process with the notebook's grader (mistakes
named, partial credit) and ``done`` submits it. Explanations take several lines ended by an empty line (or
``said`` when the answer was given out loud), then show the checklist to tick. The prompt shows the time left
when it is printed; an answer that arrives after the limit is told so before it is judged.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from graders.drill import live_coding, schedule
from graders.drill import problems as P
from graders.drill.history import History, HistoryError
from graders.drill.session import MOCK_MINUTES, DrillSession, mock_interview, rubric_text

COMMANDS = "hint, skip, quit, time, help"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m graders.drill", description="Timed backprop interview drill.")
    ap.add_argument("--families", help="comma-separated family names (default: all; see --list)")
    ap.add_argument("-n", "--n", type=int, default=5, help="number of problems (1-50, default 5)")
    ap.add_argument("--mock", action="store_true", help=f"a full {MOCK_MINUTES}-minute mock interview: one coding, "
                                                        f"one derivation, two explanation and two quick problems")
    ap.add_argument("--db", help="history database path (default: $BACKPROP_DRILL_DB or the user data dir)")
    ap.add_argument("--seed", type=int, help="seed for reproducible problems")
    ap.add_argument("--no-schedule", action="store_true", help="ignore the spaced-repetition plan")
    ap.add_argument("--plan", action="store_true", help="print the spaced-repetition plan and exit")
    ap.add_argument("--list", action="store_true", help="list the problem families and exit")
    ap.add_argument("--workdir", default="drill_code", help="folder for live-coding files (default ./drill_code)")
    ap.add_argument("--debrief", help="also write the written debrief to this file")
    ap.add_argument("--grade-file", help=argparse.SUPPRESS)  # internal: grade a live-coding file, print JSON
    ap.add_argument("--family", help=argparse.SUPPRESS)
    return ap


def _clock(seconds: float) -> str:
    s = int(abs(seconds))
    return f"{s // 60}:{s % 60:02d}"


class _Terminal:
    def __init__(self, session: DrillSession, stdin, out, workdir: Path):
        self.s, self.stdin, self.out, self.workdir = session, stdin, out, workdir
        self.files: dict[int, Path] = {}
        self.checked_text: dict[int, str] = {}

    def say(self, *parts) -> None:
        print(*parts, file=self.out, flush=True)

    def ask(self, label: str | None = None) -> str | None:
        note = self.s.late_notice()
        if note:
            self.say(note)
        left = self.s.time_left()
        clock = f"{_clock(left)} left" if left >= 0 else f"{_clock(left)} over"
        total = self.s.total_left()
        if total is not None:
            clock += f", interview {_clock(max(total, 0))} left"
        self.out.write(f"[{clock}] {label or ''}> ")
        self.out.flush()
        line = self.stdin.readline()
        if not line:
            return None
        note = self.s.late_notice()  # the limit may have passed while the answer was typed
        if note:
            self.say(note)
        return line.rstrip("\n")

    # --------------------------------------------------------------------------------------- problems
    def show(self) -> None:
        s = self.s
        st = s.current
        p = st.problem
        self.say(f"\n--- Problem {s.index + 1}/{len(s.states)}: {p.title} (time limit {_clock(p.time_limit)}) ---")
        self.say(p.prompt)
        if p.kind == "coding":
            path = self.stub_file()
            self.say(f"\nYour file: {path}\nEdit it in any editor, then type `check` to grade it (as often as you "
                     f"like; each check that does not pass everything costs 0.1) and `done` to submit it.")
        elif p.kind == "explanation":
            self.say("\nType your answer (several lines; an empty line ends it), or `said` if you answered out "
                     "loud. The checklist comes after.")
        else:
            self.say(f"Answer format: {p.answer_format}")
        self.say(f"(commands: {COMMANDS}{', check, done' if p.kind == 'coding' else ''})")

    def stub_file(self) -> Path:
        i = self.s.index
        if i not in self.files:
            self.workdir.mkdir(parents=True, exist_ok=True)
            path = (self.workdir / f"{self.s.current.problem.family}_{self.s.id}_{i + 1}.py").resolve()
            path.write_text(self.s.current.problem.stub)
            self.files[i] = path
        return self.files[i]

    def run(self) -> None:
        self.say(textwrap.fill(rubric_text(), width=110))
        while not self.s.done:
            self.show()
            if not self.problem_loop():
                break
            if self.s.total_limit is not None and self.s.time_up():
                self.say(f"\nThe interview's {MOCK_MINUTES} minutes are over.")

    def common(self, cmd: str) -> str | None:
        """Handle a command shared by every kind; 'next'/'stop' when the problem or the drill ends."""
        c = cmd.strip().lower()
        if c == "hint":
            self.say(self.s.hint())
        elif c in ("skip", "next"):
            self.s.next()
            return "next"
        elif c == "quit":
            self.s.quit()
            return "stop"
        elif c == "time":
            total = self.s.total_left()
            self.say(f"This problem: {_clock(self.s.time_left())} {'left' if self.s.time_left() >= 0 else 'over'}"
                     + ("" if total is None else f"; interview: {_clock(max(total, 0))} left"))
        elif c == "help":
            self.say(__doc__.split("\n\n", 1)[1])
        else:
            return None
        return "handled"

    def problem_loop(self) -> bool:
        """Run the current problem until it is closed; False when the drill is over."""
        kind = self.s.current.problem.kind
        index = self.s.index
        while not self.s.done and self.s.index == index:
            if self.s.total_limit is not None and self.s.total_left() <= 0:
                return True
            line = self.ask()
            if line is None:  # end of input: stop as `quit` does
                self.s.quit()
                return False
            if self.s.total_limit is not None and self.s.total_left() <= 0:
                return True  # the interview ended while this was typed: it is not judged
            done = self.common(line)
            if done == "stop":
                return False
            if done in ("next", "handled"):
                continue
            if kind == "coding":
                self.coding(line)
            elif kind == "explanation":
                self.explanation(line)
            else:
                self.answer(line)
        return not self.s.done

    def answer(self, line: str) -> None:
        fb = self.s.submit(line)
        code = f" [{fb.diagnosis}]" if fb.diagnosis and fb.diagnosis != "FORMAT" else ""
        self.say(("✓ " if fb.correct else "✗ ") + fb.message + code)
        st = self.s.current
        if fb.correct or (st.problem.kind == "choice" and st.answered):
            self.say(f"Points for this problem: {st.points():.2f}")
            self.s.next()

    def coding(self, line: str) -> None:
        c = line.strip().lower()
        if c not in ("check", "done"):
            self.say("Type `check` to grade your file, `done` to submit it, or " + COMMANDS + ".")
            return
        st = self.s.current
        path = self.stub_file()
        text = path.read_text() if path.exists() else ""
        if c == "check" or self.checked_text.get(self.s.index) != text:
            if text.strip() == st.problem.stub.strip():
                self.say("This is still the untouched stub: write the functions first.")
            else:
                self.say("Grading (in a separate process)...")
                result = live_coding.grade_file(st.problem.family, path, st.problem.seed)
                self.checked_text[self.s.index] = text
                fb = self.s.record_code(result.feedback())
                if result.output.strip():
                    self.say("Your code printed:\n" + result.output.strip())
                self.say(("✓ " if fb.correct else "✗ ") + fb.message)
                self.say(f"Points if you submit now: {self.s.current.points():.2f}")
                if fb.correct:
                    self.s.next()
                    return
        if c == "done":
            self.say(f"Submitted: {self.s.current.points():.2f} points.")
            self.s.next()

    def explanation(self, first: str) -> None:
        lines = [] if first.strip().lower() == "said" else [first]
        if lines:
            while True:
                more = self.stdin.readline()
                if not more or not more.strip():
                    break
                lines.append(more.rstrip("\n"))
        fb = self.s.submit("\n".join(lines))
        self.say(fb.message)
        n = len(self.s.current.problem.checklist)
        while True:
            reply = self.ask("covered (numbers, or none)")
            if reply is None:
                self.s.quit()
                return
            if self.common(reply) in ("next", "stop"):
                return
            words = reply.replace(",", " ").split()
            if reply.strip().lower() == "none":
                words = []
            try:
                picks = [int(w) - 1 for w in words]
                points = self.s.tick(picks)
            except ValueError:
                self.say(f"Give the numbers of the points you covered, between 1 and {n} (e.g. `1 3`), or `none`.")
                continue
            self.say(f"Points for this explanation: {points:.2f}")
            self.s.next()
            return


def main(argv=None, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)

    def say(*parts):
        print(*parts, file=out, flush=True)

    if args.grade_file:
        if args.family not in live_coding.SPECS:
            say(f"error: --family must be one of {', '.join(live_coding.SPECS)}")
            return 2
        say(live_coding.grade_file_here(args.family, args.grade_file, args.seed or 0))
        return 0
    if args.list:
        for f in P.FAMILIES.values():
            say(f"{f.name:18s} {f.kind:12s} {f.title}")
        return 0
    families = list(P.FAMILIES)
    if args.families:
        families = [f.strip() for f in args.families.split(",") if f.strip()]
        unknown = [f for f in families if f not in P.FAMILIES]
        if unknown:
            say(f"error: unknown families {', '.join(unknown)} (see --list)")
            return 2
    if not 1 <= args.n <= 50:
        say("error: --n must be between 1 and 50")
        return 2
    try:
        history = History(args.db)
    except HistoryError as exc:
        say(f"error: {exc}")
        return 2
    with history:
        now = time.time()
        if args.plan:
            for s in schedule.plan(families, history.attempts(), now):
                when = "now" if s.is_due(now) else ("done" if s.due == float("inf") else
                                                    f"in {(s.due - now) / 86400:.1f} days")
                say(f"{s.family:18s} stage {s.stage}/5  due {when:14s} {s.reason} "
                    f"({s.attempts} attempts, {s.accuracy:.0%} correct)")
            return 0
        rng = np.random.default_rng(args.seed)
        if args.mock:
            session = mock_interview(rng, history=history)
            say(f"Full mock interview: {MOCK_MINUTES} minutes, 6 problems.")
        else:
            order = families if args.no_schedule else schedule.pick(families, history.attempts(), now,
                                                                    min(args.n, len(families)))
            session = DrillSession(order, args.n, rng, history=history)
        _Terminal(session, stdin, out, Path(args.workdir)).run()
        text = session.debrief()
        say("\n" + text)
        if args.debrief:
            Path(args.debrief).write_text(text + "\n")
            say(f"Debrief written to {args.debrief}")
        say(f"History saved to {history.path}")
    return 0
