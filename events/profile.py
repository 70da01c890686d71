from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import ProfileNotAllowedError, ProfileUsersError
from events.identifiers import check_slug, slug_uuid
from events.vocabulary import Channel, ProfileKind


class Profile(Aggregate):
    """A Messenger or WhatsApp identity of a team, and the accounts that may use it."""

    class Registered(Aggregate.Created):
        profile_id: str
        channel: str
        kind: str
        team_id: str
        users: list[str]

    def __init__(
        self, profile_id: str, channel: str, kind: str, team_id: str, users: list[str]
    ) -> None:
        self.profile_id = profile_id
        self.channel = Channel(channel)
        self.kind = ProfileKind(kind)
        self.team_id = team_id
        self.users = tuple(users)

    @staticmethod
    def id_for(profile_id: str) -> UUID:
        return slug_uuid("profile", profile_id)

    @classmethod
    def register(
        cls,
        *,
        profile_id: str,
        channel: Channel,
        kind: ProfileKind,
        team_id: str,
        users: list[str],
        now: datetime,
    ) -> Profile:
        check_slug(profile_id, "profile_id")
        cls._check_users(ProfileKind(kind), users)
        return cls._create(
            cls.Registered,
            id=cls.id_for(profile_id),
            timestamp=now,
            profile_id=profile_id,
            channel=Channel(channel),
            kind=ProfileKind(kind),
            team_id=team_id,
            users=list(users),
        )

    def check_may_be_used_by(self, account_id: str) -> None:
        """Raises `ProfileNotAllowedError` unless the account is one of the profile's users."""
        if account_id not in self.users:
            raise ProfileNotAllowedError(
                "This account is not a user of that profile.", field="profile_id"
            )

    @staticmethod
    def _check_users(kind: ProfileKind, users: list[str]) -> None:
        """Raised when a personal profile has other than one user, or any profile none or twice the same."""
        if kind is ProfileKind.PERSONAL and len(users) != 1:
            raise ProfileUsersError("A personal profile has exactly one user.", field="users")
        if not users:
            raise ProfileUsersError("A profile has at least one user.", field="users")
        if len(set(users)) != len(users):
            raise ProfileUsersError("A user is listed twice.", field="users")
