"""The jobs table: one SQLite file (``jobs.db``) beside the run folders.

It holds what the run folder can't: the request, the command line, the process (pid and its
start time, so a restarted server tells its own process from a reused pid), the exit code
and the job's status. Counters, spend and records stay in the run folder.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# queued -> running -> completed | stopped (budget, cap, a signal, a dead process) | cancelled | failed
STATUSES = ("queued", "running", "completed", "stopped", "cancelled", "failed")
FINISHED = frozenset({"completed", "stopped", "cancelled", "failed"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    recipe TEXT NOT NULL,
    model TEXT NOT NULL,
    count INTEGER NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    argv TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    pid INTEGER,
    pid_started REAL,
    exit_code INTEGER,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    base_accepted INTEGER NOT NULL DEFAULT 0,
    gpus TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
"""
COLUMNS = ("id", "seq", "name", "recipe", "model", "count", "status", "request", "argv", "created_at", "started_at", "ended_at",
           "pid", "pid_started", "exit_code", "error", "cancel_requested", "runs", "base_accepted", "gpus")


class JobStore:
    """Thread-safe access to ``jobs.db`` (one connection, one lock; WAL so readers don't wait)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _row(values: tuple[Any, ...]) -> dict[str, Any]:
        job = dict(zip(COLUMNS, values))
        job["request"] = json.loads(job["request"])
        job["argv"] = json.loads(job["argv"])
        job["cancel_requested"] = bool(job["cancel_requested"])
        return job

    def add(self, job: dict[str, Any]) -> dict[str, Any]:
        with self._tx() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            row = {**job, "seq": seq, "request": json.dumps(job["request"]), "argv": json.dumps(job["argv"])}
            db.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        return self.get(job["id"])  # type: ignore[return-value]

    def name_taken(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone() is not None

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(found) if found else None

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                                    (*args, limit, offset)).fetchall()
        return [self._row(r) for r in rows], total

    def with_status(self, *statuses: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE status IN ({', '.join('?' * len(statuses))}) "
                                    "ORDER BY seq", statuses).fetchall()
        return [self._row(r) for r in rows]

    def update(self, job_id: str, *, expect: tuple[str, ...] | None = None, **fields: Any) -> bool:
        """Set ``fields``; with ``expect``, only while the job's status is one of them (False: it wasn't)."""
        for key in ("request", "argv"):
            if key in fields:
                fields[key] = json.dumps(fields[key])
        sets = ", ".join(f"{k} = ?" for k in fields)
        cond, args = ("", ()) if expect is None else (f" AND status IN ({', '.join('?' * len(expect))})", expect)
        with self._tx() as db:
            changed = db.execute(f"UPDATE jobs SET {sets} WHERE id = ?{cond}", (*fields.values(), job_id, *args)).rowcount
        return changed > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
