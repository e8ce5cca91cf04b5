"""The grader suites pass unchanged when the student's code runs in another process (cohort grading's seam).

Each grader and exercise test module runs in a pytest subprocess with tests/remote_plugin.py, which hands every
``check_*`` proxies of the student's functions, classes and objects served by a forked process: the correct
answers, planted mistakes and garbage of the whole suite then cross the data-only link and must give the same
verdicts and messages as in one process. Tests marked ``in_process`` (they read objects the student's code
fills in its own process) are left out; everything else must pass, so the two settings cannot drift apart.
A sample of planted mistakes is also compared word for word (the whole report) in both settings.
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


@pytest.fixture(scope="module")
def across_the_link(tmp_path_factory) -> dict[str, dict[str, list[str]]]:
    """One pytest subprocess over every module with the plugin (one start-up, not one per module): for each module,
    the names of the tests that passed and of those that failed, with their messages."""
    import xml.etree.ElementTree as ET

    report = tmp_path_factory.mktemp("link") / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.remote_plugin", "-n", "0", *[f"tests/{m}" for m in MODULES],
         "-m", "not in_process", "-q", "-p", "no:cacheprovider", "--no-header", f"--junitxml={report}"],
        cwd=ROOT, capture_output=True, text=True, timeout=3000)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    results: dict[str, dict[str, list[str]]] = {m: {"passed": [], "failed": []} for m in MODULES}
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[-1] + ".py"
        if module not in results:
            continue
        bad = [c for c in case if c.tag in ("failure", "error")]
        if bad:
            results[module]["failed"].append(f"{case.get('name')}: {(bad[0].get('message') or '')[:500]}")
        elif not [c for c in case if c.tag == "skipped"]:
            results[module]["passed"].append(case.get("name"))
    return results


@pytest.mark.parametrize("module", MODULES)
def test_module_passes_with_the_student_code_in_another_process(module, across_the_link):
    got = across_the_link[module]
    assert got["failed"] == [], f"{module} fails across the link:\n" + "\n".join(got["failed"][:10])
    assert got["passed"], f"no test of {module} ran across the link"


# ------------------------------------------------------------------------------- the same text, word for word


def _text(check, *args, **kwargs) -> str:
    import contextlib
    import io
    import re

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            result = check(*args, **kwargs)
        except AssertionError as exc:
            result = f"AssertionError: {exc}"
    return re.sub(r"0x[0-9a-f]+", "0x?", f"{result}\n{out.getvalue()}")


def _planted():
    import tests.test_graders_autodiff as T
    import tests.test_graders_autodiff_modes as TM
    from graders import autodiff as A

    return [
        ("Value overwrites", A.check_value_class, (T.make_value(overwrite=True),), {"points": 6}),
        ("Value breadth-first order", A.check_value_class, (T.make_value(topo="bfs"),), {"points": 6}),
        ("Value recursive sort", A.check_value_class, (T.make_value(topo="recursive"),), {"points": 6}),
        ("Value without a reflected lift", A.check_value_class, (T.make_value(no_lift=True),), {"points": 6}),
        ("Dual product rule", A.check_dual_class, (T.make_dual(product_wrong=True),), {"points": 3}),
        ("topological order without visited set", A.check_topological_order, (T.topo_no_visited,), {"points": 3}),
        ("partial derivative by finite differences", A.check_partial_derivative, (TM.pd_finite_differences,),
         {"points": 2}),
        ("VJP row by row", A.check_vjp, (TM.vjp_row_by_row,), {"points": 3}),
        ("checkpointing that keeps everything", A.check_checkpointed_backward, (TM.ckpt_store_all,), {"points": 4}),
    ]


@pytest.mark.parametrize("case", range(9))
def test_a_planted_mistake_reads_the_same_in_both_settings(case):
    from tests.remote_harness import proxied

    name, check, args, kwargs = _planted()[case]
    assert _text(proxied(check), *args, **kwargs) == _text(check, *args, **kwargs), name
