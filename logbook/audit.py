"""The access audit: who read which client's timeline, contact or note, looked a client up, or exported.

An append-only log in a database of its own, apart from the event store: it
records who looked, not what happened, so it is never projected, replayed or
shredded with a client. `audit_log` alone knows where it lives.

The database itself keeps the log append-only: triggers abort every UPDATE and
DELETE. Each process opens its own connection, again after a fork; writers in
several gunicorn workers take turns through SQLite's busy timeout, and WAL lets
a search read while they write. `AuditLog.record` returns only once its
entries are committed and synced to disk, so a read that answers was audited.

An entry holds ids, a role, an action, a time and an address: never a client
ref, a note or a token.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

from events.vocabulary import Role
from logbook.config import Settings, make_private_dir
from logbook.sqlite_wal import enable_wal
from projections.storage import MOMENT_PART, decode_cursor, encode_cursor, key, moment_of, moment_text

AUDIT_SQLITE_FILE = "audit.sqlite3"
AUDIT_CURSOR = (MOMENT_PART, re.compile(r"[1-9]\d{0,17}"))
"""A page's cursor: the time and row number of its last entry (at most 18 digits, so it fits SQLite's integer)."""


class AuditAction(StrEnum):
    """What an audited request did with a client's data."""

    READ_TIMELINE = "read_timeline"
    READ_CONTACT = "read_contact"
    READ_NOTE = "read_note"
    EXPORT = "export"
    LOOK_UP_CLIENT = "look_up_client"
    """A ref → id look-up reveals which pseudonymous client a worker asked about."""


@dataclass(frozen=True)
class AuditEntry:
    """One access: who, in which role, did what to which client and contact, when, and from which address."""

    account_id: str
    role: Role
    action: AuditAction
    client_id: UUID | None
    contact_id: UUID | None
    at: datetime
    address: str | None

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("An audit entry's time needs its UTC offset.")


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_cursor: str | None


class AuditUnavailableError(Exception):
    """Raised when the audit log cannot be written or read: an unaudited read must not answer."""


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_entries ("
    " row INTEGER PRIMARY KEY, at TEXT NOT NULL, account_id TEXT NOT NULL, role TEXT NOT NULL,"
    " action TEXT NOT NULL, client_id TEXT, contact_id TEXT, address TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_by_time ON audit_entries (at, row)",
    "CREATE INDEX IF NOT EXISTS audit_by_client ON audit_entries (client_id, at, row)",
    "CREATE INDEX IF NOT EXISTS audit_by_account ON audit_entries (account_id, at, row)",
    "CREATE TRIGGER IF NOT EXISTS audit_entries_are_never_updated BEFORE UPDATE ON audit_entries"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_entries_are_never_deleted BEFORE DELETE ON audit_entries"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)
COLUMNS = "row, at, account_id, role, action, client_id, contact_id, address"
INSERT = (
    "INSERT INTO audit_entries (at, account_id, role, action, client_id, contact_id, address)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def audit_log(settings: Settings) -> AuditLog:
    """The installation's audit log: for now a SQLite file of its own beside the event store's."""
    return AuditLog(settings.data_dir / AUDIT_SQLITE_FILE, settings.sqlite_lock_timeout_seconds)


class AuditLog:
    """An append-only log of accesses, safe to share between threads and across fork."""

    def __init__(self, path: Path, lock_timeout_seconds: float = 30) -> None:
        self.path = path
        self.lock_timeout_seconds = lock_timeout_seconds
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._inherited: list[sqlite3.Connection] = []

    def record(self, *entries: AuditEntry) -> None:
        """Appends the entries in one transaction; returns once it is committed, else raises."""
        rows = [_row(entry) for entry in entries]
        if rows:
            with self._transaction() as connection:
                connection.executemany(INSERT, rows)

    def search(
        self,
        *,
        client_id: UUID | None = None,
        account_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> AuditPage:
        """Entries newest first (by time, then by order of recording), in [since, until), a page after ``cursor``.

        Raises `InvalidCursorError` for a cursor this log did not give out.
        """
        where, params = _conditions(client_id, account_id, since, until)
        if cursor is not None:
            after_at, after_row = decode_cursor(cursor, AUDIT_CURSOR)
            where.append("(at, row) < (:after_at, :after_row)")
            params |= {"after_at": after_at, "after_row": int(after_row)}
        statement = f"SELECT {COLUMNS} FROM audit_entries {_where(where)} ORDER BY at DESC, row DESC LIMIT :fetch"
        with self._connected() as connection:
            rows = connection.execute(statement, params | {"fetch": limit + 1}).fetchall()
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = None if last is None else encode_cursor(last[1], str(last[0]))
        return AuditPage([_entry(row) for row in rows[:limit]], next_cursor)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connected() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.rollback()
                raise

    @contextmanager
    def _connected(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection_of_this_process()
            except (sqlite3.Error, OSError) as error:
                # SQLite's words ("database is locked", "disk I/O error") quote no input: values are bound.
                raise AuditUnavailableError(f"The audit log is unavailable: {error}") from error

    def _connection_of_this_process(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            if self._connection is not None:
                # A connection opened before a fork may be neither used nor closed in the child: keep it aside.
                self._inherited.append(self._connection)
                self._connection = None
            self._connection = self._open()
            self._pid = os.getpid()
        return self._connection

    def _open(self) -> sqlite3.Connection:
        make_private_dir(self.path.parent)
        connection = sqlite3.connect(
            self.path, timeout=self.lock_timeout_seconds, isolation_level=None, check_same_thread=False
        )
        try:
            enable_wal(connection, self.lock_timeout_seconds)
            connection.execute("PRAGMA synchronous=FULL")  # a committed entry survives a power cut
            connection.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        return connection


def _row(entry: AuditEntry) -> tuple[str | None, ...]:
    return (
        moment_text(entry.at), entry.account_id, str(entry.role), str(entry.action),
        _optional_key(entry.client_id), _optional_key(entry.contact_id), entry.address,
    )


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    _, at, account_id, role, action, client_id, contact_id, address = row
    return AuditEntry(
        account_id=account_id, role=Role(role), action=AuditAction(action),
        client_id=_optional_uuid(client_id), contact_id=_optional_uuid(contact_id),
        at=moment_of(at), address=address,
    )


def _conditions(
    client_id: UUID | None, account_id: str | None, since: datetime | None, until: datetime | None
) -> tuple[list[str], dict[str, Any]]:
    """The WHERE conditions for the filters given, and their parameters; ``until`` is exclusive."""
    where: list[str] = []
    params: dict[str, Any] = {}
    for condition, name, value in (
        ("client_id = :client_id", "client_id", _optional_key(client_id)),
        ("account_id = :account_id", "account_id", account_id),
        ("at >= :since", "since", None if since is None else moment_text(since)),
        ("at < :until", "until", None if until is None else moment_text(until)),
    ):
        if value is not None:
            where.append(condition)
            params[name] = value
    return where, params


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _optional_key(value: UUID | None) -> str | None:
    return None if value is None else key(value)


def _optional_uuid(text: str | None) -> UUID | None:
    return None if text is None else UUID(text)
