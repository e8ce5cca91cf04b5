"""Hints on demand (graders/public/hints.py): three per exercise of notebooks 01-08, none of them the answer.

- every answer cell (nbgrader solution cell) of notebooks 01-08 has exactly three non-empty hints, keyed by its
  grade_id, and no hint exists for a cell that is not an answer cell;
- the third hint (the one that goes furthest) contains no distinctive line of the cell's solution block, and no
  hint of a multiple-choice answer names an option letter;
- every notebook imports ``hint`` in its setup cell and says under each exercise how to ask, with an id that
  resolves to that notebook's hints;
- ``hint`` prints, never raises: an unknown id or level prints what is valid; ids that two notebooks share are
  resolved by the notebook's folder or by an explicit "NN:" prefix;
- graders.public imports nothing outside the standard library (no checks, no reference_impl).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from graders.public import hints as H

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(H.NOTEBOOKS.items())


def _source(folder: str):
    (path,) = sorted((ROOT / "solutions" / folder).glob("*.ipynb"))
    return nbformat.read(str(path), as_version=4)


def _answer_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def _gid(cell) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def _solution_lines(cell) -> list[str]:
    """The distinctive lines of a cell's solution block: code (not comments) of at least 12 characters that
    assigns, calls or returns something."""
    out = []
    for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
        for line in block.splitlines():
            s = line.strip()
            if len(s) >= 12 and not s.startswith("#") and re.search(r"[=(\[]|return", s):
                out.append(s)
    return out


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_hint_modules_cover_every_course_notebook():
    folders = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    assert [name for _, name in NOTEBOOKS] == [f for f in folders if f != "09_mock_interview"]


@pytest.mark.parametrize("nn,folder", NOTEBOOKS)
def test_every_answer_cell_has_exactly_three_non_empty_hints(nn, folder):
    bank = H.exercises()[nn]
    gids = [_gid(c) for c in _answer_cells(_source(folder))]
    assert gids, folder
    assert sorted(bank) == sorted(gids), f"{folder}: hints for {sorted(set(bank) ^ set(gids))} do not match"
    for gid in gids:
        levels = bank[gid]
        assert isinstance(levels, tuple) and len(levels) == 3, gid
        for text in levels:
            assert isinstance(text, str) and len(text.strip()) >= 20, (gid, text)
        assert len(set(levels)) == 3, f"{gid}: the three hints must differ"


@pytest.mark.parametrize("nn,folder", NOTEBOOKS)
def test_no_hint_contains_the_solution(nn, folder):
    bank = H.exercises()[nn]
    for cell in _answer_cells(_source(folder)):
        gid = _gid(cell)
        last = _squash(bank[gid][2])  # the third hint goes furthest: it must stop short of the code
        lines = _solution_lines(cell)
        assert lines, f"{gid}: no distinctive solution line found (the comparison would be empty)"
        for line in lines:
            assert _squash(line) not in last, f"{gid}: hint 3 contains the solution line {line!r}"
        choice = re.search(r"### BEGIN SOLUTION\n\s*\w+\s*=\s*\"([a-d])\"\s*\n### END SOLUTION", cell.source)
        if choice or "concept_answers" in gid:  # multiple choice: no hint names an option letter
            for level, text in enumerate(bank[gid], start=1):
                named = re.findall(r"\(([a-d])\)|['\"]([a-d])['\"]|\boption ([a-d])\b", text)
                assert not named, f"{gid}: hint {level} names an option letter: {text!r}"


@pytest.mark.parametrize("nn,folder", NOTEBOOKS)
def test_notebook_imports_hint_and_each_exercise_says_how_to_ask(nn, folder):
    nb = _source(folder)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert "from graders.public.hints import hint" in setup.source
    seen_markdown = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            seen_markdown += cell.source
            continue
        if not cell.metadata.get("nbgrader", {}).get("solution") or cell.cell_type != "code":
            continue
        gid = _gid(cell)
        asks = re.findall(rf'hint\("((?:{nn}:)?{gid})"(?:, ([123]))?\)', seen_markdown)
        assert asks, f"{folder}: no markdown above {gid} says how to ask for its hints"
        for form, level in asks:  # the id written in the notebook resolves to this notebook's hints
            text = H.hint_text(form, int(level or 1))
            assert H.exercises()[nn][gid][int(level or 1) - 1] in text


def test_ids_shared_by_two_notebooks_are_written_with_their_notebook():
    shared = {}
    for nn, bank in H.exercises().items():
        for gid in bank:
            shared.setdefault(gid, []).append(nn)
    shared = {gid: owners for gid, owners in shared.items() if len(owners) > 1}
    assert shared == {"numeric_gradient": ["02", "03"], "clip_grad_norm": ["06", "08"]}
    for gid, owners in shared.items():
        for nn in owners:
            text = "".join(c.source for c in _source(H.NOTEBOOKS[nn]).cells if c.cell_type == "markdown")
            assert f'hint("{nn}:{gid}")' in text and f'hint("{gid}")' not in text


def test_hint_prints_levels_and_points_to_the_next(capsys):
    H.hint("softmax")
    out = capsys.readouterr().out
    assert out.startswith("Hint 1 of 3 for softmax: ") and "hint('softmax', 2)" in out
    H.hint("softmax", 3)
    out = capsys.readouterr().out
    assert out.startswith("Hint 3 of 3 for softmax: ") and "next" not in out
    assert H.exercises()["03"]["softmax"][2] in out


@pytest.mark.parametrize("args,phrase", [
    (("softmax", 4), "level must be 1, 2 or 3"),
    (("softmax", 0), "level must be 1, 2 or 3"),
    (("softmax", True), "level must be 1, 2 or 3"),
    (("softmax", "2"), "level must be 1, 2 or 3"),
    (("softmx",), "Did you mean 'softmax'"),
    (("no_such_exercise",), "03_two_layer_network: softmax, softmax_ce"),
    (("",), "name the exercise"),
    ((None,), "name the exercise"),
    (("09:drill",), "there is no notebook 09"),
    (("02:softmax",), "the exercises of notebook 02_computational_graphs are: loss_forward"),
    (("numeric_gradient",), "ask hint('02:numeric_gradient') or hint('03:numeric_gradient')"),
])
def test_bad_requests_print_what_is_valid_and_never_raise(args, phrase, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not inside a notebook folder
    H.hint(*args)
    assert phrase in capsys.readouterr().out
    with pytest.raises(ValueError, match=re.escape(phrase)):
        H.hint_text(*args)


def test_shared_ids_resolve_by_the_notebook_folder(tmp_path, monkeypatch):
    for nn, folder in (("06", "06_bptt"), ("08", "08_vanishing_exploding")):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert H.exercises()[nn]["clip_grad_norm"][1] in H.hint_text("clip_grad_norm", 2)
    monkeypatch.chdir(tmp_path / "06_bptt")
    assert "The exercises of notebook 06_bptt are: rnn_step" in str(pytest.raises(ValueError, H.hint_text,
                                                                                        "nope").value)
    assert H.exercises()["03"]["numeric_gradient"][0] in H.hint_text("03:numeric_gradient")


def test_public_package_imports_only_the_standard_library():
    code = ("import sys, graders.public.hints as h; h.exercises(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('graders', 'reference_impl', 'numpy', 'sympy', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    loaded = eval(out)  # a printed list of module names
    assert all(m == "graders" or m.startswith("graders.public") for m in loaded), loaded
    assert "graders.core" not in loaded and not any(m.startswith("reference_impl") for m in loaded)
