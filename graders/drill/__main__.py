"""Terminal drill: ``python -m graders.drill [--families a,b] [--n 5] [--db PATH] [--plan] [--list]``.

At each problem type an answer, or ``hint``, ``skip`` (moves on), ``quit`` (ends the drill, unanswered
problems score 0). The time shown is per problem; going over its limit halves the credit.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from graders.drill import problems as P
from graders.drill import schedule
from graders.drill.history import History, HistoryError
from graders.drill.session import DrillSession, rubric_text


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m graders.drill", description="Timed backprop interview drill.")
    ap.add_argument("--families", help="comma-separated family names (default: all; see --list)")
    ap.add_argument("-n", "--n", type=int, default=5, help="number of problems (1-50, default 5)")
    ap.add_argument("--db", help="history database path (default: $BACKPROP_DRILL_DB or the user data dir)")
    ap.add_argument("--seed", type=int, help="seed for reproducible problems")
    ap.add_argument("--no-schedule", action="store_true", help="ignore the spaced-repetition plan")
    ap.add_argument("--plan", action="store_true", help="print the spaced-repetition plan and exit")
    ap.add_argument("--list", action="store_true", help="list the problem families and exit")
    return ap


def main(argv=None, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)

    def say(*parts):
        print(*parts, file=out, flush=True)

    if args.list:
        for f in P.FAMILIES.values():
            say(f"{f.name:16s} {f.title}")
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
                say(f"{s.family:16s} stage {s.stage}/5  due {when:14s} {s.reason} "
                    f"({s.attempts} attempts, {s.accuracy:.0%} correct)")
            return 0
        order = families if args.no_schedule else schedule.pick(families, history.attempts(), now,
                                                                min(args.n, len(families)))
        session = DrillSession(order, args.n, np.random.default_rng(args.seed), history=history)
        say(rubric_text())
        while not session.done:
            st = session.current
            say(f"\n--- Problem {session.index + 1}/{len(session.states)}: {st.problem.title} "
                f"(limit {st.problem.time_limit} s) ---\n{st.problem.prompt}\nAnswer format: {st.problem.answer_format}")
            while True:
                out.write(f"[{session.time_left():.0f} s left] > ")
                out.flush()
                line = stdin.readline()
                if not line:  # end of input: stop cleanly, unanswered problems score 0
                    while session.next() is not None:
                        pass
                    break
                cmd = line.strip()
                if cmd.lower() == "hint":
                    say(session.hint())
                elif cmd.lower() in ("skip", "next"):
                    session.next()
                    break
                elif cmd.lower() == "quit":
                    while session.next() is not None:
                        pass
                    break
                else:
                    fb = session.submit(cmd)
                    say(("✓ " if fb.correct else "✗ ") + fb.message +
                        (f" [{fb.diagnosis}]" if fb.diagnosis and fb.diagnosis != "FORMAT" else ""))
                    if fb.correct:
                        session.next()
                        break
        summary = session.summary()
        say(f"\nScore {summary['score']:.2f}: {summary['level']}")
        for p in summary["problems"]:
            say(f"  {p['family']:16s} {p['points']:.2f}  hints {p['hints']}  mistakes {', '.join(p['mistakes']) or '-'}")
        say(f"History saved to {history.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
