from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import AccountDeactivatedError, AccountShapeError, SelfDeactivationError
from events.identifiers import check_slug, slug_uuid
from events.vocabulary import TEAM_ROLES, Function, Role


@dataclass(frozen=True)
class IssuedToken:
    """A token the account holds: the SHA-256 digest of the token, never the token, and when it was issued."""

    digest: str
    issued_at: datetime


class Account(Aggregate):
    """A person who uses the logbook: a worker, team lead, researcher or admin.

    The account knows its tokens, by id and digest: which were issued, which were
    revoked since, and whether it is still active. Authentication asks it.
    """

    class Registered(Aggregate.Created):
        account_id: str
        name: str
        role: str
        team_id: str | None
        function: str | None
        intern: bool

    class TokenIssued(Aggregate.Event):
        token_id: UUID
        digest: str
        """The token's SHA-256 digest (hex), compared in constant time; the token itself is never recorded."""

        def apply(self, account: Account) -> None:
            account.tokens[self.token_id] = IssuedToken(self.digest, self.timestamp)

    class TokensRevoked(Aggregate.Event):
        token_ids: list[UUID]
        """Every token the account held, expired ones too, so that none works again whatever the lifetime."""

        def apply(self, account: Account) -> None:
            for token_id in self.token_ids:
                account.tokens.pop(token_id, None)

    class Deactivated(Aggregate.Event):
        deactivated_by: str | None
        """The admin's account id; None when an operator deactivated it at the command line."""

        def apply(self, account: Account) -> None:
            account.deactivated_at = self.timestamp

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
        self.tokens: dict[UUID, IssuedToken] = {}
        """The tokens issued and not revoked, expired ones included."""
        self.deactivated_at: datetime | None = None

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

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    def issue_token(self, *, token_id: UUID, digest: str, now: datetime) -> None:
        """Records a new token of the account, by its id and digest."""
        self._check_active()
        self.trigger_event(self.TokenIssued, timestamp=now, token_id=token_id, digest=digest)

    def revoke_tokens(self, *, lifetime: timedelta, now: datetime) -> int:
        """Revokes every token of the account; returns how many of them still worked."""
        working = sum(1 for issued in self.tokens.values() if now < issued.issued_at + lifetime)
        if self.tokens:
            self.trigger_event(self.TokensRevoked, timestamp=now, token_ids=list(self.tokens))
        return working

    def rotate_token(self, *, token_id: UUID, digest: str, lifetime: timedelta, now: datetime) -> int:
        """Revokes every token of the account and issues one in their place; returns how many still worked."""
        self._check_active()
        revoked = self.revoke_tokens(lifetime=lifetime, now=now)
        self.issue_token(token_id=token_id, digest=digest, now=now)
        return revoked

    def deactivate(self, *, deactivated_by: str | None, now: datetime) -> None:
        """Records that the account may no longer be used; its tokens stop working with it."""
        self._check_active()
        self._check_not_self(deactivated_by)
        self.trigger_event(self.Deactivated, timestamp=now, deactivated_by=deactivated_by)

    def authenticates(self, *, token_id: UUID, digest: str, lifetime: timedelta, now: datetime) -> bool:
        """True when the account is active and holds the token, unrevoked and younger than ``lifetime``."""
        issued = self.tokens.get(token_id)
        if issued is None or not self.active:
            return False
        same = hmac.compare_digest(issued.digest.encode(), digest.encode())
        return same and now < issued.issued_at + lifetime

    def _check_active(self) -> None:
        """Raises `AccountDeactivatedError` once the account is deactivated."""
        if not self.active:
            raise AccountDeactivatedError(f"The account '{self.account_id}' is deactivated.")

    def _check_not_self(self, deactivated_by: str | None) -> None:
        """Raises `SelfDeactivationError` when an admin deactivates their own account."""
        if deactivated_by == self.account_id:
            raise SelfDeactivationError("You cannot deactivate your own account; ask another admin.")

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
