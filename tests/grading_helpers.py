"""Assertions shared by the grader tests: a check that must lose points, and one that must fail completely."""

from __future__ import annotations

import pytest


def fails_with(capsys, fn, *args, code=None, phrase=None, **kwargs) -> str:
    """Run a check expected to lose points; return its full text (raised message or printed output).

    ``code``: a diagnosis code that must appear as ``[CODE]``; ``phrase``: text that must appear.
    """
    capsys.readouterr()
    try:
        score = fn(*args, **kwargs)
    except AssertionError as exc:
        text = str(exc)
    else:
        assert score is not None and score < kwargs.get("points", 1), score
        text = capsys.readouterr().out
    if code:
        assert f"[{code}]" in text, text
    if phrase:
        assert phrase in text, text
    return text


def fails(fn, *args, **kwargs) -> str:
    """The AssertionError message of a check that must fail completely."""
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)
