"""Checks on a submission before anything reads it: a broken or hostile hand-in is reported, never silently
zeroed and never followed outside its folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nbformat

OK = "ok"
MAX_FILES = 2000
MAX_BYTES = 200 * 1024 ** 2


def check_submission(folder: Path, expected: list[str]) -> tuple[str, str]:
    """(status, detail) for a submission folder.

    status is "ok"; "rejected" (the folder itself or anything inside is a symbolic link or not a regular file or
    folder, or it is larger than MAX_FILES files / MAX_BYTES bytes: nothing is graded, nothing is followed);
    "missing_notebook" (expected notebook absent; a renamed one is named in detail) or "corrupt_notebook" (not
    valid JSON or not a notebook nbformat can read).
    """
    folder = Path(folder)
    problem = _unsafe_entries(folder)
    if problem:
        return "rejected", problem
    present = sorted(p.name for p in folder.glob("*.ipynb"))
    missing = [n for n in expected if n not in present]
    if missing:
        extra = [n for n in present if n not in expected]
        detail = f"missing {', '.join(missing)}"
        if extra:
            detail += f"; found {', '.join(extra)} instead (renamed?)"
        return "missing_notebook", detail
    for name in expected:
        path = folder / name
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return "corrupt_notebook", f"{name} is not valid JSON ({exc})"
        try:
            nb = nbformat.from_dict(raw)
            nbformat.validate(nb)
        except Exception as exc:  # nbformat raises several types for malformed notebooks
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return "corrupt_notebook", f"{name} is not a valid notebook ({first[:200]})"
    return OK, ""


def _unsafe_entries(folder: Path) -> str:
    """Why the folder may not be graded ('' when it may)."""
    try:
        st = os.lstat(folder)
    except OSError as exc:
        return f"the submission folder cannot be read ({exc})"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return "the submission folder is a symbolic link or not a folder"
    bad, count, size = [], 0, 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            rel = os.path.relpath(path, folder)
            if stat.S_ISLNK(mode):
                bad.append(f"{rel} is a symbolic link")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                bad.append(f"{rel} is not a regular file")
            elif stat.S_ISREG(mode):
                count += 1
                size += os.lstat(path).st_size
    if bad:
        return "; ".join(bad[:5]) + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "") + ": not graded"
    if count > MAX_FILES or size > MAX_BYTES:
        return f"the submission holds {count} files and {size} bytes (limits {MAX_FILES} and {MAX_BYTES}): not graded"
    return ""
