"""Every event survives the store's encoding and rebuilds the same aggregate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, StoredEvent, UUIDAsHex

from events import AccessToken, Account, Client, Contact, Profile, Review, Team
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=2)
SEALING_KEY_ID = UUID(int=7)


def the_stores_mapper() -> Mapper:
    """The mapper an `eventsourcing` application builds, with its default transcodings."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def a_team() -> Aggregate:
    return Team.register(team_id="jac-oostende", name="JAC Oostende", organisation="caw-nwvl", site="Oostende",
                         service=Service.JAC, now=NOW)


def an_intern() -> Aggregate:
    return Account.register(account_id="bob", name="Bob", role=Role.WORKER, team_id="jac-oostende",
                            function=Function.YOUTH_WORK, intern=True, now=NOW)


def a_shared_profile() -> Aggregate:
    return Profile.register(profile_id="jac-oostende-whatsapp", channel=Channel.WHATSAPP, kind=ProfileKind.SHARED,
                            team_id="jac-oostende", users=["ann", "bob"], now=NOW)


def a_token() -> Aggregate:
    return AccessToken.issue(token_id=uuid4(), account_id="bob", now=NOW)


def a_corrected_and_retracted_contact() -> Aggregate:
    bob = an_intern()
    contact = Contact.log(contact_id=uuid4(), client_id=uuid4(), account=bob, profile=a_shared_profile(),
                          direction=Direction.INBOUND, nature=Nature.HELP_QUESTION, occurred_at=NOW,
                          thread="exam", message_count=3, duration_minutes=5, topics=["school"], now=NOW)
    contact.correct(changes={"nature": Nature.HELP_CONVERSATION, "occurred_at": NOW - timedelta(hours=1),
                             "direction": Direction.OUTBOUND, "topics": ["school", "stress"], "thread": None},
                    reason_key_id=SEALING_KEY_ID, sealed_reason="sealed(It became help.)", account=bob, now=LATER)
    contact.retract(reason_key_id=SEALING_KEY_ID, sealed_reason="sealed(Wrong client.)", account=bob, now=LATER)
    return contact


def a_client_with_follow_ups() -> Aggregate:
    client = Client.register(client_id=uuid4(), organisation="caw-nwvl", team_id="jac-oostende", now=NOW)
    client.meet(team_id="jac-brugge", now=NOW)
    done, open_ = uuid4(), uuid4()
    for follow_up_id in (done, open_):
        client.plan_follow_up(follow_up_id=follow_up_id, due=LATER, reason_key_id=SEALING_KEY_ID,
                              sealed_reason="sealed(Call back.)", team_id="jac-brugge", account_id="carl", now=NOW)
    client.complete_follow_up(follow_up_id=done, account_id="carl", now=LATER)
    return client


def state(aggregate: Aggregate) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


@pytest.mark.parametrize("build", [
    a_team, an_intern, a_shared_profile, a_token, a_corrected_and_retracted_contact, a_client_with_follow_ups,
], ids=lambda build: build.__name__)
def test_events_round_trip_through_the_stores_encoding(build: Callable[[], Aggregate]):
    aggregate = build()
    events = aggregate.collect_events()
    mapper = the_stores_mapper()

    decoded = [mapper.to_domain_event(mapper.to_stored_event(event)) for event in events]

    assert decoded == events
    rebuilt = None
    for event in decoded:
        rebuilt = event.mutate(rebuilt)
    assert state(rebuilt) == state(aggregate)


def test_a_rebuilt_contact_has_its_vocabulary_back():
    contact = a_corrected_and_retracted_contact()
    mapper = the_stores_mapper()
    rebuilt = None

    for event in contact.collect_events():
        rebuilt = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(rebuilt)

    assert rebuilt.nature is Nature.HELP_CONVERSATION
    assert rebuilt.direction is Direction.OUTBOUND
    assert rebuilt.channel is Channel.WHATSAPP
    assert rebuilt.occurred_at == NOW - timedelta(hours=1)
    assert (rebuilt.topics, rebuilt.thread, rebuilt.retracted) == (["school", "stress"], None, True)


# Events recorded before free text was sealed (version 1) hold it in clear, and still decode.

V1_STATES = {
    Contact.Corrected: {"account_id": "bob", "changes": {"nature": "help_conversation"}, "reason": "It became help."},
    Contact.Retracted: {"account_id": "bob", "reason": "Wrong client."},
    Client.FollowUpPlanned: {"follow_up_id": {"_type_": "uuid_hex", "_data_": "0" * 31 + "1"},
                             "due": {"_type_": "datetime_iso", "_data_": LATER.isoformat()}, "reason": "Call back.",
                             "team_id": "jac-brugge", "account_id": "carl"},
    Review.Recorded: {"crossing_id": {"_type_": "uuid_hex", "_data_": "0" * 31 + "2"}, "team_id": "jac-oostende",
                      "account_id": "lena", "verdict": "acceptable", "comment": "Fine this once.",
                      "originator_topic": "events.review:Review"},
}


@pytest.mark.parametrize("event_class", list(V1_STATES), ids=lambda cls: cls.__qualname__)
def test_an_event_of_version_1_keeps_its_text_in_clear_and_has_nothing_sealed(event_class: type):
    state = {"timestamp": {"_type_": "datetime_iso", "_data_": NOW.isoformat()}, **V1_STATES[event_class]}
    stored = StoredEvent(originator_id=uuid4(), originator_version=2, topic=f"{event_class.__module__}:"
                         f"{event_class.__qualname__}", state=the_stores_mapper().transcoder.encode(state))

    event = the_stores_mapper().to_domain_event(stored)

    clear = "comment" if event_class is Review.Recorded else "reason"
    sealed = {name: getattr(event, name) for name in vars(event) if name.startswith("sealed_") or name.endswith("key_id")}
    assert getattr(event, clear) == V1_STATES[event_class][clear]
    assert sealed and set(sealed.values()) == {None}
