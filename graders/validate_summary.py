"""A short "Validate" report: each failing test cell summarised by its exercise and the first lines of its message.

nbgrader's Validator (``nbgrader validate`` and the Lab "Validate" button) prints, for every failing test cell, the
cell's source and the cell's whole error output. nbgrader hard-codes the Validator class, but the notebook client
it executes with has a configurable hook, ``Execute.on_cell_error``, called with each failed cell once its outputs
are complete and before the Validator reads them. :func:`summarise_failed_cell` is that hook (set in
``nbgrader_config.py``): while validating (nbgrader sets ``NBGRADER_EXECUTION=validate``) it replaces each error
output's traceback by a summary:

- a grader's failure (``GradingError``, which renders as a "✗ <exercise>: N of M checks failed" header and its
  message): the header and the first :data:`MESSAGE_LINES` lines of the message, then how many lines were left out;
- any other error (say a ``NameError`` because the answer cell was never run): the one line ``Name: message``.

Autograding (``NBGRADER_EXECUTION=autograde``) and notebooks opened in Lab are left untouched: there the student's
full message is kept.
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import Any

MESSAGE_LINES = 2
WIDTH = 110  # message lines are wrapped here: Lab's Validate dialog does not wrap them itself
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def summary(output: Any) -> list[str]:
    """The short form of one ``error`` output (a dict-like notebook output) as a list of lines."""
    lines = _ANSI.sub("", "\n".join(output.get("traceback") or [])).splitlines()
    if output.get("ename") == "GradingError" and lines and lines[0].startswith("✗"):
        header, body = lines[0], lines[1:]
        kept = body[:MESSAGE_LINES]
        if len(body) > MESSAGE_LINES:
            kept.append(f"  ... {len(body) - MESSAGE_LINES} more line(s): run this test cell in the notebook to "
                        f"see the whole message.")
        return [part for line in [header, *kept] for part in _wrap(line)]
    evalue = (str(output.get("evalue") or "").strip().splitlines() or [""])[0]
    return [f"{output.get('ename') or 'Error'}: {evalue}".rstrip(": ")]


def _wrap(line: str) -> list[str]:
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_long_words=False) or [line]


def summarise_failed_cell(cell: Any = None, cell_index: int | None = None, execute_reply: Any = None,
                          **_: Any) -> None:
    """``Execute.on_cell_error`` hook: shorten the cell's error outputs in place, only while validating."""
    if os.environ.get("NBGRADER_EXECUTION") != "validate" or cell is None:
        return
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            output["traceback"] = summary(output)
