"""Failed authentications per address, counted in one SQLite file that every process shares.

An address that failed to authenticate more than `MAX_FAILURES` times within
`WINDOW` is refused until its oldest failures leave the window. Only the
failures that were answered as such are counted: an attempt refused by the
throttle is not, so an address that waits as long as it is told gets through.
Rows older than the window are deleted as new ones arrive, so the file holds
at most a minute of addresses. Tokens are never recorded here.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from logbook.config import Settings, make_private_dir
from logbook.sqlite_wal import enable_wal

THROTTLE_FILE = "throttle.sqlite3"
MAX_FAILURES = 20
WINDOW = timedelta(seconds=60)
LOCK_TIMEOUT_SECONDS = 5.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS failures (address TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS failures_by_address ON failures (address, at)",
    "CREATE INDEX IF NOT EXISTS failures_by_time ON failures (at)",
)


def throttle_path(settings: Settings) -> Path:
    """The throttle's file, in the data directory beside the store, whatever `DATABASE_URL` says."""
    return settings.data_dir / THROTTLE_FILE


class Throttle:
    """Counts failed authentications by address, across the processes that share ``path``."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], datetime],
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
    ) -> None:
        self.path = path
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    def failed(self, address: str) -> int | None:
        """Counts a failed authentication from ``address``.

        Returns None when it was counted, or, when the address already failed
        `max_failures` times within the window, the whole seconds until it may
        try again (the attempt is then not counted).
        """
        now = self.clock().timestamp()
        since = now - self.window.total_seconds()
        with self._transaction() as db:
            recent = [at for (at,) in db.execute(
                "SELECT at FROM failures WHERE address = ? AND at > ? ORDER BY at", (address, since),
            )]
            if len(recent) >= self.max_failures:
                # Free once only max_failures - 1 of them are left in the window.
                frees_at = recent[len(recent) - self.max_failures] + self.window.total_seconds()
                return max(1, math.ceil(frees_at - now))
            db.execute("DELETE FROM failures WHERE at <= ?", (since,))
            db.execute("INSERT INTO failures (address, at) VALUES (?, ?)", (address, now))
        return None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        # One connection per process, made after gunicorn forks; closing the last one
        # of a WAL file would checkpoint it at every failure.
        if self._db is None or self._pid != os.getpid():
            make_private_dir(self.path.parent)
            db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
            enable_wal(db, LOCK_TIMEOUT_SECONDS)
            # A power cut may lose the last failures counted, never the file: no fsync at each commit.
            db.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                db.execute(statement)
            self._db, self._pid = db, os.getpid()
        return self._db

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None
