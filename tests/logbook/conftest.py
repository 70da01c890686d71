"""Fixtures for the application tests: a `Logbook` on a temporary SQLite file.

`world` registers CAW Noord-West-Vlaanderen's JAC teams of Ostend (Ann, intern
Bob, team lead Lena) and Bruges (Carl), a researcher (Rita) and an admin, and
the profiles they log through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from events import Account
from events.client import FollowUp
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook.application import ContactDraft, Logbook
from logbook.config import Settings
from logbook.notes import SealedText, TextKind


class Clock:
    """The application's clock: it stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    logbook: Logbook
    clock: Clock
    ann: Account
    bob: Account
    lena: Account
    carl: Account
    rita: Account
    admin: Account

    def draft(self, profile_id: str = "ann-messenger", **facts: Any) -> ContactDraft:
        """A contact as Ann would log it an hour ago through her own profile, unless told otherwise."""
        defaults: dict[str, Any] = {
            "client_ref": "jonas-k", "direction": Direction.INBOUND, "nature": Nature.KEEPING_IN_TOUCH,
            "occurred_at": self.clock.now - timedelta(hours=1),
        }
        return ContactDraft(profile_id=profile_id, **{**defaults, **facts})


def settings_in(data_dir: Path, secret_key: bytes = b"x" * 40) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, secret_key=secret_key, master_key=b"m" * 32)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_logbook(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Logbook]]:
    """Opens a `Logbook` on the test's store, as each process of a deployment does."""
    opened: list[Logbook] = []

    def open_(data_dir: Path = tmp_path, secret_key: bytes = b"x" * 40) -> Logbook:
        opened.append(Logbook(settings_in(data_dir, secret_key), clock=clock))
        return opened[-1]

    yield open_
    for logbook in opened:
        logbook.close()


@pytest.fixture
def logbook(open_logbook: Callable[..., Logbook]) -> Logbook:
    return open_logbook()


@pytest.fixture
def world(logbook: Logbook, clock: Clock) -> World:
    for team_id, site in (("jac-oostende", "Oostende"), ("jac-brugge", "Brugge")):
        logbook.register_team(team_id=team_id, name=f"JAC {site}", organisation="caw-nwvl", site=site,
                              service=Service.JAC)

    def worker(account_id: str, team_id: str = "jac-oostende", role: Role = Role.WORKER, **more: Any) -> Account:
        account, _ = logbook.add_account(account_id=account_id, name=account_id.title(), role=role,
                                         team_id=team_id, function=Function.COUNSELLOR, **more)
        return account

    accounts = {
        "ann": worker("ann"), "bob": worker("bob", intern=True), "lena": worker("lena", role=Role.TEAM_LEAD),
        "carl": worker("carl", team_id="jac-brugge"),
        "rita": logbook.add_account(account_id="rita", name="Rita", role=Role.RESEARCHER)[0],
        "admin": logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)[0],
    }
    for who, team_id in (("ann", "jac-oostende"), ("bob", "jac-oostende"), ("carl", "jac-brugge")):
        logbook.register_profile(profile_id=f"{who}-messenger", channel=Channel.MESSENGER,
                                 kind=ProfileKind.PERSONAL, team_id=team_id, users=[who])
    logbook.register_profile(profile_id="jac-oostende-whatsapp", channel=Channel.WHATSAPP, kind=ProfileKind.SHARED,
                             team_id="jac-oostende", users=["ann", "bob", "lena"])
    return World(logbook, clock, **accounts)

def reason_of(logbook: Any, client_id: UUID, follow_up: FollowUp) -> str | None:
    """A follow-up's reason, opened with the client's key: the event holds it sealed, bound to the follow-up."""
    assert follow_up.reason is None and follow_up.sealed_reason and follow_up.reason_key_id
    return logbook.notes.open_text(SealedText(client_id, follow_up.follow_up_id, TextKind.REASON,
                                              follow_up.reason_key_id, follow_up.sealed_reason))
