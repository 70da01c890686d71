"""What every read model shares: a view that owns its tables and tracking, and a projection that fills it.

A view is a read model's tables and the library's tracking of its position,
kept in one database (projections/sql.py): a SQLite file of its own, or the
event store's PostgreSQL schema. A projection dispatches on event
classes as the library's `Projection` does, but gathers its changes in memory
and writes them, with the tracking position of the last event, in one
transaction per page of events: exactly once, and fast enough to rebuild a
million events.
"""

from __future__ import annotations

import re
import time
from abc import abstractmethod
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from projections.sql import UPSTREAM, Cursor, Database, SQLiteDatabase


class UnhandledEventError(Exception):
    """Raised when a projection meets an event it does not know how to apply."""

    def __init__(self, projection: str, position: int, topic: str) -> None:
        super().__init__(
            f"Projection '{projection}' cannot handle the event at position {position} ({topic}); "
            "it stopped there and applied nothing of that page."
        )
        self.position = position


class View(TrackingRecorder):
    """A read model's tables and the position up to which they reflect the events."""

    tables: ClassVar[tuple[str, ...]] = ()
    """The read model's CREATE TABLE and CREATE INDEX statements, as SQLite takes them."""
    schema_version: ClassVar[int] = 1
    """Raised when `tables` change: a view of another version is emptied, and the projector fills it again."""
    deferred_indexes: ClassVar[tuple[str, ...]] = ()
    """CREATE INDEX statements of `tables` that writing the view never reads through. A rebuild from zero
    drops them and builds them once it has caught up: one sort each, rather than a random insert into each
    for every row (on a million events, most of what writing the boundaries cost). The projection creates
    them, not the opening of the view."""

    def __init__(self, database: Database | str, lock_timeout: int = 30) -> None:
        """Opens the view in ``database``: a path is a SQLite file, whose tables are created if need be; on
        PostgreSQL it raises `ViewNotCreatedError` unless `PostgresDatabase.create` made them."""
        self.database = SQLiteDatabase(database, lock_timeout) if isinstance(database, str) else database
        # The deferred indexes are the projection's to create: a view opened amid a rebuild (by a web worker)
        # would build them anew, and fail when it cannot take the write lock from the projector.
        created = tuple(statement for statement in self.tables if statement not in self.deferred_indexes)
        self.database.open(created, self.schema_version)

    def insert_tracking(self, tracking: Tracking) -> None:
        self.database.tracking.insert_tracking(tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.database.tracking.max_tracking_id(application_name)

    def position(self) -> int:
        """The position of the last event this view reflects; 0 before the first."""
        return self.max_tracking_id(UPSTREAM) or 0

    def writing(self, position: int | None) -> AbstractContextManager[Cursor]:
        """A transaction for rows, which records ``position`` as processed when it commits."""
        return self.database.writing(position)

    def position_in(self, cursor: Cursor) -> int:
        """The position as the transaction of ``cursor`` sees it."""
        return self.database.position_in(cursor)

    def reading(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction, in which every statement sees the same commits."""
        return self.database.reading()

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

    def drop_deferred_indexes(self) -> None:
        """Drops the `deferred_indexes`, for a rebuild from zero."""
        with self.writing(None) as cursor:
            for statement in self.deferred_indexes:
                cursor.execute(f"DROP INDEX IF EXISTS {index_name(statement)}")

    def build_deferred_indexes(self) -> None:
        """Creates the `deferred_indexes` that are missing."""
        with self.writing(None) as cursor:
            for statement in self.deferred_indexes:
                cursor.execute(statement)

    def reset(self) -> None:
        """Empties every table and forgets the position, in one transaction, for a rebuild from zero."""
        self.database.reset(self.tables)

    def close(self) -> None:
        self.database.close()


TView = TypeVar("TView", bound=View)
INDEX_NAME = re.compile(r"CREATE INDEX IF NOT EXISTS (\w+) ON ")


def index_name(statement: str) -> str:
    """The index a CREATE INDEX statement of a view creates."""
    match = INDEX_NAME.match(statement)
    if match is None:
        raise ValueError(f"Not a view's CREATE INDEX statement: {statement}")
    return match.group(1)


class PagedProjection(Projection[TView], Generic[TView]):
    """A projection whose changes of one page of events are written in one transaction.

    Subclasses dispatch in `apply` on event classes, keep what changed, and
    write it in `write`; the runner calls `flush` after each page with the
    page's last position, and `tick` when time passes without events.

    From zero, the view's `deferred_indexes` are dropped, and built by the
    first tick: the runner ticks only once it has caught up. A projection that
    starts from further on (after a rebuild was stopped) makes sure they are
    there: on PostgreSQL, opening the view does not create them.
    """

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        self._position: int | None = None
        self._indexes_deferred = view.position() == 0 and bool(view.deferred_indexes)
        if self._indexes_deferred:
            view.drop_deferred_indexes()
        elif view.deferred_indexes:
            view.build_deferred_indexes()

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
    def write(self, cursor: Cursor) -> None:
        """Writes the pending changes in the given transaction and forgets them."""

    def tick(self, now: datetime) -> None:
        """Lets time pass up to ``now`` with no new event; by default nothing else depends on time.

        The runner ticks once every event was applied and written: the indexes a rebuild deferred
        are built then. Subclasses that judge time call this too.
        """
        if self._indexes_deferred:
            self.view.build_deferred_indexes()
            self._indexes_deferred = False

    def unhandled(self, domain_event: Any, position: int) -> UnhandledEventError:
        return UnhandledEventError(self.name, position, type(domain_event).__qualname__)
