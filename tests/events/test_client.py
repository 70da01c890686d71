"""The client aggregate: the teams that met it and its follow-ups."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from events import Client
from events.errors import FollowUpCompletedError, InvalidInputError, NotFoundError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=2)


SEALING_KEY_ID = UUID(int=7)


def a_client() -> Client:
    return Client.register(client_id=uuid4(), organisation="caw-nwvl", team_id="jac-oostende", now=NOW)


def plan(client: Client, due: datetime = NOW + timedelta(days=7)):
    follow_up_id = uuid4()
    client.plan_follow_up(follow_up_id=follow_up_id, due=due, reason_key_id=SEALING_KEY_ID,
                          sealed_reason="sealed(Ask about the exam.)", team_id="jac-oostende", account_id="ann",
                          now=NOW)
    return follow_up_id


def test_a_client_is_met_by_the_team_that_first_logged_a_contact_with_it():
    client = a_client()

    assert client.was_met_by("jac-oostende")
    assert not client.was_met_by("jac-brugge")
    assert not client.was_met_by(None)


def test_a_client_remembers_another_team_that_met_it_once():
    client = a_client()

    client.meet(team_id="jac-brugge", now=LATER)
    client.meet(team_id="jac-brugge", now=LATER)
    client.meet(team_id="jac-oostende", now=LATER)

    assert client.was_met_by("jac-brugge") and client.was_met_by("jac-oostende")
    assert [type(event) for event in client.collect_events()] == [Client.Registered, Client.MetByTeam]


def test_a_planned_follow_up_is_open():
    client = a_client()

    follow_up_id = plan(client)

    follow_up = client.follow_ups[follow_up_id]
    assert (follow_up.due, follow_up.team_id, follow_up.account_id) == (NOW + timedelta(days=7), "jac-oostende", "ann")
    [planned] = [event for event in client.collect_events() if isinstance(event, Client.FollowUpPlanned)]
    assert (planned.reason_key_id, planned.sealed_reason, planned.reason) == (
        SEALING_KEY_ID, "sealed(Ask about the exam.)", None)
    assert follow_up.completed_at is None


def test_a_follow_up_may_be_due_in_the_past():
    client = a_client()

    follow_up_id = plan(client, due=NOW - timedelta(days=3))

    assert client.follow_ups[follow_up_id].due == NOW - timedelta(days=3)


def test_a_follow_up_due_without_utc_offset_is_refused():
    client = a_client()

    with pytest.raises(InvalidInputError) as refused:
        plan(client, due=datetime(2025, 3, 8, 10, 0))

    assert refused.value.field == "due"
    assert client.follow_ups == {}


def test_a_follow_up_is_completed_once():
    client = a_client()
    follow_up_id = plan(client)
    client.complete_follow_up(follow_up_id=follow_up_id, account_id="bob", now=LATER)

    with pytest.raises(FollowUpCompletedError):
        client.complete_follow_up(follow_up_id=follow_up_id, account_id="ann", now=LATER + timedelta(days=1))

    assert client.follow_ups[follow_up_id].completed_at == LATER
    assert [type(event) for event in client.collect_events()][-1] is Client.FollowUpCompleted
    assert client.version == 3


def test_completing_one_follow_up_leaves_the_others_open():
    client = a_client()
    first, second = plan(client), plan(client)

    client.complete_follow_up(follow_up_id=first, account_id="ann", now=LATER)

    assert client.follow_ups[first].completed_at == LATER
    assert client.follow_ups[second].completed_at is None


def test_completing_an_unknown_follow_up_is_not_found():
    client = a_client()
    plan(client)

    with pytest.raises(NotFoundError):
        client.complete_follow_up(follow_up_id=uuid4(), account_id="ann", now=LATER)
