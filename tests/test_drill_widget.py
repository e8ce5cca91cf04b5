"""The notebook UI driven from Python: Enter submits, titles (not ids) in the summary, a timer without glyphs
that Debian's chromium cannot draw, the plan checkbox label not cut, explanations with a checklist, the
``%%drill_code`` live-coding cell, the mock interview mode, and the progress figure's time axis."""

from __future__ import annotations

import numpy as np
import pytest

from graders.drill.history import Attempt, History
from graders.drill.progress import progress_figure, time_axis
from graders.drill.widget import DrillUI, plain
from tests.test_drill_live_coding import _src


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def _text(v) -> str:
    if isinstance(v, str):
        return v
    if np.ndim(v) == 0:
        return repr(float(v))
    return str(np.asarray(v, dtype=float).tolist())


def _ui(tmp_path, families, n, clock=None, seed=3):
    ui = DrillUI(history_path=tmp_path / "h.sqlite3", seed=seed, clock=clock or FakeClock(100.0), start_timer=False,
                 register_magic=False)
    ui.families.value = tuple(families)
    ui.length.value = n
    ui.use_schedule.value = False
    return ui


def _press_enter(text_widget) -> None:
    """What the browser sends when Enter is pressed in a Text widget."""
    text_widget._handle_custom_msg({"event": "submit"}, [])


def test_widget_driven_from_python_enter_submits_and_titles_in_summary(tmp_path):
    clock = FakeClock(100.0)
    ui = _ui(tmp_path, ["vanishing"], 2, clock)
    ui.start_button.click()
    assert "Problem 1 of 2" in ui.prompt.value
    assert ui.start_button.layout.display == "none" and ui.setup_box.layout.display == "none"  # no restart mid-drill
    first = ui.timer.value
    clock.t += 7
    ui.tick()
    assert ui.timer.value != first and "Time left" in plain(ui.timer.value)
    ui.answer.value = "definitely wrong"
    _press_enter(ui.answer)
    assert "Could not read" in plain(ui.feedback.value)
    ui.hint_button.click()
    assert "Hint 1" in plain(ui.feedback.value)
    ui.answer.value = _text(ui.session.current.problem.expected)
    _press_enter(ui.answer)
    assert "Correct" in plain(ui.feedback.value) and "Points for this problem: 0.90" in plain(ui.feedback.value)
    ui.next_button.click()
    assert "Problem 2 of 2" in ui.prompt.value
    ui.answer.value = _text(ui.session.current.problem.expected)
    ui.check_button.click()
    ui.next_button.click()
    summary = plain(ui.summary.value)
    assert ui.session.done and "Strong Hire" in summary and "Vanishing/exploding gradient estimate" in summary
    assert "vanishing" not in summary.replace("Vanishing", "")  # titles, not family ids
    assert "Written debrief" in summary and "speed" in summary
    assert ui.start_button.layout.display is None and ui.setup_box.layout.display is None
    assert len(ui.history.attempts()) == 2


def test_the_timer_is_plain_text_and_says_when_time_is_over(tmp_path):
    clock = FakeClock(0.0)
    ui = _ui(tmp_path, ["vanishing"], 1, clock)
    ui.start_button.click()
    text = plain(ui.timer.value)
    assert text.startswith("Time left") and all(ord(c) < 128 for c in text)  # no clock glyph drawn as a box
    clock.t = ui.session.current.problem.time_limit + 4
    ui.tick()
    assert "Over time by 0:04: an answer now earns at most 0.50" in plain(ui.timer.value)


def test_the_plan_checkbox_label_is_not_cut(tmp_path):
    ui = _ui(tmp_path, ["vjp"], 1)
    cb = ui.use_schedule
    assert cb.indent is False and cb.layout.width == "auto"
    assert cb.description == "Let the spaced-repetition plan choose the order"


def test_explanations_in_the_widget(tmp_path):
    ui = _ui(tmp_path, ["explain"], 1)
    ui.start_button.click()
    assert ui.answer_row.layout.display == "none" and ui.explain_box.layout.display is None
    ui.explain_text.value = "one backward pass for every parameter"
    ui.reveal_button.click()
    p = ui.session.current.problem
    assert len(ui._ticks) == len(p.checklist) and ui.explain_text.disabled
    ui._ticks[0].value = True
    ui.score_button.click()
    w = [k.weight for k in p.checklist]
    assert f"Points for this explanation: {w[0] / sum(w):.2f}" in plain(ui.feedback.value)
    assert "Not covered" in plain(ui.feedback.value)


def test_the_live_coding_cell(tmp_path, capsys):
    ui = _ui(tmp_path, ["vanishing"], 1)
    ui.code_cell("# nothing yet")
    assert "No live-coding problem is running" in capsys.readouterr().out
    ui = _ui(tmp_path, ["code_affine"], 1)
    ui.start_button.click()
    assert "live-coding cell" in ui.code_help.value and ui.answer_row.layout.display == "none"
    ui.code_cell("# run me to load the stub\n")
    out = capsys.readouterr().out
    assert "The stub of 'Live coding: affine layer forward and backward': put it in this cell" in out
    assert "def affine_backward(dout, cache):" in out and "def affine_backward(dout, cache):" in ui.code_help.value
    ui.code_cell(_src("code_affine").replace("x.T @ dout", "dout.T @ x"))
    out = capsys.readouterr().out
    assert "[MISSING_TRANSPOSE]" in out and "Points if you submit now: 0.70" in out
    assert "MISSING_TRANSPOSE" in ui.feedback.value
    ui.code_cell(_src("code_affine"))
    out = capsys.readouterr().out
    assert "all 6 checks passed" in out and ui.session.done
    summary = plain(ui.summary.value)
    assert "Score 0.90" in summary and "coding: 0.90" in summary and "MISSING_TRANSPOSE" in summary


def test_the_cell_magic_is_registered_in_ipython(tmp_path):
    from IPython.testing.globalipapp import get_ipython as global_ipython

    ip = global_ipython()
    ui = DrillUI(history_path=tmp_path / "h.sqlite3", seed=0, start_timer=False)
    assert "drill_code" in ip.magics_manager.magics["cell"]
    ui.families.value = ("code_rnn_step",)
    ui.length.value = 1
    ui.start_button.click()
    calls = []
    ip.set_next_input = lambda text, replace=False: calls.append((text, replace))  # the kernel turns this into a
    try:                                                                          # set_next_input payload
        ip.run_cell_magic("drill_code", "", "# load the stub")
    finally:
        del ip.set_next_input
    (text, replace), = calls
    assert replace is True and text.startswith("%%drill_code\n") and "def rnn_step_backward" in text


def test_mock_interview_mode(tmp_path):
    clock = FakeClock(0.0)
    ui = _ui(tmp_path, ["vjp"], 1, clock)
    ui.mode.value = "mock"
    assert ui.setup_box.layout.display == "none"
    ui.start_button.click()
    assert len(ui.session.states) == 6 and "Interview: 45:00 left" in plain(ui.timer.value)
    clock.t = 45 * 60 + 1
    ui.tick()
    assert ui.session.done and "45 minutes are over" in plain(ui.feedback.value)
    assert "Mock interview debrief" in plain(ui.summary.value) and "not reached" in plain(ui.summary.value)


def test_widget_reports_a_corrupt_history_without_crashing(tmp_path):
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"garbage")
    ui = DrillUI(history_path=path, seed=0, start_timer=False, register_magic=False)
    assert ui.history is None and "left untouched" in ui.status.value
    ui.families.value = ("vjp",)
    ui.start_button.click()  # drilling still works, nothing is written
    assert ui.session is not None and path.read_bytes() == b"garbage"


@pytest.mark.parametrize("span,unit", [(240.0, "minutes"), (5 * 3600.0, "hours"), (9 * 86400.0, "days")])
def test_the_progress_axis_uses_a_readable_unit(tmp_path, span, unit):
    import matplotlib.pyplot as plt

    values, label, _ = time_axis(np.array([0.0, span]))
    assert label.startswith(unit) and 1 <= values[-1] < 1000
    with History(tmp_path / f"{unit}.sqlite3") as h:
        for k, t in enumerate(np.linspace(0, span, 5)):
            h.record(Attempt(1e9 + t, "vjp" if k % 2 else "explain", k % 3 != 0, 10.0))
        fig = progress_figure(h)
        ax = fig.axes[0]
        fig.canvas.draw()
        assert ax.get_xlabel().startswith(unit)
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert not any("0.000" in x for x in labels) and ax.xaxis.get_offset_text().get_text() == ""
        assert any("Explanation" in t.get_text() for t in fig.axes[1].get_yticklabels())  # titles, not ids
        plt.close(fig)
