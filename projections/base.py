"""What every read model shares: a view that owns its tables and tracking, and a projection that fills it.

A view is the library's SQLite tracking recorder with the read model's own
tables added, in a file of its own, so that rebuilding one read model is
dropping one file and the projector never competes with the web workers for
the event store's write lock. A projection dispatches on event classes as
the library's `Projection` does, but gathers its changes in memory and writes
them, with the tracking position of the last event, in one transaction per
page of events: exactly once, and fast enough to rebuild a million events.
"""

from __future__ import annotations

import sqlite3
import time
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

CACHE_KIB = 256 * 1024
"""SQLite's page cache for a view's writer: a rebuild touches pages all over its indexes."""
UPSTREAM = "logbook"
"""The name of the application whose events the views track."""


class UnhandledEventError(Exception):
    """Raised when a projection meets an event it does not know how to apply."""

    def __init__(self, projection: str, position: int, topic: str) -> None:
        super().__init__(
            f"Projection '{projection}' cannot handle the event at position {position} ({topic}); "
            "it stopped there and applied nothing of that page."
        )
        self.position = position


class View(SQLiteTrackingRecorder):
    """A read model's tables and the position up to which they reflect the events."""

    tables: ClassVar[tuple[str, ...]] = ()
    """The read model's CREATE TABLE and CREATE INDEX statements."""
    schema_version: ClassVar[int] = 1
    """Raised when `tables` change: a file of another version is emptied, and the projector fills it again."""

    def __init__(self, path: str, lock_timeout: int = 30) -> None:
        super().__init__(SQLiteDatastore(path, lock_timeout=lock_timeout, pool_size=2))
        self.path = path
        self._drop_other_schema()
        self.create_table()

    def _drop_other_schema(self) -> None:
        """Drops every table of a file written for another schema version; a read model is rebuilt, not migrated."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("PRAGMA user_version")
            if cursor.fetchone()[0] == self.schema_version:
                return
            cursor.execute("SELECT name FROM sqlite_master WHERE type='table'")
            for row in cursor.fetchall():
                cursor.execute(f'DROP TABLE IF EXISTS "{row["name"]}"')
            cursor.execute(f"PRAGMA user_version = {int(self.schema_version)}")

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.tables]

    def position(self) -> int:
        """The position of the last event this view reflects; 0 before the first."""
        return self.max_tracking_id(UPSTREAM) or 0

    @contextmanager
    def writing(self, position: int | None) -> Iterator[SQLiteCursor]:
        """A transaction for rows, which records ``position`` as processed when it commits.

        The commit is not flushed to disk at once (WAL with ``synchronous=NORMAL``):
        a power cut may lose the last transactions, never half of one, and since the
        position is in the same transaction, what was lost is simply projected again.
        """
        with self.datastore.get_connection(commit=True) as connection:
            connection.cursor().execute("PRAGMA synchronous=NORMAL")
            connection.cursor().execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            with connection.transaction(commit=True) as cursor:
                yield cursor
                if position is not None and position > self.position_in(cursor):
                    self._insert_tracking(cursor, Tracking(UPSTREAM, position))

    def position_in(self, cursor: SQLiteCursor) -> int:
        return self._max_tracking_id(UPSTREAM, cursor) or 0

    @contextmanager
    def reading(self) -> Iterator[SQLiteCursor]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def wait_for(self, position: int, timeout: float) -> bool:
        """Waits until the view reflects ``position``; False if it did not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.1)
        return True

    def reset(self) -> None:
        """Empties every table and forgets the position, in one transaction, for a rebuild from zero."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'tracking'")
            for row in cursor.fetchall():
                cursor.execute(f'DELETE FROM "{row["name"]}"')
            cursor.execute("DELETE FROM tracking WHERE application_name=?", (UPSTREAM,))

    def close(self) -> None:
        self.datastore.close()


TView = TypeVar("TView", bound=View)


class PagedProjection(Projection[TView], Generic[TView]):
    """A projection whose changes of one page of events are written in one transaction.

    Subclasses dispatch in `apply` on event classes, keep what changed, and
    write it in `write`; the runner calls `flush` after each page with the
    page's last position, and `tick` when time passes without events.
    """

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        self._position: int | None = None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Applies one event in memory; it reaches the view with the next `flush`."""
        self.apply(domain_event, tracking.notification_id)
        self._position = tracking.notification_id

    @abstractmethod
    def apply(self, domain_event: Any, position: int) -> None:
        """Changes the projection's state for one event; raise `UnhandledEventError` for an unknown one."""

    def flush(self) -> None:
        """Writes what the events since the last flush changed, with their last position, at once."""
        with self.view.writing(self._position) as cursor:
            self.write(cursor)
        self._position = None

    @abstractmethod
    def write(self, cursor: sqlite3.Cursor | SQLiteCursor) -> None:
        """Writes the pending changes in the given transaction and forgets them."""

    def tick(self, now: datetime) -> None:
        """Lets time pass up to ``now`` with no new event; by default nothing depends on time."""

    def unhandled(self, domain_event: Any, position: int) -> UnhandledEventError:
        return UnhandledEventError(self.name, position, type(domain_event).__qualname__)
