"""An nbconvert preprocessor for nbgrader feedback: hidden tests must not leak through outputs.

nbgrader's ClearHiddenTests removes hidden tests from cell *sources*, but a failing hidden test prints a
traceback that quotes the cell's source lines, hidden ones included. ``HideHiddenTestsInOutputs`` drops every
output line from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` (ANSI colour codes included) and any
line quoting hidden test code. Configure it after ClearHiddenTests in GenerateFeedback.preprocessors.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def _strip_lines(lines: list[str], secret: list[str]) -> list[str]:
    out, hiding = [], False
    for line in lines:
        plain = _ANSI.sub("", line)
        if "BEGIN HIDDEN TESTS" in plain:
            hiding = True
            continue
        if "END HIDDEN TESTS" in plain:
            hiding = False
            continue
        if hiding or any(s in plain for s in secret):
            continue
        out.append(line)
    return out


class HideHiddenTestsInOutputs(Preprocessor):
    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        secret = []
        for cell in nb.cells:
            for block in _BLOCK.findall(cell.get("source", "")):
                secret += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 12]
        self._secret = secret
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                kept = []
                for entry in out.get("traceback", []):
                    kept.append("\n".join(_strip_lines(entry.split("\n"), self._secret)))
                out["traceback"] = kept
            elif out.get("output_type") == "stream":
                out["text"] = "".join(_strip_lines(out["text"].splitlines(keepends=True), self._secret))
        return cell, resources
