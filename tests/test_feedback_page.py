"""Feedback HTML from `nbgrader generate_feedback` with the course's nbgrader_config.py: math renders with no
network (MathJax inlined, no CDN script), long code and output lines wrap instead of being clipped, and the
cohort grader's configuration uses the same page.

The browser half opens the page in headless Debian chromium (skipped without it) with every http(s) request
blocked, waits for MathJax's SVG output and measures that no <pre> scrolls sideways; it leaves feedback.png in the
test's tmp_path.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from graders import feedback_page

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LONG_COMMENT = "# a long comment " + "that keeps going " * 14


def _cell(src: str, gid: str, *, solution: bool, grade: bool, points: int | None = None):
    meta = {"grade": grade, "grade_id": gid, "locked": not solution, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return nbformat.v4.new_code_cell(src, metadata={"nbgrader": meta})


def _nbgrader(course: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr[-4000:]


@pytest.fixture(scope="module")
def feedback_html(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    cells = [
        nbformat.v4.new_markdown_cell("# Feedback page\n\nInline $\\frac{\\partial L}{\\partial W} = X^\\top \\delta$ and display\n\n"
           "$$\\sigma'(z) = \\sigma(z)\\,(1-\\sigma(z)) \\le \\tfrac14 .$$"),
        _cell("from graders.exercises import chain_rule as ex\n" + LONG_COMMENT, "setup", solution=False, grade=False),
        _cell("d_affine_square = None\n### BEGIN SOLUTION\nd_affine_square = '6*(3*x + 2)'\n### END SOLUTION", "a1",
              solution=True, grade=False),
        _cell("score = ex.check_outer_inner(d_affine_square, problem='affine_square', points=1)\nscore", "t1",
              solution=False, grade=True, points=1),
        _cell("d_sin_cube = None\n### BEGIN SOLUTION\nd_sin_cube = '6*x*sin(x**2)**2*cos(x**2)'\n### END SOLUTION",
              "a2", solution=True, grade=False),
        _cell("score = ex.check_outer_inner(d_sin_cube, problem='sin_cube', points=1)\nscore", "t2",
              solution=False, grade=True, points=1),
    ]
    (course / "solutions" / "fb").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, course / "solutions" / "fb" / "fb.ipynb")
    _nbgrader(course, "generate_assignment", "fb", "--force")
    sub = nbformat.read(course / "notebooks" / "fb" / "fb.ipynb", as_version=4)
    for cell in sub.cells:
        if "d_affine_square = None" in cell.source:
            cell.source = "d_affine_square = '6*(3*x + 2)'"
        if "d_sin_cube = None" in cell.source:
            cell.source = "d_sin_cube = '3*sin(x**2)**2*cos(x**2)'"  # the inner derivative 2x is missing
    (course / "submitted" / "alice" / "fb").mkdir(parents=True)
    nbformat.write(sub, course / "submitted" / "alice" / "fb" / "fb.ipynb")
    _nbgrader(course, "autograde", "fb", "--student", "alice")
    _nbgrader(course, "generate_feedback", "fb", "--student", "alice")
    return course / "feedback" / "alice" / "fb" / "fb.html"


def test_no_cdn_and_mathjax_inlined(feedback_html):
    html = feedback_html.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", html, re.I), "a script loads from the network"
    assert "cdnjs.cloudflare.com/ajax/libs/mathjax" not in html
    assert "window.MathJax = {" in html and "inlineMath: [['$', '$']" in html
    assert feedback_page.offline_mathjax()[:200] in html  # the bundle itself, inline
    assert html.count("</script>") == html.count("<script")  # the inlined bundle did not end its element early


def test_long_lines_wrap_by_css(feedback_html):
    html = feedback_html.read_text(encoding="utf-8")
    assert "white-space: pre-wrap;" in html and "overflow-wrap: anywhere;" in html
    assert "Score: 1.0 / 2.0" in html  # still nbgrader's feedback page (scores, table of contents)
    assert "✗ d/dx sin(x^2)^3: 1 of 1 checks failed" in html and "most recent call last" not in html


def test_the_cohort_grader_uses_the_same_page(tmp_path):
    from graders.cohort.course import Course

    (tmp_path / "solutions" / "fb").mkdir(parents=True)
    cfg = Course(root=tmp_path, assignment="fb").config()
    assert cfg.GenerateFeedback.HTMLExporter.template_name == feedback_page.TEMPLATE_NAME


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_the_page_renders_math_offline_and_clips_nothing(feedback_html):
    from playwright.sync_api import sync_playwright

    requested = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 900, "height": 1000})
        try:
            page.route(re.compile(r"^https?://"), lambda route: (requested.append(route.request.url), route.abort()))
            page.goto(feedback_html.as_uri())
            page.wait_for_function("() => document.querySelectorAll('mjx-container svg').length >= 2",
                                   timeout=30_000)
            page.screenshot(path=str(feedback_html.parent / "feedback.png"), full_page=True)
            assert not page.locator("body").inner_text().count("\\frac")  # no raw LaTeX left
            clipped = page.evaluate("() => [...document.querySelectorAll('pre')]"
                                    ".filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText.slice(0, 80))")
            assert clipped == []
            comment = page.locator("pre", has_text="a long comment").first
            assert comment.evaluate("p => p.getBoundingClientRect().height") > 2.5 * 16  # it wrapped onto lines
        finally:
            browser.close()
    assert requested == []
