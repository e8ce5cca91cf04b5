"""What a student sees when a check fails, in a real kernel, and what nbgrader's Validate prints.

- A failed check's error output is its message under a one-line header, with no traceback through graders/
  (``GradingError._render_traceback_``); nbgrader still scores the cell 0 and partial credit still works.
- The student's own exception inside their function is reported with their own frame.
- ``nbgrader validate`` on a release notebook (run from the course root, so ``nbgrader_config.py`` applies) lists
  each failing test cell with its exercise and the first lines of its message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader import utils as nbu

from graders import validate_summary
from graders.core import GradingError, Report

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

RAISES = """def compose_derivative(stages, x):
    value = x
    raise NotImplementedError("not written yet")
"""
PARTIAL = """def compose_derivative(stages, x):
    value, deriv = x, np.ones_like(x)
    for f, df in stages:
        deriv = deriv * df(x)          # evaluated at x instead of at the stage's input
        value = f(value)
    return value, deriv
"""
RIGHT = """def compose_derivative(stages, x):
    value, deriv = x, np.ones_like(x)
    for f, df in stages:
        deriv = deriv * df(value)
        value = f(value)
    return value, deriv
"""
CHECK = "score = ex.check_compose_derivative(compose_derivative, points=3)\nscore"


def _graded(source: str, grade_id: str, points: float) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                                 "grade_id": grade_id, "schema_version": 3}
    return cell


@pytest.fixture(scope="module")
def executed():
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfrom graders.exercises import chain_rule as ex"),
        new_code_cell(RAISES), _graded(CHECK, "raises", 3),
        _graded("score = ex.check_outer_inner('2*(3*x+2)', problem='affine_square', points=1)\nscore", "wrong", 1),
        _graded("score = ex.check_outer_inner(None, problem='affine_square', points=1)\nscore", "none", 1),
        new_code_cell(PARTIAL), _graded(CHECK, "partial", 3),
        new_code_cell(RIGHT), _graded(CHECK, "right", 3),
    ])
    nbclient.NotebookClient(nb, allow_errors=True, timeout=120, kernel_name="python3").execute()
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def _error_text(cell) -> str:
    (err,) = [o for o in cell.outputs if o.output_type == "error"]
    assert err.ename == "GradingError"
    return ANSI.sub("", "\n".join(err.traceback))


@pytest.mark.parametrize("grade_id", ["raises", "wrong", "none"])
def test_a_failed_check_shows_its_message_first_and_no_traceback(executed, grade_id):
    text = _error_text(executed[grade_id])
    first = text.splitlines()[0]
    assert first.startswith("✗ "), text
    assert "Traceback" not in text and "graders/" not in text and "site-packages" not in text, text
    assert "File " not in text and "----> " not in text, text
    assert nbu.determine_grade(executed[grade_id]) == (0, executed[grade_id].metadata.nbgrader["points"])


def test_the_header_counts_the_failed_checks(executed):
    # value, derivative, one stage and no stage, large constant part, inputs left unchanged (uncredited: 4 failed)
    first = _error_text(executed["raises"]).splitlines()[0]
    assert first == "✗ derivative of a composition: 4 of 5 checks failed (seed 0)"
    assert _error_text(executed["wrong"]).splitlines()[0].startswith("✗ d/dx (3x + 2)^2: 1 of 1 checks failed")
    assert "MISSING_INNER_DERIVATIVE" in _error_text(executed["wrong"])


def test_the_students_own_exception_shows_their_frame(executed):
    text = _error_text(executed["raises"])
    assert "compose_derivative(stages, x) raised NotImplementedError: not written yet" in text
    assert 'line 3 in compose_derivative: raise NotImplementedError("not written yet")' in text


def test_partial_credit_is_printed_and_scored(executed):
    cell = executed["partial"]
    assert not [o for o in cell.outputs if o.output_type == "error"]
    out = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    # right: value (1), one stage and no stage (1), inputs (2) of 8; wrong: derivative (2), large constant (2)
    assert "Partial credit: 1.5 of 3 points" in out and "✓ value" in out
    assert nbu.determine_grade(cell) == (1.5, 3)
    assert nbu.determine_grade(executed["right"]) == (3.0, 3)


def test_summary_lines_without_a_report():
    exc = GradingError("compose_derivative: got None.\nDefine it above.")
    assert exc.summary_lines() == ["✗ compose_derivative: got None.", "Define it above."]
    assert ANSI.sub("", "\n".join(exc._render_traceback_())).startswith("✗ compose_derivative: got None.")
    rep = Report("demo", points=2, seed=5)
    rep.record("a", "wrong")
    rep.record("b", "also wrong")
    with pytest.raises(GradingError) as info:
        rep.finish()
    assert info.value.summary_lines() == ["✗ demo: 2 of 2 checks failed (seed 5)", "  ✗ a: wrong", "  ✗ b: also wrong"]
    assert str(info.value).startswith("demo (seed 5):")  # the message itself is unchanged


def test_validate_summary_only_while_validating(monkeypatch):
    err = {"output_type": "error", "ename": "GradingError", "evalue": "x",
           "traceback": ["\x1b[1;31m✗ ex: 1 of 1 checks failed\x1b[0m", "  ✗ a: one", "  two", "  three", "  four"]}
    cell = {"outputs": [dict(err)]}
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    validate_summary.summarise_failed_cell(cell=cell, cell_index=0, execute_reply={})
    assert cell["outputs"][0]["traceback"] == err["traceback"]
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    validate_summary.summarise_failed_cell(cell=cell, cell_index=0, execute_reply={})
    assert cell["outputs"][0]["traceback"][:3] == ["✗ ex: 1 of 1 checks failed", "  ✗ a: one", "  two"]
    assert "2 more line(s)" in cell["outputs"][0]["traceback"][3]
    other = {"output_type": "error", "ename": "NameError", "evalue": "name 'w' is not defined",
             "traceback": ["\x1b[31m----> 1\x1b[0m w", "NameError: name 'w' is not defined"]}
    assert validate_summary.summary(other) == ["NameError: name 'w' is not defined"]


def test_nbgrader_validate_lists_each_failing_exercise_briefly():
    nb = ROOT / "notebooks" / "01_chain_rule" / "chain_rule.ipynb"
    n_graded = sum(1 for c in nbformat.read(nb, as_version=4).cells if nbu.is_grade(c))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "validate", str(nb.relative_to(ROOT))],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout
    assert f"VALIDATION FAILED ON {n_graded} CELL(S)" in out, out[-3000:] + run.stderr[-3000:]
    blocks = out.split("The following cell failed:")[1:]
    assert len(blocks) == n_graded
    for block in blocks:
        error = block.split("The error was:")[1].strip().split("\n\n")[0].splitlines()
        assert error[0].strip().startswith("✗ "), block
        assert len(error) <= 1 + 3 * validate_summary.MESSAGE_LINES + 1, block
        assert all(len(line) <= validate_summary.WIDTH + 4 for line in error), block
    assert "Traceback" not in out and "graders/" not in out
    assert len(out) < 700 * n_graded, len(out)
