"""tools/lab.py without starting JupyterLab: the reinstall decision, the student's working copy (copied once,
never overwritten, release updates offered next to it), the private Jupyter config and the command's flags."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tools import lab

ROOT = Path(__file__).resolve().parents[1]


def _nb(text: str) -> str:
    return json.dumps({"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": [text]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture()
def course(tmp_path):
    root = tmp_path / "course"
    for folder, name in [("01_chain_rule", "chain_rule"), ("03_two_layer_network", "two_layer_network")]:
        (root / "notebooks" / folder).mkdir(parents=True)
        (root / "notebooks" / folder / f"{name}.ipynb").write_text(_nb(f"{name} v1"))
    (root / "requirements.txt").write_text("numpy==2.4.6\n-e .\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return root


def _fake_venv(root: Path) -> None:
    py = lab.venv_python(root)
    py.parent.mkdir(parents=True)
    py.write_text("")
    (root / ".venv" / lab.STAMP).write_text(lab.requirements_hash(root) + "\n")


# ------------------------------------------------------------------------------------------- environment


def test_install_only_when_missing_or_requirements_changed(course, monkeypatch):
    assert "no environment" in lab.needs_install(course)
    lab.venv_python(course).parent.mkdir(parents=True)
    lab.venv_python(course).write_text("")
    assert "not installed by this launcher" in lab.needs_install(course)
    (course / ".venv" / lab.STAMP).write_text(lab.requirements_hash(course) + "\n")
    assert lab.needs_install(course) is None

    def no_pip(*a, **k):
        raise AssertionError(f"pip ran although the environment is current: {a}")
    monkeypatch.setattr(lab.subprocess, "run", no_pip)
    assert lab.ensure_environment(course) == lab.venv_python(course)

    (course / "requirements.txt").write_text("numpy==2.4.7\n-e .\n")
    assert "changed" in lab.needs_install(course)
    calls = []
    monkeypatch.setattr(lab.subprocess, "run", lambda cmd, **k: calls.append((cmd, k)))
    lab.ensure_environment(course)
    (cmd, kw), = calls
    assert cmd[1:5] == ["-m", "pip", "install", "--disable-pip-version-check"] and cmd[-2:] == ["-r", "requirements.txt"]
    assert kw["cwd"] == course and kw["check"] is True
    assert lab.needs_install(course) is None  # stamped after a successful install
    (course / "pyproject.toml").write_text("[project]\nname = 'x'\ndependencies = ['sympy']\n")
    assert lab.needs_install(course) is not None  # `-e .` installs pyproject's dependencies too


# ------------------------------------------------------------------------------------------- working copy


def test_first_launch_copies_every_release_notebook(course):
    done = lab.sync_working_copy(course)
    assert done["copied"] == ["01_chain_rule/chain_rule.ipynb", "03_two_layer_network/two_layer_network.ipynb"]
    for rel in done["copied"]:
        assert (course / "work" / rel).read_bytes() == (course / "notebooks" / rel).read_bytes()
    assert "Copied 2 notebook(s) to your working folder work/" in lab.report_sync(done)
    again = lab.sync_working_copy(course)
    assert lab.report_sync(again) == "" and not any(again[k] for k in ("copied", "updated", "offered", "pending"))


def test_an_edited_copy_is_never_overwritten_and_the_new_release_is_offered(course):
    lab.sync_working_copy(course)
    mine = course / "work" / "03_two_layer_network" / "two_layer_network.ipynb"
    mine.write_text(_nb("my answers"))
    (course / "notebooks" / "03_two_layer_network" / "two_layer_network.ipynb").write_text(_nb("two_layer_network v2"))
    (course / "notebooks" / "01_chain_rule" / "chain_rule.ipynb").write_text(_nb("chain_rule v2"))

    done = lab.sync_working_copy(course)
    assert mine.read_text() == _nb("my answers")
    new = mine.with_name("two_layer_network.new.ipynb")
    assert new.read_text() == _nb("two_layer_network v2")
    assert done["offered"] == ["03_two_layer_network/two_layer_network.ipynb"]
    # the untouched notebook simply follows the release
    assert done["updated"] == ["01_chain_rule/chain_rule.ipynb"]
    assert (course / "work" / "01_chain_rule" / "chain_rule.ipynb").read_text() == _nb("chain_rule v2")
    msg = lab.report_sync(done)
    assert "work/03_two_layer_network/two_layer_network.ipynb  (yours, kept unchanged)" in msg
    assert "work/03_two_layer_network/two_layer_network.new.ipynb" in msg
    assert "python3.11 tools/lab.py --take 03_two_layer_network" in msg

    # next launch: still reminded, nothing rewritten
    new.write_text(_nb("two_layer_network v2"))
    later = lab.sync_working_copy(course)
    assert later["pending"] == ["03_two_layer_network/two_layer_network.ipynb"] and not later["offered"]
    assert mine.read_text() == _nb("my answers")


def test_a_student_who_worked_in_the_new_file_keeps_that_too(course):
    lab.sync_working_copy(course)
    rel_release = course / "notebooks" / "03_two_layer_network" / "two_layer_network.ipynb"
    mine = course / "work" / "03_two_layer_network" / "two_layer_network.ipynb"
    mine.write_text(_nb("my answers"))
    rel_release.write_text(_nb("v2"))
    lab.sync_working_copy(course)
    new = mine.with_name("two_layer_network.new.ipynb")
    new.write_text(_nb("answers in the new file"))
    rel_release.write_text(_nb("v3"))
    done = lab.sync_working_copy(course)
    assert new.read_text() == _nb("answers in the new file") and mine.read_text() == _nb("my answers")
    (path,) = done["new"].values()
    assert path.startswith("03_two_layer_network/two_layer_network.new-") and \
        (course / "work" / path).read_text() == _nb("v3")


def test_take_switches_to_the_release_and_keeps_the_old_copy(course):
    import datetime as dt
    lab.sync_working_copy(course)
    mine = course / "work" / "03_two_layer_network" / "two_layer_network.ipynb"
    mine.write_text(_nb("my answers"))
    (course / "notebooks" / "03_two_layer_network" / "two_layer_network.ipynb").write_text(_nb("v2"))
    lab.sync_working_copy(course)
    kept = lab.take_release(course, ["03_two_layer_network"], now=dt.datetime(2026, 1, 2, 3, 4, 5))
    assert kept == ["03_two_layer_network/two_layer_network.old-20260102-030405.ipynb"]
    assert (course / "work" / kept[0]).read_text() == _nb("my answers")
    assert mine.read_text() == _nb("v2") and not mine.with_name("two_layer_network.new.ipynb").exists()
    assert lab.report_sync(lab.sync_working_copy(course)) == ""
    with pytest.raises(SystemExit, match="no such notebook folder"):
        lab.take_release(course, ["99_nothing"])


def test_a_deleted_copy_comes_back_from_the_release(course):
    lab.sync_working_copy(course)
    copy = course / "work" / "01_chain_rule" / "chain_rule.ipynb"
    copy.unlink()
    assert lab.sync_working_copy(course)["copied"] == ["01_chain_rule/chain_rule.ipynb"] and copy.exists()


def test_the_working_copy_and_config_are_ignored_by_git():
    out = subprocess.run(["git", "check-ignore", "work/01_chain_rule/chain_rule.ipynb", ".lab/student/x.json"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["work/01_chain_rule/chain_rule.ipynb", ".lab/student/x.json"]


def test_main_setup_only_reports_and_does_not_start_lab(course, capsys, monkeypatch):
    _fake_venv(course)
    monkeypatch.setattr(lab.os, "execve", lambda *a: pytest.fail("Lab started"))
    assert lab.main(["--setup-only"], root=course) == 0
    assert "Copied 2 notebook(s)" in capsys.readouterr().out
    assert lab.main(["--setup-only"], root=course) == 0
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------- Jupyter config and flags


def test_student_config_turns_off_instructor_tools_but_keeps_validate(course):
    cfg = lab.write_config(course, instructor=False)
    assert cfg == course / ".lab" / "student"
    disabled = json.loads((cfg / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list",
            "@jupyter/nbgrader:assignment-list"} <= set(disabled)
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    ext = json.loads((cfg / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert ext["nbgrader.server_extensions.formgrader"] is False and ext["nbgrader.server_extensions.course_list"] is False
    assert "nbgrader.server_extensions.validate_assignment" not in ext
    news = cfg / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    assert json.loads(news.read_text())["fetchNews"] == "false"


def test_instructor_config_keeps_every_tool_and_has_an_exchange(course):
    cfg = lab.write_config(course, instructor=True)
    assert json.loads((cfg / "labconfig" / "page_config.json").read_text())["disabledExtensions"] == {}
    # every nbgrader extension stays on; Notebook 7's /tree gives way to Lab (formgrader's links open there)
    assert json.loads((cfg / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"] == {
        "notebook": False, "graders.instructor_lab": True}
    assert (course / ".lab" / "exchange").is_dir()
    text = (cfg / "nbgrader_config.py").read_text()
    assert repr(str(course / ".lab" / "exchange")) in text and f"c.CourseDirectory.root = {str(course)!r}" in text


@pytest.mark.parametrize("as_root,display", [(True, False), (False, True), (True, True), (False, False)])
def test_root_and_display_flags(course, as_root, display):
    cmd = lab.lab_command(course, instructor=False, as_root=as_root, display=display, extra=["--port=9"])
    assert cmd[0] == str(lab.venv_python(course).parent / "jupyter") and cmd[1] == "lab"
    assert ("--allow-root" in cmd) == as_root and ("--no-browser" in cmd) == (not display)
    assert f"--ServerApp.root_dir={course / 'work'}" in cmd and cmd[-1] == "--port=9"
    assert f"--ServerApp.root_dir={course}" in lab.lab_command(course, instructor=True, as_root=as_root,
                                                               display=display)


def test_display_detection():
    assert not lab.has_display({}, "linux")
    assert lab.has_display({"DISPLAY": ":0"}, "linux") and lab.has_display({"WAYLAND_DISPLAY": "w"}, "linux")
    assert lab.has_display({}, "darwin") and lab.has_display({}, "win32")


def test_lab_environment_points_jupyter_at_the_private_config(course):
    env = lab.lab_environment(course, course / ".lab" / "student", {"PATH": "/usr/bin", "JUPYTERLAB_SETTINGS_DIR": "x"})
    assert env["JUPYTER_CONFIG_DIR"] == str(course / ".lab" / "student") and "JUPYTERLAB_SETTINGS_DIR" not in env
    assert env["PATH"].startswith(str(lab.venv_python(course).parent))


def test_readme_names_both_launches_and_the_ci_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "```bash\npython3.11 tools/lab.py\n```" in readme and "python3.11 tools/lab.py --instructor" in readme
    assert "jupyter lab notebooks/" not in readme  # the old launch (reinstall every time, Lab on tracked files)
    test_cmd = "python3.11 -m venv .venv && .venv/bin/pip install -q -r requirements.txt && .venv/bin/python -m pytest"
    assert test_cmd in readme and (ROOT / ".ci" / "run").read_text().strip().endswith(test_cmd)
