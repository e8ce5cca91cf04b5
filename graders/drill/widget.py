"""The drill as ipywidgets: pick families and length, a live countdown, answer box, hints, feedback, rubric.

``DrillUI(...).widget`` is the box to display. The countdown runs as an asyncio task on the kernel's event
loop, so the kernel stays responsive; :meth:`DrillUI.tick` is what it calls and can be driven by tests.
Widgets carry CSS classes (``drill-start``, ``drill-answer``, ``drill-check``, ``drill-hint``,
``drill-next``, ``drill-families``, ``drill-timer``, ``drill-feedback``, ``drill-prompt``, ``drill-summary``) so a browser
test can find them.
"""

from __future__ import annotations

import asyncio
import html
import time
from typing import Callable

import ipywidgets as W
import numpy as np

from graders.drill import problems as P
from graders.drill import schedule
from graders.drill.history import History, HistoryError
from graders.drill.session import DrillSession, rubric_text

TICK_SECONDS = 0.5


def _fmt_time(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    return f"{sign}{s // 60}:{s % 60:02d}"


class DrillUI:
    def __init__(self, *, history_path=None, seed: int | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, start_timer: bool = True):
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

        names = list(P.FAMILIES)
        self.families = W.SelectMultiple(options=[(P.FAMILIES[n].title, n) for n in names], value=tuple(names),
                                         rows=min(11, len(names)), description="Families",
                                         layout=W.Layout(width="560px"))
        self.families.add_class("drill-families")
        self.length = W.IntSlider(value=5, min=1, max=20, description="Problems")
        self.use_schedule = W.Checkbox(value=True, description="Let the spaced-repetition plan choose the order")
        self.start_button = W.Button(description="Start drill", button_style="primary")
        self.start_button.add_class("drill-start")
        self.timer = W.HTML("")
        self.timer.add_class("drill-timer")
        self.prompt = W.HTML("")
        self.prompt.add_class("drill-prompt")
        self.answer = W.Text(placeholder="your answer", layout=W.Layout(width="420px"))
        self.answer.add_class("drill-answer")
        self.check_button = W.Button(description="Check", button_style="success")
        self.check_button.add_class("drill-check")
        self.hint_button = W.Button(description="Hint")
        self.hint_button.add_class("drill-hint")
        self.next_button = W.Button(description="Next")
        self.next_button.add_class("drill-next")
        self.feedback = W.HTML("")
        self.feedback.add_class("drill-feedback")
        self.summary = W.HTML("")
        self.summary.add_class("drill-summary")
        self.status = W.HTML(html.escape(self.history_error) if self.history_error else "")

        self.start_button.on_click(lambda _: self.start())
        self.check_button.on_click(lambda _: self.check())
        self.hint_button.on_click(lambda _: self.hint())
        self.next_button.on_click(lambda _: self.next())
        self.problem_box = W.VBox([self.timer, self.prompt, W.HBox([self.answer, self.check_button]),
                                   W.HBox([self.hint_button, self.next_button]), self.feedback])
        self.problem_box.layout.display = "none"
        self.widget = W.VBox([W.HTML(f"<p>{html.escape(rubric_text())}</p>"), self.families, self.length,
                              self.use_schedule, self.start_button, self.status, self.problem_box, self.summary])

    # ------------------------------------------------------------------------------- actions
    def start(self) -> None:
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
        self.problem_box.layout.display = None
        self._show_problem()
        if self.start_timer:
            self._ensure_timer()

    def _show_problem(self) -> None:
        s = self.session
        p = s.current.problem
        self.prompt.value = (f"<b>Problem {s.index + 1} of {len(s.states)}: {html.escape(p.title)}</b>"
                             f"<pre style='white-space:pre-wrap'>{html.escape(p.prompt)}</pre>"
                             f"<i>Answer format: {html.escape(p.answer_format)}</i>")
        self.answer.value = ""
        self.feedback.value = ""
        self.tick()

    def check(self) -> None:
        if self.session is None or self.session.done:
            return
        fb = self.session.submit(self.answer.value)
        color = "green" if fb.correct else "#b00020"
        code = f" <code>[{fb.diagnosis}]</code>" if fb.diagnosis and fb.diagnosis != "FORMAT" else ""
        self.feedback.value = f"<span style='color:{color}'>{html.escape(fb.message)}</span>{code}"

    def hint(self) -> None:
        if self.session is None or self.session.done:
            return
        self.feedback.value = html.escape(self.session.hint())

    def next(self) -> None:
        if self.session is None or self.session.done:
            return
        if self.session.next() is None:
            self._finish()
        else:
            self._show_problem()

    def _finish(self) -> None:
        summary = self.session.summary()
        rows = "".join(
            f"<tr><td>{html.escape(p['family'])}</td><td>{p['points']:.2f}</td><td>{p['hints']}</td>"
            f"<td>{p['seconds']} / {p['time_limit']}</td><td>{html.escape(', '.join(p['mistakes']))}</td></tr>"
            for p in summary["problems"])
        self.summary.value = (f"<h3>Score {summary['score']:.2f}: {summary['level']}</h3>"
                              f"<table><tr><th>family</th><th>points</th><th>hints</th><th>seconds / limit</th>"
                              f"<th>mistakes named</th></tr>{rows}</table>")
        self.problem_box.layout.display = "none"
        self.timer.value = ""

    # ------------------------------------------------------------------------------- timer
    def tick(self) -> None:
        """Refresh the countdown (called every TICK_SECONDS by the timer task)."""
        if self.session is None or self.session.done:
            return
        left = self.session.time_left()
        style = "color:#b00020" if left < 0 else ""
        label = "over time" if left < 0 else "left"
        self.timer.value = f"<span style='{style}'>⏱ {_fmt_time(left)} {label}</span>"

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


def progress_figure(history: History, families=None):
    """Matplotlib figure: cumulative accuracy per day and attempts per family (from the history file)."""
    import matplotlib.pyplot as plt

    attempts = history.attempts()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    if not attempts:
        ax1.text(0.5, 0.5, "no attempts yet", ha="center", va="center")
        ax2.axis("off")
        return fig
    t0 = attempts[0].ts
    days = np.array([(a.ts - t0) / 86400.0 for a in attempts])
    correct = np.array([a.correct for a in attempts], dtype=float)
    ax1.plot(days, np.cumsum(correct) / np.arange(1, len(correct) + 1), marker="o")
    ax1.set_xlabel("days since first drill")
    ax1.set_ylabel("running accuracy")
    ax1.set_ylim(0, 1.05)
    ax1.axhline(0.8, ls="--", c="g", lw=0.8, label="Strong Hire threshold")
    ax1.legend(loc="lower right")
    names = sorted({a.family for a in attempts} | set(families or []))
    acc = [np.mean([a.correct for a in attempts if a.family == n]) if any(a.family == n for a in attempts) else 0
           for n in names]
    ax2.barh(names, acc)
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("accuracy per family")
    fig.tight_layout()
    return fig
