"""Spaced repetition: which problem families to drill next.

Each family moves through checkpoints on days 0, 3, 7, 14 and 21 after its first attempt. A checkpoint is
passed by a correct answer on or after its day; the family is then due at the next checkpoint. A family
whose latest attempt was wrong is due again one day after that attempt (earlier than its checkpoint), so
missed topics come back quickly. Families never attempted are due now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from graders.drill.history import Attempt

DAY = 86400.0
CHECKPOINTS = (0, 3, 7, 14, 21)
RETRY_AFTER_MISS_DAYS = 1


@dataclass(frozen=True)
class FamilyStatus:
    family: str
    stage: int          # number of checkpoints passed (0..5)
    due: float          # timestamp when the family should next be drilled (inf when every checkpoint passed)
    reason: str
    attempts: int
    accuracy: float     # fraction correct over all attempts (0 when none)

    def is_due(self, now: float) -> bool:
        return self.due <= now


def status(family: str, attempts: Sequence[Attempt]) -> FamilyStatus:
    """Where ``family`` stands given its attempts (any order)."""
    mine = sorted((a for a in attempts if a.family == family), key=lambda a: a.ts)
    if not mine:
        return FamilyStatus(family, 0, float("-inf"), "new: never drilled", 0, 0.0)
    start = mine[0].ts
    stage = 0
    for a in mine:
        if stage < len(CHECKPOINTS) and a.correct and a.ts >= start + CHECKPOINTS[stage] * DAY:
            stage += 1
    accuracy = sum(a.correct for a in mine) / len(mine)
    last = mine[-1]
    if not last.correct:
        next_checkpoint = start + CHECKPOINTS[stage] * DAY if stage < len(CHECKPOINTS) else float("inf")
        due = min(last.ts + RETRY_AFTER_MISS_DAYS * DAY, next_checkpoint)
        return FamilyStatus(family, stage, due, "missed last time: early review", len(mine), accuracy)
    if stage >= len(CHECKPOINTS):
        return FamilyStatus(family, stage, float("inf"), "all checkpoints (day 0-21) passed", len(mine), accuracy)
    return FamilyStatus(family, stage, start + CHECKPOINTS[stage] * DAY, f"day {CHECKPOINTS[stage]} checkpoint",
                        len(mine), accuracy)


def plan(families: Iterable[str], attempts: Sequence[Attempt], now: float | None = None) -> list[FamilyStatus]:
    """Status of every family, most urgent first.

    Due families come first (missed ones, then due checkpoints, then new ones), then the rest by due date.
    """
    import time

    now = time.time() if now is None else now

    def urgency(s: FamilyStatus):
        if not s.is_due(now):
            return (3, s.due, s.family)
        bucket = 0 if s.reason.startswith("missed") else (2 if s.reason.startswith("new") else 1)
        return (bucket, s.due, s.family)

    return sorted((status(f, attempts) for f in families), key=urgency)


def pick(families: Iterable[str], attempts: Sequence[Attempt], now: float, k: int) -> list[str]:
    """The ``k`` families to drill now: every due family first (most urgent first), then the soonest due."""
    if k < 1:
        raise ValueError("k must be at least 1")
    ranked = plan(families, attempts, now)
    if not ranked:
        raise ValueError("no families to choose from")
    due = [s.family for s in ranked if s.is_due(now)]
    later = [s.family for s in ranked if not s.is_due(now)]
    chosen = (due + later)[:k]
    while len(chosen) < k:  # fewer families than problems: cycle through the urgent ones again
        chosen.append(chosen[len(chosen) % max(1, len(ranked))])
    return chosen
