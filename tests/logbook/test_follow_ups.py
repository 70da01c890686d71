"""Follow-ups of a client: planned by its teams, completed once."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from events.errors import FollowUpCompletedError, NotFoundError
from tests.logbook.conftest import reason_of


def test_a_follow_up_is_completed_once(world):
    logbook = world.logbook
    met = logbook.log_contact(world.ann, world.draft())
    follow_up_id, planned = logbook.plan_follow_up(world.ann, met.client_id, world.clock.now - timedelta(days=1),
                                                   "Ask how the exam went.")
    world.clock.advance(timedelta(hours=2))
    completed = logbook.complete_follow_up(world.bob, met.client_id, follow_up_id)
    stored = logbook.count_events()

    # Lena did not see Bob had done it.
    with pytest.raises(FollowUpCompletedError):
        logbook.complete_follow_up(world.lena, met.client_id, follow_up_id)

    assert logbook.count_events() == stored
    assert completed.position > planned.position
    follow_up = logbook.repository.get(met.client_id).follow_ups[follow_up_id]
    assert follow_up.completed_at == completed.recorded_at == world.clock.now
    assert (follow_up.team_id, follow_up.account_id) == ("jac-oostende", "ann")
    assert reason_of(logbook, met.client_id, follow_up) == "Ask how the exam went."



def test_completing_an_unknown_follow_up_is_not_found(world):
    met = world.logbook.log_contact(world.ann, world.draft())

    with pytest.raises(NotFoundError):
        world.logbook.complete_follow_up(world.ann, met.client_id, uuid4())
