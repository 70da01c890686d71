"""Accounts as the store holds them now, for authenticating every request.

An account changes: tokens are issued and revoked, the account is deactivated,
and another process (a second gunicorn worker, the command line) may be the one
that changed it. So a cached account is brought up to date with the events
recorded since it was cached, one indexed query per read, before it is used.
"""

from __future__ import annotations

import copy
import threading
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from events.account import Account


class AccountCache:
    """The accounts this process has read, each fast-forwarded by its new events at every read."""

    def __init__(self, app: Application[UUID]) -> None:
        self._app = app
        self._accounts: dict[UUID, Account] = {}
        self._lock = threading.Lock()

    def latest(self, aggregate_id: UUID) -> Account | None:
        """The account with every event recorded so far, or None when there is no such account."""
        cached = self._accounts.get(aggregate_id)
        account = self._load(aggregate_id) if cached is None else self._fast_forward(cached)
        if account is not None and account is not cached:
            self._keep(account)
        return account

    def _load(self, aggregate_id: UUID) -> Account | None:
        try:
            account: Any = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return account if isinstance(account, Account) else None

    def _fast_forward(self, cached: Account) -> Account:
        newer = self._app.recorder.select_events(cached.id, gt=cached.version)
        if not newer:
            return cached
        # Another request of this process may be reading the cached account: change a copy.
        account = copy.deepcopy(cached)
        for stored in newer:
            event: Any = self._app.mapper.to_domain_event(stored)
            event.mutate(account)
        return account

    def _keep(self, account: Account) -> None:
        with self._lock:
            kept = self._accounts.get(account.id)
            if kept is None or kept.version < account.version:
                self._accounts[account.id] = account
