"""Drill history: every attempt stored in an SQLite file under the user's data directory.

The path is, in order: the ``path`` argument, the environment variable ``BACKPROP_DRILL_DB``, or
``<user data dir>/backprop-course/drill_history.sqlite3``. A file that is not a drill history (corrupt,
another program's database, a newer schema) raises :class:`HistoryError` and is never modified.

Schema 2 (this version) adds to every attempt its points, kind, number of wrong attempts and mode (drill or
mock interview), and a ``sessions`` table with each session's score, level, competencies and written
debrief. A schema-1 file is migrated in place when it is opened (new columns are added, old rows keep NULL
points), so an existing history stays readable and keeps driving the spaced-repetition plan.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

SCHEMA_VERSION = 2
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

_V2 = """
ALTER TABLE attempts ADD COLUMN points REAL;              -- NULL for attempts written by schema 1
ALTER TABLE attempts ADD COLUMN kind TEXT;
ALTER TABLE attempts ADD COLUMN wrong INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN mode TEXT NOT NULL DEFAULT 'drill';
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    mode TEXT NOT NULL,
    score REAL NOT NULL,
    level TEXT NOT NULL,
    competencies TEXT NOT NULL,  -- JSON {"coding": 0.7, ..., "speed": 1.0}, null when not measured
    debrief TEXT NOT NULL
);
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
    points: float | None = None
    kind: str | None = None
    wrong: int = 0
    mode: str = "drill"


@dataclass(frozen=True)
class SessionRecord:
    id: str
    ts: float
    mode: str
    score: float
    level: str
    competencies: dict
    debrief: str


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
                conn.executescript("BEGIN;" + _SCHEMA + _V2 + f"PRAGMA application_id = {APPLICATION_ID};"
                                   f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
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
        if version < SCHEMA_VERSION:
            self._migrate(conn, version, p)
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int, p: Path) -> None:
        """Bring an older history up to SCHEMA_VERSION in one transaction (all or nothing)."""
        if version != 1:
            conn.close()
            raise HistoryError(f"{p} has an unknown drill-history schema {version}; it was left untouched.")
        try:
            conn.executescript("BEGIN IMMEDIATE;" + _V2 + f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            conn.rollback()
            conn.close()
            raise HistoryError(f"{p} could not be upgraded to the current history format ({exc}); it was left "
                               f"untouched.") from None

    def record(self, attempt: Attempt) -> None:
        if not attempt.family:
            raise ValueError("attempt.family is empty")
        with self._conn:
            self._conn.execute(
                "INSERT INTO attempts (ts, family, correct, seconds, hints, diagnosis, session, points, kind, wrong, "
                "mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (float(attempt.ts), attempt.family, int(bool(attempt.correct)), max(0.0, float(attempt.seconds)),
                 int(attempt.hints), attempt.diagnosis, attempt.session,
                 None if attempt.points is None else float(attempt.points), attempt.kind, int(attempt.wrong),
                 attempt.mode))

    def attempts(self, family: str | None = None) -> list[Attempt]:
        sql = "SELECT ts, family, correct, seconds, hints, diagnosis, session, points, kind, wrong, mode FROM attempts"
        args: tuple = ()
        if family is not None:
            sql += " WHERE family = ?"
            args = (family,)
        rows = self._conn.execute(sql + " ORDER BY ts, id", args).fetchall()
        return [Attempt(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows]

    def record_session(self, rec: SessionRecord) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO sessions (id, ts, mode, score, level, competencies, debrief) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rec.id, float(rec.ts), rec.mode, float(rec.score), rec.level, json.dumps(rec.competencies),
                 rec.debrief))

    def sessions(self) -> list[SessionRecord]:
        rows = self._conn.execute("SELECT id, ts, mode, score, level, competencies, debrief FROM sessions "
                                  "ORDER BY ts").fetchall()
        return [SessionRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def now() -> float:
    return time.time()
