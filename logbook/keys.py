"""The clients' data keys, apart from the events, so that destroying one makes its notes unreadable.

Each client has at most one live data key (AES-256). It is stored wrapped by the
master key, in a SQLite file of its own beside the event store. Destroying a
client's key is how its notes are erased: the events that hold them stay, in
the store and in every copy of it, but nothing can open them any more. For the
key to leave no trace in the file, SQLite overwrites deleted content with
zeros (``secure_delete``) and the write-ahead log is emptied after the delete.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from logbook.config import Settings, make_private_dir
from logbook.sqlite_wal import enable_wal

KEYS_FILE = "keys.sqlite3"
KEY_BITS = 256
NONCE_BYTES = 12
CHECKPOINT_ATTEMPTS = 50

SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    client_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    wrapped BLOB NOT NULL
) WITHOUT ROWID
"""


class KeyStoreError(Exception):
    """Raised when a key cannot be kept or destroyed as asked; the message names no key."""


@dataclass(frozen=True)
class DataKey:
    key_id: UUID
    key: bytes


def key_store_path(settings: Settings) -> Path:
    make_private_dir(settings.data_dir)
    return settings.data_dir / KEYS_FILE


class KeyStore:
    """Creates, finds and destroys clients' data keys; safe across threads and processes."""

    def __init__(self, path: Path, master_key: bytes, lock_timeout: float = 30.0) -> None:
        self.path = path
        self._master = AESGCM(master_key)
        self._lock_timeout = lock_timeout
        self._local = threading.local()
        with self._transaction() as db:
            db.execute(SCHEMA)

    def key_for_sealing(self, client_id: UUID) -> DataKey:
        """The client's live key, made now if the client has none (first note, or first after an erasure)."""
        live = self._live_key(self._connection(), client_id)  # a read: making a key takes the write lock
        if live is not None:
            return live
        fresh = AESGCM.generate_key(bit_length=KEY_BITS)
        key_id = uuid4()
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO data_keys (client_id, key_id, wrapped) VALUES (?, ?, ?)",
                (client_id.hex, key_id.hex, self._wrap(fresh, client_id, key_id)),
            )
            stored = self._live_key(db, client_id)  # ours, or one another process made meanwhile
        assert stored is not None
        return stored

    def _live_key(self, db: sqlite3.Connection, client_id: UUID) -> DataKey | None:
        """The client's key if it has one."""
        rows = db.execute(  # all rows: the statement ends, and holds no snapshot after
            "SELECT key_id, wrapped FROM data_keys WHERE client_id = ?", (client_id.hex,)
        ).fetchall()
        if not rows:
            return None
        key_id = UUID(rows[0][0])
        return DataKey(key_id, self._unwrap(rows[0][1], client_id, key_id))

    def key(self, client_id: UUID, key_id: UUID) -> bytes | None:
        """The key that sealed a note, or None once it was destroyed."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT wrapped FROM data_keys WHERE client_id = ? AND key_id = ?", (client_id.hex, key_id.hex)
            ).fetchone()
        return None if row is None else self._unwrap(row[0], client_id, key_id)

    def holds_key(self, client_id: UUID) -> bool:
        with self._transaction() as db:
            return db.execute("SELECT 1 FROM data_keys WHERE client_id = ?", (client_id.hex,)).fetchone() is not None

    def destroy(self, client_id: UUID) -> bool:
        """Destroys the client's key and every trace of it in the store's files; True if there was one."""
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM data_keys WHERE client_id = ?", (client_id.hex,)).rowcount
        self._empty_log()
        return deleted > 0

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _empty_log(self) -> None:
        """Copies the log into the file and truncates it, retrying while readers hold old frames."""
        for _ in range(CHECKPOINT_ATTEMPTS):
            busy, _, _ = self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.01)
        raise KeyStoreError("The key store's log could not be emptied; the erasure must be run again.")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread, opened again in a forked process."""
        connection = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "pid", None) != os.getpid():
            connection = sqlite3.connect(self.path, timeout=self._lock_timeout, isolation_level=None)
            enable_wal(connection, self._lock_timeout)
            connection.execute("PRAGMA secure_delete=ON")
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _wrap(self, key: bytes, client_id: UUID, key_id: UUID) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, key, client_id.bytes + key_id.bytes)

    def _unwrap(self, wrapped: bytes, client_id: UUID, key_id: UUID) -> bytes:
        try:
            return self._master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], client_id.bytes + key_id.bytes)
        except InvalidTag:
            raise KeyStoreError("A data key does not open with this master key.") from None
