"""The projector: feeds the store's events, in their total order, to the projections.

How new events reach a following projector is chosen in one place,
`follow_feed`: the library's SQLite recorder cannot push new events to a
follower (it has no subscription in 9.5.6), so on SQLite the projector pulls
the notification log in pages and sleeps briefly when it has caught up
(`PollingFeed`); on PostgreSQL the library's subscription pushes them, woken
by LISTEN/NOTIFY, and the projector gathers them for a moment into pages
(`SubscriptionFeed`). A rebuild reads to the head and stops, so it always pulls.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, Subscription, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder

from projections.base import UPSTREAM, PagedProjection, UnhandledEventError

PAGE_SIZE = 1000
CATCH_UP_BATCH = 100_000
"""How many events a catching-up projector applies between two writes. The views' indexes
have random keys (ids), so each write dirties pages all over them whatever its size: on a
rebuild of a million events, fewer and larger transactions write (and commit) far fewer
pages, for about 100 MB more memory than batches of 20,000."""
BACKLOG_WRITE_SECONDS = 0.5
"""By default, how long a following projector that has a backlog (its pages come full) applies pages
before it writes them (`LOGBOOK_PROJECTOR_BACKLOG_MS`). A transaction costs about as much for one page
as for several (the views' indexes are keyed by random ids), so a backlog is worked off in fewer, larger
ones: a third faster under sustained batch logging. Without a backlog, each page is written at once."""
TICK_EVERY = timedelta(seconds=15)
"""How often time-based rules are judged again while no event arrives (the policy asks for 60 s at most)."""
SETTLE = timedelta(seconds=5)
"""How far behind the clock time-based rules are judged, so that an event
recorded just before a tick but committed just after it is applied first, as a
rebuild would apply it."""
GATHER_SECONDS = 0.05
"""How long a following projector on PostgreSQL gathers pushed events, from the first one's arrival, before it
applies and writes them as one page (a full page goes at once). Each page costs two transactions whatever its
size; events pushed one at a time each paid them. The subscription reads at most every 25 ms
(`logbook.store.PULL_EVERY_SECONDS`), so an event reaches the views within about 75 ms plus the work."""


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Catching up builds millions of objects that live on and form no cycles; the
    cyclic collector would walk them all, again and again, for nothing.

    All of them were made while the collector was off, so they are all young to it,
    and its first collections would walk every one of them (seconds, on a rebuild
    of a million events). Frozen and unfrozen at once, they move, in constant time,
    to the oldest generation, where they belong; they are not exempt from its full
    collections (a replay catches up inside a web process, which lives on).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


FOLLOWING_GC_THRESHOLDS = (100_000, 50, 100)
"""The cyclic collector's thresholds while a projector follows the store (Python's are 700, 10, 10)."""


@contextmanager
def _rare_cyclic_gc() -> Iterator[None]:
    """A following projector keeps growing state that lives on and forms no cycles (every client's file);
    with Python's thresholds the collector walks it again and again: under sustained logging, about 40 % of
    the projector's time. It still collects cycles, over a hundred times more rarely."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*FOLLOWING_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class PollingFeed:
    """Pages of the notification log after a position; polls when there is nothing new."""

    def __init__(self, recorder: ApplicationRecorder, page_size: int = PAGE_SIZE, poll_seconds: float = 0.1) -> None:
        self.recorder = recorder
        self.page_size = page_size
        self.poll_seconds = poll_seconds

    def page_after(self, position: int) -> Sequence[Notification]:
        return self.recorder.select_notifications(position, self.page_size, inclusive_of_start=False)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def caught_up(self, position: int) -> bool:
        """Whether ``position`` is the head, once `page_after` found nothing after it: it read to the head."""
        return True

    def wait(self, stop: threading.Event) -> None:
        """Returns when new events may have arrived (here: after a short pause) or when stopped."""
        stop.wait(self.poll_seconds)

    def close(self) -> None:
        """Nothing to let go of: every page was read on demand."""


class FeedLostError(Exception):
    """Raised when the store's subscription ended (its connection died); the projector must be restarted."""


class SubscriptionFeed:
    """The events the library's subscription pushes, in pages; on PostgreSQL it is woken by LISTEN/NOTIFY.

    The subscription starts after the position of the first page asked for, and
    a thread of its own moves what it delivers into a bounded queue, noting when
    each one arrived. A page is what the queue holds, and what arrives until
    ``gather_seconds`` after the first of them (or until the page is full): a page
    costs the projector a transaction per view whatever its size. With nothing
    queued, a page is empty at once. If the subscription fails (the server went
    away), the next page raises `FeedLostError`: the projector stops, and its
    supervisor starts it again from its tracking positions.
    """

    def __init__(
        self, recorder: ApplicationRecorder, page_size: int = PAGE_SIZE, wait_seconds: float = 1.0,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self.recorder = recorder
        self.page_size = page_size
        self.wait_seconds = wait_seconds
        self.gather_seconds = gather_seconds
        self._delivered: queue.Queue[tuple[float, Notification]] = queue.Queue(maxsize=10 * page_size)
        self._arrived = threading.Event()
        self._stopped = threading.Event()
        self._subscription: Subscription[Any] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def page_after(self, position: int) -> Sequence[Notification]:
        if self._subscription is None:
            self._start(position)
        page: list[Notification] = []
        gathered_until: float | None = None
        while len(page) < self.page_size:
            try:
                arrived, notification = self._next(gathered_until)
            except queue.Empty:
                break
            if gathered_until is None:
                gathered_until = arrived + self.gather_seconds
            if notification.id > position:
                page.append(notification)
        if not page and self._error is not None:
            raise FeedLostError(f"The store's subscription ended: {type(self._error).__name__}: {self._error}")
        return page

    def _next(self, gathered_until: float | None) -> tuple[float, Notification]:
        """The next delivered event: at once, or by ``gathered_until`` once a page has begun; else `queue.Empty`."""
        wait = 0.0 if gathered_until is None else gathered_until - time.monotonic()
        if wait <= 0:
            return self._delivered.get_nowait()
        return self._delivered.get(timeout=wait)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def caught_up(self, position: int) -> bool:
        """Whether ``position`` is the head: pushed events may lag the store for a moment."""
        return position >= self.head()

    def wait(self, stop: threading.Event) -> None:
        """Returns when the subscription delivered events, when stopped, or after `wait_seconds` at most."""
        if self._delivered.empty() and self._error is None and not stop.is_set():
            self._arrived.wait(self.wait_seconds)
        self._arrived.clear()

    def close(self) -> None:
        self._stopped.set()
        if self._subscription is not None:
            self._subscription.__exit__(None, None, None)  # stops it and joins its threads
        if self._thread is not None:
            self._thread.join()

    def _start(self, position: int) -> None:
        self._subscription = self.recorder.subscribe(gt=position).__enter__()
        self._thread = threading.Thread(target=self._follow, name="subscription-feed", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        assert self._subscription is not None
        try:
            for notification in self._subscription:
                arrived = time.monotonic()
                while not self._stopped.is_set():
                    try:
                        self._delivered.put((arrived, notification), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                self._arrived.set()
                if self._stopped.is_set():
                    return
        except BaseException as error:  # handed to the projector's thread, which stops on it
            self._error = error
        else:
            if not self._stopped.is_set():
                self._error = FeedLostError("the subscription stopped")
        self._arrived.set()


Feed = PollingFeed | SubscriptionFeed


def follow_feed(recorder: ApplicationRecorder) -> Feed:
    """How a following projector learns of new events: pushed where the store can push them, else pulled."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return SubscriptionFeed(recorder)
    return PollingFeed(recorder)


class Projector:
    """Runs projections over the events of the logbook, from each projection's own position."""

    def __init__(
        self,
        feed: Feed,
        mapper: Mapper[Any],
        projections: Sequence[PagedProjection[Any]],
        clock: Callable[[], datetime],
        on_close: Callable[[], None] = lambda: None,
        admit: Callable[[Notification, Any], bool] | None = None,
        backlog_write_seconds: float = BACKLOG_WRITE_SECONDS,
    ) -> None:
        self.feed = feed
        self.backlog_write_seconds = backlog_write_seconds
        self.admit = admit
        """Which events reach the projections (every one without it): a replay's, those recorded by its moment."""
        self._on_close = on_close
        self.mapper = mapper
        self.projections = list(projections)
        self.clock = clock
        self._positions = {projection.name: projection.view.position() for projection in self.projections}

    def position(self) -> int:
        """The position every projection has written."""
        return min(self._positions.values(), default=0)

    def catch_up(self, progress: Callable[[int], None] = lambda count: None) -> int:
        """Applies every event recorded so far; returns how many events were read.

        Catching up writes every `CATCH_UP_BATCH` events rather than every page:
        fewer, larger transactions, each still with its position.
        """
        read, unwritten = 0, 0
        after = self.position()
        with _without_cyclic_gc():
            while page := self.feed.page_after(after):
                self.apply_page(page, write=False)
                after = page[-1].id
                read, unwritten = read + len(page), unwritten + len(page)
                if unwritten >= CATCH_UP_BATCH:
                    self.write(after)
                    unwritten = 0
                progress(len(page))
            self.write(after)
            self.tick()
        return read

    def apply_page(self, page: Sequence[Notification], write: bool = True) -> None:
        """Applies one page to each projection that has not seen it; writes them unless told not to."""
        admit = self.admit
        # Positions change only when written: which projections are behind is looked up once a page.
        behind = [(projection, self._positions[projection.name]) for projection in self.projections]
        for notification in page:
            event = self._decode(notification)
            if admit is not None and not admit(notification, event):
                continue
            tracking = Tracking(UPSTREAM, notification.id)
            for projection, position in behind:
                if notification.id > position:
                    projection.process_event(event, tracking)
        if write:
            self.write(page[-1].id)

    def write(self, last: int) -> None:
        """Writes what each projection gathered, with ``last`` as its position, each in one transaction."""
        for projection in self.projections:
            if last > self._positions[projection.name]:
                projection.flush()
                self._positions[projection.name] = last

    def tick(self) -> None:
        """Judges time-based rules again as of the clock, less the settling delay."""
        now = self.clock() - SETTLE
        for projection in self.projections:
            projection.tick(now)
            projection.flush()

    def run(self, stop: threading.Event) -> None:
        """Follows the log until ``stop`` is set, judging time again every `TICK_EVERY`.

        A page that is not full is written at once; full pages, a backlog, are written
        together every `backlog_write_seconds`.
        """
        with _rare_cyclic_gc():
            self._follow(stop)

    def _follow(self, stop: threading.Event) -> None:
        next_tick = 0.0
        applied, unwritten_since = self.position(), None
        while not stop.is_set():
            page = self.feed.page_after(applied)
            if page:
                self.apply_page(page, write=False)
                applied, now = page[-1].id, time.monotonic()
                unwritten_since = now if unwritten_since is None else unwritten_since
                if len(page) < self.feed.page_size or now - unwritten_since >= self.backlog_write_seconds:
                    self.write(applied)
                    unwritten_since = None
                continue
            if unwritten_since is not None:  # the backlog ended on a full page
                self.write(applied)
                unwritten_since = None
            # Time is judged only once every event recorded before it was applied, as a rebuild judges it.
            # Whether it was may cost a query: it is asked only when time is due to be judged.
            if time.monotonic() >= next_tick and self.feed.caught_up(self.position()):
                self.tick()
                next_tick = time.monotonic() + TICK_EVERY.total_seconds()
            self.feed.wait(stop)

    def close(self) -> None:
        """Closes the feed and the event store the projector reads, and the views it writes."""
        self.feed.close()
        self._on_close()
        for projection in self.projections:
            projection.view.close()

    def _decode(self, notification: Notification) -> Any:
        try:
            return self.mapper.to_domain_event(notification)
        except Exception as error:  # a topic that no longer resolves, a payload that does not decode
            raise UnhandledEventError("projector", notification.id, notification.topic) from error
