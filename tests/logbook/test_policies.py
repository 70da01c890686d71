"""Publishing versions of the boundary policy, and team leads' reviews of crossings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag

from events import Review
from events.errors import AlreadyExistsError, InvalidInputError, NotFoundError, RoleNotAllowedError
from events.policy import SECTOR_AGREEMENT_2019
from events.vocabulary import Rule, Severity, Verdict
from logbook.notes import SealedText, TextKind
from logbook.store import events_with_positions

CLIENT_ID = uuid4()


def body(version: str, effective_from: str = "2027-01-01T00:00:00+01:00", **more: Any) -> dict[str, Any]:
    return {"version": version, "effective_from": effective_from, **more}


def test_published_versions_are_listed_after_the_built_in_agreement_in_the_order_they_were_published(world):
    # The admin publishes 2028's version before 2027's.
    world.logbook.publish_policy(world.admin, body("caw-2028", "2028-01-01T00:00:00+01:00"))
    world.logbook.publish_policy(world.admin, body("caw-2027", rules={"out_of_hours": {"enabled": True}}))

    # A team lead reads them in that order, behind the built-in agreement.
    listed = world.logbook.list_policies(world.lena)

    assert [terms.version for terms in listed] == ["sector-agreement-2019", "caw-2028", "caw-2027"]
    assert listed[0] is SECTOR_AGREEMENT_2019
    assert listed[2].rules[Rule.OUT_OF_HOURS].enabled


def test_publishing_answers_the_complete_terms_and_where_they_landed(world):
    before = world.logbook.count_events()

    terms, receipt = world.logbook.publish_policy(
        world.admin, body("caw-2027", rules={"drift_into_help": {"severity": "medium"}}))

    assert terms.rules[Rule.DRIFT_INTO_HELP].severity is Severity.MEDIUM
    assert terms.rules[Rule.WORRYING_POST_WITHOUT_FOLLOW_UP] == SECTOR_AGREEMENT_2019.rules[
        Rule.WORRYING_POST_WITHOUT_FOLLOW_UP]
    assert before < receipt.position <= world.logbook.count_events()
    assert receipt.recorded_at == world.clock.now


def test_a_version_is_published_once(world):
    world.logbook.publish_policy(world.admin, body("caw-2027"))
    before = world.logbook.count_events()

    with pytest.raises(AlreadyExistsError):
        world.logbook.publish_policy(world.admin, body("caw-2027", "2027-06-01T00:00:00+02:00"))

    assert world.logbook.count_events() == before
    assert [terms.version for terms in world.logbook.policies()] == ["sector-agreement-2019", "caw-2027"]


def test_an_invalid_policy_writes_nothing(world):
    before = world.logbook.count_events()

    with pytest.raises(InvalidInputError):
        world.logbook.publish_policy(world.admin, body("caw-2027", rules={"bogus": {}}))

    assert world.logbook.count_events() == before


@pytest.mark.parametrize("who", ["ann", "lena", "rita"])
def test_only_an_admin_may_publish_a_policy(world, who):
    with pytest.raises(RoleNotAllowedError):
        world.logbook.publish_policy(getattr(world, who), body("caw-2027"))


@pytest.mark.parametrize("who", ["ann", "rita"])
def test_workers_and_researchers_may_not_read_the_policies(world, who):
    with pytest.raises(RoleNotAllowedError):
        world.logbook.list_policies(getattr(world, who))


def test_another_process_lists_what_one_published(world, open_logbook):
    world.logbook.publish_policy(world.admin, body("caw-2027"))
    other = open_logbook()
    other.policies()

    world.logbook.publish_policy(world.admin, body("caw-2028", "2028-01-01T00:00:00+01:00"))

    assert [terms.version for terms in other.policies()] == ["sector-agreement-2019", "caw-2027", "caw-2028"]


def test_a_team_leads_review_is_recorded_with_its_position(world):
    crossing_id = uuid4()
    world.clock.advance(timedelta(days=1))

    receipt = world.logbook.record_review(world.lena, crossing_id=crossing_id, crossing_team_id="jac-oostende", crossing_client_id=CLIENT_ID,
                                          verdict=Verdict.DISCUSS_IN_TEAM, comment="Refer next time.")

    # The review is the last event in the store, at the position answered.
    assert receipt.position > 0
    assert receipt.position == world.logbook.count_events()
    assert receipt.recorded_at == world.clock.now
    recorded = [event for _, event in _events_at(world, receipt.position)]
    assert len(recorded) == 1 and isinstance(recorded[0], Review.Recorded)
    assert (recorded[0].crossing_id, recorded[0].team_id, recorded[0].account_id, recorded[0].verdict) == (
        crossing_id, "jac-oostende", "lena", "discuss_in_team")
    # The comment is sealed with the crossing's client's key, bound to the review.
    review = recorded[0]
    assert (review.client_id, review.comment) == (CLIENT_ID, None)
    assert "Refer next time." not in review.sealed_comment
    sealed = SealedText(CLIENT_ID, review.originator_id, TextKind.COMMENT, review.comment_key_id, review.sealed_comment)
    assert world.logbook.read_comments([sealed]) == {review.originator_id: "Refer next time."}
    with pytest.raises(InvalidTag):
        world.logbook.read_comments([replace(sealed, kind=TextKind.REASON)])


def test_two_reviews_of_one_crossing_stand_side_by_side(world):
    crossing_id = uuid4()

    first = world.logbook.record_review(world.lena, crossing_id=crossing_id, crossing_team_id="jac-oostende", crossing_client_id=CLIENT_ID,
                                        verdict=Verdict.DISCUSS_IN_TEAM, comment="")
    second = world.logbook.record_review(world.lena, crossing_id=crossing_id, crossing_team_id="jac-oostende", crossing_client_id=CLIENT_ID,
                                         verdict=Verdict.ACCEPTABLE, comment="Discussed: fine.")

    assert second.position > first.position


def test_a_worker_may_not_review_a_crossing(world):
    with pytest.raises(RoleNotAllowedError):
        world.logbook.record_review(world.ann, crossing_id=uuid4(), crossing_team_id="jac-oostende", crossing_client_id=CLIENT_ID,
                                    verdict=Verdict.ACCEPTABLE, comment="")


def test_a_team_lead_may_not_review_a_crossing_of_another_team(world):
    before = world.logbook.count_events()

    with pytest.raises(NotFoundError):
        world.logbook.record_review(world.lena, crossing_id=uuid4(), crossing_team_id="jac-brugge", crossing_client_id=CLIENT_ID,
                                    verdict=Verdict.ACCEPTABLE, comment="")

    assert world.logbook.count_events() == before


def _events_at(world: Any, position: int) -> list[tuple[int, Any]]:
    """The events recorded at ``position``, found through the notification log."""
    notification = world.logbook.notification_log.select(start=position, limit=1)[0]
    history = events_with_positions(world.logbook, notification.originator_id)
    return [(at, event) for at, event in history if at == position]

