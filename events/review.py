from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.account import Account
from events.errors import NotFoundError, RoleNotAllowedError
from events.vocabulary import Role, Verdict


class Review(Aggregate):
    """A team lead's judgement of one boundary crossing of their team.

    Each review is its own aggregate, so two team leads reviewing at once never
    contend; a later review of the same crossing stands beside the earlier one.
    """

    class Recorded(Aggregate.Created):
        crossing_id: UUID
        team_id: str
        account_id: str
        verdict: str
        client_id: UUID | None
        """The crossing's client, whose data key sealed the comment."""
        comment_key_id: UUID | None
        sealed_comment: str | None
        """The team lead's comment, encrypted with that key; never in clear."""
        comment: str | None = None
        """Only in reviews recorded before comments were sealed (version 1): the comment in clear."""
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["client_id"] = None
            state["comment_key_id"] = None
            state["sealed_comment"] = None

    def __init__(
        self, crossing_id: UUID, team_id: str, account_id: str, verdict: str, client_id: UUID | None,
        comment_key_id: UUID | None, sealed_comment: str | None, comment: str | None = None,
    ) -> None:
        self.crossing_id = crossing_id
        self.team_id = team_id
        self.account_id = account_id
        self.verdict = Verdict(verdict)
        self.client_id = client_id
        self.comment_key_id = comment_key_id
        self.sealed_comment = sealed_comment
        self.comment = comment

    @classmethod
    def record(
        cls,
        *,
        review_id: UUID,
        crossing_id: UUID,
        team_id: str,
        account: Account,
        verdict: Verdict,
        client_id: UUID,
        comment_key_id: UUID,
        sealed_comment: str,
        now: datetime,
    ) -> Review:
        """Records the verdict of a team lead of ``team_id`` on a crossing of that team, with the
        comment sealed by the caller (who calls `check_may_review` before sealing)."""
        cls.check_may_review(account, team_id)
        return cls._create(
            cls.Recorded,
            id=review_id,
            timestamp=now,
            crossing_id=crossing_id,
            team_id=team_id,
            account_id=account.account_id,
            verdict=Verdict(verdict).value,
            client_id=client_id,
            comment_key_id=comment_key_id,
            sealed_comment=sealed_comment,
        )

    @staticmethod
    def check_may_review(account: Account, team_id: str) -> None:
        """Raises unless the account is a team lead of ``team_id``."""
        _check_team_lead(account)
        _check_of_team(account, team_id)


def _check_team_lead(account: Account) -> None:
    """Raises `RoleNotAllowedError` unless the account is a team lead."""
    if account.role is not Role.TEAM_LEAD:
        raise RoleNotAllowedError(f"The role '{account.role}' may not review a crossing.")


def _check_of_team(account: Account, team_id: str) -> None:
    """Raises `NotFoundError` for a crossing of another team: its existence is not theirs to learn."""
    if account.team_id != team_id:
        raise NotFoundError("No such crossing.")
