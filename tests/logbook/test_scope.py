"""Who may act on what: a team's own contacts, profiles and the clients it met."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from events.errors import (
    ContactInFutureError,
    NotAuthorError,
    NotFoundError,
    ProfileNotAllowedError,
    RoleNotAllowedError,
    UnknownReferenceError,
)
from events.vocabulary import Nature


def test_a_contact_of_another_team_is_not_found(world):
    logbook = world.logbook
    in_bruges = logbook.log_contact(world.carl, world.draft("carl-messenger"))
    stored = logbook.count_events()

    # Ostend's team lead can neither read, correct nor retract what Bruges logged: it is not there for her.
    with pytest.raises(NotFoundError):
        logbook.contact_record(world.lena, in_bruges.contact_id)
    with pytest.raises(NotFoundError):
        logbook.correct_contact(world.lena, in_bruges.contact_id, {"nature": Nature.INFORMATION}, "Review.")
    with pytest.raises(NotFoundError):
        logbook.retract_contact(world.lena, in_bruges.contact_id, "Review.")

    assert logbook.count_events() == stored


def test_an_unknown_contact_is_not_found(world):
    with pytest.raises(NotFoundError):
        world.logbook.contact_record(world.ann, uuid4())


def test_a_client_id_is_not_a_contact(world):
    client_id = world.logbook.log_contact(world.ann, world.draft()).client_id

    with pytest.raises(NotFoundError):
        world.logbook.contact_record(world.ann, client_id)


def test_a_client_the_team_never_met_is_not_found(world):
    logbook = world.logbook
    met_in_bruges = logbook.log_contact(world.carl, world.draft("carl-messenger", client_ref="lotte"))
    _, follow_up = logbook.plan_follow_up(world.carl, met_in_bruges.client_id, world.clock.now, "Call.")
    stored = logbook.count_events()

    # Same organisation and the same client, but Ostend has not met Lotte.
    with pytest.raises(NotFoundError):
        logbook.plan_follow_up(world.ann, met_in_bruges.client_id, world.clock.now, "Call.")
    with pytest.raises(NotFoundError):
        logbook.plan_follow_up(world.ann, uuid4(), world.clock.now, "Call.")

    assert logbook.count_events() == stored


def test_a_follow_up_of_a_client_the_team_never_met_cannot_be_completed(world):
    logbook = world.logbook
    met_in_bruges = logbook.log_contact(world.carl, world.draft("carl-messenger", client_ref="lotte"))
    follow_up_id, _ = logbook.plan_follow_up(world.carl, met_in_bruges.client_id, world.clock.now, "Call.")

    with pytest.raises(NotFoundError):
        logbook.complete_follow_up(world.ann, met_in_bruges.client_id, follow_up_id)

    assert logbook.repository.get(met_in_bruges.client_id).follow_ups[follow_up_id].completed_at is None


def test_a_client_comes_into_scope_when_the_team_logs_a_contact_with_it(world):
    logbook = world.logbook
    met_in_bruges = logbook.log_contact(world.carl, world.draft("carl-messenger", client_ref="lotte"))

    logbook.log_contact(world.bob, world.draft("bob-messenger", client_ref="Lotte"))
    follow_up_id, _ = logbook.plan_follow_up(world.ann, met_in_bruges.client_id, world.clock.now, "Call.")

    assert follow_up_id in logbook.repository.get(met_in_bruges.client_id).follow_ups


@pytest.mark.parametrize("who", ["rita", "admin"])
@pytest.mark.parametrize("command", ["log", "read", "correct", "retract", "look up", "plan", "complete"])
def test_researchers_and_admins_may_not_act_on_contacts_or_clients(world, who, command):
    logbook = world.logbook
    logged = logbook.log_contact(world.ann, world.draft())
    follow_up_id, _ = logbook.plan_follow_up(world.ann, logged.client_id, world.clock.now, "Call.")
    actor = getattr(world, who)
    commands = {
        "log": lambda: logbook.log_contact(actor, world.draft()),
        "read": lambda: logbook.contact_record(actor, logged.contact_id),
        "correct": lambda: logbook.correct_contact(actor, logged.contact_id, {"nature": Nature.INFORMATION}, "R."),
        "retract": lambda: logbook.retract_contact(actor, logged.contact_id, "R."),
        "look up": lambda: logbook.look_up_client(actor, "jonas-k"),
        "plan": lambda: logbook.plan_follow_up(actor, logged.client_id, world.clock.now, "Call."),
        "complete": lambda: logbook.complete_follow_up(actor, logged.client_id, follow_up_id),
    }
    stored = logbook.count_events()

    with pytest.raises(RoleNotAllowedError):
        commands[command]()

    assert logbook.count_events() == stored


@pytest.mark.parametrize("who, profile_id", [
    ("bob", "ann-messenger"), ("lena", "ann-messenger"), ("ann", "carl-messenger"),
    ("carl", "jac-oostende-whatsapp"),
])
def test_an_account_logs_only_through_profiles_it_is_a_user_of(world, who, profile_id):
    stored = world.logbook.count_events()

    with pytest.raises(ProfileNotAllowedError):
        world.logbook.log_contact(getattr(world, who), world.draft(profile_id))

    assert world.logbook.count_events() == stored


def test_a_contact_through_an_unknown_profile_names_the_profile(world):
    with pytest.raises(UnknownReferenceError) as refused:
        world.logbook.log_contact(world.ann, world.draft("nobodys-profile"))

    assert refused.value.field == "profile_id"


def test_a_team_lead_amends_contacts_of_the_team_and_a_teammate_may_not(world):
    logbook = world.logbook
    logged = logbook.log_contact(world.ann, world.draft())

    # Bob works beside Ann but did not write the contact; Lena leads the team.
    with pytest.raises(NotAuthorError):
        logbook.correct_contact(world.bob, logged.contact_id, {"nature": Nature.HELP_CONVERSATION}, "Review.")
    logbook.correct_contact(world.lena, logged.contact_id, {"nature": Nature.HELP_CONVERSATION}, "Review.")
    logbook.retract_contact(world.lena, logged.contact_id, "Not a client contact.")

    record = logbook.contact_record(world.bob, logged.contact_id)
    assert record.contact.nature is Nature.HELP_CONVERSATION and record.contact.retracted
    assert [event.account_id for _, event in record.history] == ["ann", "lena", "lena"]


def test_a_contact_logged_in_the_future_is_refused_by_the_application_clock(world):
    stored = world.logbook.count_events()

    with pytest.raises(ContactInFutureError):
        world.logbook.log_contact(world.ann, world.draft(occurred_at=world.clock.now + timedelta(minutes=6)))

    assert world.logbook.count_events() == stored
