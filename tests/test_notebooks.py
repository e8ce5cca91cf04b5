"""The nbgrader round trip for every assignment in solutions/.

- the source notebook is well formed (metadata, hidden tests, >= 6 graded cells, outputs stripped);
- executing the source gives full marks on every graded cell (what `nbgrader validate` checks);
- executing the release gives zero on every graded cell (stronger than `nbgrader validate --invert`);
- notebooks/ is byte-for-byte a fresh `nbgrader generate_assignment` of solutions/ (nothing hand-edited);
- no solution code or hidden test reaches the release.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader import utils as nbu
from nbgrader.validator import Validator
from traitlets.config import Config

from tools import nbauthor, release

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = release.assignments(ROOT)
MIN_GRADED = 6
PRACTICE_ONLY = {"09_mock_interview"}  # the drill notebook: timed practice, no auto-graded cells


def _source(name: str) -> Path:
    (nb,) = sorted((ROOT / "solutions" / name).glob("*.ipynb"))
    return nb


def _release(name: str) -> Path:
    return ROOT / "notebooks" / name / _source(name).name


def _validator(invert: bool = False) -> Validator:
    cfg = Config()
    cfg.Execute.timeout = 300
    cfg.Validator.invert = invert
    return Validator(config=cfg)


def _executed(path: Path, invert: bool = False):
    """The notebook after nbgrader's validate pipeline (metadata check, clear output, execute)."""
    v = _validator(invert)
    nb = nbformat.read(str(path), as_version=4)
    old = os.getcwd()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        os.chdir(path.parent)
        return v._preprocess(nb)
    finally:
        os.chdir(old)


def _grades(nb) -> dict[str, tuple[float, float]]:
    return {c.metadata.nbgrader["grade_id"]: nbu.determine_grade(c) for c in nb.cells
            if nbu.is_grade(c) and c.cell_type == "code"}


def _outputs_text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(f"[{o.name}] {o.text}")
        elif o.output_type == "error":
            parts.append(f"[error] {o.ename}: {o.evalue}")
        elif "data" in o:
            parts.append(str(o.data.get("text/plain", "")))
    return "\n".join(parts)


REQUIRED = ["01_chain_rule", "02_computational_graphs", "03_two_layer_network", "04_jacobians_vjps", "05_ad_modes",
            "06_bptt", "07_batchnorm", "08_vanishing_exploding", "09_mock_interview", "10_attention"]


def test_there_are_assignments():
    assert sorted(ASSIGNMENTS) == REQUIRED, ASSIGNMENTS


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_is_well_formed(name):
    nb = nbformat.read(str(_source(name)), as_version=4)
    nbformat.validate(nb)
    assert nbauthor.lint(nb, require_hidden=name not in PRACTICE_ONLY) == []
    if name in PRACTICE_ONLY:
        return
    graded = [c for c in nb.cells if nbu.is_grade(c) and c.cell_type == "code"]
    assert len(graded) >= MIN_GRADED, f"{name} has {len(graded)} auto-graded cells"
    hidden = [c for c in graded if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(hidden) >= len(graded) // 2, f"{name}: only {len(hidden)} graded cells have hidden tests"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solutions_get_full_marks(name):
    nb = _executed(_source(name))
    grades = _grades(nb)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    lost = {gid: s for gid, s in grades.items() if s[0] != s[1]}
    assert not lost, "\n\n".join(f"{gid}: {s}\n{_outputs_text(cells[gid])}" for gid, s in lost.items())
    for c in nb.cells:  # no cell of the instructor version may error or write to stderr
        assert "[error]" not in _outputs_text(c) and "[stderr]" not in _outputs_text(c), c.source[:300]
    # and the public validator agrees
    old = os.getcwd()
    try:
        assert _validator().validate(str(_source(name))) == {}
    finally:
        os.chdir(old)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_scores_zero_on_every_graded_cell(name):
    nb = _executed(_release(name))
    grades = _grades(nb)
    if name in PRACTICE_ONLY:
        assert grades == {}
        return
    assert grades and all(score == 0 for score, _ in grades.values()), grades


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh") / "release"
    release.generate(out, root=ROOT)
    return out


def test_release_equals_a_fresh_generation(fresh_release):
    assert release.differences(fresh_release, ROOT / "notebooks") == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_solution_or_hidden_test_leaks(name):
    src = nbformat.read(str(_source(name)), as_version=4)
    rel_text = _release(name).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in rel_text
    for cell in src.cells:
        for block in re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", cell.source, re.S):
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 25 and not line.startswith("#"):
                    assert line not in rel_text, f"{name}: leaked line {line!r}"
    rel = nbformat.read(str(_release(name)), as_version=4)
    assert all(not c.get("outputs") for c in rel.cells if c.cell_type == "code")
