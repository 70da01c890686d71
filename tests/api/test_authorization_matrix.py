"""Who may do what: every endpoint of the OpenAPI document, called by every kind of caller.

The matrix is the README's table under "## Who may do what". Each of its rows
is a request made here, on a resource of JAC Oostende ("own team"); JAC Brugge,
in the same organisation, is the "other team". A cell is the status the live
app answers; the README must say exactly that.

Every call sends a valid body for a resource that exists, so a cell measures
who may do it, not whether the input is good; a call that changes state gets
a fresh resource of its own (a contact to correct, a client to erase, an
account to deactivate). Calls without a token come each from an address of
their own, so that the throttle of failed authentications stays out of it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Who may do what"

CALLERS: dict[str, str | None] = {
    "no token": None,
    "worker (own team)": "ann",
    "worker (other team)": "carl",
    "team lead (own team)": "lena",
    "team lead (other team)": "bert",
    "researcher": "rita",
    "admin": "admin",
}
ROLES: dict[str, tuple[str, str | None]] = {
    "ann": ("worker", "jac-oostende"),
    "carl": ("worker", "jac-brugge"),
    "lena": ("team_lead", "jac-oostende"),
    "bert": ("team_lead", "jac-brugge"),
    "rita": ("researcher", None),
    "admin": ("admin", None),
}
OWN_TEAM = "jac-oostende"
API = "/api/v1"
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")
ENDPOINT = re.compile(rf"^`({'|'.join(HTTP_METHODS)}) (/\S*)`")


class Matrix:
    """The world the cells are measured in, and the fresh resources each call needs."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self._serial = itertools.count(1)

    def call(self, method: str, path: str, who: str | None, body: Any = None) -> Any:
        """The request as ``who``; without a token, from an address never used before."""
        n = self.serial()
        address = {} if who else {"REMOTE_ADDR": f"10.0.{n // 256}.{n % 256}"}
        return self.world.client.open(path, method=method, json=body, headers=self.world.headers(who),
                                      environ_overrides=address)

    def serial(self) -> int:
        return next(self._serial)

    def twin(self, who: str | None) -> str | None:
        """A new account with the role and team of ``who``, to act on itself without touching ``who``."""
        if who is None:
            return None
        role, team_id = ROLES[who]
        return self.world.add_account(f"{who}-twin-{self.serial()}", role=role, team_id=team_id)["account_id"]

    @cached_property
    def replay_id(self) -> str:
        """A replay the researcher started, to read."""
        response = self.world.post(f"{API}/research/replays", REPLAY, who="rita")
        assert response.status_code == 202, response.get_data(as_text=True)
        return str(response.get_json()["replay_id"])

    def new_worker(self) -> str:
        """A new worker of the own team, for others to act on."""
        return self.world.add_account(f"worker-{self.serial()}", team_id=OWN_TEAM)["account_id"]

    def new_contact(self, author: str = "ann", **fields: Any) -> dict[str, Any]:
        """A new contact of the own team with a client of its own, through the author's personal profile."""
        return self.world.logged_contact(author, client_ref=f"client-{self.serial()}", **fields)

    def new_follow_up(self) -> str:
        response = self.world.follow_up("ann", self.client_id)
        assert response.status_code == 201, response.get_data(as_text=True)
        return str(response.get_json()["follow_up_id"])

    @cached_property
    def contact(self) -> dict[str, Any]:
        """Ann's contact with a client only the own team met, projected: its timeline and crossing exist."""
        contact = self.world.logged_contact("ann", client_ref="matrix-client", note="Asks about the summer camp.")
        self.world.project()
        return contact

    @property
    def client_id(self) -> str:
        return str(self.contact["client_id"])

    @cached_property
    def crossing_id(self) -> str:
        """The crossing the contact made: a contact through a personal profile."""
        contact_id = self.contact["contact_id"]
        query = f"team_id={OWN_TEAM}&rule=personal_profile_contact&limit=500"
        items = self.world.get(f"{API}/crossings?{query}", who="admin").get_json()["items"]
        (crossing,) = [item for item in items if contact_id in item["contact_ids"]]
        return str(crossing["crossing_id"])


# The rows: how each is asked, by `who` (None: no token).


def healthz(m: Matrix, who: str | None) -> Any:
    return m.call("GET", "/healthz", who)


def me(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/me", who)


def register_team(m: Matrix, who: str | None) -> Any:
    body = {"team_id": f"team-{m.serial()}", "name": "JAC Knokke", "organisation": "caw-nwvl",
            "site": "Knokke", "service": "jac"}
    return m.call("POST", f"{API}/teams", who, body)


def list_teams(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/teams", who)


def add_account(m: Matrix, who: str | None) -> Any:
    body = {"account_id": f"new-{m.serial()}", "name": "Nora", "role": "worker", "team_id": OWN_TEAM,
            "function": "counsellor", "intern": False}
    return m.call("POST", f"{API}/accounts", who, body)


def rotate_own_token(m: Matrix, who: str | None) -> Any:
    account_id = m.twin(who) or "ann"
    return m.call("POST", f"{API}/accounts/{account_id}/tokens", account_id if who else None, {})


def rotate_a_workers_token(m: Matrix, who: str | None) -> Any:
    return m.call("POST", f"{API}/accounts/{m.new_worker()}/tokens", who, {})


def revoke_own_tokens(m: Matrix, who: str | None) -> Any:
    account_id = m.twin(who) or "ann"
    return m.call("POST", f"{API}/accounts/{account_id}/tokens/revoke", account_id if who else None, {})


def revoke_a_workers_tokens(m: Matrix, who: str | None) -> Any:
    return m.call("POST", f"{API}/accounts/{m.new_worker()}/tokens/revoke", who, {})


def deactivate_a_worker(m: Matrix, who: str | None) -> Any:
    return m.call("POST", f"{API}/accounts/{m.new_worker()}/deactivation", who, {})


def register_profile(m: Matrix, who: str | None) -> Any:
    body = {"profile_id": f"profile-{m.serial()}", "channel": "whatsapp", "kind": "shared",
            "team_id": OWN_TEAM, "users": ["ann", "lena"]}
    return m.call("POST", f"{API}/profiles", who, body)


def log_contact(m: Matrix, who: str | None) -> Any:
    body = m.world.contact_body("ann", client_ref=f"client-{m.serial()}", profile_id="jac-oostende-whatsapp")
    return m.call("POST", f"{API}/contacts", who, body)


def log_contacts_in_batch(m: Matrix, who: str | None) -> Any:
    """A batch answers 200 with each contact's own result: the status `POST /contacts` answers for it."""
    body = m.world.contact_body("ann", client_ref=f"client-{m.serial()}", profile_id="jac-oostende-whatsapp")
    response = m.call("POST", f"{API}/contacts/batch", who, {"contacts": [body]})
    if response.status_code == 200:
        (result,) = response.get_json()["results"]
        assert result["status"] == log_contact(m, who).status_code
    return response


def read_contact(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/contacts/{m.contact['contact_id']}", who)


def correct(author: str) -> Callable[[Matrix, str | None], Any]:
    def correct_contact(m: Matrix, who: str | None) -> Any:
        contact_id = m.new_contact(author)["contact_id"]
        body = {"changes": {"nature": "information"}, "reason": "Mistyped the nature."}
        return m.call("POST", f"{API}/contacts/{contact_id}/corrections", who, body)
    return correct_contact


def retract(author: str) -> Callable[[Matrix, str | None], Any]:
    def retract_contact(m: Matrix, who: str | None) -> Any:
        contact_id = m.new_contact(author)["contact_id"]
        return m.call("POST", f"{API}/contacts/{contact_id}/retraction", who, {"reason": "Logged twice."})
    return retract_contact


def look_up_client(m: Matrix, who: str | None) -> Any:
    return m.call("POST", f"{API}/clients/lookup", who, {"client_ref": "matrix-client"})


def plan_follow_up(m: Matrix, who: str | None) -> Any:
    body = {"due": (m.world.now + timedelta(days=7)).isoformat(), "reason": "Ask how the exam went."}
    return m.call("POST", f"{API}/clients/{m.client_id}/follow-ups", who, body)


def complete_follow_up(m: Matrix, who: str | None) -> Any:
    path = f"{API}/clients/{m.client_id}/follow-ups/{m.new_follow_up()}/completion"
    return m.call("POST", path, who, {})


def erase_client(m: Matrix, who: str | None) -> Any:
    client_id = m.new_contact(note="Her brother is in care.")["client_id"]
    return m.call("POST", f"{API}/clients/{client_id}/erasure", who, {"reason": "Request under GDPR art. 17."})


def publish_policy(m: Matrix, who: str | None) -> Any:
    body = {"version": f"matrix-{m.serial()}", "effective_from": "2030-01-01T00:00:00+01:00"}
    return m.call("POST", f"{API}/policies", who, body)


def list_policies(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/policies", who)


def read_timeline(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/clients/{m.client_id}/timeline", who)


def list_team_clients(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/teams/{OWN_TEAM}/clients", who)


def list_team_follow_ups(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/teams/{OWN_TEAM}/follow-ups", who)


def list_crossings(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/crossings?team_id={OWN_TEAM}", who)


def read_crossing(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/crossings/{m.crossing_id}", who)


def review_crossing(m: Matrix, who: str | None) -> Any:
    body = {"verdict": "discuss_in_team", "comment": "Talk it through on Monday."}
    return m.call("POST", f"{API}/crossings/{m.crossing_id}/reviews", who, body)


def report(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/reports/boundaries?by=team", who)


def search_audit(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/audit", who)


def research_events(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/research/events?limit=10", who)


REPLAY = {"until": "2025-03-01T12:00:00+00:00", "policy": "sector-agreement-2019"}


def start_replay(m: Matrix, who: str | None) -> Any:
    return m.call("POST", f"{API}/research/replays", who, REPLAY)


def read_replay(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/research/replays/{m.replay_id}", who)


def compare_sites(m: Matrix, who: str | None) -> Any:
    return m.call("GET", f"{API}/research/compare?by=site", who)


ROWS: dict[str, Callable[[Matrix, str | None], Any]] = {
    "`GET /healthz`": healthz,
    "`GET /api/v1/me`": me,
    "`POST /api/v1/teams`": register_team,
    "`GET /api/v1/teams`": list_teams,
    "`POST /api/v1/accounts`, a worker of the team": add_account,
    "`POST /api/v1/accounts/{account_id}/tokens`, the caller's own account": rotate_own_token,
    "`POST /api/v1/accounts/{account_id}/tokens`, a worker of the team": rotate_a_workers_token,
    "`POST /api/v1/accounts/{account_id}/tokens/revoke`, the caller's own account": revoke_own_tokens,
    "`POST /api/v1/accounts/{account_id}/tokens/revoke`, a worker of the team": revoke_a_workers_tokens,
    "`POST /api/v1/accounts/{account_id}/deactivation`, a worker of the team": deactivate_a_worker,
    "`POST /api/v1/profiles`, a shared profile of the team": register_profile,
    "`POST /api/v1/contacts`, through the team's shared profile": log_contact,
    "`POST /api/v1/contacts/batch`, one contact through the team's shared profile (its result: as the row above)":
        log_contacts_in_batch,
    "`GET /api/v1/contacts/{contact_id}`": read_contact,
    "`POST /api/v1/contacts/{contact_id}/corrections`, the own-team worker's contact": correct("ann"),
    "`POST /api/v1/contacts/{contact_id}/corrections`, a colleague's contact": correct("bob"),
    "`POST /api/v1/contacts/{contact_id}/retraction`, the own-team worker's contact": retract("ann"),
    "`POST /api/v1/contacts/{contact_id}/retraction`, a colleague's contact": retract("bob"),
    "`POST /api/v1/clients/lookup`": look_up_client,
    "`POST /api/v1/clients/{client_id}/follow-ups`": plan_follow_up,
    "`POST /api/v1/clients/{client_id}/follow-ups/{follow_up_id}/completion`": complete_follow_up,
    "`POST /api/v1/clients/{client_id}/erasure`": erase_client,
    "`POST /api/v1/policies`": publish_policy,
    "`GET /api/v1/policies`": list_policies,
    "`GET /api/v1/clients/{client_id}/timeline`": read_timeline,
    "`GET /api/v1/teams/{team_id}/clients`": list_team_clients,
    "`GET /api/v1/teams/{team_id}/follow-ups`": list_team_follow_ups,
    "`GET /api/v1/crossings`, `?team_id=` the team": list_crossings,
    "`GET /api/v1/crossings/{crossing_id}`": read_crossing,
    "`POST /api/v1/crossings/{crossing_id}/reviews`": review_crossing,
    "`GET /api/v1/reports/boundaries`, `?by=team`": report,
    "`GET /api/v1/audit`": search_audit,
    "`GET /api/v1/research/events`": research_events,
    "`POST /api/v1/research/replays`": start_replay,
    "`GET /api/v1/research/replays/{replay_id}`": read_replay,
    "`GET /api/v1/research/compare`, `?by=site`": compare_sites,
}


def readme_matrix() -> dict[str, dict[str, int]]:
    """The README's table, by its endpoint cell: the status of each caller."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    header, _, *lines = [line for line in section.splitlines() if line.startswith("|")]
    assert cells(header) == ["endpoint", *CALLERS]
    matrix = {}
    for line in lines:
        endpoint, *statuses = cells(line)
        assert endpoint not in matrix, f"two rows for {endpoint}"
        matrix[endpoint] = dict(zip(CALLERS, map(int, statuses), strict=True))
    return matrix


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def method_and_path(endpoint: str) -> tuple[str, str]:
    found = ENDPOINT.match(endpoint)
    assert found, f"{endpoint} does not start with `METHOD /path`"
    return found[1], found[2]


def as_row(endpoint: str, statuses: dict[str, int]) -> str:
    return f"| {endpoint} | " + " | ".join(str(statuses[column]) for column in CALLERS) + " |"


@pytest.fixture(scope="module")
def matrix(open_world: Any, tmp_path_factory: Any) -> Matrix:
    """One world for the whole table, with a team lead for Bruges and the own team's shared resources."""
    world = open_world(tmp_path_factory.mktemp("authorization-matrix"))
    world.add_account("bert", role="team_lead", team_id="jac-brugge")
    m = Matrix(world)
    assert m.crossing_id
    return m


def test_the_matrix_has_a_row_for_every_endpoint_of_the_openapi_document_and_no_other(matrix):
    document = matrix.world.get(f"{API}/openapi.json").get_json()

    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items() for method in item if method.upper() in HTTP_METHODS
    }

    assert {method_and_path(endpoint) for endpoint in readme_matrix()} == operations


def test_every_row_of_the_matrix_is_a_request_this_test_makes():
    assert list(readme_matrix()) == list(ROWS)


@pytest.mark.parametrize("endpoint", ROWS)
def test_each_cell_of_the_matrix_is_the_status_the_app_answers(matrix, endpoint):
    live, answers = {}, {}
    for column, who in CALLERS.items():
        answers[column] = ROWS[endpoint](matrix, who)
        live[column] = answers[column].status_code

    assert live == readme_matrix().get(endpoint), f"the app answers:\n{as_row(endpoint, live)}"
    for response in answers.values():
        if response.status_code >= 400:
            matrix.world.error_of(response)
