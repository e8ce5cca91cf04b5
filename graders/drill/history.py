"""Drill history: every attempt stored in an SQLite file under the user's data directory.

The path is, in order: the ``path`` argument, the environment variable ``BACKPROP_DRILL_DB``, or
``<user data dir>/backprop-course/drill_history.sqlite3``. A file that is not a drill history (corrupt,
another program's database, a newer schema) raises :class:`HistoryError` and is never modified.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

SCHEMA_VERSION = 1
APPLICATION_ID = 0x42505244  # "BPRD": marks the file as ours (PRAGMA application_id)
ENV_VAR = "BACKPROP_DRILL_DB"

_SCHEMA = """
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,            -- seconds since the epoch (UTC)
    family TEXT NOT NULL,
    correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
    seconds REAL NOT NULL CHECK (seconds >= 0),
    hints INTEGER NOT NULL DEFAULT 0,
    diagnosis TEXT,
    session TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_family_ts ON attempts (family, ts);
"""


class HistoryError(RuntimeError):
    """The history file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Attempt:
    ts: float
    family: str
    correct: bool
    seconds: float
    hints: int = 0
    diagnosis: str | None = None
    session: str = ""


def default_path() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("backprop-course", appauthor=False)) / "drill_history.sqlite3"


class History:
    """Attempts stored in SQLite. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path).expanduser() if path is not None else default_path()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        p = self.path
        if p.exists() and p.is_dir():
            raise HistoryError(f"drill history path {p} is a directory; give a file path")
        fresh = not p.exists() or p.stat().st_size == 0
        if not fresh:
            with open(p, "rb") as fh:
                header = fh.read(16)
            if header != b"SQLite format 3\x00":
                raise HistoryError(
                    f"{p} is not a drill history database (it is not an SQLite file; it may be corrupt). It was "
                    f"left untouched: move it away, or pass another path / set {ENV_VAR}.")
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(p, timeout=10)
            if fresh:
                with conn:
                    conn.executescript(_SCHEMA)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return conn
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{p} cannot be read as a drill history ({exc}); it was left untouched: move it "
                               f"away, or pass another path / set {ENV_VAR}.") from None
        if check != "ok":
            conn.close()
            raise HistoryError(f"{p} is damaged (SQLite integrity check: {check}); it was left untouched.")
        if app_id != APPLICATION_ID:
            conn.close()
            raise HistoryError(f"{p} is an SQLite database of another program, not a drill history; it was left "
                               f"untouched.")
        if version > SCHEMA_VERSION:
            conn.close()
            raise HistoryError(f"{p} was written by a newer version of the course (schema {version} > "
                               f"{SCHEMA_VERSION}); upgrade the course package.")
        return conn

    def record(self, attempt: Attempt) -> None:
        if not attempt.family:
            raise ValueError("attempt.family is empty")
        with self._conn:
            self._conn.execute(
                "INSERT INTO attempts (ts, family, correct, seconds, hints, diagnosis, session) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (float(attempt.ts), attempt.family, int(bool(attempt.correct)), max(0.0, float(attempt.seconds)),
                 int(attempt.hints), attempt.diagnosis, attempt.session))

    def attempts(self, family: str | None = None) -> list[Attempt]:
        sql = "SELECT ts, family, correct, seconds, hints, diagnosis, session FROM attempts"
        args: tuple = ()
        if family is not None:
            sql += " WHERE family = ?"
            args = (family,)
        rows = self._conn.execute(sql + " ORDER BY ts, id", args).fetchall()
        return [Attempt(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def now() -> float:
    return time.time()
