"""Where the read models live, and how they are kept up to date, rebuilt and read.

With the events on SQLite, each projection has its own SQLite file in
``<data dir>/projections/``, whose tables it creates when opened. With the
events on PostgreSQL, the read models are tables in the same schema, each with
its own tracking table, created by `create_tables` (``logbook init``). One
projector process (the Procfile's ``worker:``) follows the event store and
holds a lock on each projection it runs, so that a rebuild never races it.
"""

from __future__ import annotations

import fcntl
import hashlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from logbook.config import ConfigurationError, Settings, make_private_dir
from logbook.store import EventStore, connect_postgres, is_postgres, postgres_env, store_name
from projections.base import PagedProjection, View
from projections.boundaries import Boundaries, BoundaryView
from projections.runner import FeedLostError, PollingFeed, Projector, follow_feed
from projections.sql import PostgresDatabase, ViewNotCreatedError
from projections.timelines import Timelines, TimelineView

LOCK_CHECK_SECONDS = 2.0
"""How often a projector checks that it still holds its projections on PostgreSQL."""

VIEW_POOL_SIZE = 1
"""Connections a view keeps open on PostgreSQL (and may add as many when busy): each process reads or writes
a view with one at a time."""

PROJECTIONS: dict[str, tuple[type[View], type[PagedProjection[Any]]]] = {
    "timelines": (TimelineView, Timelines),
    "boundaries": (BoundaryView, Boundaries),
}
"""Every read model by name, as ``logbook projections rebuild NAME`` takes it."""


def projections_dir(settings: Settings) -> Path:
    path = settings.data_dir / "projections"
    make_private_dir(path)
    return path


def open_view(settings: Settings, name: str) -> View:
    """The view of the named read model: on SQLite with its tables created if need be; on PostgreSQL it
    raises `ConfigurationError` unless `create_tables` created them."""
    view_class, _ = PROJECTIONS[name]
    if not is_postgres(settings):
        return view_class(str(projections_dir(settings) / f"{name}.sqlite3"), settings.sqlite_lock_timeout_seconds)
    database = _postgres_database(settings, name)
    try:
        return view_class(database)
    except ViewNotCreatedError as error:
        database.close()
        raise ConfigurationError(f"{error} in the {store_name(settings)}: run `logbook init` first.") from None


def create_tables(settings: Settings) -> None:
    """Creates every read model's tables and tracking table on PostgreSQL; safe to run again.

    A read model of another schema version is dropped and created empty, and the
    projector fills it again. On SQLite there is nothing to do: a view creates its
    tables when it is opened.
    """
    if not is_postgres(settings):
        return
    for name, (view_class, _) in PROJECTIONS.items():
        with closing(_postgres_database(settings, name)) as database:
            database.create(view_class.tables, view_class.schema_version)


def _postgres_database(settings: Settings, name: str) -> PostgresDatabase:
    """The named read model's tables in the event store's schema, through a connection pool of its own."""
    pool_size = str(VIEW_POOL_SIZE)
    env = postgres_env(settings) | {"POSTGRES_POOL_SIZE": pool_size, "POSTGRES_MAX_OVERFLOW": pool_size}
    return PostgresDatabase(PostgresFactory(Environment(name, env)).datastore, name)


def projector(
    settings: Settings, clock: Callable[[], datetime], names: Sequence[str] | None = None, follow: bool = False
) -> Projector:
    """A projector over the event store for the named read models (all by default).

    One that will ``follow`` the store learns of new events as the store allows
    (`follow_feed`); one that only catches up reads pages to the head.
    """
    store = EventStore(settings)
    projections = [PROJECTIONS[name][1](open_view(settings, name)) for name in names or PROJECTIONS]
    feed = follow_feed(store.recorder) if follow else PollingFeed(store.recorder)
    return Projector(feed, store.mapper, projections, clock, on_close=store.close,
                     backlog_write_seconds=settings.projector_backlog_ms / 1000)


def run(
    settings: Settings, clock: Callable[[], datetime], stop: threading.Event,
    waiting: Callable[[Sequence[str]], None] = lambda names: None,
) -> None:
    """Follows the event store with every read model until ``stop`` is set.

    On PostgreSQL a second projector waits for the first one's locks, and takes
    over when it goes; on SQLite it is refused. A projector whose locks' connection
    dies stops with `ProjectorLostError`, for its supervisor to start it again.
    """
    try:
        with locked(settings, list(PROJECTIONS), wait_until=stop, waiting=waiting) as lost:
            if stop.is_set():
                return
            with closing(projector(settings, clock, follow=True)) as running:
                running.run(stop)
    except (psycopg.Error, OperationalError, InterfaceError, FeedLostError) as error:
        raise ProjectorLostError(
            f"The projector lost its connection to the store and stopped; start it again ({type(error).__name__})."
        ) from error
    if lost.is_set():
        raise ProjectorLostError("The projector lost its connection to PostgreSQL and stopped; start it again.")


def rebuild(
    settings: Settings, name: str, clock: Callable[[], datetime], progress: Callable[[int], None]
) -> int:
    """Empties the named read model and projects every event again; returns how many events it read."""
    with locked(settings, [name]):
        return _rebuild(settings, name, clock, progress)


def rebuild_all(
    settings: Settings, clock: Callable[[], datetime], progress: Callable[[str, int], None]
) -> dict[str, int]:
    """Rebuilds every read model at once, each in a process of its own.

    They read the same events and write different files, so on a machine with
    several cores the whole rebuild takes about as long as the slowest one.
    """
    with locked(settings, list(PROJECTIONS)):
        context = multiprocessing.get_context("fork")  # children inherit the clock, no pickling
        reports: multiprocessing.Queue[tuple[str, str, int | str]] = context.Queue()
        workers = [
            context.Process(target=_rebuild_reporting, args=(settings, name, clock, reports), daemon=True)
            for name in PROJECTIONS
        ]
        for worker in workers:
            worker.start()
        return _collect(reports, len(workers), progress)


def _rebuild(settings: Settings, name: str, clock: Callable[[], datetime], progress: Callable[[int], None]) -> int:
    with closing(open_view(settings, name)) as view:
        view.reset()
    with closing(projector(settings, clock, [name])) as rebuilding:
        return rebuilding.catch_up(progress)


def _rebuild_reporting(
    settings: Settings, name: str, clock: Callable[[], datetime], reports: multiprocessing.Queue[Any]
) -> None:
    try:
        count = _rebuild(settings, name, clock, lambda events: reports.put((name, "progress", events)))
    except Exception as error:  # the parent reports it; a child has no one else to tell
        reports.put((name, "failed", str(error)))
    else:
        reports.put((name, "done", count))


def _collect(
    reports: multiprocessing.Queue[tuple[str, str, int | str]], workers: int, progress: Callable[[str, int], None]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    failures: list[str] = []
    while len(counts) + len(failures) < workers:
        name, kind, value = reports.get()
        if kind == "progress":
            progress(name, int(value))
        elif kind == "done":
            counts[name] = int(value)
        else:
            failures.append(str(value))
    if failures:
        raise RebuildError("; ".join(failures))
    return counts


class RebuildError(Exception):
    """Raised when a read model could not be rebuilt; it names the event at which it stopped."""


class ProjectorRunningError(ConfigurationError):
    """Raised when a projection is held by another projector process."""


class ProjectorLostError(Exception):
    """Raised when a projector can no longer be sure it alone runs its projections."""


@contextmanager
def locked(
    settings: Settings, names: Sequence[str], wait_until: threading.Event | None = None,
    waiting: Callable[[Sequence[str]], None] = lambda names: None,
) -> Iterator[threading.Event]:
    """Holds the named projections for this process alone; yields an event set if the hold is lost.

    Without ``wait_until``, a projection held elsewhere raises `ProjectorRunningError`;
    with it (on PostgreSQL only), this waits for the holder to go, or for the event,
    which is also set when the hold is lost.
    """
    if is_postgres(settings):
        with _advisory_locks(settings, names, wait_until, waiting) as lost:
            yield lost
        return
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(_projection_lock(projections_dir(settings) / f"{name}.lock", name))
        yield threading.Event()


@contextmanager
def _advisory_locks(
    settings: Settings, names: Sequence[str], wait_until: threading.Event | None,
    waiting: Callable[[Sequence[str]], None],
) -> Iterator[threading.Event]:
    """PostgreSQL session advisory locks, one per projection, on a connection held while they are.

    If that connection dies, the server lets the locks go and another projector
    may take over: a watchdog notices within `LOCK_CHECK_SECONDS` and sets the
    yielded event, so that this one stops.
    """
    connection = connect_postgres(settings)
    lost, released = threading.Event(), threading.Event()
    try:
        held = [name for name in names if not _try_advisory_lock(connection, settings, name)]
        if held and wait_until is not None:
            waiting(held)
        while held and wait_until is not None and not wait_until.is_set():
            wait_until.wait(LOCK_CHECK_SECONDS)
            held = [name for name in held if not _try_advisory_lock(connection, settings, name)]
        if held and (wait_until is None or not wait_until.is_set()):
            raise ProjectorRunningError(
                f"Projection '{held[0]}' is being run by another process; stop the projector (the worker) first."
            )
        watchdog = threading.Thread(target=_watch, args=(connection, [lost, wait_until], released), daemon=True)
        watchdog.start()
        yield lost
        released.set()
        watchdog.join()
    finally:
        released.set()
        connection.close()  # ends the session, and with it every lock it held


def _try_advisory_lock(connection: psycopg.Connection[Any], settings: Settings, name: str) -> bool:
    key = int.from_bytes(
        hashlib.blake2b(f"logbook.{settings.database_schema}.{name}".encode(), digest_size=8).digest(),
        "big", signed=True,
    )
    row = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _watch(
    connection: psycopg.Connection[Any], on_loss: Sequence[threading.Event | None], released: threading.Event
) -> None:
    while not released.wait(LOCK_CHECK_SECONDS):
        try:
            connection.execute("SELECT 1")
        except psycopg.Error:
            for event in on_loss:
                if event is not None:
                    event.set()
            return


@contextmanager
def _projection_lock(path: Path, name: str) -> Iterator[IO[bytes]]:
    with open(path, "ab") as lock_file:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProjectorRunningError(
                f"Projection '{name}' is being run by another process; stop the projector (the worker) first."
            ) from None
        os.set_inheritable(lock_file.fileno(), False)
        yield lock_file
