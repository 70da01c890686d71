"""Accounts as the store holds them now, for authenticating every request.

An account changes: tokens are issued and revoked, the account is deactivated,
and another process (a second gunicorn worker, the command line) may be the one
that changed it. Whoever revokes or deactivates bumps a small signal file in
the data directory after saving; a process that sees the signal changed brings
its cached accounts up to date with the events recorded since, one indexed
query per account, before it uses them. Reading the signal costs a few
microseconds; the query, which every request used to pay, a tenth of a
millisecond. A token issued elsewhere needs no signal: an account that does not
know a token is read again before the token is refused.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from events.account import Account
from logbook.config import make_private_dir

SIGNAL_FILE = "accounts.changed"


class ChangeSignal:
    """A file whose 16 bytes change whenever an account lost a token or was deactivated.

    The bytes are random and overwritten in place: overwriting needs no new
    block, so the signal still moves when the disk is full, and no two changes
    look alike, whatever the file system's timestamps. A torn read looks like
    a change, which costs a refresh and nothing else.
    """

    SIZE = 16

    def __init__(self, path: Path) -> None:
        self.path = path
        make_private_dir(path.parent)
        if not path.exists():
            self._write(os.urandom(self.SIZE))

    def read(self) -> bytes:
        # Every request reads it: a bare descriptor costs a quarter of what a Python file object does.
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            return os.pread(descriptor, self.SIZE, 0)
        finally:
            os.close(descriptor)

    def bump(self) -> None:
        self._write(os.urandom(self.SIZE))

    def _write(self, content: bytes) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(descriptor, content, 0)
        finally:
            os.close(descriptor)


@dataclass(frozen=True)
class _Cached:
    account: Account
    signal: bytes
    """The signal when the account was last brought up to date."""


class AccountCache:
    """The accounts this process has read, brought up to date whenever the change signal moved."""

    def __init__(self, app: Application[UUID], signal: ChangeSignal) -> None:
        self._app = app
        self._signal = signal
        self._accounts: dict[UUID, _Cached] = {}
        self._lock = threading.Lock()

    def latest(self, aggregate_id: UUID, *, fresh: bool = False) -> Account | None:
        """The account as the store holds it, or None when there is no such account.

        With ``fresh`` it is read up to date whatever the signal says.
        """
        signal = self._signal.read()
        cached = self._accounts.get(aggregate_id)
        if cached is not None and cached.signal == signal and not fresh:
            return cached.account
        account = self._load(aggregate_id) if cached is None else self._fast_forward(cached.account)
        if account is not None:
            self._keep(account, signal)
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

    def _keep(self, account: Account, signal: bytes) -> None:
        with self._lock:
            kept = self._accounts.get(account.id)
            if kept is None or kept.account.version <= account.version:
                self._accounts[account.id] = _Cached(account, signal)
