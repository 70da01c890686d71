"""Rebuilding from zero gives the rows the live projector gave; a killed projector resumes exactly.

Both stories use the demo's events on a real SQLite store: the first follows
them live while the clock moves, the second SIGKILLs `logbook projections run`
at random moments and restarts it.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Collection
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from events import Client, Contact, Policy
from events.vocabulary import Role
from logbook import read_models
from logbook.application import Logbook
from logbook.config import Settings
from logbook.demo import load_demo
from logbook.store import EventStore
from projections.base import index_name
from projections.runner import SETTLE
from projections.sql import SQLiteDatabase
from tests.stores import read_model_rows, store_environ

JUDGED = (Contact.Logged, Contact.Corrected, Contact.Retracted, Client.FollowUpPlanned, Policy.Published)
STATE_TABLES = {"judge_clock"}
"""The judge's own clock: where the projector's time stood, not a row of the read model."""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def rows_of(settings: Settings, skip: Collection[str] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    return read_model_rows(settings, skip)


def _recorded_times(projector: Any, page: Any) -> list[datetime]:
    """When the contacts and follow-ups of a page were recorded (the directory's log entries carry the wall clock)."""
    events = (projector.mapper.to_domain_event(notification) for notification in page)
    return [event.timestamp for event in events if isinstance(event, JUDGED)]


def rebuild_all(settings: Settings, clock: Clock) -> None:
    for name in read_models.PROJECTIONS:
        read_models.rebuild(settings, name, clock, lambda count: None)


def test_a_rebuild_from_zero_gives_exactly_the_rows_of_the_live_projector(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, secret_key=b"s" * 40, master_key=b"m" * 32)
    app_clock = Clock(datetime(2026, 4, 1, tzinfo=timezone.utc))
    app = Logbook(settings, clock=app_clock)
    admin, _ = app.add_account(account_id="admin", name="Admin", role=Role.ADMIN)
    load_demo(app, seed=7, contact_count=600, echo=lambda message: None)
    app_clock.now = datetime(2026, 11, 2, tzinfo=timezone.utc)
    app.publish_policy(admin, {
        "version": "nwvl-2026-08", "effective_from": "2026-08-01T00:00:00+02:00",
        "rules": {"out_of_hours": {"enabled": True}},
    })
    app.close()
    clock = Clock(datetime(2026, 4, 1, tzinfo=timezone.utc))
    rng = random.Random(5)

    # Live: small pages, and after each a tick at a moment before the next event was recorded,
    # as when the projector has caught up and waits.
    with closing(read_models.projector(settings, clock)) as live:
        live.feed.page_size = 25
        while page := live.feed.page_after(live.position()):
            live.apply_page(page)
            last = max(_recorded_times(live, page), default=clock.now)
            upto = min(_recorded_times(live, live.feed.page_after(page[-1].id)), default=last + timedelta(days=9))
            clock.now = max(last, last + (upto - last) * rng.random()) + SETTLE
            live.tick()
        clock.now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        live.tick()
    live_rows = rows_of(settings)

    rebuild_all(settings, clock)

    assert live_rows["boundaries.crossings"] and live_rows["timelines.contacts"]
    assert {row[1] for row in live_rows["boundaries.crossings"]} >= {"out_of_hours", "help_question_not_referred"}
    assert rows_of(settings) == live_rows


@pytest.mark.e2e
def test_a_projector_killed_at_random_moments_ends_with_the_rows_of_a_clean_rebuild(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": "k" * 40,
            "LOGBOOK_MASTER_KEY": base64.urlsafe_b64encode(b"m" * 32).decode(), **store_environ(tmp_path)}
    env["LOGBOOK_PROJECTOR_BACKLOG_MS"] = "0"  # a write every page, a kill in the middle of the next
    settings = Settings.from_environ(env)
    app = Logbook(settings)
    load_demo(app, seed=11, contact_count=3000, echo=lambda message: None)
    app.close()
    head = _head(settings)
    rng = random.Random(2019)

    # Each run is killed a moment after it has written a page: in the middle of the next one.
    kills = 0
    while (reached := _position(settings)) < head and kills < 6:
        projector = _start_projector(env)
        _wait_until(lambda: _position(settings) > reached)
        time.sleep(rng.uniform(0, 0.05))
        projector.send_signal(signal.SIGKILL)
        projector.wait()
        kills += 1
    projector = _start_projector(env, stderr=subprocess.PIPE)
    assert projector.stderr is not None and b"following" in projector.stderr.readline()
    _wait_until(lambda: _position(settings) >= head)
    projector.send_signal(signal.SIGTERM)
    assert projector.wait(timeout=10) == 0

    survived = rows_of(settings, skip=STATE_TABLES)
    rebuild_all(settings, Clock(datetime.now(timezone.utc)))

    assert kills >= 2
    assert survived == rows_of(settings, skip=STATE_TABLES)


def _start_projector(env: dict[str, str], stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from logbook.cli import main; main()", "projections", "run"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def _head(settings: Settings) -> int:
    with closing(EventStore(settings)) as store:
        return store.recorder.max_notification_id() or 0


def _position(settings: Settings) -> int:
    positions = []
    for name in read_models.PROJECTIONS:
        with closing(read_models.open_view(settings, name)) as view:
            positions.append(view.position())
    return min(positions)


def _wait_until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.05)


def test_a_rebuild_from_zero_builds_its_deferred_indexes_once_caught_up_and_a_restart_builds_them_too(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, secret_key=b"s" * 40, master_key=b"m" * 32)
    app = Logbook(settings, clock=Clock(datetime(2026, 4, 1, tzinfo=timezone.utc)))
    load_demo(app, seed=3, contact_count=100, echo=lambda message: None)
    app.close()
    clock = Clock(datetime(2026, 12, 1, tzinfo=timezone.utc))
    deferred = {name: {index_name(s) for s in view_class.deferred_indexes}
                for name, (view_class, _) in read_models.PROJECTIONS.items()}
    assert all(deferred.values())

    with closing(read_models.projector(settings, clock)) as rebuilding:
        rebuilding.apply_page(rebuilding.feed.page_after(0))
        assert {name: _indexes(settings, name) & deferred[name] for name in deferred} == {n: set() for n in deferred}
    with closing(read_models.projector(settings, clock)) as restarted:  # from where the first one stopped
        assert all(_indexes(settings, name) >= deferred[name] for name in deferred)
        restarted.catch_up()
    rows = rows_of(settings)

    for name in read_models.PROJECTIONS:
        with closing(read_models.open_view(settings, name)) as view:
            view.reset()
    with closing(read_models.projector(settings, clock)) as rebuilding:
        rebuilding.catch_up()

    assert all(_indexes(settings, name) >= deferred[name] for name in deferred)
    assert rows_of(settings) == rows


def _indexes(settings: Settings, name: str) -> set[str]:
    """The indexes of a read model's tables, as its database lists them."""
    with closing(read_models.open_view(settings, name)) as view, view.reading() as cursor:
        if isinstance(view.database, SQLiteDatabase):
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        else:
            cursor.execute("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()")
        return {row["name"] for row in cursor.fetchall()}
