from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import ClientErasedError, FollowUpCompletedError, InvalidInputError, NotFoundError


@dataclass
class FollowUp:
    """A follow-up a team planned for a client, completed at most once."""

    follow_up_id: UUID
    due: datetime
    reason_key_id: UUID | None
    sealed_reason: str | None
    reason: str | None
    """In clear only in follow-ups planned before reasons were sealed."""
    team_id: str
    account_id: str
    completed_at: datetime | None = None


class Client(Aggregate):
    """A (potential) help-seeker, known only by a pseudonymous id.

    It remembers which teams of its organisation met it, which decides who may
    see and act on the client, and the follow-ups planned for it.
    """

    class Registered(Aggregate.Created):
        organisation: str
        team_id: str

    class MetByTeam(Aggregate.Event):
        team_id: str

        def apply(self, client: Client) -> None:
            client.teams.add(self.team_id)

    class FollowUpPlanned(Aggregate.Event):
        follow_up_id: UUID
        due: datetime
        team_id: str
        account_id: str
        reason_key_id: UUID | None
        """The client's data key that sealed the reason."""
        sealed_reason: str | None
        """What the follow-up is for, encrypted with that key; never in clear."""
        reason: str | None = None
        """Only in follow-ups planned before reasons were sealed (version 1): the reason in clear."""
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason_key_id"] = None
            state["sealed_reason"] = None

        def apply(self, client: Client) -> None:
            client.follow_ups[self.follow_up_id] = FollowUp(
                self.follow_up_id, self.due, self.reason_key_id, self.sealed_reason, self.reason, self.team_id,
                self.account_id,
            )

    class FollowUpCompleted(Aggregate.Event):
        follow_up_id: UUID
        account_id: str

        def apply(self, client: Client) -> None:
            client.follow_ups[self.follow_up_id].completed_at = self.timestamp

    class Erased(Aggregate.Event):
        """The client asked to be forgotten (GDPR art. 17): the key of its notes is destroyed.

        Its contacts stay, so counts stay true; their notes can no longer be read anywhere.
        """

        account_id: str
        reason: str

        def apply(self, client: Client) -> None:
            client.erased = True

    class NotesExpired(Aggregate.Event):
        """No contact for `retention_years`: the key of the client's notes is destroyed."""

        retention_years: int

    def __init__(self, organisation: str, team_id: str) -> None:
        self.organisation = organisation
        self.teams = {team_id}
        self.follow_ups: dict[UUID, FollowUp] = {}
        self.erased = False

    @classmethod
    def register(
        cls, *, client_id: UUID, organisation: str, team_id: str, now: datetime
    ) -> Client:
        """Starts the record of a client at the first contact any team logs with it."""
        return cls._create(
            cls.Registered, id=client_id, timestamp=now,
            organisation=organisation, team_id=team_id,
        )

    def was_met_by(self, team_id: str | None) -> bool:
        return team_id in self.teams

    def meet(self, *, team_id: str, now: datetime) -> None:
        """Records that another team of the organisation logged a contact with the client."""
        if team_id not in self.teams:
            self.trigger_event(self.MetByTeam, timestamp=now, team_id=team_id)

    def erase(self, *, account_id: str, reason: str, holds_notes: bool, now: datetime) -> None:
        """Records an erasure; ``holds_notes`` says whether notes were sealed since the last one."""
        self._check_something_to_erase(holds_notes)
        self.trigger_event(self.Erased, timestamp=now, account_id=account_id, reason=reason)

    def expire_notes(self, *, retention_years: int, now: datetime) -> None:
        """Records that the client's notes were shredded after the retention period."""
        self.trigger_event(self.NotesExpired, timestamp=now, retention_years=retention_years)

    def plan_follow_up(
        self,
        *,
        follow_up_id: UUID,
        due: datetime,
        reason_key_id: UUID,
        sealed_reason: str,
        team_id: str,
        account_id: str,
        now: datetime,
    ) -> None:
        """Plans a follow-up, its reason sealed by the caller (who calls `check_plannable` before sealing)."""
        self.check_plannable(due)
        self.trigger_event(
            self.FollowUpPlanned, timestamp=now, follow_up_id=follow_up_id, due=due, team_id=team_id,
            account_id=account_id, reason_key_id=reason_key_id, sealed_reason=sealed_reason,
        )

    @staticmethod
    def check_plannable(due: datetime) -> None:
        """Raises `InvalidInputError` for a due moment without its UTC offset."""
        if due.tzinfo is None:
            raise InvalidInputError("A time needs its UTC offset.", field="due")

    def complete_follow_up(self, *, follow_up_id: UUID, account_id: str, now: datetime) -> None:
        self._check_follow_up_open(follow_up_id)
        self.trigger_event(
            self.FollowUpCompleted, timestamp=now, follow_up_id=follow_up_id, account_id=account_id
        )

    def _check_something_to_erase(self, holds_notes: bool) -> None:
        """Raises `ClientErasedError` when the client was erased and no note was sealed since."""
        if self.erased and not holds_notes:
            raise ClientErasedError("The client is already erased.")

    def _check_follow_up_open(self, follow_up_id: UUID) -> None:
        """Raises `NotFoundError` for an unknown follow-up, `FollowUpCompletedError` for a completed one."""
        follow_up = self.follow_ups.get(follow_up_id)
        if follow_up is None:
            raise NotFoundError("No such follow-up.")
        if follow_up.completed_at is not None:
            raise FollowUpCompletedError("The follow-up is already completed.")
