from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.account import Account
from events.errors import (
    ContactInFutureError,
    ContactRetractedError,
    InvalidCorrectionError,
    InvalidInputError,
    NotAuthorError,
)
from events.profile import Profile
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role

FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of the clock a contact may be dated (clocks of phones drift)."""

MAX_NOTE_LENGTH = 2000
"""Characters in a worker's note on a contact, before it is sealed."""

CORRECTABLE_FIELDS = frozenset(
    {"nature", "direction", "occurred_at", "thread", "message_count", "duration_minutes", "topics"}
)


class Contact(Aggregate):
    """One contact between a worker and a client over Messenger or WhatsApp.

    A contact is its own small aggregate so that workers logging at once never
    contend; it is never updated in place, only corrected or retracted.
    """

    class Logged(Aggregate.Created):
        client_id: UUID
        team_id: str
        account_id: str
        account_function: str | None
        intern: bool
        profile_id: str
        channel: str
        profile_kind: str
        direction: str
        nature: str
        occurred_at: datetime
        thread: str | None
        message_count: int
        duration_minutes: int | None
        topics: list[str]
        note_key_id: UUID | None = None
        """The client's data key that sealed the note; the key, not the event, can be destroyed."""
        sealed_note: str | None = None
        """The worker's note, encrypted with that key; never in clear."""

    class Corrected(Aggregate.Event):
        account_id: str
        changes: dict[str, Any]
        reason_key_id: UUID | None
        """The client's data key that sealed the reason."""
        sealed_reason: str | None
        """Why it was corrected, encrypted with that key; never in clear."""
        reason: str | None = None
        """Only in corrections recorded before reasons were sealed (version 1): the reason in clear."""
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            _reason_in_clear(state)

        def apply(self, contact: Contact) -> None:
            contact._apply_changes(self.changes)

    class Retracted(Aggregate.Event):
        account_id: str
        reason_key_id: UUID | None
        sealed_reason: str | None
        reason: str | None = None
        """Only in retractions recorded before reasons were sealed (version 1): the reason in clear."""
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            _reason_in_clear(state)

        def apply(self, contact: Contact) -> None:
            contact.retracted = True

    def __init__(
        self,
        client_id: UUID,
        team_id: str,
        account_id: str,
        account_function: str | None,
        intern: bool,
        profile_id: str,
        channel: str,
        profile_kind: str,
        direction: str,
        nature: str,
        occurred_at: datetime,
        thread: str | None,
        message_count: int,
        duration_minutes: int | None,
        topics: list[str],
        note_key_id: UUID | None = None,
        sealed_note: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.team_id = team_id
        self.account_id = account_id
        self.account_function = Function(account_function) if account_function else None
        self.intern = intern
        self.profile_id = profile_id
        self.channel = Channel(channel)
        self.profile_kind = ProfileKind(profile_kind)
        self.direction = Direction(direction)
        self.nature = Nature(nature)
        self.occurred_at = occurred_at
        self.thread = thread
        self.message_count = message_count
        self.duration_minutes = duration_minutes
        self.topics = list(topics)
        self.note_key_id = note_key_id
        self.sealed_note = sealed_note
        self.retracted = False

    @classmethod
    def log(
        cls,
        *,
        contact_id: UUID,
        client_id: UUID,
        account: Account,
        profile: Profile,
        direction: Direction,
        nature: Nature,
        occurred_at: datetime,
        thread: str | None = None,
        message_count: int = 1,
        duration_minutes: int | None = None,
        topics: list[str] | None = None,
        note_key_id: UUID | None = None,
        sealed_note: str | None = None,
        now: datetime,
    ) -> Contact:
        """Records a contact through ``profile`` by ``account``, as of the clock ``now``."""
        cls.check_loggable(account=account, profile=profile, occurred_at=occurred_at, now=now)
        return cls._create(
            cls.Logged,
            id=contact_id,
            timestamp=now,
            client_id=client_id,
            team_id=profile.team_id,
            account_id=account.account_id,
            account_function=account.function,
            intern=account.intern,
            profile_id=profile.profile_id,
            channel=profile.channel,
            profile_kind=profile.kind,
            direction=Direction(direction),
            nature=Nature(nature),
            occurred_at=occurred_at,
            thread=thread,
            message_count=message_count,
            duration_minutes=duration_minutes,
            topics=list(topics or []),
            note_key_id=note_key_id,
            sealed_note=sealed_note,
        )

    @staticmethod
    def check_loggable(*, account: Account, profile: Profile, occurred_at: datetime, now: datetime) -> None:
        """Raises unless ``account`` may log through ``profile`` a contact at ``occurred_at``.

        Callers that must do something irreversible before logging (seal a note
        with a client's key) check first, so that a refused contact leaves nothing.
        """
        profile.check_may_be_used_by(account.account_id)
        _check_not_in_future(occurred_at, now)

    def correct(
        self, *, changes: dict[str, Any], reason_key_id: UUID, sealed_reason: str, account: Account,
        now: datetime,
    ) -> None:
        """Records a correction of some facts of the contact, with its reason sealed by the caller."""
        self.check_correctable(changes=changes, account=account, now=now)
        self.trigger_event(
            self.Corrected, timestamp=now, account_id=account.account_id,
            changes=dict(changes), reason_key_id=reason_key_id, sealed_reason=sealed_reason,
        )

    def check_correctable(self, *, changes: dict[str, Any], account: Account, now: datetime) -> None:
        """Raises unless ``account`` may make these changes now.

        Callers check before they seal the reason with the client's key (irreversible:
        it may create the key), so that a refused correction leaves nothing.
        """
        self.check_amendable(account)
        self._check_changes(changes, now)

    def retract(self, *, reason_key_id: UUID, sealed_reason: str, account: Account, now: datetime) -> None:
        """Records that the contact should not have been logged; it stays in the history."""
        self.check_amendable(account)
        self.trigger_event(
            self.Retracted, timestamp=now, account_id=account.account_id,
            reason_key_id=reason_key_id, sealed_reason=sealed_reason,
        )

    def check_amendable(self, account: Account) -> None:
        """Raises unless ``account`` may amend the contact: it is not retracted, and theirs or their team's.

        Callers check before they seal a retraction's reason, as before a correction's.
        """
        self._check_not_retracted()
        self.check_may_be_amended_by(account)

    def check_may_be_amended_by(self, account: Account) -> None:
        """Raises `NotAuthorError` unless the account wrote the contact or leads its team."""
        if account.account_id == self.account_id:
            return
        if account.role is Role.TEAM_LEAD and account.team_id == self.team_id:
            return
        raise NotAuthorError("Only its author or a team lead of its team may amend a contact.")

    def _check_not_retracted(self) -> None:
        """Raises `ContactRetractedError` once the contact is retracted."""
        if self.retracted:
            raise ContactRetractedError("The contact is retracted.")

    @staticmethod
    def _check_changes(changes: dict[str, Any], now: datetime) -> None:
        """Raises `InvalidCorrectionError` for no change or a field that cannot change."""
        if not changes:
            raise InvalidCorrectionError("A correction changes at least one field.", field="changes")
        for key in changes:
            if key not in CORRECTABLE_FIELDS:
                raise InvalidCorrectionError(f"'{key}' cannot be corrected.", field="changes")
        if "occurred_at" in changes:
            _check_not_in_future(changes["occurred_at"], now, field="changes.occurred_at")

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, _coerce(key, value))


def _reason_in_clear(state: dict[str, Any]) -> None:
    """Upcasts an amendment recorded before reasons were sealed: it keeps its reason, in clear."""
    state["reason_key_id"] = None
    state["sealed_reason"] = None


def _coerce(key: str, value: Any) -> Any:
    """Restores vocabulary values that the stored JSON holds as plain strings."""
    if key == "nature":
        return Nature(value)
    if key == "direction":
        return Direction(value)
    if key == "topics":
        return list(value)
    return value


def check_note(note: str) -> None:
    """Raises `InvalidInputError` for a note longer than `MAX_NOTE_LENGTH` characters."""
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInputError(f"A note has at most {MAX_NOTE_LENGTH} characters.", field="note")


def _check_not_in_future(occurred_at: datetime, now: datetime, field: str = "occurred_at") -> None:
    """Raises `ContactInFutureError` for a time more than five minutes past ``now``."""
    if occurred_at.tzinfo is None:
        raise InvalidInputError("A time needs its UTC offset.", field=field)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ContactInFutureError(
            "A contact cannot occur more than 5 minutes in the future.", field=field
        )
