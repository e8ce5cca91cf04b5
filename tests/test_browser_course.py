"""A course notebook in a real browser, started exactly as a student starts it (tools/lab.py), on a temporary
copy of the course: headless Debian chromium through Playwright answers one exercise of 01_chain_rule rightly and
one wrongly, runs all cells, and checks what the student sees (the score, the failure message with no traceback,
a rendered plot), that nbgrader's instructor tools are absent and Validate gives a short summary, and that the
tracked release notebook was never written.

Needs Debian's chromium at /usr/bin/chromium (``.ci/run`` installs it with apt); skipped without it.
Screenshots of each step are left in the test's tmp_path.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tools import lab

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = "01_chain_rule/chain_rule.ipynb"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed "
                                "(apt-get install chromium; .ci/run does this)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _course_copy(tmp_path: Path) -> Path:
    """A course root with one release notebook and this environment (bin/ linked, requirements stamped)."""
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks" / NOTEBOOK.split("/")[0], course / "notebooks" / NOTEBOOK.split("/")[0])
    for name in ("nbgrader_config.py", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, course / name)
    bindir = lab.venv_python(course).parent
    bindir.mkdir(parents=True)
    for exe in ("python", "jupyter", "alembic", "nbgrader"):  # nbgrader's gradebook runs `alembic` from PATH
        (bindir / exe).symlink_to(Path(sys.executable).parent / exe)
    (course / ".venv" / lab.STAMP).write_text(lab.requirements_hash(course) + "\n")
    return course


def _start_lab(tmp_path, course: Path, *args: str):
    token, port = secrets.token_hex(16), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "JUPYTER_CONFIG_DIR", "DISPLAY",
                                                             "WAYLAND_DISPLAY")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"), BACKPROP_DRILL_DB=str(tmp_path / "drill.sqlite3"),
               PYTHONPATH=str(ROOT))
    launch = (f"from pathlib import Path; from tools import lab; "
              f"lab.main({list(args)!r} + ['--', '--ServerApp.port={port}', '--ServerApp.ip=127.0.0.1', "
              f"'--IdentityProvider.token={token}'], root=Path({str(course)!r}))")
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", launch], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    return proc, log, base, token


def _stop(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_formgrader_preview_opens_the_release_folder_in_the_instructor_launch(tmp_path):
    """Formgrader's Preview links to /tree/notebooks/<assignment>; in the instructor launch it must open that folder
    in JupyterLab (Notebook 7 read the path as a notebook to open and showed "File Load Error")."""
    from playwright.sync_api import expect, sync_playwright

    course = _course_copy(tmp_path)
    shutil.copytree(ROOT / "solutions" / NOTEBOOK.split("/")[0], course / "solutions" / NOTEBOOK.split("/")[0])
    proc, log, base, token = _start_lab(tmp_path, course, "--instructor")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            try:
                page.goto(f"{base}/formgrader?token={token}")
                page.wait_for_selector("text=01_chain_rule", timeout=90_000)
                links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
                preview = [h for h in links if "/tree/notebooks/01_chain_rule" in h]
                assert preview, links
                page.goto(preview[0])
                expect(page.locator(".jp-BreadCrumbs")).to_contain_text("01_chain_rule", timeout=60_000)
                expect(page.get_by_text("chain_rule.ipynb").first).to_be_visible(timeout=30_000)
                page.screenshot(path=str(tmp_path / "preview.png"))
                assert "/lab/tree/notebooks/01_chain_rule" in page.url
                assert page.get_by_text("File Load Error").count() == 0
                menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
                assert "Nbgrader" in menus, menus  # the instructor's tools are on
            finally:
                browser.close()
    finally:
        _stop(proc, log)


@pytest.fixture()
def student_lab(tmp_path):
    course = _course_copy(tmp_path)
    proc, log, base, token = _start_lab(tmp_path, course)
    yield base, token, course, tmp_path
    _stop(proc, log)


def _set_cell(page, old: str, new: str) -> None:
    cell = page.locator(".jp-CodeCell", has_text=old).first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(new)
    page.keyboard.press("Escape")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_student_answers_two_exercises_in_jupyterlab(student_lab):
    from playwright.sync_api import expect, sync_playwright

    base, token, course, tmp_path = student_lab
    release_before = _sha(course / "notebooks" / NOTEBOOK)
    log = (tmp_path / "lab.log").read_text()
    assert "Copied 1 notebook(s) to your working folder work/" in log
    # as root, Jupyter refuses to start without --allow-root; headless (no DISPLAY), it must not try a browser
    assert "Running as root is not recommended" not in log and "No display found" in log
    # the instructor's server extensions are not loaded for a student; Validate's is
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=10)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            expect(page.get_by_text(re.compile(r"\| Idle")).first).to_be_visible(timeout=90_000)
            menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
            assert "Run" in menus and "Nbgrader" not in menus, menus
            expect(page.get_by_text("Validate", exact=True)).to_be_visible()
            page.screenshot(path=str(tmp_path / "1_opened.png"))

            _set_cell(page, "d_affine_square = None", "d_affine_square = '6*(3*x + 2)'")
            _set_cell(page, "d_sin_cube = None", "d_sin_cube = '3*sin(x**2)**2*cos(x**2)'")  # inner 2x missing
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()

            wrong = page.locator(".jp-CodeCell", has_text="check_outer_inner(d_sin_cube").first
            error = wrong.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            expect(error).to_be_visible(timeout=90_000)
            expect(page.get_by_text(re.compile(r"\| Idle")).first).to_be_visible(timeout=90_000)
            error.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "2_wrong_answer.png"))
            text = error.inner_text()
            assert text.startswith("✗ d/dx sin(x^2)^3: 1 of 1 checks failed"), text
            assert "MISSING_INNER_DERIVATIVE" in text and "inner derivative missing" in text, text
            assert "Traceback" not in text and "graders/" not in text and "GradingError" not in text, text

            right = page.locator(".jp-CodeCell", has_text="check_outer_inner(d_affine_square").first
            right.scroll_into_view_if_needed()
            out = right.locator(".jp-OutputArea").inner_text()
            assert "✓ d/dx (3x + 2)^2: all 1 checks passed." in out and re.search(r"\]:\s*1\.0\b", out), out

            plot = page.locator(".jp-OutputArea-output img").first
            plot.scroll_into_view_if_needed()
            width, height = plot.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert width > 300 and height > 150, (width, height)
            page.screenshot(path=str(tmp_path / "3_plot_and_score.png"))
            assert page.get_by_text(re.compile("Error fetching courses|exchange directory")).count() == 0

            page.get_by_text("Validate", exact=True).click()
            dialog = page.locator(".jp-Dialog")
            expect(dialog.locator(".validation-failed")).to_be_visible(timeout=180_000)
            page.screenshot(path=str(tmp_path / "4_validate.png"))
            summary = dialog.inner_text()
            failed = summary.count("The following cell failed")
            assert failed == 10, summary  # 11 graded cells, Exercise 1 is right
            assert "✗ d/dx sin(x^2)^3: 1 of 1 checks failed" in summary and "Traceback" not in summary
            assert len(summary) < 400 * failed, len(summary)
            dialog.get_by_role("button", name="Ok").click()
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()

    # Lab saved into the student's working copy; the tracked release is untouched
    assert _sha(course / "notebooks" / NOTEBOOK) == release_before
    assert "6*(3*x + 2)" in (course / "work" / NOTEBOOK).read_text()
