"""The grader suites pass unchanged when the student's code runs in another process (cohort grading's seam).

Each grader and exercise test module runs in a pytest subprocess with tests/remote_plugin.py, which hands every
``check_*`` proxies of the student's functions, classes and objects served by a forked process: the correct
answers, planted mistakes and garbage of the whole suite then cross the data-only link and must give the same
verdicts and messages as in one process. Tests marked ``in_process`` (they read objects the student's code
fills in its own process) are left out; everything else must pass, so the two settings cannot drift apart.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.name for p in (ROOT / "tests").glob("test_graders_*.py")) + \
    sorted(p.name for p in (ROOT / "tests").glob("test_exercises_*.py"))


def test_the_suites_are_found():
    assert "test_graders_autodiff.py" in MODULES and "test_exercises_computational_graphs.py" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_module_passes_with_the_student_code_in_another_process(module):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.remote_plugin", f"tests/{module}", "-m", "not in_process", "-q",
         "-p", "no:cacheprovider", "-x", "--no-header"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    tail = "\n".join(proc.stdout.splitlines()[-60:])
    assert proc.returncode in (0, 5), f"{module} fails across the link:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in proc.stdout or proc.returncode == 5, tail
