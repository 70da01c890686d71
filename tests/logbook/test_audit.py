"""The access audit log: append-only in the database itself, shared by processes, searched a page at a time."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from events.vocabulary import Role
from logbook.audit import AUDIT_SQLITE_FILE, AuditAction, AuditEntry, AuditLog, AuditUnavailableError, audit_log
from logbook.config import Settings
from projections.storage import InvalidCursorError

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
JONAS = UUID("5b1f4c2e-8a7d-4f0e-9c3b-2d6e1a0f7b84")
LIES = UUID("0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b")


def entry(account_id: str = "ann", minutes: float = 0, client_id: UUID | None = JONAS, **fields: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "account_id": account_id, "role": Role.WORKER, "action": AuditAction.READ_TIMELINE,
        "client_id": client_id, "contact_id": None, "at": T0 + timedelta(minutes=minutes), "address": "10.0.0.7",
    }
    return AuditEntry(**(values | fields))


@pytest.fixture
def log(tmp_path: Path) -> Any:
    opened = AuditLog(tmp_path / AUDIT_SQLITE_FILE)
    yield opened
    opened.close()


def everything(log: AuditLog) -> list[AuditEntry]:
    return log.search(limit=500).items


def test_an_entry_reads_back_as_it_was_recorded(log):
    contact_id = uuid4()
    recorded = entry(action=AuditAction.READ_CONTACT, contact_id=contact_id,
                     at=datetime(2025, 3, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))))

    log.record(recorded)

    assert everything(log) == [recorded]
    assert everything(log)[0].at.utcoffset() == timedelta(0)


def test_the_log_lives_in_its_own_file_in_the_data_directory(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=None, secret_key=None)
    log = audit_log(settings)

    log.record(entry())
    log.close()

    assert (tmp_path / "data" / "audit.sqlite3").is_file()
    with sqlite3.connect(tmp_path / "data" / "audit.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entries SET account_id = 'someone-else'",
    "UPDATE audit_entries SET address = NULL WHERE row = 1",
    "DELETE FROM audit_entries",
    "DELETE FROM audit_entries WHERE row = 1",
])
def test_the_database_itself_refuses_to_change_or_delete_an_entry(log, statement):
    log.record(entry(), entry("bob"))

    connection = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute(statement)
    connection.close()

    assert [e.account_id for e in everything(log)] == ["bob", "ann"]


def test_entries_recorded_together_are_kept_all_or_none(log):
    broken = entry(account_id=None)  # the database refuses an entry without an account

    with pytest.raises(AuditUnavailableError):
        log.record(entry("ann"), broken, entry("bob"))

    assert everything(log) == []


def test_a_time_without_its_offset_is_refused():
    with pytest.raises(ValueError, match="offset"):
        entry(at=datetime(2025, 3, 1, 12, 0))


def test_a_log_that_cannot_be_opened_is_unavailable(tmp_path):
    (tmp_path / AUDIT_SQLITE_FILE).mkdir()
    log = AuditLog(tmp_path / AUDIT_SQLITE_FILE)

    with pytest.raises(AuditUnavailableError):
        log.record(entry())


# Several writers.

WRITES = 60


def write_many(path: Path, account_id: str, start: Any) -> None:
    log = AuditLog(path)
    start.wait()
    for n in range(WRITES):
        log.record(entry(account_id, minutes=n))
    log.close()


def test_entries_written_at_once_by_two_processes_are_all_kept(tmp_path):
    path = tmp_path / AUDIT_SQLITE_FILE
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [context.Process(target=write_many, args=(path, name, start)) for name in ("ann", "bob")]

    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=60)

    assert [worker.exitcode for worker in workers] == [0, 0]
    log = AuditLog(path)
    for name in ("ann", "bob"):
        assert len(log.search(account_id=name, limit=500).items) == WRITES
    log.close()


def test_threads_sharing_one_log_lose_nothing(log):
    start = threading.Barrier(4)

    def write(name: str) -> None:
        start.wait()
        for n in range(WRITES // 2):
            log.record(entry(name, minutes=n))

    threads = [threading.Thread(target=write, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(everything(log)) == 4 * (WRITES // 2)


def record_in_child(log: AuditLog) -> None:
    log.record(entry("child"))


def test_a_log_used_before_a_fork_opens_its_own_connection_in_the_child(log):
    log.record(entry("parent"))

    child = multiprocessing.get_context("fork").Process(target=record_in_child, args=(log,))
    child.start()
    child.join(timeout=30)
    log.record(entry("parent-again"))

    assert child.exitcode == 0
    assert {e.account_id for e in everything(log)} == {"parent", "child", "parent-again"}


# Searching.


@pytest.fixture
def history(log):
    """Ann reads Jonas's timeline, then Lies's; Bob reads Jonas's contact; Ann looks Jonas up: a minute apart."""
    log.record(entry("ann", 0))
    log.record(entry("ann", 1, client_id=LIES))
    log.record(entry("bob", 2, action=AuditAction.READ_CONTACT, contact_id=uuid4()))
    log.record(entry("ann", 3, action=AuditAction.LOOK_UP_CLIENT))
    return log


def minutes_of(page: Any) -> list[float]:
    return [(e.at - T0) / timedelta(minutes=1) for e in page.items]


def test_search_answers_newest_first(history):
    assert minutes_of(history.search()) == [3, 2, 1, 0]


def test_search_filters_by_client_by_account_and_both(history):
    assert minutes_of(history.search(client_id=JONAS)) == [3, 2, 0]
    assert minutes_of(history.search(account_id="ann")) == [3, 1, 0]
    assert minutes_of(history.search(client_id=JONAS, account_id="ann")) == [3, 0]
    assert minutes_of(history.search(account_id="rita")) == []


def test_search_takes_a_period_from_inclusive_to_exclusive(history):
    page = history.search(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))

    assert minutes_of(page) == [2, 1]


def test_pages_follow_each_other_by_cursor_without_gaps_or_repeats(history):
    first = history.search(limit=3)
    second = history.search(limit=3, cursor=first.next_cursor)

    assert minutes_of(first) == [3, 2, 1]
    assert minutes_of(second) == [0]
    assert second.next_cursor is None


def test_entries_of_one_moment_page_in_the_order_they_were_recorded_newest_first(log):
    log.record(*(entry(f"worker-{n}") for n in range(5)))

    first = log.search(limit=2)
    rest = log.search(limit=5, cursor=first.next_cursor)

    assert [e.account_id for e in first.items + rest.items] == [f"worker-{n}" for n in (4, 3, 2, 1, 0)]


def test_the_cursor_keeps_the_filters_of_its_search(history):
    first = history.search(account_id="ann", limit=1)
    second = history.search(account_id="ann", limit=1, cursor=first.next_cursor)

    assert minutes_of(first) + minutes_of(second) == [3, 1]


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "MjAyNS0wMy0wMQ"])
def test_a_cursor_this_log_did_not_give_out_is_refused(history, cursor):
    with pytest.raises(InvalidCursorError):
        history.search(cursor=cursor)
