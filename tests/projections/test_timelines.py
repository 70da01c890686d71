"""The timelines read model, projected from a real logbook's events by the real projector."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import Any, cast
from uuid import UUID

import pytest

from events.vocabulary import Nature, Role, Verdict
from logbook import read_models
from logbook.config import ConfigurationError
from projections.base import UnhandledEventError
from projections.storage import InvalidCursorError
from projections.timelines import (
    ClientStatus,
    ContactItem,
    FollowUpItem,
    FollowUpStatus,
    OpenFollowUpStatus,
    Timeline,
    Timelines,
    TimelineView,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
"""Where conftest's clock starts (conftest is not importable)."""
DORMANT_AFTER = timedelta(days=60)


def timeline(view: TimelineView, client_id: UUID, now: Any = NOW, cursor: str | None = None,
             limit: int = 50) -> Timeline:
    found = view.timeline(client_id, now=now, dormant_after=DORMANT_AFTER, cursor=cursor, limit=limit)
    assert found is not None
    return found


def ids(timeline: Timeline) -> list[UUID]:
    return [item.contact_id if isinstance(item, ContactItem) else item.follow_up_id for item in timeline.items]


def status(view: TimelineView, client_id: UUID, now: Any) -> ClientStatus:
    """The client's status on its timeline, after checking its team's list says the same."""
    on_timeline = timeline(view, client_id, now).status
    listed = view.team_clients("jac-oostende", status=None, now=now, dormant_after=DORMANT_AFTER,
                               cursor=None, limit=50)
    assert [c.status for c in listed.items if c.client_id == client_id] == [on_timeline]
    return on_timeline


def test_a_timeline_shows_contacts_and_follow_ups_in_the_order_they_happen(world, project):
    first = world.log(hours_ago=3, nature=Nature.INFORMATION, thread="exam", message_count=4,
                      duration_minutes=10, topics=["school"])
    second = world.log(world.lena, hours_ago=1)
    follow_up_id = world.plan(first.client_id, NOW + timedelta(days=7))

    found = timeline(project(), first.client_id)

    assert ids(found) == [first.contact_id, second.contact_id, follow_up_id]
    assert found.items[0] == ContactItem(
        first.contact_id, NOW - timedelta(hours=3), NOW, "jac-oostende", "ann", "ann-messenger", "personal",
        "messenger", "inbound", "information", "exam", 4, 10, ("school",), corrected=False, retracted=False,
        note_key_id=None, sealed_note=None, note_erased=False,
    )
    assert found.items[1].account_id == "lena"
    assert found.items[2] == FollowUpItem(
        follow_up_id, NOW + timedelta(days=7), NOW + timedelta(days=7), NOW, None, "jac-oostende", "ann",
        FollowUpStatus.PLANNED,
    )
    assert (found.client_id, found.last_contact_at, found.next_cursor) == (
        first.client_id, NOW - timedelta(hours=1), None)


def test_an_unknown_client_has_no_timeline(world, project):
    world.log()

    view = project()

    assert view.timeline(UUID(int=7), now=NOW, dormant_after=DORMANT_AFTER, cursor=None, limit=50) is None
    assert not view.knows_client(UUID(int=7))
    assert view.client_team_ids(UUID(int=7)) == set()


def test_a_correction_applies_to_the_contact_and_can_move_it_on_the_timeline(world, project):
    # Two contacts reach the read model; then the first turns out to have come later, as a referral.
    first = world.log(hours_ago=3)
    second = world.log(hours_ago=2)
    project()
    world.logbook.correct_contact(world.ann, first.contact_id, {
        "occurred_at": NOW - timedelta(minutes=30), "nature": Nature.REFERRAL_SAFE_CHAT, "topics": ["housing"],
    }, "Wrong time and nature.")
    # A third is logged and corrected before the projector runs: both land in the same page.
    third = world.log(hours_ago=1)
    world.logbook.correct_contact(world.ann, third.contact_id, {"thread": "evening"}, "Forgot the thread.")

    found = timeline(project(), first.client_id)

    assert ids(found) == [second.contact_id, third.contact_id, first.contact_id]
    moved = found.items[2]
    assert isinstance(moved, ContactItem)
    assert (moved.occurred_at, moved.nature, moved.topics, moved.corrected) == (
        NOW - timedelta(minutes=30), "referral_safe_chat", ("housing",), True)
    assert (found.items[1].thread, found.items[1].corrected, found.items[0].corrected) == ("evening", True, False)
    assert found.status is ClientStatus.REFERRED
    assert found.last_contact_at == NOW - timedelta(minutes=30)


def test_a_retracted_contact_stays_on_the_timeline_marked_and_no_longer_counts_as_the_last(world, project):
    earlier = world.log(hours_ago=3)
    later = world.log(hours_ago=1, nature=Nature.REFERRAL_IN_PERSON)
    project()

    world.logbook.retract_contact(world.ann, later.contact_id, "Logged for the wrong client.")
    found = timeline(project(), later.client_id)

    assert ids(found) == [earlier.contact_id, later.contact_id]
    assert [item.retracted for item in found.items] == [False, True]
    assert found.last_contact_at == NOW - timedelta(hours=3)
    assert found.status is ClientStatus.ACTIVE


def test_a_client_whose_every_contact_is_retracted_is_dormant(world, project):
    only = world.log()
    world.logbook.retract_contact(world.ann, only.contact_id, "Logged for the wrong client.")

    found = timeline(project(), only.client_id)

    assert (found.status, found.last_contact_at) == (ClientStatus.DORMANT, None)


def test_a_follow_up_is_planned_then_overdue_then_completed_as_the_clock_moves(world, project):
    client_id = world.log().client_id
    follow_up_id = world.plan(client_id, NOW + timedelta(days=1))
    view = project()

    assert timeline(view, client_id, NOW).items[-1].status is FollowUpStatus.PLANNED
    assert timeline(view, client_id, NOW + timedelta(days=1)).items[-1].status is FollowUpStatus.PLANNED
    assert timeline(view, client_id, NOW + timedelta(days=2)).items[-1].status is FollowUpStatus.OVERDUE

    world.clock.advance(timedelta(days=2))
    world.logbook.complete_follow_up(world.lena, client_id, follow_up_id)
    done = timeline(project(), client_id, world.clock.now).items[-1]

    assert isinstance(done, FollowUpItem)
    assert (done.status, done.completed_at) == (FollowUpStatus.COMPLETED, NOW + timedelta(days=2))


def test_a_clients_status_is_the_first_that_applies(world, project):
    later = NOW + timedelta(days=61)
    # Last contacted long ago: dormant; as of now, active.
    client_id = world.log(hours_ago=1).client_id
    assert status(project(), client_id, NOW) is ClientStatus.ACTIVE
    assert status(project(), client_id, later) is ClientStatus.DORMANT

    # Referred beats dormant.
    world.log(hours_ago=0.5, nature=Nature.REFERRAL_IN_PERSON)
    assert status(project(), client_id, later) is ClientStatus.REFERRED

    # An open follow-up beats a referral.
    world.plan(client_id, NOW + timedelta(days=90))
    assert status(project(), client_id, later) is ClientStatus.FOLLOW_UP_DUE

    # An overdue one beats one that is not yet due.
    overdue_id = world.plan(client_id, NOW + timedelta(days=30))
    assert status(project(), client_id, later) is ClientStatus.OVERDUE

    # Completing it leaves the one still due.
    world.logbook.complete_follow_up(world.ann, client_id, overdue_id)
    assert status(project(), client_id, later) is ClientStatus.FOLLOW_UP_DUE


def test_a_client_turns_dormant_only_after_exactly_sixty_days(world, project):
    receipt = world.log(hours_ago=1)
    last = NOW - timedelta(hours=1)
    view = project()

    assert status(view, receipt.client_id, last + DORMANT_AFTER) is ClientStatus.ACTIVE
    assert status(view, receipt.client_id, last + DORMANT_AFTER + timedelta(microseconds=1)) is ClientStatus.DORMANT


def test_pages_of_a_timeline_give_every_item_once_in_order(world, project):
    logged = [world.log(hours_ago=hours) for hours in (9, 7, 5, 3, 1)]
    client_id = logged[0].client_id
    follow_ups = [world.plan(client_id, NOW - timedelta(hours=hours)) for hours in (8, 2)]
    view = project()
    expected = [logged[0].contact_id, follow_ups[0], logged[1].contact_id, logged[2].contact_id,
                logged[3].contact_id, follow_ups[1], logged[4].contact_id]

    pages, cursor = [], None
    while True:
        page = timeline(view, client_id, cursor=cursor, limit=3)
        pages.append(ids(page))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [item for p in pages for item in p] == expected
    assert ids(timeline(view, client_id, limit=7)) == expected
    assert timeline(view, client_id, limit=7).next_cursor is None


def test_a_timeline_shows_the_contacts_of_every_team_of_the_organisation_that_met_the_client(world, project):
    in_ostend = world.log(hours_ago=2)
    in_bruges = world.log(world.carl, hours_ago=1)
    view = project()

    found = timeline(view, in_ostend.client_id)

    assert in_bruges.client_id == in_ostend.client_id
    assert [item.team_id for item in found.items] == ["jac-oostende", "jac-brugge"]
    assert view.client_team_ids(in_ostend.client_id) == {"jac-oostende", "jac-brugge"}
    assert view.knows_client(in_ostend.client_id)


def test_a_teams_clients_are_those_it_met_by_id_and_filtered_by_status(world, project):
    met_by_both = world.log(client_ref="jonas-k").client_id
    world.log(world.carl, client_ref="jonas-k")
    referred = world.log(client_ref="sara-v", nature=Nature.REFERRAL_SAFE_CHAT).client_id
    only_bruges = world.log(world.carl, client_ref="mo-b").client_id
    world.plan(met_by_both, NOW + timedelta(days=3))
    view = project()

    def listed(team_id: str, wanted: str | None = None) -> list[tuple[UUID, str]]:
        page = view.team_clients(team_id, status=wanted, now=NOW, dormant_after=DORMANT_AFTER, cursor=None,
                                 limit=50)
        return [(c.client_id, c.status) for c in page.items]

    assert listed("jac-oostende") == sorted([(met_by_both, "follow_up_due"), (referred, "referred")])
    assert listed("jac-brugge") == sorted([(met_by_both, "follow_up_due"), (only_bruges, "active")])
    assert listed("jac-oostende", "referred") == [(referred, "referred")]
    assert listed("jac-oostende", "dormant") == []


def test_a_teams_client_list_pages_by_client_id(world, project):
    client_ids = sorted(world.log(client_ref=f"client-{n}").client_id for n in range(5))
    view = project()

    first = view.team_clients("jac-oostende", status=None, now=NOW, dormant_after=DORMANT_AFTER, cursor=None,
                              limit=3)
    rest = view.team_clients("jac-oostende", status=None, now=NOW, dormant_after=DORMANT_AFTER,
                             cursor=first.next_cursor, limit=3)

    assert [c.client_id for c in first.items + rest.items] == client_ids
    assert rest.next_cursor is None
    assert first.items[0].open_follow_ups == 0 and first.items[0].next_due is None


def test_a_teams_follow_ups_are_its_open_ones_by_due_moment(world, project):
    jonas = world.log(client_ref="jonas-k").client_id
    sara = world.log(client_ref="sara-v").client_id
    world.log(world.carl, client_ref="jonas-k")
    late = world.plan(jonas, NOW - timedelta(days=1))
    soon = world.plan(sara, NOW + timedelta(days=1))
    later = world.plan(jonas, NOW + timedelta(days=2), who=world.lena)
    done = world.plan(sara, NOW + timedelta(hours=1))
    world.logbook.complete_follow_up(world.ann, sara, done)
    world.plan(jonas, NOW + timedelta(days=1), who=world.carl)
    view = project()

    def listed(wanted: str | None, cursor: str | None = None, limit: int = 50) -> Any:
        return view.team_follow_ups("jac-oostende", status=wanted, now=NOW, cursor=cursor, limit=limit)

    everything = listed(None)
    assert [f.follow_up_id for f in everything.items] == [late, soon, later]
    assert [f.status for f in everything.items] == [OpenFollowUpStatus.OVERDUE, "due", "due"]
    assert (everything.items[2].client_id, everything.items[2].account_id) == (jonas, "lena")
    assert [f.follow_up_id for f in listed("overdue").items] == [late]
    assert [f.follow_up_id for f in listed("due").items] == [soon, later]
    first = listed("due", limit=1)
    assert [f.follow_up_id for f in listed("due", first.next_cursor).items] == [later]


def test_the_same_events_give_the_same_read_model_in_pages_of_one_event_as_in_one_rebuild(world, project):
    # Projected an event at a time, so that each event lands in a page of its own.
    first = world.log(hours_ago=3)
    project(page_size=1)
    world.log(world.carl, hours_ago=2)
    world.logbook.correct_contact(world.ann, first.contact_id, {"nature": Nature.INVITATION}, "Was an invitation.")
    follow_up_id = world.plan(first.client_id, NOW + timedelta(days=1))
    project(page_size=1)
    world.logbook.complete_follow_up(world.ann, first.client_id, follow_up_id)
    world.plan(first.client_id, NOW - timedelta(days=1))
    view = project(page_size=1)
    incremental = timeline(view, first.client_id), view.client_team_ids(first.client_id)

    read_models.rebuild(world.settings, "timelines", world.clock, lambda count: None)

    assert (timeline(view, first.client_id), view.client_team_ids(first.client_id)) == incremental
    assert incremental[0].status is ClientStatus.OVERDUE


def test_the_directory_policies_and_reviews_change_no_timeline(world, project):
    receipt = world.log()
    before = timeline(project(), receipt.client_id)
    admin, _ = world.logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)
    world.logbook.publish_policy(admin, {
        "version": "nwvl-2025-03", "effective_from": "2025-03-01T00:00:00+01:00",
        "rules": {"out_of_hours": {"enabled": True}},
    })
    world.logbook.record_review(world.lena, crossing_id=UUID(int=1), crossing_team_id="jac-oostende",
                                crossing_client_id=receipt.client_id, verdict=Verdict.ACCEPTABLE, comment="Fine.")

    assert timeline(project(), receipt.client_id) == before


def test_an_event_the_projection_does_not_know_stops_it_at_its_position(world, project):
    class Teleported:
        """An event no version of the timelines knows."""

    projection = Timelines(project())

    with pytest.raises(UnhandledEventError, match="position 42") as raised:
        projection.apply(Teleported(), 42)
    assert raised.value.position == 42


def test_a_cursor_that_the_list_did_not_give_is_refused(world, project):
    client_id = world.log().client_id
    view = project()

    for cursor in ("not-a-cursor", "MjAyNQ", "!!!!"):
        with pytest.raises(InvalidCursorError):
            timeline(view, client_id, cursor=cursor)


@pytest.mark.parametrize("page_size", [None, 1])
def test_an_erasure_drops_the_sealed_notes_of_earlier_contacts_and_marks_them(world, project, page_size):
    before = world.log(note="Zus is zwanger.")
    world.logbook.erase_client(world.lena, before.client_id, "Request under GDPR art. 17.")
    after = world.log(note="Terug na een jaar.")

    items = {item.contact_id: item for item in timeline(project(page_size), before.client_id).items}

    assert (items[before.contact_id].sealed_note, items[before.contact_id].note_erased) == (None, True)
    assert items[after.contact_id].sealed_note is not None
    assert items[after.contact_id].note_erased is False
    assert "Terug" not in items[after.contact_id].sealed_note


@pytest.mark.sqlite_only("a SQLite view keeps its version in PRAGMA user_version and is recreated when opened")
def test_a_view_written_for_another_schema_is_emptied_and_filled_again(world, settings, clock):
    receipt = world.log()
    with closing(read_models.projector(settings, clock, ["timelines"])) as projector:
        projector.catch_up()
        with projector.projections[0].view.writing(None) as cursor:
            cursor.execute("PRAGMA user_version = 1")

    with closing(read_models.open_view(settings, "timelines")) as reopened:
        assert reopened.position() == 0
    with closing(read_models.projector(settings, clock, ["timelines"])) as projector:
        projector.catch_up()
        view = cast(TimelineView, projector.projections[0].view)
        assert ids(timeline(view, receipt.client_id)) == [receipt.contact_id]


@pytest.mark.postgres_only
def test_a_postgres_view_of_another_schema_is_refused_until_init_recreates_it_then_filled_again(
    world, settings, clock
):
    receipt = world.log()
    with closing(read_models.projector(settings, clock, ["timelines"])) as projector:
        projector.catch_up()
        with projector.projections[0].view.writing(None) as cursor:
            cursor.execute("UPDATE view_versions SET version = 1 WHERE name = 'timelines'")

    with pytest.raises(ConfigurationError, match="run `logbook init`"):
        read_models.open_view(settings, "timelines")
    read_models.create_tables(settings)  # what `logbook init` does
    with closing(read_models.open_view(settings, "timelines")) as reopened:
        assert reopened.position() == 0
    with closing(read_models.projector(settings, clock, ["timelines"])) as projector:
        projector.catch_up()
        view = cast(TimelineView, projector.projections[0].view)
        assert ids(timeline(view, receipt.client_id)) == [receipt.contact_id]
