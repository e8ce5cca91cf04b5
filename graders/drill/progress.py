"""The progress figure of the drill notebook: running accuracy over time and accuracy per problem family.

The time axis is in minutes, hours or days since the first drill, whichever keeps the numbers readable
(a first day of drills reads "hours", never 0.0000-0.0004 days), without an offset or scientific notation.
"""

from __future__ import annotations

import numpy as np

from graders.drill import problems as P
from graders.drill.history import History

DAY = 86400.0


def time_axis(seconds: np.ndarray) -> tuple[np.ndarray, str, float]:
    """(values, unit label, minimum span) for elapsed ``seconds``: minutes under 2 hours, hours under 2 days,
    else days."""
    span = float(np.max(seconds)) if len(seconds) else 0.0
    if span < 2 * 3600:
        return seconds / 60.0, "minutes since your first drill", 10.0
    if span < 2 * DAY:
        return seconds / 3600.0, "hours since your first drill", 2.0
    return seconds / DAY, "days since your first drill", 2.0


def _title(name: str, width: int = 38) -> str:
    f = P.FAMILIES.get(name)
    t = f.title if f is not None else name
    return t if len(t) <= width else t[: width - 1] + "…"


def progress_figure(history: History, families=None):
    """Matplotlib figure: running accuracy over time and accuracy per family (from the history file)."""
    import matplotlib.pyplot as plt

    attempts = history.attempts()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.2]})
    if not attempts:
        ax1.text(0.5, 0.5, "no attempts yet", ha="center", va="center")
        ax1.axis("off")
        ax2.axis("off")
        return fig
    t0 = attempts[0].ts
    x, label, min_span = time_axis(np.array([a.ts - t0 for a in attempts], dtype=float))
    correct = np.array([a.correct for a in attempts], dtype=float)
    ax1.plot(x, np.cumsum(correct) / np.arange(1, len(correct) + 1), marker="o")
    ax1.set_xlabel(label)
    ax1.set_ylabel("running accuracy")
    ax1.set_ylim(0, 1.05)
    ax1.set_xlim(-0.02 * max(min_span, float(x.max())), max(min_span, float(x.max()) * 1.05))
    ax1.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax1.axhline(0.8, ls="--", c="g", lw=0.8, label="Strong Hire threshold")
    ax1.legend(loc="lower right")
    names = sorted({a.family for a in attempts} | set(families or []))
    acc = [np.mean([a.correct for a in attempts if a.family == n]) if any(a.family == n for a in attempts) else 0
           for n in names]
    ax2.barh([_title(n) for n in names], acc)
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("accuracy per family")
    ax2.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
