from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate


class AccessToken(Aggregate):
    """A bearer token issued to an account.

    The aggregate id is derived from the token's digest by the application; the
    token itself is never recorded. It never changes: it only says whose token
    it is. Whether the token still works (its digest, age, revocation) is the
    account's to say (`Account.authenticates`).
    """

    class Issued(Aggregate.Created):
        account_id: str

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    @classmethod
    def issue(cls, *, token_id: UUID, account_id: str, now: datetime) -> AccessToken:
        return cls._create(cls.Issued, id=token_id, timestamp=now, account_id=account_id)
