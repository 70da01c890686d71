"""On PostgreSQL the store's pools ping a connection only when the server has spoken to it, and its
subscription reads notifications that come close together with one query.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from psycopg_pool import ConnectionPool

from logbook import read_models
from logbook.config import Settings
from logbook.store import PULL_EVERY_SECONDS, EventStore, connect_postgres
from tests.logbook.conftest import settings_in

pytestmark = pytest.mark.postgres_only

POOL_SIZE_AT_MOST = 4
"""The connections a pool of the test store may hold: one, and three more when busy."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_in(tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    with closing(EventStore(settings)) as opened:
        yield opened


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The connections pinged before use, from now on."""
    pinged: list[Any] = []
    ping = ConnectionPool.check_connection

    def counting(connection: Any) -> None:
        pinged.append(connection)
        ping(connection)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counting))
    return pinged


def backend_of(datastore: Any) -> int:
    """The server process behind the connection the pool hands out next; no retry hides a failure."""
    with datastore.get_connection() as connection:
        row = connection.execute("SELECT pg_backend_pid() AS pid").fetchone()
    return int(row["pid"])


def terminate(settings: Settings, backend: int) -> None:
    """Ends a backend as a server restart would: it says why, then closes the connection."""
    with closing(connect_postgres(settings)) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (backend,))
        deadline = time.monotonic() + 10
        while connection.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.01)


def test_an_idle_connection_is_used_without_a_ping(store, pings):
    for _ in range(5):
        store.recorder.max_notification_id()

    assert pings == []


def test_a_connection_the_server_closed_is_replaced_before_use(store, settings, pings):
    backend = backend_of(store.recorder.datastore)
    terminate(settings, backend)

    # Enough uses to meet every connection of the pool, whichever it hands out first.
    assert backend not in {backend_of(store.recorder.datastore) for _ in range(2 * POOL_SIZE_AT_MOST)}
    assert len(pings) == 1


def test_a_view_connection_the_server_closed_is_replaced_before_use(settings, pings):
    with closing(read_models.open_view(settings, "timelines")) as view:
        datastore = view.database.tracking.datastore
        backend = backend_of(datastore)
        terminate(settings, backend)

        assert backend not in {backend_of(datastore) for _ in range(2 * POOL_SIZE_AT_MOST)}
        assert view.position() == 0
    assert len(pings) == 1


def test_notifications_close_together_are_read_with_one_query_every_while(store, monkeypatch):
    recorder: Any = store.recorder
    reads: list[float] = []
    select = recorder.select_notifications

    def timed(*args: Any, **kwargs: Any) -> Any:
        reads.append(time.monotonic())
        return select(*args, **kwargs)

    monkeypatch.setattr(recorder, "select_notifications", timed)
    with recorder.subscribe(gt=recorder.max_notification_id() or 0) as subscription:
        inserted = [recorder.insert_events([_stored_event()])[0] for _ in range(20)]  # 20 transactions, 20 NOTIFYs
        received = [next(subscription).id for _ in inserted]

    assert received == inserted
    assert all(later - earlier >= PULL_EVERY_SECONDS * 0.99 for earlier, later in zip(reads, reads[1:], strict=False))


def _stored_event() -> StoredEvent:
    return StoredEvent(originator_id=uuid4(), originator_version=1, topic="tests:Nothing", state=b"{}")
