"""End to end in a real browser: JupyterLab on loopback, headless Debian chromium through Playwright, the drill
notebook run from the menu, a drill started, answered, the feedback shown and the timer moving.

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
        return f"0.25**{m.group(1)}"
    m = re.search(r"A linear chain of (\d+) layers, each multiplying the gradient by ([0-9]+(?:\.[0-9]+)?)", prompt)
    assert m, prompt
    return f"{m.group(2)}**{m.group(1)}"


def test_drill_runs_in_jupyterlab_in_a_real_browser(lab):
    from playwright.sync_api import expect, sync_playwright

    base, token, tmp_path = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/mock_interview.ipynb?token={token}")
            expect(page.get_by_text(re.compile(r"\| Idle")).first).to_be_visible(timeout=90_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            start = page.locator(".drill-start")
            expect(start).to_be_visible(timeout=60_000)
            page.locator(".drill-families select").select_option(label="Vanishing/exploding gradient estimate")
            start.click()
            prompt = page.locator(".drill-prompt")
            expect(prompt).to_contain_text("Problem 1 of", timeout=30_000)
            timer = page.locator(".drill-timer")
            expect(timer).to_contain_text("left", timeout=10_000)
            first = timer.inner_text()
            expect(timer).not_to_have_text(first, timeout=10_000)  # the countdown moves

            answer = page.locator(".drill-answer input")
            answer.fill("12345")
            page.locator(".drill-check").click()
            feedback = page.locator(".drill-feedback")
            expect(feedback).to_contain_text("Not", timeout=20_000)
            answer.fill(_answer_for(prompt.inner_text()))
            page.locator(".drill-check").click()
            expect(feedback).to_contain_text("Correct", timeout=20_000)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
