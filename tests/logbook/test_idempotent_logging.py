"""A contact id makes logging idempotent: a repeat is answered, never stored twice."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from events.errors import ContactIdConflictError
from events.vocabulary import Direction, Nature


def test_a_repeat_with_the_same_contact_id_and_body_returns_the_original_receipt(world):
    logbook = world.logbook
    draft = world.draft(contact_id=uuid4())
    first = logbook.log_contact(world.ann, draft)
    stored = logbook.count_events()

    # The phone lost the answer and sends the same contact again, a few minutes later.
    world.clock.advance(timedelta(minutes=4))
    repeat = logbook.log_contact(world.ann, draft)

    assert first.created is True and repeat.created is False
    assert (repeat.contact_id, repeat.client_id, repeat.position, repeat.recorded_at) == (
        first.contact_id, first.client_id, first.position, first.recorded_at)
    assert logbook.count_events() == stored


def test_a_repeat_that_reaches_another_process_returns_the_original_receipt(world, open_logbook):
    draft = world.draft(contact_id=uuid4(), client_ref="Lotte", thread="camp", topics=["leisure"])
    first = world.logbook.log_contact(world.ann, draft)
    stored = world.logbook.count_events()

    # The retry lands on another gunicorn worker, with caches of its own.
    other_process = open_logbook()
    repeat = other_process.log_contact(other_process.account("ann"), draft)

    assert repeat.created is False
    assert (repeat.position, repeat.client_id, repeat.recorded_at) == (first.position, first.client_id,
                                                                       first.recorded_at)
    assert other_process.count_events() == stored


def test_a_repeat_with_a_differently_written_ref_of_the_same_client_is_the_same_contact(world):
    contact_id = uuid4()
    first = world.logbook.log_contact(world.ann, world.draft(contact_id=contact_id, client_ref="Jonas-K"))

    repeat = world.logbook.log_contact(world.ann, world.draft(contact_id=contact_id, client_ref=" jonas-k"))

    assert repeat.created is False and repeat.position == first.position


@pytest.mark.parametrize("difference", [
    {"nature": Nature.HELP_CONVERSATION},
    {"direction": Direction.OUTBOUND},
    {"occurred_at_shift": timedelta(minutes=-1)},
    {"thread": "another thread"},
    {"message_count": 2},
    {"duration_minutes": 15},
    {"topics": ["school"]},
    {"client_ref": "someone-else"},
    {"profile_id": "jac-oostende-whatsapp"},
], ids=lambda difference: next(iter(difference)))
def test_a_repeat_with_another_body_is_a_conflict_and_stores_nothing(world, difference):
    logbook = world.logbook
    contact_id = uuid4()
    original = world.draft(contact_id=contact_id)
    logbook.log_contact(world.ann, original)
    stored = logbook.count_events()
    shift = difference.pop("occurred_at_shift", timedelta(0))
    other = world.draft(contact_id=contact_id, occurred_at=original.occurred_at + shift,
                        **{"profile_id": original.profile_id, **difference})

    with pytest.raises(ContactIdConflictError):
        logbook.log_contact(world.ann, other)

    assert logbook.count_events() == stored
    assert logbook.contact_record(world.ann, contact_id).contact.nature is Nature.KEEPING_IN_TOUCH


def test_a_repeat_by_another_account_is_a_conflict(world):
    logbook = world.logbook
    draft = world.draft("jac-oostende-whatsapp", contact_id=uuid4())
    logbook.log_contact(world.ann, draft)
    stored = logbook.count_events()

    # Bob may use the shared profile too, but the contact is Ann's.
    with pytest.raises(ContactIdConflictError):
        logbook.log_contact(world.bob, draft)

    assert logbook.count_events() == stored
    assert logbook.contact_record(world.bob, draft.contact_id).contact.account_id == "ann"


def test_a_contact_id_that_names_another_aggregate_is_a_conflict(world):
    logbook = world.logbook
    client_id = logbook.log_contact(world.ann, world.draft()).client_id
    stored = logbook.count_events()

    with pytest.raises(ContactIdConflictError):
        logbook.log_contact(world.ann, world.draft(contact_id=client_id))

    assert logbook.count_events() == stored


def test_without_a_contact_id_each_request_is_a_new_contact(world):
    logbook = world.logbook

    first = logbook.log_contact(world.ann, world.draft())
    second = logbook.log_contact(world.ann, world.draft())

    assert first.contact_id != second.contact_id
    assert second.created is True and second.position > first.position
