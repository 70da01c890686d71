"""Switching a SQLite file to write-ahead logging, when several processes may open it for the first time at once."""

from __future__ import annotations

import sqlite3
import time

RETRY_SECONDS = 0.01


def enable_wal(connection: sqlite3.Connection, timeout_seconds: float) -> None:
    """Puts the connection's file in WAL mode, waiting up to ``timeout_seconds`` for other connections.

    Changing the journal mode needs the file to itself, and SQLite answers
    "database is locked" at once, without its busy handler, while another
    process is creating the same file: the change is tried again until it
    holds or the time is up.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(RETRY_SECONDS)
