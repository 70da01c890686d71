"""A following projector gathers pushed events into pages, writes a backlog in fewer transactions, and asks the store
for its head only to judge time.

The subscription here is a stand-in that delivers what the test hands it, when
the test hands it: the store's own is exercised by the PostgreSQL tests and the
end-to-end ones.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification

from projections.runner import FOLLOWING_GC_THRESHOLDS, FeedLostError, Projector, SubscriptionFeed

GENEROUS = 2.0
"""Seconds a step may take on a busy machine, over what it should take."""


class HandedSubscription:
    """A subscription that delivers the notifications (or the error) the test puts in `handed`."""

    def __init__(self) -> None:
        self.handed: queue.Queue[Notification | BaseException | None] = queue.Queue()

    def __enter__(self) -> HandedSubscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handed.put(None)

    def __iter__(self) -> Iterator[Notification]:
        while (item := self.handed.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


class HandedRecorder:
    def __init__(self) -> None:
        self.subscription = HandedSubscription()
        self.head = 0

    def subscribe(self, gt: int | None = None) -> HandedSubscription:
        return self.subscription

    def max_notification_id(self) -> int:
        return self.head


def notification(position: int) -> Notification:
    return Notification(id=position, originator_id=uuid4(), originator_version=1, topic="t", state=b"")


def hand(recorder: HandedRecorder, feed: SubscriptionFeed, *positions: int) -> None:
    """Hands the notifications to the subscription and waits until the feed holds them."""
    for position in positions:
        recorder.subscription.handed.put(notification(position))
    deadline = time.monotonic() + GENEROUS
    while feed._delivered.qsize() < len(positions):
        assert time.monotonic() < deadline, "the feed did not receive what the subscription delivered"
        time.sleep(0.001)


@pytest.fixture
def recorder() -> HandedRecorder:
    return HandedRecorder()


@pytest.fixture
def feed(recorder: HandedRecorder) -> Iterator[SubscriptionFeed]:
    feed = SubscriptionFeed(recorder, page_size=3, gather_seconds=0.3)
    assert feed.page_after(0) == []  # starts the subscription
    yield feed
    feed.close()


def positions(page: Sequence[Notification]) -> list[int]:
    return [notification.id for notification in page]


def test_a_page_gathers_what_arrives_until_a_while_after_its_first_event(recorder, feed):
    hand(recorder, feed, 1)
    threading.Timer(0.1, recorder.subscription.handed.put, [notification(2)]).start()
    started = time.monotonic()

    page = feed.page_after(0)

    assert positions(page) == [1, 2]
    assert 0.3 - 0.05 <= time.monotonic() - started < 0.3 + GENEROUS
    assert feed.page_after(2) == []  # nothing more: at once


def test_a_full_page_goes_at_once(recorder, feed):
    hand(recorder, feed, 1, 2, 3, 4)
    started = time.monotonic()

    assert positions(feed.page_after(0)) == [1, 2, 3]
    assert time.monotonic() - started < 0.3


def test_events_already_applied_are_skipped(recorder, feed):
    hand(recorder, feed, 1, 2)

    assert positions(feed.page_after(1)) == [2]


def test_a_failed_subscription_ends_the_feed_after_what_it_delivered(recorder, feed):
    hand(recorder, feed, 1)
    recorder.subscription.handed.put(ConnectionError("server closed the connection"))

    assert positions(feed.page_after(0)) == [1]
    with pytest.raises(FeedLostError, match="ConnectionError"):
        feed.page_after(1)


class PagesFeed:
    """A feed of given pages, then nothing; it counts how often it is asked whether it has caught up."""

    def __init__(self, pages: list[list[Notification]], stop: threading.Event, waits: int, page_size: int = 10) -> None:
        self.pages = pages
        self.stop = stop
        self.waits = waits
        self.page_size = page_size
        self.asked_caught_up = 0

    def page_after(self, position: int) -> Sequence[Notification]:
        return self.pages.pop(0) if self.pages else []

    def caught_up(self, position: int) -> bool:
        self.asked_caught_up += 1
        return True

    def wait(self, stop: threading.Event) -> None:
        self.waits -= 1
        if self.waits == 0:
            stop.set()

    def close(self) -> None:
        """Nothing to close."""


class Counting:
    """A projection that counts the events and the ticks it is given, and writes nothing."""

    name = "counting"

    def __init__(self) -> None:
        self.events = 0
        self.ticks = 0
        self.view = self

    def position(self) -> int:
        return 0

    def process_event(self, event: Any, tracking: Any) -> None:
        self.events += 1

    def flush(self) -> None:
        """Nothing to write."""

    def tick(self, now: datetime) -> None:
        self.ticks += 1


class Decoding:
    def to_domain_event(self, notification: Notification) -> Notification:
        return notification


def test_the_projector_asks_whether_it_has_caught_up_only_when_time_is_due_to_be_judged():
    stop = threading.Event()
    feed = PagesFeed([[notification(1)], [notification(2)], [notification(3)]], stop, waits=5)
    counting = Counting()
    projector = Projector(feed, Decoding(), [counting], lambda: datetime.now(timezone.utc))

    projector.run(stop)

    assert counting.events == 3
    assert (feed.asked_caught_up, counting.ticks) == (1, 1)  # once, after the pages: the next tick is 15 s away


def written_positions(pages: list[list[int]], page_size: int, backlog_write_seconds: float = 60.0) -> list[int]:
    """The positions a following projector writes, given its feed's pages (of that size) and then none."""
    stop = threading.Event()
    feed = PagesFeed([[notification(position) for position in page] for page in pages], stop, waits=1,
                     page_size=page_size)
    projector = Projector(feed, Decoding(), [Counting()], lambda: datetime.now(timezone.utc),
                          backlog_write_seconds=backlog_write_seconds)
    written: list[int] = []
    write = projector.write
    projector.write = lambda last: (written.append(last), write(last))[1]  # type: ignore[method-assign]
    projector.run(stop)
    return written


def test_pages_that_are_not_full_are_written_one_by_one():
    assert written_positions([[1], [2, 3], [4]], page_size=3) == [1, 3, 4]


def test_a_backlog_of_full_pages_is_written_once_it_is_worked_off():
    assert written_positions([[1, 2], [3, 4], [5]], page_size=2) == [5]
    assert written_positions([[1, 2], [3, 4]], page_size=2) == [4]  # ended on a full page


def test_a_long_backlog_is_written_every_while():
    assert written_positions([[1, 2], [3, 4], [5]], page_size=2, backlog_write_seconds=0.0) == [2, 4, 5]


class Observing(Counting):
    """A projection that notes the cyclic collector's thresholds while it applies events."""

    def __init__(self) -> None:
        super().__init__()
        self.thresholds: set[tuple[int, ...]] = set()

    def process_event(self, event: Any, tracking: Any) -> None:
        super().process_event(event, tracking)
        self.thresholds.add(gc.get_threshold())


def test_a_following_projector_collects_cycles_rarely_and_leaves_the_collector_as_it_found_it():
    stop = threading.Event()
    observing = Observing()
    projector = Projector(PagesFeed([[notification(1)], [notification(2)]], stop, waits=1), Decoding(),
                          [observing], lambda: datetime.now(timezone.utc))
    before = gc.get_threshold()

    projector.run(stop)

    assert observing.thresholds == {FOLLOWING_GC_THRESHOLDS}
    assert FOLLOWING_GC_THRESHOLDS[0] > before[0]
    assert gc.get_threshold() == before
