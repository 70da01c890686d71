"""Every command's event has a position in the store's total order, strictly increasing."""

from __future__ import annotations

from datetime import timedelta

from events import Contact
from events.vocabulary import Nature


def test_positions_strictly_increase_across_commands(world):
    logbook = world.logbook

    # A morning in Ostend and Bruges: contacts, a correction, a follow-up, a retraction.
    first = logbook.log_contact(world.ann, world.draft())
    second = logbook.log_contact(world.carl, world.draft("carl-messenger", client_ref="lotte"))
    corrected = logbook.correct_contact(world.ann, first.contact_id, {"nature": Nature.INFORMATION}, "Info.")
    _, planned = logbook.plan_follow_up(world.bob, first.client_id, world.clock.now + timedelta(days=1), "Call.")
    retracted = logbook.retract_contact(world.carl, second.contact_id, "Wrong client.")

    positions = [receipt.position for receipt in (first, second, corrected, planned, retracted)]
    assert all(isinstance(position, int) for position in positions)
    assert positions == sorted(set(positions))
    assert logbook.count_events() == retracted.position


def test_a_contacts_history_holds_its_events_with_the_positions_of_their_receipts(world):
    logbook = world.logbook
    logged = logbook.log_contact(world.ann, world.draft())
    logbook.log_contact(world.bob, world.draft("bob-messenger"))
    corrected = logbook.correct_contact(world.lena, logged.contact_id, {"thread": "exam"}, "Named the thread.")
    retracted = logbook.retract_contact(world.ann, logged.contact_id, "Logged twice.")

    record = logbook.contact_record(world.ann, logged.contact_id)

    assert [(position, type(event)) for position, event in record.history] == [
        (logged.position, Contact.Logged), (corrected.position, Contact.Corrected),
        (retracted.position, Contact.Retracted),
    ]
    assert [event.account_id for _, event in record.history] == ["ann", "lena", "ann"]
    assert record.contact.thread == "exam" and record.contact.retracted


def test_a_receipt_is_stamped_with_the_applications_clock(world):
    world.clock.advance(timedelta(minutes=17))

    receipt = world.logbook.log_contact(world.ann, world.draft())

    assert receipt.recorded_at == world.clock.now
    assert world.logbook.contact_record(world.ann, receipt.contact_id).history[0][1].timestamp == world.clock.now
