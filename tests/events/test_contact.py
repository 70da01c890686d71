"""The contact aggregate: logged once, then only corrected or retracted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from events import Account, Contact, Profile
from events.errors import (
    ContactInFutureError,
    ContactRetractedError,
    InvalidCorrectionError,
    InvalidInputError,
    NotAuthorError,
    ProfileNotAllowedError,
)
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
AN_HOUR_AGO = NOW - timedelta(hours=1)

SEALING_KEY_ID = UUID(int=7)


def sealed(reason: str) -> dict[str, Any]:
    """A reason as the application hands it to the domain: sealed text under a key id, opaque here."""
    return {"reason_key_id": SEALING_KEY_ID, "sealed_reason": f"sealed({reason})"}


def an_account(account_id: str = "ann", role: Role = Role.WORKER, team_id: str = "jac-oostende",
               intern: bool = False) -> Account:
    return Account.register(account_id=account_id, name=account_id.title(), role=role, team_id=team_id,
                            function=Function.COUNSELLOR, intern=intern, now=NOW)


def a_profile(*users: str, kind: ProfileKind = ProfileKind.PERSONAL, team_id: str = "jac-oostende",
              profile_id: str = "ann-messenger") -> Profile:
    return Profile.register(profile_id=profile_id, channel=Channel.MESSENGER, kind=kind, team_id=team_id,
                            users=list(users or ["ann"]), now=NOW)


def a_contact(account: Account | None = None, profile: Profile | None = None, **facts: Any) -> Contact:
    facts = {"direction": Direction.INBOUND, "nature": Nature.HELP_QUESTION, "occurred_at": AN_HOUR_AGO,
             **facts}
    return Contact.log(contact_id=uuid4(), client_id=uuid4(), account=account or an_account(),
                       profile=profile or a_profile(), now=NOW, **facts)


def test_a_contact_takes_its_team_and_channel_from_the_profile_and_its_author_from_the_account():
    bob = an_account("bob", intern=True)
    shared = a_profile("ann", "bob", kind=ProfileKind.SHARED, profile_id="jac-oostende-whatsapp")
    client_id = uuid4()

    contact = Contact.log(contact_id=uuid4(), client_id=client_id, account=bob, profile=shared,
                          direction=Direction.OUTBOUND, nature=Nature.INVITATION, occurred_at=AN_HOUR_AGO,
                          now=NOW)

    assert (contact.client_id, contact.team_id, contact.profile_id) == (client_id, "jac-oostende",
                                                                          "jac-oostende-whatsapp")
    assert (contact.channel, contact.profile_kind) == (Channel.MESSENGER, ProfileKind.SHARED)
    assert (contact.account_id, contact.account_function, contact.intern) == ("bob", Function.COUNSELLOR, True)
    assert (contact.direction, contact.nature, contact.occurred_at) == (Direction.OUTBOUND, Nature.INVITATION,
                                                                        AN_HOUR_AGO)
    assert (contact.thread, contact.message_count, contact.duration_minutes, contact.topics) == (None, 1, None, [])
    assert contact.retracted is False


def test_logging_a_contact_records_one_logged_event_at_the_given_clock():
    contact = a_contact()

    events = contact.collect_events()

    assert [type(event) for event in events] == [Contact.Logged]
    assert events[0].timestamp == NOW
    assert events[0].originator_id == contact.id


def test_a_contact_exactly_five_minutes_in_the_future_is_accepted():
    contact = a_contact(occurred_at=NOW + timedelta(minutes=5))

    assert contact.occurred_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize("ahead", [timedelta(minutes=5, microseconds=1), timedelta(hours=1), timedelta(days=400)])
def test_a_contact_more_than_five_minutes_in_the_future_is_refused(ahead):
    with pytest.raises(ContactInFutureError) as refused:
        a_contact(occurred_at=NOW + ahead)

    assert refused.value.field == "occurred_at"


def test_the_future_is_judged_by_the_instant_not_the_offset():
    in_brussels_summer_time = timezone(timedelta(hours=2))

    contact = a_contact(occurred_at=(NOW + timedelta(minutes=4)).astimezone(in_brussels_summer_time))

    assert contact.occurred_at == NOW + timedelta(minutes=4)


def test_a_contact_time_without_its_utc_offset_is_refused():
    with pytest.raises(InvalidInputError) as refused:
        a_contact(occurred_at=datetime(2025, 3, 1, 11, 0))

    assert refused.value.field == "occurred_at"


def test_only_a_profiles_users_may_log_through_it():
    bob = an_account("bob")

    with pytest.raises(ProfileNotAllowedError):
        a_contact(account=bob, profile=a_profile("ann"))


def test_contact_through_a_profile_of_another_team_is_refused():
    carl_in_bruges = an_account("carl", team_id="jac-brugge")
    ostend_whatsapp = a_profile("ann", "bob", kind=ProfileKind.SHARED, profile_id="jac-oostende-whatsapp")

    with pytest.raises(ProfileNotAllowedError):
        a_contact(account=carl_in_bruges, profile=ostend_whatsapp)


def test_a_team_lead_is_not_a_user_of_a_workers_profile_by_rank():
    lena = an_account("lena", role=Role.TEAM_LEAD)

    with pytest.raises(ProfileNotAllowedError):
        a_contact(account=lena, profile=a_profile("ann"))


def test_a_correction_applies_its_changes_and_keeps_the_rest():
    contact = a_contact(thread="exam", topics=["school"], message_count=2)
    changes = {"nature": Nature.HELP_CONVERSATION, "direction": Direction.OUTBOUND,
               "occurred_at": NOW - timedelta(hours=3), "thread": None, "message_count": 9,
               "duration_minutes": 20, "topics": ["housing", "money"]}

    contact.correct(changes=changes, **sealed("It became help."), account=an_account(), now=NOW)

    assert {name: getattr(contact, name) for name in changes} == changes
    assert (contact.profile_id, contact.account_id, contact.retracted) == ("ann-messenger", "ann", False)
    corrected = contact.collect_events()[-1]
    assert isinstance(corrected, Contact.Corrected)
    assert (corrected.changes, corrected.reason_key_id, corrected.sealed_reason, corrected.reason) == (
        changes, SEALING_KEY_ID, "sealed(It became help.)", None)
    assert corrected.account_id == "ann"


def test_a_correction_of_some_fields_leaves_the_others_as_logged():
    contact = a_contact(thread="exam", topics=["school"], message_count=2)

    contact.correct(changes={"nature": Nature.REFERRAL_SAFE_CHAT}, **sealed("Referred."), account=an_account(),
                    now=NOW)

    assert contact.nature is Nature.REFERRAL_SAFE_CHAT
    assert (contact.thread, contact.topics, contact.message_count) == ("exam", ["school"], 2)
    assert contact.occurred_at == AN_HOUR_AGO


def test_a_team_lead_of_the_contacts_team_may_correct_it():
    contact = a_contact()
    lena = an_account("lena", role=Role.TEAM_LEAD)

    contact.correct(changes={"nature": Nature.HELP_CONVERSATION}, **sealed("Boundary review."), account=lena, now=NOW)

    assert contact.nature is Nature.HELP_CONVERSATION
    assert contact.collect_events()[-1].account_id == "lena"


@pytest.mark.parametrize("someone", [
    an_account("bob"),
    an_account("lena-bruges", role=Role.TEAM_LEAD, team_id="jac-brugge"),
], ids=["another worker of the team", "a team lead of another team"])
def test_only_the_author_or_a_team_lead_of_the_team_may_amend_a_contact(someone):
    contact = a_contact()

    with pytest.raises(NotAuthorError):
        contact.correct(changes={"nature": Nature.INFORMATION}, **sealed("Hm."), account=someone, now=NOW)
    with pytest.raises(NotAuthorError):
        contact.retract(**sealed("Hm."), account=someone, now=NOW)

    assert contact.version == 1 and not contact.retracted


@pytest.mark.parametrize("field_name", ["client_id", "team_id", "account_id", "profile_id", "channel",
                                        "profile_kind", "intern", "retracted", "notes"])
def test_a_correction_of_a_field_that_cannot_be_corrected_is_refused(field_name):
    contact = a_contact()

    with pytest.raises(InvalidCorrectionError) as refused:
        contact.correct(changes={"nature": Nature.INFORMATION, field_name: "x"}, **sealed("Fix."),
                        account=an_account(), now=NOW)

    assert refused.value.field == "changes"
    assert contact.version == 1 and contact.nature is Nature.HELP_QUESTION


def test_a_correction_that_changes_nothing_is_refused():
    contact = a_contact()

    with pytest.raises(InvalidCorrectionError):
        contact.correct(changes={}, **sealed("Nothing."), account=an_account(), now=NOW)

    assert contact.version == 1


def test_a_correction_into_the_future_is_refused():
    contact = a_contact()

    with pytest.raises(ContactInFutureError) as refused:
        contact.correct(changes={"occurred_at": NOW + timedelta(minutes=6)}, **sealed("Oops."),
                        account=an_account(), now=NOW)

    assert refused.value.field == "changes.occurred_at"
    assert contact.occurred_at == AN_HOUR_AGO


def test_a_retraction_marks_the_contact_and_keeps_its_facts():
    contact = a_contact()

    contact.retract(**sealed("Wrong client."), account=an_account(), now=NOW)

    assert contact.retracted is True
    assert contact.nature is Nature.HELP_QUESTION
    retracted = contact.collect_events()[-1]
    assert isinstance(retracted, Contact.Retracted)
    assert (retracted.sealed_reason, retracted.reason, retracted.account_id, retracted.timestamp) == (
        "sealed(Wrong client.)", None, "ann", NOW)


def test_a_retracted_contact_cannot_be_corrected():
    contact = a_contact()
    contact.retract(**sealed("Wrong client."), account=an_account(), now=NOW)

    with pytest.raises(ContactRetractedError):
        contact.correct(changes={"nature": Nature.INFORMATION}, **sealed("Fix."), account=an_account(), now=NOW)

    assert contact.version == 2 and contact.nature is Nature.HELP_QUESTION


def test_a_retracted_contact_cannot_be_retracted_again():
    contact = a_contact()
    contact.retract(**sealed("Wrong client."), account=an_account(), now=NOW)

    with pytest.raises(ContactRetractedError):
        contact.retract(**sealed("Again."), account=an_account(), now=NOW)

    assert contact.version == 2
