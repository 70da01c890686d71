"""The throttle of failed authentications: per address, within a sliding minute, shared through its file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from logbook.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def open_throttle(tmp_path) -> Iterator[Callable[[Clock], Throttle]]:
    """Opens the throttle on the test's file, as each process of a deployment does."""
    opened: list[Throttle] = []

    def open_(clock: Clock) -> Throttle:
        opened.append(Throttle(tmp_path / "throttle.sqlite3", clock))
        return opened[-1]

    yield open_
    for throttle in opened:
        throttle.close()


def fail(throttle: Throttle, times: int, address: str = "192.0.2.1") -> list[int | None]:
    return [throttle.failed(address) for _ in range(times)]


def test_twenty_failures_are_counted_and_the_twenty_first_is_refused_for_the_rest_of_the_minute(open_throttle):
    clock = Clock()
    throttle = open_throttle(clock)

    assert fail(throttle, 20) == [None] * 20
    assert throttle.failed("192.0.2.1") == 60
    assert throttle.failed("198.51.100.7") is None


def test_the_wait_is_until_the_oldest_failure_leaves_the_window(open_throttle):
    clock = Clock()
    throttle = open_throttle(clock)
    fail(throttle, 1)
    clock.now += timedelta(seconds=10.5)
    fail(throttle, 19)

    assert throttle.failed("192.0.2.1") == 50
    clock.now += timedelta(seconds=49)
    assert throttle.failed("192.0.2.1") == 1  # half a second, rounded up
    clock.now += timedelta(seconds=0.5)
    # The first failure has left the window; refused attempts were not counted.
    assert throttle.failed("192.0.2.1") is None
    assert throttle.failed("192.0.2.1") == 11


def test_processes_on_one_file_share_the_count(open_throttle):
    clock = Clock()
    one, other = open_throttle(clock), open_throttle(clock)

    fail(one, 10)
    fail(other, 10)

    assert one.failed("192.0.2.1") == other.failed("192.0.2.1") == 60
