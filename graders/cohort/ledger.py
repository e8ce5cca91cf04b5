"""An append-only JSON-lines ledger of graded submissions: what makes a killed run resumable.

Each finished student is one line, flushed and fsynced before the next is started; a line cut short by a
kill is ignored on reading, so that student is simply graded again (nbgrader overwrites, nothing is
counted twice). The newest line per student wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Ledger:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[str, dict]:
        records: dict[str, dict] = {}
        if not self.path.exists():
            return records
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a partial line from an interrupted write
                if isinstance(rec, dict) and "student" in rec:
                    records[rec["student"]] = rec
        return records

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def clear(self) -> None:
        if self.path.exists():
            self.path.unlink()
