"""Fixtures for the projection tests: a `Logbook` on a temporary SQLite file and the projector that follows it.

`world` registers CAW Noord-West-Vlaanderen's JAC teams of Ostend (Ann, team
lead Lena) and Bruges (Carl), and the profiles they log through. `project()`
runs the projector over everything recorded so far, as the worker process
would, and returns the read model's view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest

from events import Account
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook import read_models
from logbook.application import ContactDraft, ContactReceipt, Logbook
from logbook.config import Settings
from projections.runner import Projector
from projections.timelines import TimelineView

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    """The application's clock: it stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    logbook: Logbook
    clock: Clock
    settings: Settings
    ann: Account
    lena: Account
    carl: Account

    def log(self, who: Account | None = None, *, hours_ago: float = 1, **facts: Any) -> ContactReceipt:
        """Logs a contact as Ann (or ``who``) through their own profile, ``hours_ago`` before the clock."""
        who = who or self.ann
        draft: dict[str, Any] = {
            "client_ref": "jonas-k", "profile_id": f"{who.account_id}-messenger", "direction": Direction.INBOUND,
            "nature": Nature.KEEPING_IN_TOUCH, "occurred_at": self.clock.now - timedelta(hours=hours_ago),
        }
        return self.logbook.log_contact(who, ContactDraft(**{**draft, **facts}))

    def plan(self, client_id: UUID, due: datetime, who: Account | None = None) -> UUID:
        follow_up_id, _ = self.logbook.plan_follow_up(who or self.ann, client_id, due, "Ask how the exam went.")
        return follow_up_id


def settings_in(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, secret_key=b"x" * 40, master_key=b"m" * 32)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_in(tmp_path)


@pytest.fixture
def logbook(settings: Settings, clock: Clock) -> Iterator[Logbook]:
    logbook = Logbook(settings, clock=clock)
    yield logbook
    logbook.close()


@pytest.fixture
def world(logbook: Logbook, clock: Clock, settings: Settings) -> World:
    for team_id, site in (("jac-oostende", "Oostende"), ("jac-brugge", "Brugge")):
        logbook.register_team(team_id=team_id, name=f"JAC {site}", organisation="caw-nwvl", site=site,
                              service=Service.JAC)

    def member(account_id: str, team_id: str = "jac-oostende", role: Role = Role.WORKER) -> Account:
        account, _ = logbook.add_account(account_id=account_id, name=account_id.title(), role=role,
                                         team_id=team_id, function=Function.COUNSELLOR)
        return account

    accounts = {"ann": member("ann"), "lena": member("lena", role=Role.TEAM_LEAD),
                "carl": member("carl", team_id="jac-brugge")}
    for who, team_id in (("ann", "jac-oostende"), ("lena", "jac-oostende"), ("carl", "jac-brugge")):
        logbook.register_profile(profile_id=f"{who}-messenger", channel=Channel.MESSENGER,
                                 kind=ProfileKind.PERSONAL, team_id=team_id, users=[who])
    return World(logbook, clock, settings, **accounts)


@pytest.fixture
def project(settings: Settings, clock: Clock) -> Iterator[Callable[..., TimelineView]]:
    """Runs the timelines projection over what is recorded so far; ``page_size`` splits it into more pages."""
    projectors: list[Projector] = []

    def project_(page_size: int | None = None) -> TimelineView:
        if not projectors:
            projectors.append(read_models.projector(settings, clock, ["timelines"]))
        projector = projectors[0]
        if page_size is not None:
            projector.feed.page_size = page_size
        projector.catch_up()
        return cast(TimelineView, projector.projections[0].view)

    yield project_
    for projector in projectors:
        for projection in projector.projections:
            projection.view.close()
        projector.feed.recorder.datastore.close()  # type: ignore[attr-defined]
