"""End to end in a real browser: JupyterLab on loopback, headless Debian chromium through Playwright, the drill
notebook run from the menu; a quick drill started, answered (Enter submits), the feedback shown and the timer
moving; and a live-coding drill: the stub loaded into the live-coding cell, a wrong attempt with its named
mistake and partial credit, the right attempt, and the rubric. Screenshots of each step are kept in the
test's temporary folder.

Needs Debian's chromium at /usr/bin/chromium (``.ci/run`` installs it with apt); skipped without it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed "
                                "(apt-get install chromium; .ci/run does this)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path):
    work = tmp_path / "work"
    shutil.copytree(ROOT / "notebooks" / "09_mock_interview", work)
    settings = tmp_path / "settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token = secrets.token_hex(16)
    port = _free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), BACKPROP_DRILL_DB=str(tmp_path / "drill.sqlite3"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root",
                             f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
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
    yield base, token, tmp_path
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _answer_for(prompt: str) -> str:
    m = re.search(r"A chain of (\d+) sigmoid layers", prompt)
    if m:
        return f"4**{m.group(1)}"
    m = re.search(r"A linear chain of (\d+) layers, each multiplying the gradient by ([0-9]+(?:\.[0-9]+)?)", prompt)
    assert m, prompt
    return f"{m.group(2)}**{m.group(1)}"


def _open_and_run_all(page, base, token):
    page.goto(f"{base}/lab/tree/mock_interview.ipynb?token={token}")
    expect = _expect()
    expect(page.get_by_text(re.compile(r"\| Idle")).first).to_be_visible(timeout=90_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    expect(page.locator(".drill-start")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"\| Idle")).first).to_be_visible(timeout=90_000)
    page.locator(".drill-mode").scroll_into_view_if_needed()


def _expect():
    from playwright.sync_api import expect
    return expect


def _browser(pw):
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
    return browser, browser.new_page(viewport={"width": 1400, "height": 1000})


def test_drill_runs_in_jupyterlab_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    expect = _expect()
    base, token, tmp_path = lab
    with sync_playwright() as pw:
        browser, page = _browser(pw)
        try:
            _open_and_run_all(page, base, token)
            page.locator(".drill-families select").select_option(label="Vanishing/exploding gradient estimate")
            page.screenshot(path=str(tmp_path / "quick-0-setup.png"))
            page.locator(".drill-start").click()
            prompt = page.locator(".drill-prompt")
            expect(prompt).to_contain_text("Problem 1 of", timeout=30_000)
            timer = page.locator(".drill-timer").first
            expect(timer).to_contain_text("Time left", timeout=10_000)
            first = timer.inner_text()
            expect(timer).not_to_have_text(first, timeout=10_000)  # the countdown moves

            answer = page.locator(".drill-answer input")
            answer.fill("12345")
            answer.press("Enter")  # Enter submits
            feedback = page.locator(".drill-feedback")
            expect(feedback).to_contain_text("Not", timeout=20_000)
            answer.fill(_answer_for(prompt.inner_text()))
            page.locator(".drill-check").click()
            expect(feedback).to_contain_text("Correct", timeout=20_000)
            expect(feedback).to_contain_text("Points for this problem: 0.75", timeout=20_000)
            page.screenshot(path=str(tmp_path / "quick-1-answered.png"))
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()


RIGHT_AFFINE = (
    "%%drill_code\n"
    "import numpy as np\n\n"
    "def affine_forward(x, W, b):\n"
    "    return x @ W + b, (x, W)\n\n"
    "def affine_backward(dout, cache):\n"
    "    x, W = cache\n"
    "    return dout @ W.T, x.T @ dout, dout.sum(axis=0)\n")


def _set_cell_text(page, cell, text: str) -> None:
    """Replace a code cell's source as a candidate would: click into it, select all, type (inserted as is)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def test_a_live_coding_drill_end_to_end_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    expect = _expect()
    base, token, tmp_path = lab
    with sync_playwright() as pw:
        browser, page = _browser(pw)
        try:
            _open_and_run_all(page, base, token)
            cell = page.locator(".jp-CodeCell").filter(
                has=page.locator(".jp-InputArea .cm-content", has_text="%%drill_code"))
            expect(cell.locator(".jp-OutputArea-output")).to_contain_text("No live-coding problem is running")
            page.locator(".drill-families select").select_option(label="Live coding: affine layer forward and backward")
            readout = page.locator(".drill-length .widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("1")
            page.keyboard.press("Enter")
            expect(readout).to_have_text("1")
            page.locator(".drill-start").click()
            expect(page.locator(".drill-prompt")).to_contain_text("affine_backward(dout, cache)", timeout=30_000)
            expect(page.locator(".drill-timer").first).to_contain_text("Time left: 14:", timeout=10_000)
            page.screenshot(path=str(tmp_path / "live-0-started.png"))

            # 1. the stub: running the (comment-only) live-coding cell loads the stub into it
            cell.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            expect(cell.locator(".jp-OutputArea-output").last).to_contain_text("is now in this cell", timeout=60_000)
            expect(cell.locator(".cm-content")).to_contain_text("def affine_backward(dout, cache):", timeout=20_000)
            expect(cell.locator(".cm-content")).to_contain_text('raise NotImplementedError("write affine_forward")')
            cell.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "live-1-stub.png"))

            # 2. a wrong attempt: dW without the transpose on the right operand
            _set_cell_text(page, cell, RIGHT_AFFINE.replace("x.T @ dout", "dout.T @ x"))
            page.keyboard.press("Shift+Enter")
            out = cell.locator(".jp-OutputArea")
            expect(out).to_contain_text("[MISSING_TRANSPOSE]", timeout=60_000)
            expect(out).to_contain_text("Points if you submit now: 0.70")
            expect(page.locator(".drill-feedback")).to_contain_text("MISSING_TRANSPOSE")
            cell.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "live-2-wrong.png"))

            # 3. the right attempt: all checks pass, the drill ends and shows the rubric
            _set_cell_text(page, cell, RIGHT_AFFINE)
            page.keyboard.press("Shift+Enter")
            expect(out).to_contain_text("all 6 checks passed", timeout=60_000)
            summary = page.locator(".drill-summary")
            expect(summary).to_contain_text("Score 0.90: Strong Hire", timeout=30_000)
            expect(summary).to_contain_text("coding: 0.90")
            expect(summary).to_contain_text("Live coding: affine layer forward and backward")
            expect(summary).to_contain_text("Written debrief")
            summary.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "live-3-rubric.png"))
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
