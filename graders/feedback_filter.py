"""An nbconvert preprocessor for nbgrader feedback: nothing of the hidden tests reaches a student.

nbgrader's ClearHiddenTests removes hidden tests from cell *sources*. Their *outputs* are removed here by
structure: the cohort grader marks every output produced while a hidden statement ran
(``metadata.backprop.hidden``, see graders.cohort.execute); such outputs are replaced by their one-line summary
("hidden tests: ✓ passed" or the failed sub-check names, never values). Error tracebacks also lose any line that
quotes hidden test code. Configure it AFTER ClearHiddenTestsInTests in GenerateFeedback.preprocessors: it then
also refuses (raises) a notebook in which a hidden block survived in a test cell's source, so a broken
configuration fails that student's feedback instead of leaking.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from nbgrader import utils as nbu
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


class ClearHiddenTestsInTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests, applied to test (grade) cells only: hidden tests live there, and a student's
    own cell that merely prints the marker text must neither be cut nor fail the feedback."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and nbu.is_grade(cell) and not nbu.is_solution(cell):
            return super().preprocess_cell(cell, resources, cell_index)
        return cell, resources


class HiddenTestsLeak(RuntimeError):
    """A hidden test block is still in a cell source after ClearHiddenTests."""


def _strip_lines(lines: list[str], secret: list[str]) -> list[str]:
    return [line for line in lines if not any(s in _ANSI.sub("", line) for s in secret)]


class HideHiddenTestsInOutputs(Preprocessor):
    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        self._secret = []
        for cell in nb.cells:
            src = cell.get("source", "")
            for block in _BLOCK.findall(src):
                self._secret += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 12]
            if "BEGIN HIDDEN TESTS" in src and nbu.is_grade(cell) and not nbu.is_solution(cell):
                raise HiddenTestsLeak("a hidden test block is still in the notebook: run ClearHiddenTests first")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        kept, summaries = [], []
        for out in cell.get("outputs", []):
            tag = (out.get("metadata") or {}).get("backprop") or {}
            if tag.get("hidden"):
                summary = str(tag.get("summary") or "hidden tests ran")
                if summary not in summaries:
                    summaries.append(summary)
                continue
            if out.get("output_type") == "error":
                out["traceback"] = ["\n".join(_strip_lines(entry.split("\n"), self._secret))
                                    for entry in out.get("traceback", [])]
            elif out.get("output_type") == "stream":
                out["text"] = "".join(_strip_lines(out["text"].splitlines(keepends=True), self._secret))
            kept.append(out)
        if summaries:
            kept.append(new_output("stream", name="stdout", text="\n".join(summaries) + "\n"))
        if "outputs" in cell:
            cell["outputs"] = kept
        return cell, resources
