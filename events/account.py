from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import AccountShapeError
from events.identifiers import check_slug, slug_uuid
from events.vocabulary import TEAM_ROLES, Function, Role


class Account(Aggregate):
    """A person who uses the logbook: a worker, team lead, researcher or admin."""

    class Registered(Aggregate.Created):
        account_id: str
        name: str
        role: str
        team_id: str | None
        function: str | None
        intern: bool

    def __init__(
        self,
        account_id: str,
        name: str,
        role: str,
        team_id: str | None,
        function: str | None,
        intern: bool,
    ) -> None:
        self.account_id = account_id
        self.name = name
        self.role = Role(role)
        self.team_id = team_id
        self.function = Function(function) if function else None
        self.intern = intern

    @staticmethod
    def id_for(account_id: str) -> UUID:
        return slug_uuid("account", account_id)

    @classmethod
    def register(
        cls,
        *,
        account_id: str,
        name: str,
        role: Role,
        team_id: str | None,
        function: Function | None,
        intern: bool,
        now: datetime,
    ) -> Account:
        check_slug(account_id, "account_id")
        cls._check_shape(Role(role), team_id, function, intern)
        return cls._create(
            cls.Registered,
            id=cls.id_for(account_id),
            timestamp=now,
            account_id=account_id,
            name=name,
            role=Role(role),
            team_id=team_id,
            function=Function(function) if function else None,
            intern=intern,
        )

    @property
    def belongs_to_a_team(self) -> bool:
        return self.role in TEAM_ROLES

    @staticmethod
    def _check_shape(
        role: Role, team_id: str | None, function: Function | None, intern: bool
    ) -> None:
        """Raised unless workers and team leads have a team and a function, and others neither."""
        if role in TEAM_ROLES:
            if not team_id:
                raise AccountShapeError(f"A {role} belongs to a team.", field="team_id")
            if not function:
                raise AccountShapeError(f"A {role} has a function.", field="function")
            return
        for field, value in (("team_id", team_id), ("function", function), ("intern", intern)):
            if value:
                raise AccountShapeError(f"A {role} has no {field}.", field=field)
