"""A team lead's review of a boundary crossing of their team."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from events import Account, Review
from events.errors import NotFoundError, RoleNotAllowedError
from events.vocabulary import Function, Role, Verdict

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


CLIENT_ID, SEALING_KEY_ID = UUID(int=3), UUID(int=7)


def sealed_comment(comment: str) -> dict[str, Any]:
    """A comment as the application hands it to the domain: sealed under the client's key, opaque here."""
    return {"client_id": CLIENT_ID, "comment_key_id": SEALING_KEY_ID, "sealed_comment": f"sealed({comment})"}


def account(role: Role, team_id: str | None = "jac-oostende") -> Account:
    function = Function.COUNSELLOR if team_id else None
    return Account.register(account_id="lena", name="Lena", role=role, team_id=team_id, function=function,
                            intern=False, now=NOW)


def test_a_team_lead_records_a_verdict_on_a_crossing_of_their_team():
    review_id, crossing_id = uuid4(), uuid4()

    review = Review.record(review_id=review_id, crossing_id=crossing_id, team_id="jac-oostende",
                           account=account(Role.TEAM_LEAD), verdict=Verdict.DISCUSS_IN_TEAM,
                           **sealed_comment("A helping talk on Messenger; refer next time."), now=NOW)

    assert (review.id, review.crossing_id, review.team_id, review.account_id) == (
        review_id, crossing_id, "jac-oostende", "lena")
    assert (review.verdict, review.sealed_comment, review.comment, review.created_on) == (
        Verdict.DISCUSS_IN_TEAM, "sealed(A helping talk on Messenger; refer next time.)", None, NOW)
    assert (review.client_id, review.comment_key_id) == (CLIENT_ID, SEALING_KEY_ID)


def test_the_verdict_is_stored_as_a_plain_string():
    review = Review.record(review_id=uuid4(), crossing_id=uuid4(), team_id="jac-oostende",
                           account=account(Role.TEAM_LEAD), verdict=Verdict.ACCEPTABLE, **sealed_comment(""), now=NOW)

    recorded = review.collect_events()[0]

    assert isinstance(recorded, Review.Recorded)
    assert type(recorded.verdict) is str and recorded.verdict == "acceptable"


@pytest.mark.parametrize("reviewer", [
    account(Role.WORKER),
    account(Role.RESEARCHER, team_id=None),
    account(Role.ADMIN, team_id=None),
])
def test_only_a_team_lead_may_review_a_crossing(reviewer):
    with pytest.raises(RoleNotAllowedError):
        Review.record(review_id=uuid4(), crossing_id=uuid4(), team_id="jac-oostende", account=reviewer,
                      verdict=Verdict.ACCEPTABLE, **sealed_comment(""), now=NOW)


def test_a_team_lead_of_another_team_is_told_the_crossing_does_not_exist():
    with pytest.raises(NotFoundError):
        Review.record(review_id=uuid4(), crossing_id=uuid4(), team_id="jac-brugge",
                      account=account(Role.TEAM_LEAD), verdict=Verdict.NOT_ACCEPTABLE, **sealed_comment(""), now=NOW)
