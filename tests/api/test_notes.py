"""A contact's note: sealed before it is recorded, in clear only for the team that wrote it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

NOTE = "Mama belde: Jonas slaapt sinds dinsdag bij zijn tante in Gistel."


def file_bytes(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(data_dir.rglob("*")) if path.is_file())


def contact(world, who: str, contact_id: str) -> dict:
    response = world.get(f"/api/v1/contacts/{contact_id}", who=who)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def timeline_contacts(world, who: str, client_id: str) -> dict[str, dict]:
    world.project()
    response = world.get(f"/api/v1/clients/{client_id}/timeline", who=who)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {item["contact_id"]: item for item in response.get_json()["items"] if item["type"] == "contact"}


def test_the_team_that_wrote_a_note_reads_it_on_the_contact_and_the_timeline(world):
    receipt = world.logged_contact("ann", note=NOTE)

    for who in ("ann", "bob", "lena"):
        assert contact(world, who, receipt["contact_id"])["note"] == NOTE
        item = timeline_contacts(world, who, receipt["client_id"])[receipt["contact_id"]]
        assert (item["note"], item["note_erased"]) == (NOTE, False)


def test_another_team_that_met_the_client_sees_no_note_of_ours(world):
    ours = world.logged_contact("ann", note=NOTE)
    theirs = world.logged_contact("carl", note="Carl's own note.")
    assert ours["client_id"] == theirs["client_id"]

    as_carl = timeline_contacts(world, "carl", ours["client_id"])
    as_lena = timeline_contacts(world, "lena", ours["client_id"])

    assert as_carl[ours["contact_id"]]["note"] is None
    assert as_carl[theirs["contact_id"]]["note"] == "Carl's own note."
    assert as_lena[theirs["contact_id"]]["note"] is None
    assert world.get(f"/api/v1/contacts/{ours['contact_id']}", who="carl").status_code == 404


def test_a_contact_without_a_note_shows_null(world):
    receipt = world.logged_contact("ann")

    assert contact(world, "ann", receipt["contact_id"])["note"] is None
    assert timeline_contacts(world, "ann", receipt["client_id"])[receipt["contact_id"]]["note"] is None


def test_a_note_is_never_in_clear_in_any_file(world, tmp_path):
    receipt = world.logged_contact("ann", note=NOTE)
    timeline_contacts(world, "ann", receipt["client_id"])

    everything = file_bytes(tmp_path)

    assert b"keys.sqlite3" not in everything  # sanity: this reads contents, not names
    assert (tmp_path / "keys.sqlite3").exists()
    for form in (NOTE.encode(), NOTE.encode("utf-16-le"), b"Gistel"):
        assert form not in everything


@pytest.mark.parametrize("length, status", [(2000, 201), (2001, 422)])
def test_a_note_has_at_most_2000_characters(world, events_in_store, length, status):
    before = events_in_store()

    response = world.log_contact("ann", note="n" * length)

    assert response.status_code == status
    if status == 422:
        assert set(world.error_of(response)["fields"]) == {"note"}
        assert events_in_store() == before


def test_a_blank_note_is_refused(world, events_in_store):
    before = events_in_store()

    response = world.log_contact("ann", note="   ")

    assert response.status_code == 422
    assert set(world.error_of(response)["fields"]) == {"note"}
    assert events_in_store() == before


def test_a_repeat_with_the_same_note_is_answered_again_and_another_note_conflicts(world):
    body = world.contact_body("ann", contact_id="6f1f6c1e-5a55-4d7e-9b55-7f2b1b0d2c11", note=NOTE)
    first = world.post("/api/v1/contacts", body, who="ann")

    again = world.post("/api/v1/contacts", body, who="ann")
    other = world.post("/api/v1/contacts", {**body, "note": "Something else."}, who="ann")
    dropped = world.post("/api/v1/contacts", {**body, "note": None}, who="ann")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert (other.status_code, dropped.status_code) == (409, 409)


def test_without_a_master_key_a_note_is_refused_and_nothing_is_recorded(world, app):
    holder = app.extensions["logbook"]
    holder.close()
    holder.settings = replace(holder.settings, master_key=None)
    before = world.events_in_store()

    refused = world.log_contact("ann", note=NOTE)
    after_refusal = world.events_in_store()
    plain = world.log_contact("ann")

    assert refused.status_code == 503
    assert world.error_of(refused)["code"] == "unavailable"
    assert "Gistel" not in refused.get_data(as_text=True)
    assert after_refusal == before
    assert plain.status_code == 201


def test_the_note_is_not_in_the_openapi_document_as_a_response_of_logging(world):
    schema = world.get("/api/v1/openapi.json").get_json()["components"]["schemas"]

    assert "note" not in schema["ContactReceipt"]["properties"]
    assert "note" in schema["NewContact"]["properties"]


def audit_actions(world, contact_id: str) -> list[tuple[str, str]]:
    response = world.get("/api/v1/audit?limit=500", who="admin")
    assert response.status_code == 200
    return [(entry["account_id"], entry["action"]) for entry in response.get_json()["items"]
            if entry["contact_id"] == contact_id]


def test_each_note_shown_in_clear_is_audited_and_a_hidden_one_is_not(world):
    receipt = world.logged_contact("ann", note=NOTE)
    world.logged_contact("carl")

    contact(world, "ann", receipt["contact_id"])
    timeline_contacts(world, "lena", receipt["client_id"])
    timeline_contacts(world, "carl", receipt["client_id"])

    assert sorted(audit_actions(world, receipt["contact_id"])) == [
        ("ann", "read_contact"), ("ann", "read_note"), ("lena", "read_note"),
    ]
