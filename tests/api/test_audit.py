"""The access audit over HTTP: every read of a client's data is recorded before it answers, and admins search it."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from logbook.audit import AUDIT_SQLITE_FILE

AUDIT = "/api/v1/audit"
ENTRY_KEYS = {"account_id", "role", "action", "client_id", "contact_id", "at", "address"}
CLIENT_REF = "jonas-k"
"""The ref the world's contacts are logged with (`Api.contact_body`)."""


@pytest.fixture
def met(world: Any) -> dict[str, Any]:
    """Ann met Jonas an hour ago; the projector has run."""
    contact = world.logged_contact("ann", client_ref=CLIENT_REF)
    world.project()
    return contact


def timeline(client_id: str) -> str:
    return f"/api/v1/clients/{client_id}/timeline"


def contact(contact_id: str) -> str:
    return f"/api/v1/contacts/{contact_id}"


def audit_items(world: Any, query: str = "") -> list[dict[str, Any]]:
    response = world.get(f"{AUDIT}{query}", who="admin")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def test_a_timeline_read_is_recorded_with_who_what_when_and_from_where(world, met):
    assert world.get(timeline(met["client_id"]), who="lena").status_code == 200

    (entry,) = audit_items(world)

    assert set(entry) == ENTRY_KEYS
    assert entry == {
        "account_id": "lena", "role": "team_lead", "action": "read_timeline", "client_id": met["client_id"],
        "contact_id": None, "at": world.now.isoformat(), "address": "127.0.0.1",
    }


def test_a_contact_read_is_recorded_with_its_client_and_contact(world, met):
    assert world.get(contact(met["contact_id"]), who="bob").status_code == 200

    (entry,) = audit_items(world)

    assert entry == {
        "account_id": "bob", "role": "worker", "action": "read_contact", "client_id": met["client_id"],
        "contact_id": met["contact_id"], "at": world.now.isoformat(), "address": "127.0.0.1",
    }


def test_a_look_up_is_recorded_with_the_client_it_revealed(world, met):
    response = world.post("/api/v1/clients/lookup", {"client_ref": CLIENT_REF}, who="ann")

    (entry,) = audit_items(world)

    assert response.get_json()["client_id"] == met["client_id"]
    assert (entry["account_id"], entry["action"], entry["client_id"], entry["contact_id"]) == (
        "ann", "look_up_client", met["client_id"], None)


def test_a_refused_read_reads_nothing_and_records_nothing(world, met):
    assert world.get(timeline(met["client_id"]), who="carl").status_code == 404
    assert world.get(contact(met["contact_id"]), who="carl").status_code == 404

    assert audit_items(world) == []


@pytest.mark.parametrize(("who", "status"), [
    ("ann", 403), ("lena", 403), ("rita", 403), (None, 401), ("admin", 200),
])
def test_only_an_admin_searches_the_audit(world, who, status):
    response = world.get(AUDIT, who=who)

    assert response.status_code == status
    if status != 200:
        assert world.error_of(response)["code"] == {401: "unauthorized", 403: "role_not_allowed"}[status]


@pytest.fixture
def reads(world: Any, met: dict[str, Any]) -> dict[str, Any]:
    """Ann reads Jonas's timeline, Bob his contact, and Carl, once Bruges met Lies, hers: an hour apart."""
    lies = world.logged_contact("carl", client_ref="lies-v")
    world.project()
    world.get(timeline(met["client_id"]), who="ann")
    world.clock.advance(timedelta(hours=1))
    world.get(contact(met["contact_id"]), who="bob")
    world.clock.advance(timedelta(hours=1))
    world.get(timeline(lies["client_id"]), who="carl")
    return {"jonas": met["client_id"], "lies": lies["client_id"]}


def who_read(items: list[dict[str, Any]]) -> list[str]:
    return [item["account_id"] for item in items]


def test_the_audit_answers_newest_first(world, reads):
    assert who_read(audit_items(world)) == ["carl", "bob", "ann"]


def test_the_audit_filters_by_client_and_by_account(world, reads):
    assert who_read(audit_items(world, f"?client_id={reads['jonas']}")) == ["bob", "ann"]
    assert who_read(audit_items(world, "?account_id=carl")) == ["carl"]
    assert who_read(audit_items(world, f"?client_id={reads['lies']}&account_id=ann")) == []


def test_the_audit_takes_a_period_from_inclusive_to_exclusive(world, reads):
    start = world.now + timedelta(hours=1)
    query = f"?from={start.isoformat()}&to={(start + timedelta(hours=1)).isoformat()}".replace("+", "%2B")

    assert who_read(audit_items(world, query)) == ["bob"]
    assert who_read(audit_items(world, f"?to={world.now.date().isoformat()}")) == []


def test_the_audit_pages_with_its_cursor(world, reads):
    first = world.get(f"{AUDIT}?limit=2", who="admin").get_json()
    second = world.get(f"{AUDIT}?limit=2&cursor={first['next_cursor']}", who="admin").get_json()

    assert who_read(first["items"]) == ["carl", "bob"]
    assert (who_read(second["items"]), second["next_cursor"]) == (["ann"], None)


@pytest.mark.parametrize("query", [
    "?cursor=not-a-cursor", "?client_id=jonas-k", "?account_id=Not%20A%20Slug", "?from=yesterday",
    "?from=2025-03-02&to=2025-03-01", "?limit=0", "?reader=ann",
])
def test_bad_search_arguments_answer_422_in_the_error_shape(world, query):
    response = world.get(f"{AUDIT}{query}", who="admin")

    assert response.status_code == 422
    assert world.error_of(response)["fields"]


def test_the_audit_never_holds_a_client_ref(world, reads):
    world.post("/api/v1/clients/lookup", {"client_ref": CLIENT_REF}, who="ann")

    files = sorted(world.app.extensions["audit"].path.parent.glob(f"{AUDIT_SQLITE_FILE}*"))

    assert files and any(f.stat().st_size for f in files)
    for path in files:
        data = path.read_bytes()
        assert CLIENT_REF.encode() not in data and b"lies-v" not in data, path
    assert CLIENT_REF not in world.get(AUDIT, who="admin").get_data(as_text=True)


# The entry comes first: no audit, no answer.


def refuse_inserts(world: Any) -> None:
    """Makes every insert into the app's audit log fail, as a full disk or a broken file would."""
    world.get(AUDIT, who="admin")  # the log and its tables exist
    with sqlite3.connect(world.app.extensions["audit"].path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )


def make_unopenable(world: Any) -> None:
    """Puts a directory where the audit log's file was, before the app opens it again."""
    log = world.app.extensions["audit"]
    log.close()
    for path in log.path.parent.glob(f"{AUDIT_SQLITE_FILE}*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    log.path.mkdir()


@pytest.mark.parametrize("break_the_audit", [refuse_inserts, make_unopenable])
@pytest.mark.parametrize("read", ["timeline", "contact", "lookup"])
def test_a_read_that_cannot_be_audited_answers_503_and_not_the_data(world, met, break_the_audit, read):
    break_the_audit(world)

    response = {
        "timeline": lambda: world.get(timeline(met["client_id"]), who="ann"),
        "contact": lambda: world.get(contact(met["contact_id"]), who="ann"),
        "lookup": lambda: world.post("/api/v1/clients/lookup", {"client_ref": CLIENT_REF}, who="ann"),
    }[read]()

    assert response.status_code == 503
    assert world.error_of(response)["code"] == "unavailable"
    assert response.headers["Retry-After"] == "1"
    assert met["client_id"] not in response.get_data(as_text=True)
