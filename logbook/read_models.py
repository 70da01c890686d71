"""Where the read models live, and how they are kept up to date, rebuilt and read.

Each projection has its own SQLite file in ``<data dir>/projections/``. One
projector process (the Procfile's ``worker:``) follows the event store and
holds a lock on each projection it runs, so that a rebuild never races it.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from logbook.config import ConfigurationError, Settings, make_private_dir
from logbook.store import EventStore
from projections.base import PagedProjection, View
from projections.boundaries import Boundaries, BoundaryView
from projections.runner import PollingFeed, Projector
from projections.timelines import Timelines, TimelineView

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
    """The view of the named read model, with its tables created if need be."""
    view_class, _ = PROJECTIONS[name]
    return view_class(str(projections_dir(settings) / f"{name}.sqlite3"), settings.sqlite_lock_timeout_seconds)


def projector(settings: Settings, clock: Callable[[], datetime], names: Sequence[str] | None = None) -> Projector:
    """A projector over the event store for the named read models (all by default)."""
    store = EventStore(settings)
    projections = [PROJECTIONS[name][1](open_view(settings, name)) for name in names or PROJECTIONS]
    return Projector(PollingFeed(store.recorder), store.mapper, projections, clock, on_close=store.close)


def run(settings: Settings, clock: Callable[[], datetime], stop: threading.Event) -> None:
    """Follows the event store with every read model until ``stop`` is set."""
    with locked(settings, list(PROJECTIONS)), closing(projector(settings, clock)) as running:
        running.run(stop)


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


@contextmanager
def locked(settings: Settings, names: Sequence[str]) -> Iterator[None]:
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(_projection_lock(projections_dir(settings) / f"{name}.lock", name))
        yield


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
