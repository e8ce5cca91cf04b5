"""Hints on demand for every exercise of the course notebooks (01-08, 10).

    hint("softmax")        # level 1: the idea
    hint("softmax", 2)     # level 2: the method
    hint("softmax", 3)     # level 3: the last step, short of the answer

An exercise is named by the nbgrader ``grade_id`` of its answer cell. The texts live in one module per notebook
(``hints_01_chain_rule.py``, ...), each defining ``HINTS = {grade_id: (level 1, level 2, level 3)}``. Two ids
occur in two notebooks (``numeric_gradient`` in 02 and 03, ``clip_grad_norm`` in 06 and 08): name the notebook,
``hint("03:numeric_gradient")``, or ask from the notebook itself (its folder's number decides). An unknown id or
level prints what is valid instead of raising, so asking for a hint never ends in a traceback.

Standard library only: hints work wherever the notebook runs, without the checks or reference_impl.
"""

from __future__ import annotations

import difflib
import importlib
import re
from pathlib import Path

__all__ = ["hint", "hint_text", "exercises", "NOTEBOOKS", "LEVELS"]

NOTEBOOKS = {
    "01": "01_chain_rule",
    "02": "02_computational_graphs",
    "03": "03_two_layer_network",
    "04": "04_jacobians_vjps",
    "05": "05_ad_modes",
    "06": "06_bptt",
    "07": "07_batchnorm",
    "08": "08_vanishing_exploding",
    "10": "10_attention",
}
LEVELS = (1, 2, 3)


def exercises() -> dict[str, dict[str, tuple[str, str, str]]]:
    """Notebook number ("01", ..., "10") -> {grade_id: (hint 1, hint 2, hint 3)}."""
    return {nn: importlib.import_module(f"graders.public.hints_{name}").HINTS for nn, name in NOTEBOOKS.items()}


def _current_notebook() -> str | None:
    """The number of the notebook whose folder the kernel runs in (Jupyter starts it there), if any."""
    for folder in (Path.cwd(), *Path.cwd().parents[:1]):
        m = re.match(r"(\d\d)_", folder.name)
        if m and m.group(1) in NOTEBOOKS:
            return m.group(1)
    return None


def _listing(bank: dict, nn: str | None) -> str:
    if nn is not None:
        return f"the exercises of notebook {NOTEBOOKS[nn]} are: {', '.join(bank[nn])}"
    return "the exercises are:\n" + "\n".join(f"  {NOTEBOOKS[k]}: {', '.join(v)}" for k, v in bank.items())


def hint_text(exercise_id: str, level: int = 1) -> str:
    """The text ``hint`` prints: "Hint 2 of 3 for softmax: ...". Raises ValueError with a message that lists
    the valid ids or levels when ``exercise_id`` or ``level`` is not one of them."""
    bank = exercises()
    here = _current_notebook()
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValueError(f"level must be 1, 2 or 3, got {level!r}: hint({exercise_id!r}) is the first hint, "
                         f"hint({exercise_id!r}, 2) and hint({exercise_id!r}, 3) the next ones.")
    if not isinstance(exercise_id, str) or not exercise_id.strip():
        raise ValueError(f"name the exercise by the grade_id of its answer cell, e.g. hint('softmax'); "
                         f"{_listing(bank, here)}.")
    name = exercise_id.strip()
    nn = None
    m = re.fullmatch(r"(\d\d)(?:_[a-z_]+)?[:/](\w+)", name)
    if m:
        nn, name = m.group(1), m.group(2)
        if nn not in bank:
            raise ValueError(f"there is no notebook {nn}; hints exist for notebooks {', '.join(bank)}.")
        if name not in bank[nn]:
            raise ValueError(f"notebook {NOTEBOOKS[nn]} has no exercise {name!r}; {_listing(bank, nn)}.")
    else:
        owners = [k for k, v in bank.items() if name in v]
        if len(owners) == 1:
            nn = owners[0]
        elif len(owners) > 1:
            if here not in owners:
                choices = " or ".join(f"hint('{k}:{name}')" for k in owners)
                raise ValueError(f"{name!r} is an exercise of notebooks {' and '.join(owners)}: ask {choices}.")
            nn = here
        else:
            pool = list(bank[here]) if here else [k for v in bank.values() for k in v]
            close = difflib.get_close_matches(name, pool, n=3)
            maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"no exercise {name!r}.{maybe} {_listing(bank, here)[0].upper()}"
                             f"{_listing(bank, here)[1:]}.")
    text = bank[nn][name][level - 1]
    more = f" (next: hint({exercise_id!r}, {level + 1}))" if level < len(LEVELS) else ""
    return f"Hint {level} of {len(LEVELS)} for {name}: {text}{more}"


def hint(exercise_id: str, level: int = 1) -> None:
    """Print hint ``level`` (1, 2 or 3) for the exercise whose answer cell has grade_id ``exercise_id``; print
    what is valid instead when the id or the level is not."""
    try:
        print(hint_text(exercise_id, level))
    except ValueError as exc:
        print(exc)
