"""The drill and the mock interview as ipywidgets, with a ``%%drill_code`` cell for live coding.

``DrillUI(...).widget`` is the box to display. Pick a drill (families, length, optionally ordered by the
spaced-repetition plan) or a 45-minute mock interview, then answer each problem in the way its kind asks:

- quick, choice and derivation problems: the answer box (Enter or **Check** submits);
- explanations: write (or say) the answer, **Show the checklist**, tick what you covered, **Score**;
- live coding: a notebook code cell that starts with ``%%drill_code``. Running it with nothing but comments
  loads the stub into the cell; running it with code grades the code in a namespace of its own with the
  notebook's grader and shows the result (and the timer) under the cell.

The countdown runs as an asyncio task on the kernel's event loop, so the kernel stays responsive;
:meth:`DrillUI.tick` is what it calls and tests drive it directly. Widgets carry CSS classes (``drill-mode``,
``drill-families``, ``drill-length``, ``drill-plan``, ``drill-start``, ``drill-timer``, ``drill-prompt``, ``drill-answer``,
``drill-check``, ``drill-hint``, ``drill-next``, ``drill-quit``, ``drill-feedback``, ``drill-explain-text``,
``drill-reveal``, ``drill-checklist``, ``drill-score``, ``drill-summary``) so that a browser test can find them.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from typing import Callable

import ipywidgets as W
import numpy as np

from graders.drill import problems as P
from graders.drill import schedule
from graders.drill.history import History, HistoryError
from graders.drill.progress import progress_figure  # noqa: F401 - the notebook imports it from here
from graders.drill.session import MOCK_MINUTES, DrillSession, mock_interview, rubric_text

TICK_SECONDS = 0.5
MAGIC = "drill_code"


def _fmt_time(seconds: float) -> str:
    s = int(abs(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _esc(text: str) -> str:
    return html.escape(str(text))


class DrillUI:
    def __init__(self, *, history_path=None, seed: int | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, start_timer: bool = True, register_magic: bool = True):
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = np.random.default_rng(seed)
        self.start_timer = start_timer
        self.session: DrillSession | None = None
        self._task: asyncio.Task | None = None
        self.history: History | None = None
        self.history_error: str | None = None
        try:
            self.history = History(history_path)
        except HistoryError as exc:
            self.history_error = str(exc)
        self._build()
        if register_magic:
            self._register_magic()

    # ------------------------------------------------------------------------------- layout
    def _build(self) -> None:
        def cls(widget, name):
            widget.add_class(name)
            return widget

        names = list(P.FAMILIES)
        self.mode = cls(W.ToggleButtons(options=[("Drill", "drill"), (f"Mock interview ({MOCK_MINUTES} min)", "mock")],
                                        value="drill", description="Mode", style={"button_width": "210px"}),
                        "drill-mode")
        self.families = cls(W.SelectMultiple(options=[(P.FAMILIES[n].title, n) for n in names], value=tuple(names),
                                             rows=min(12, len(names)), description="Families",
                                             layout=W.Layout(width="620px")), "drill-families")
        self.length = cls(W.IntSlider(value=5, min=1, max=20, description="Problems"), "drill-length")
        self.use_schedule = cls(W.Checkbox(value=True, indent=False, layout=W.Layout(width="auto"),
                                           description="Let the spaced-repetition plan choose the order"), "drill-plan")
        self.start_button = cls(W.Button(description="Start", button_style="primary"), "drill-start")
        self.setup_box = W.VBox([self.families, self.length, self.use_schedule])
        self.timer = cls(W.HTML(""), "drill-timer")
        self.prompt = cls(W.HTML(""), "drill-prompt")
        self.answer = cls(W.Text(placeholder="your answer (Enter submits)", layout=W.Layout(width="520px")),
                          "drill-answer")
        self.answer.on_msg(self._on_text_msg)
        self.check_button = cls(W.Button(description="Check", button_style="success"), "drill-check")
        self.answer_row = W.HBox([self.answer, self.check_button])
        self.explain_text = cls(W.Textarea(placeholder="your answer (or leave empty if you said it out loud)",
                                           layout=W.Layout(width="620px", height="140px")), "drill-explain-text")
        self.reveal_button = cls(W.Button(description="Show the checklist"), "drill-reveal")
        self.checklist = cls(W.VBox([]), "drill-checklist")
        self.score_button = cls(W.Button(description="Score my answer", button_style="success"), "drill-score")
        self.explain_box = W.VBox([self.explain_text, self.reveal_button, self.checklist, self.score_button])
        self.code_help = W.HTML("")
        self.hint_button = cls(W.Button(description="Hint"), "drill-hint")
        self.next_button = cls(W.Button(description="Next"), "drill-next")
        self.quit_button = cls(W.Button(description="End now"), "drill-quit")
        self.feedback = cls(W.HTML(""), "drill-feedback")
        self.summary = cls(W.HTML(""), "drill-summary")
        self.status = W.HTML(_esc(self.history_error) if self.history_error else "")
        self._ticks: list[W.Checkbox] = []

        self.mode.observe(lambda change: self._mode_changed(), names="value")
        self.start_button.on_click(lambda _: self.start())
        self.check_button.on_click(lambda _: self.check())
        self.hint_button.on_click(lambda _: self.hint())
        self.next_button.on_click(lambda _: self.next())
        self.quit_button.on_click(lambda _: self.quit())
        self.reveal_button.on_click(lambda _: self.reveal())
        self.score_button.on_click(lambda _: self.score_explanation())
        self.problem_box = W.VBox([self.timer, self.prompt, self.answer_row, self.explain_box, self.code_help,
                                   W.HBox([self.hint_button, self.next_button, self.quit_button]), self.feedback])
        self.problem_box.layout.display = "none"
        self.widget = W.VBox([W.HTML(f"<p style='max-width:900px'>{_esc(rubric_text())}</p>"), self.mode,
                              self.setup_box, self.start_button, self.status, self.problem_box, self.summary])

    def _mode_changed(self) -> None:
        self.setup_box.layout.display = "none" if self.mode.value == "mock" else None

    # ------------------------------------------------------------------------------- actions
    def start(self) -> None:
        if self.mode.value == "mock":
            self.session = mock_interview(self.rng, history=self.history, clock=self.clock, wall_clock=self.wall_clock)
        else:
            chosen = list(self.families.value)
            if not chosen:
                self.status.value = "<b>Choose at least one family.</b>"
                return
            k = int(self.length.value)
            if self.use_schedule.value and self.history is not None:
                order = schedule.pick(chosen, self.history.attempts(), self.wall_clock(), min(k, len(chosen)))
            else:
                order = [chosen[i] for i in self.rng.permutation(len(chosen))]
            self.session = DrillSession(order, k, self.rng, history=self.history, clock=self.clock,
                                        wall_clock=self.wall_clock)
        self.summary.value = ""
        self.status.value = ""
        self._show_setup(False)
        self.problem_box.layout.display = None
        self._show_problem()
        if self.start_timer:
            self._ensure_timer()

    def _show_problem(self) -> None:
        s = self.session
        p = s.current.problem
        self.prompt.value = (f"<b>Problem {s.index + 1} of {len(s.states)}: {_esc(p.title)}</b>"
                             f"<pre style='white-space:pre-wrap;font-size:13px'>{_esc(p.prompt)}</pre>"
                             + (f"<i>Answer format: {_esc(p.answer_format)}</i>" if p.kind not in
                                ("coding", "explanation") else ""))
        self.answer.value = ""
        self.feedback.value = ""
        self.explain_text.value = ""
        self.checklist.children = ()
        self._ticks = []
        self.answer_row.layout.display = None if p.kind in ("quick", "choice", "derivation") else "none"
        self.explain_box.layout.display = None if p.kind == "explanation" else "none"
        self.reveal_button.layout.display = None
        self.score_button.layout.display = "none"
        self.next_button.description = "Submit and go on" if p.kind == "coding" else "Next"
        if p.kind == "coding":
            self.code_help.value = (
                "<p style='max-width:900px'>Write your code in the <b>live-coding cell</b> below this drill (the "
                f"cell that starts with <code>%%{MAGIC}</code>): run it once to load the stub, write the functions, "
                "run it again to grade them with the notebook's grader. Each run that does not pass everything costs "
                "0.1; when you are done, press <b>Submit and go on</b>.</p>"
                f"<details><summary>The stub (if your editor does not load it, copy it under a "
                f"<code>%%{MAGIC}</code> line)</summary><pre>{_esc(p.stub)}</pre></details>")
        else:
            self.code_help.value = ""
        self.tick()

    def _on_text_msg(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            self.check()

    def _verdict(self, fb: P.Feedback) -> None:
        color = "green" if fb.correct else "#b00020"
        code = "".join(f" <code>[{_esc(c)}]</code>" for c in fb.diagnoses)
        pts = ""
        st = self.session.current if self.session and not self.session.done else None
        if st is not None and st.answered:
            pts = f"<br><b>Points for this problem: {st.points():.2f}</b>"
        self.feedback.value = (f"<pre style='white-space:pre-wrap;color:{color}'>{_esc(fb.message)}</pre>{code}"
                               f"{pts}")

    def check(self) -> None:
        if self.session is None or self.session.done:
            return
        st = self.session.current
        if st.problem.kind not in ("quick", "choice", "derivation"):
            return
        fb = self.session.submit(self.answer.value)
        self._verdict(fb)

    def reveal(self) -> None:
        if self.session is None or self.session.done or self.session.current.problem.kind != "explanation":
            return
        self.session.submit(self.explain_text.value)
        st = self.session.current
        self._ticks = [W.Checkbox(value=False, indent=False, layout=W.Layout(width="28px")) for _ in
                       st.problem.checklist]
        rows = [W.HBox([cb, W.HTML(f"<span style='line-height:28px'>{_esc(p.text)}</span>",
                                   layout=W.Layout(width="820px"))])
                for cb, p in zip(self._ticks, st.problem.checklist)]
        self.checklist.children = [W.HTML("<b>Tick the points your answer covered:</b>")] + rows
        self.reveal_button.layout.display = "none"
        self.score_button.layout.display = None
        self.explain_text.disabled = True

    def score_explanation(self) -> None:
        if self.session is None or self.session.done or not self.session.current.revealed:
            return
        picks = [i for i, cb in enumerate(self._ticks) if cb.value]
        points = self.session.tick(picks)
        st = self.session.current
        missed = [p.text for i, p in enumerate(st.problem.checklist) if i not in picks]
        self.score_button.layout.display = "none"
        self.feedback.value = (f"<b>Points for this explanation: {points:.2f}</b>"
                               + ("<br>Not covered: " + "; ".join(_esc(m) for m in missed) if missed else ""))

    def hint(self) -> None:
        if self.session is None or self.session.done:
            return
        self.feedback.value = _esc(self.session.hint())

    def next(self) -> None:
        if self.session is None or self.session.done:
            return
        if self.session.next() is None:
            self._finish()
        else:
            self._show_problem()

    def quit(self) -> None:
        if self.session is None or self.session.done:
            return
        self.session.quit()
        self._finish()

    def code_cell(self, cell: str) -> None:
        """The ``%%drill_code`` cell: load the stub into an empty cell, else grade the code (prints the result)."""
        from IPython import get_ipython
        from IPython.display import display

        s = self.session
        if s is None or s.done or s.current.problem.kind != "coding":
            print("No live-coding problem is running: start one in the drill above (choose a 'Live coding' family "
                  "or a mock interview), then run this cell again.")
            return
        st = s.current
        body = "\n".join(ln for ln in cell.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
        display(W.HBox([self.timer]))
        if not body.strip():
            ip = get_ipython()
            if ip is not None:
                ip.set_next_input(f"%%{MAGIC}\n" + st.problem.stub, replace=True)
                print(f"The stub of '{st.problem.title}' is now in this cell: write the functions and run the cell "
                      f"again to grade them.")
            else:
                print(f"The stub of '{st.problem.title}': put it in this cell under %%{MAGIC}.\n\n{st.problem.stub}")
            return
        fb = s.submit(cell)
        self._verdict(fb)
        print(("✓ " if fb.correct else "✗ ") + fb.message)
        if st.answered:
            print(f"Points if you submit now: {st.points():.2f}")
        if fb.correct:
            print("All checks pass: moving on to the next problem in the drill above.")
            self.next()

    def _register_magic(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        ip = get_ipython()
        if ip is None:
            return

        def drill_code(line, cell):
            self.code_cell(cell)

        ip.register_magic_function(drill_code, magic_kind="cell", magic_name=MAGIC)

    def _finish(self) -> None:
        s = self.session
        summary = s.summary()
        td = "<td style='padding:2px 14px 2px 0'>"
        rows = "".join(
            f"<tr>{td}{_esc(p['title'])}</td>{td}{p['points']:.2f}</td>{td}{p['hints']}</td>{td}{p['wrong']}</td>"
            f"{td}{'-' if p['seconds'] is None else _fmt_time(p['seconds'])} / {_fmt_time(p['time_limit'])}</td>"
            f"{td}{_esc(', '.join(p['mistakes']) or ('not reached' if not p['shown'] else ''))}</td></tr>"
            for p in summary["problems"])
        pad = "style='padding:2px 14px 2px 0;text-align:left'"
        comps = "".join(f"<td {pad}>{c}: <b>{'-' if v is None else f'{v:.2f}'}</b></td>"
                        for c, v in summary["competencies"].items())
        self.summary.value = (
            f"<h3>Score {summary['score']:.2f}: {_esc(summary['level'])}</h3><table><tr>{comps}</tr></table>"
            f"<table><tr>" + "".join(f"<th style='text-align:left;padding-right:14px'>{h}</th>" for h in
                                       ("problem", "points", "hints", "wrong", "time / limit", "mistakes named"))
            + f"</tr>{rows}</table>"
            f"<details open><summary><b>Written debrief</b></summary><pre style='white-space:pre-wrap'>"
            f"{_esc(s.debrief())}</pre></details>")
        self.problem_box.layout.display = "none"
        self.timer.value = ""
        self._show_setup(True)

    def _show_setup(self, visible: bool) -> None:
        """The choice of mode and families and the Start button are hidden while a session runs."""
        for w in (self.mode, self.start_button):
            w.layout.display = None if visible else "none"
        self.setup_box.layout.display = None if visible and self.mode.value == "drill" else "none"

    # ------------------------------------------------------------------------------- timer
    def tick(self) -> None:
        """Refresh the clocks (called every TICK_SECONDS by the timer task)."""
        s = self.session
        if s is None or s.done:
            return
        if s.time_up():
            self.feedback.value = f"<b>The interview's {MOCK_MINUTES} minutes are over.</b>"
            self._finish()
            return
        left = s.time_left()
        st = s.current
        if left >= 0 or st.answered:
            text = f"Time left: {_fmt_time(max(left, 0))}"
            style = ""
        else:
            text = f"Over time by {_fmt_time(left)}: an answer now earns at most 0.50"
            style = "color:#b00020"
        total = s.total_left()
        if total is not None:
            text += f" &nbsp;|&nbsp; Interview: {_fmt_time(max(total, 0))} left"
        self.timer.value = (f"<span style='{style};font-weight:bold;font-family:sans-serif'>"
                            f"{text}</span>")

    def _ensure_timer(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return
        self._task = loop.create_task(self._run_timer())

    async def _run_timer(self) -> None:
        while self.session is not None and not self.session.done:
            self.tick()
            await asyncio.sleep(TICK_SECONDS)


_STRIP = re.compile(r"<[^>]+>")


def plain(html_text: str) -> str:
    """The text of a widget's HTML (tests and the terminal read it)."""
    return html.unescape(_STRIP.sub("", html_text))
