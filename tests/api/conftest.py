"""Fixtures for the HTTP tests, as flaskr's: an app on a temporary SQLite store and its client.

`world` sets up, through the API, two JAC teams of CAW Noord-West-Vlaanderen with
their workers, a team lead, a researcher and their Messenger and WhatsApp profiles.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from events.vocabulary import Role
from logbook import read_models
from logbook.application import Logbook

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
MASTER_KEY = base64.urlsafe_b64encode(b"m" * 32).decode()
"""Where the app's clock starts; tests read it as `api.now` (conftest is not importable)."""


class Clock:
    """The app's clock: it stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def error_of(response: Any) -> dict[str, Any]:
    """The error of a response, after checking it has exactly the agreed shape."""
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["fields"], dict)
    for name, messages in error["fields"].items():
        assert isinstance(name, str) and name
        assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
    return error


class Api:
    """Requests made as one of the world's accounts, named by account id."""

    error_of = staticmethod(error_of)

    def __init__(self, app: Flask, client: FlaskClient, tokens: dict[str, str], clock: Clock) -> None:
        self.app = app
        self.client = client
        self.tokens = tokens
        self.clock = clock
        self.now = clock.now
        """When the test started: the default contact occurred an hour before."""

    def events_in_store(self) -> int:
        return self.app.extensions["logbook"].get().count_events()

    def project(self) -> int:
        """Runs the projector over everything recorded so far, as the worker process would."""
        settings = self.app.extensions["logbook"].settings
        with closing(read_models.projector(settings, self.clock)) as projector:
            return projector.catch_up()

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, path: str, *, who: str | None = None) -> Any:
        return self.client.get(path, headers=self.headers(who))

    def post(self, path: str, body: Any = None, *, who: str | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.headers(who))

    def add_team(self, team_id: str, organisation: str = "caw-nwvl", site: str = "Oostende") -> Any:
        body = {"team_id": team_id, "name": f"Team {team_id}", "organisation": organisation,
                "site": site, "service": "jac"}
        return self._created(self.post("/api/v1/teams", body, who="admin"))

    def add_account(self, account_id: str, role: str = "worker", team_id: str | None = None, **more: Any) -> Any:
        body = {"account_id": account_id, "name": account_id.title(), "role": role, **more}
        if team_id is not None:
            body |= {"team_id": team_id, "function": more.get("function", "counsellor")}
        account = self._created(self.post("/api/v1/accounts", body, who="admin"))
        self.tokens[account_id] = account["token"]
        return account

    def add_profile(self, profile_id: str, team_id: str, users: list[str], kind: str = "personal",
                    channel: str = "messenger") -> Any:
        body = {"profile_id": profile_id, "channel": channel, "kind": kind, "team_id": team_id, "users": users}
        return self._created(self.post("/api/v1/profiles", body, who="admin"))

    def contact_body(self, who: str, **fields: Any) -> dict[str, Any]:
        """A contact as a worker would send it, through their own personal profile by default."""
        return {
            "client_ref": "jonas-k", "profile_id": f"{who}-messenger", "direction": "inbound",
            "nature": "keeping_in_touch", "occurred_at": (self.now - timedelta(hours=1)).isoformat(),
            **fields,
        }

    def log_contact(self, who: str, **fields: Any) -> Any:
        return self.post("/api/v1/contacts", self.contact_body(who, **fields), who=who)

    def logged_contact(self, who: str, **fields: Any) -> dict[str, Any]:
        return self._created(self.log_contact(who, **fields))

    def follow_up(self, who: str, client_id: str, **fields: Any) -> Any:
        body = {"due": (self.now + timedelta(days=7)).isoformat(), "reason": "Ask how the exam went.", **fields}
        return self.post(f"/api/v1/clients/{client_id}/follow-ups", body, who=who)

    @staticmethod
    def _created(response: Any) -> Any:
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()


def app_config(data_dir: Any, clock: Clock) -> dict[str, Any]:
    return {"LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": "x" * 40, "LOGBOOK_MASTER_KEY": MASTER_KEY,
            "LOGBOOK_RESEARCH_KEY": "r" * 40, "CLOCK": clock}


def add_first_admin(app: Flask) -> str:
    """The first admin's token, made as `logbook init` makes it."""
    _, token = app.extensions["logbook"].get().add_account(
        account_id="admin", name="Administrator", role=Role.ADMIN
    )
    return token


def populate(api: Api) -> Api:
    """Ostend's JAC (Ann, intern Bob, team lead Lena), Bruges' JAC (Carl), and researcher Rita."""
    api.add_team("jac-oostende", site="Oostende")
    api.add_team("jac-brugge", site="Brugge")
    api.add_account("ann", team_id="jac-oostende")
    api.add_account("bob", team_id="jac-oostende", intern=True)
    api.add_account("lena", role="team_lead", team_id="jac-oostende")
    api.add_account("carl", team_id="jac-brugge")
    api.add_account("rita", role="researcher")
    for who, team_id in (("ann", "jac-oostende"), ("bob", "jac-oostende"), ("carl", "jac-brugge")):
        api.add_profile(f"{who}-messenger", team_id, [who])
    api.add_profile("jac-oostende-whatsapp", "jac-oostende", ["ann", "bob", "lena"], kind="shared",
                    channel="whatsapp")
    return api


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(tmp_path: Any, clock: Clock) -> Any:
    app = create_app(app_config(tmp_path, clock))
    app.config["TESTING"] = True
    yield app
    app.extensions["logbook"].close()
    app.extensions["views"].close()
    app.extensions["audit"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def logbook(app: Flask) -> Logbook:
    """The application object the app's requests use."""
    return app.extensions["logbook"].get()


@pytest.fixture
def events_in_store(logbook: Logbook) -> Callable[[], int]:
    return logbook.count_events


@pytest.fixture
def admin_token(app: Flask) -> str:
    return add_first_admin(app)


@pytest.fixture
def api(app: Flask, client: FlaskClient, admin_token: str, clock: Clock) -> Api:
    return Api(app, client, {"admin": admin_token}, clock)


@pytest.fixture
def world(api: Api) -> Api:
    return populate(api)


@pytest.fixture(scope="session")
def open_world() -> Any:
    """Opens a world on a store of its own, for a module whose tests share one (create_app is slow)."""
    opened: list[Flask] = []

    def open_(data_dir: Any) -> Api:
        clock = Clock(NOW)
        app = create_app(app_config(data_dir, clock))
        opened.append(app)
        return populate(Api(app, app.test_client(), {"admin": add_first_admin(app)}, clock))

    yield open_
    for app in opened:
        app.extensions["logbook"].close()
        app.extensions["views"].close()
        app.extensions["audit"].close()
