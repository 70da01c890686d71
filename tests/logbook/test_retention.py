"""Retention: the notes of a client silent for `retention_years` are shredded, and that is recorded."""

from __future__ import annotations

import base64
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import cast

from click.testing import CliRunner

from events import Client
from events.vocabulary import Nature
from logbook import read_models
from logbook.cli import main
from logbook.retention import apply_retention, retention_cutoff
from logbook.store import events_with_positions
from projections.timelines import TimelineView

YEAR = timedelta(days=365)


def log(world, ref: str, ago: timedelta, note: str | None = None):
    return world.logbook.log_contact(world.ann, world.draft(client_ref=ref, occurred_at=world.clock.now - ago,
                                                            nature=Nature.KEEPING_IN_TOUCH, note=note))


def project(world) -> TimelineView:
    settings = world.logbook.settings
    with closing(read_models.projector(settings, world.clock, ["timelines"])) as projector:
        projector.catch_up()
    return cast(TimelineView, read_models.open_view(settings, "timelines"))


def note_of(world, receipt) -> str | None:
    return world.logbook.contact_record(world.ann, receipt.contact_id).note


def test_only_the_notes_of_clients_silent_for_five_years_are_shredded(world):
    silent = log(world, "silent", 6 * YEAR, note="Verhuisd naar Gent.")
    recent = log(world, "recent", 6 * YEAR, note="Eerste contact.")
    log(world, "recent", 1 * YEAR)
    without_notes = log(world, "no-notes", 7 * YEAR)

    with closing(project(world)) as view:
        run = apply_retention(world.logbook, view.clients_silent_since)

    assert (run.retention_years, run.candidates, run.shredded) == (5, 2, 1)
    assert note_of(world, silent) is None
    assert world.logbook.contact_record(world.ann, silent.contact_id).note_erased
    assert note_of(world, recent) == "Eerste contact."
    assert Client.NotesExpired in event_types(world, silent.client_id)
    assert Client.NotesExpired not in event_types(world, without_notes.client_id)


def test_a_policy_with_a_longer_retention_keeps_the_notes(world):
    silent = log(world, "silent", 6 * YEAR, note="Verhuisd naar Gent.")
    world.logbook.publish_policy(world.admin, {"version": "ten-years", "retention_years": 10,
                                               "effective_from": "2020-01-01T00:00:00+01:00"})

    with closing(project(world)) as view:
        run = apply_retention(world.logbook, view.clients_silent_since)

    assert (run.retention_years, run.shredded) == (10, 0)
    assert note_of(world, silent) == "Verhuisd naar Gent."


def test_a_second_run_shreds_nothing_more(world):
    log(world, "silent", 6 * YEAR, note="Verhuisd naar Gent.")
    with closing(project(world)) as view:
        first = apply_retention(world.logbook, view.clients_silent_since)
        second = apply_retention(world.logbook, view.clients_silent_since)

    assert (first.shredded, second.shredded) == (1, 0)


def test_the_cutoff_is_the_same_calendar_day_years_before():
    leap_day = datetime(2028, 2, 29, 9, 30, tzinfo=timezone.utc)

    assert retention_cutoff(leap_day, 5) == datetime(2023, 2, 28, 9, 30, tzinfo=timezone.utc)
    assert retention_cutoff(datetime(2026, 11, 25, tzinfo=timezone.utc), 5) == datetime(2021, 11, 25,
                                                                                        tzinfo=timezone.utc)


def test_the_command_refuses_while_the_timelines_are_behind_and_shreds_once_they_caught_up(world):
    silent = log(world, "silent", 6 * YEAR, note="Verhuisd naar Gent.")
    settings = world.logbook.settings
    env = {"LOGBOOK_DATA_DIR": str(settings.data_dir), "LOGBOOK_SECRET_KEY": settings.secret_key.decode(),
           "LOGBOOK_MASTER_KEY": base64.urlsafe_b64encode(settings.master_key).decode(), "DATABASE_URL": None}

    behind = CliRunner().invoke(main, ["retention", "apply", "--wait", "0"], env=env)
    assert behind.exit_code == 1
    assert "Nothing was shredded" in behind.stderr
    assert note_of(world, silent) == "Verhuisd naar Gent."

    project(world).close()
    done = CliRunner().invoke(main, ["retention", "apply", "--wait", "0"], env=env)

    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert note_of(world, silent) is None


def event_types(world, client_id) -> list[type]:
    return [type(event) for _, event in events_with_positions(world.logbook, client_id)]
