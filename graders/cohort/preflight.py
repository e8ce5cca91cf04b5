"""Checks on a submission before nbgrader sees it, so that a broken hand-in is reported, not silently zeroed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

OK = "ok"


def check_submission(folder: Path, expected: list[str]) -> tuple[str, str]:
    """(status, detail) for a submission folder.

    status is "ok", "missing_notebook" (expected notebook absent; a renamed one is named in detail) or
    "corrupt_notebook" (not valid JSON or not a notebook nbformat can read).
    """
    folder = Path(folder)
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
