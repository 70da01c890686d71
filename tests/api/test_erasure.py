"""Erasure by crypto-shredding: the client's key goes, its notes become unreadable everywhere, counts stay."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from logbook import read_models
from logbook.application import Logbook

NOTES = ["Vraagt naar de zomerwerking in Bredene.", "Broer zit in de jeugdinstelling van Ruiselede."]
REPORT = "/api/v1/reports/boundaries?by=team"


def erase(world, client_id: str, who: str = "lena"):
    return world.post(f"/api/v1/clients/{client_id}/erasure", {"reason": "Request under GDPR art. 17."}, who=who)


def timeline_contacts(world, who: str, client_id: str) -> list[dict]:
    world.project()
    response = world.get(f"/api/v1/clients/{client_id}/timeline", who=who)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item for item in response.get_json()["items"] if item["type"] == "contact"]


def wrapped_key(data_dir: Path, client_id: str) -> bytes:
    with closing(sqlite3.connect(data_dir / "keys.sqlite3")) as db:
        (wrapped,) = db.execute("SELECT wrapped FROM data_keys WHERE client_id = ?", (client_id.replace("-", ""),)).fetchone()
    return wrapped


def key_store_bytes(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(data_dir.glob("keys.sqlite3*")))


def copy_event_store(data_dir: Path, to: Path) -> None:
    to.mkdir()
    for path in data_dir.glob("logbook.sqlite3*"):
        shutil.copy(path, to / path.name)


def test_after_an_erasure_no_path_reads_a_note_and_the_counts_stay(world, app, tmp_path):
    receipts = [world.logged_contact("ann", note=note, nature="help_question") for note in NOTES]
    client_id = receipts[0]["client_id"]
    world.project()
    report_before = world.get(REPORT, who="lena").get_json()
    assert sorted(item["note"] for item in timeline_contacts(world, "ann", client_id)) == sorted(NOTES)
    copy_event_store(tmp_path, tmp_path / "copy")
    key = wrapped_key(tmp_path, client_id)
    assert key in key_store_bytes(tmp_path)

    response = erase(world, client_id)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json() == {"client_id": client_id, "position": world.events_in_store()}
    for receipt in receipts:
        shown = world.get(f"/api/v1/contacts/{receipt['contact_id']}", who="ann").get_json()
        assert (shown["note"], shown["note_erased"]) == (None, True)
    items = timeline_contacts(world, "ann", client_id)
    assert [(item["note"], item["note_erased"]) for item in items] == [(None, True)] * len(NOTES)
    assert world.get(REPORT, who="lena").get_json() == report_before
    # A rebuild from the first event shows the same.
    settings = app.extensions["logbook"].settings
    read_models.rebuild(settings, "timelines", world.clock, lambda count: None)
    assert timeline_contacts(world, "ann", client_id) == items
    # No trace of the key in the key store's files.
    assert key not in key_store_bytes(tmp_path)
    # A copy of the event store taken before the erasure, with today's key store: nothing opens.
    shutil.copy(tmp_path / "keys.sqlite3", tmp_path / "copy" / "keys.sqlite3")
    copied = Logbook(replace(settings, data_dir=tmp_path / "copy"), clock=world.clock)
    try:
        ann = copied.account("ann")
        for receipt in receipts:
            record = copied.contact_record(ann, UUID(receipt["contact_id"]))
            assert record.contact.sealed_note is not None
            assert record.note is None
    finally:
        copied.close()


def test_contacts_after_an_erasure_get_a_new_key_and_their_notes_read(world, tmp_path):
    before = world.logged_contact("ann", note=NOTES[0])
    client_id = before["client_id"]
    old_key = wrapped_key(tmp_path, client_id)
    assert erase(world, client_id).status_code == 201
    world.clock.advance(timedelta(minutes=1))

    after = world.logged_contact("bob", note=NOTES[1])

    assert wrapped_key(tmp_path, client_id) != old_key
    items = {item["contact_id"]: item for item in timeline_contacts(world, "ann", client_id)}
    assert (items[before["contact_id"]]["note"], items[before["contact_id"]]["note_erased"]) == (None, True)
    assert (items[after["contact_id"]]["note"], items[after["contact_id"]]["note_erased"]) == (NOTES[1], False)
    shown = world.get(f"/api/v1/contacts/{after['contact_id']}", who="ann").get_json()
    assert (shown["note"], shown["note_erased"]) == (NOTES[1], False)


def test_a_second_erasure_conflicts_unless_notes_were_recorded_since(world):
    client_id = world.logged_contact("ann", note=NOTES[0])["client_id"]
    assert erase(world, client_id).status_code == 201

    again = erase(world, client_id)
    world.logged_contact("ann")  # a contact without a note leaves nothing to erase
    still = erase(world, client_id)
    world.logged_contact("ann", note=NOTES[1])
    with_a_new_note = erase(world, client_id, who="admin")

    assert (again.status_code, still.status_code, with_a_new_note.status_code) == (409, 409, 201)
    assert world.error_of(again)["code"] == "client_erased"


def test_a_refused_contact_with_a_note_leaves_nothing_to_erase(world):
    first = world.logged_contact("ann", note=NOTES[0], contact_id="6f1f6c1e-5a55-4d7e-9b55-7f2b1b0d2c11")
    client_id = first["client_id"]
    assert erase(world, client_id).status_code == 201
    future = (world.now + timedelta(hours=1)).isoformat()

    refusals = [
        world.log_contact("ann", note=NOTES[1], occurred_at=future),
        world.log_contact("carl", note=NOTES[1], profile_id="ann-messenger"),
        world.log_contact("ann", note=NOTES[1], contact_id=first["contact_id"]),
    ]

    assert [response.status_code for response in refusals] == [422, 403, 409]
    assert erase(world, client_id).status_code == 409


def test_a_client_without_notes_can_be_erased(world):
    client_id = world.logged_contact("ann")["client_id"]

    assert erase(world, client_id).status_code == 201


def test_only_team_leads_of_a_team_that_met_the_client_and_admins_erase(world, events_in_store):
    world.add_account("bert", role="team_lead", team_id="jac-brugge")
    client_id = world.logged_contact("ann", note=NOTES[0])["client_id"]
    before = events_in_store()

    statuses = {who: erase(world, client_id, who=who).status_code for who in ("ann", "rita", "bert", "carl")}
    unknown = erase(world, "6f1f6c1e-5a55-4d7e-9b55-7f2b1b0d2c11", who="admin")

    assert statuses == {"ann": 403, "rita": 403, "bert": 404, "carl": 403}
    assert unknown.status_code == 404
    assert events_in_store() == before
    assert world.get(f"/api/v1/contacts/{world.logged_contact('ann')['contact_id']}", who="ann").status_code == 200
    assert erase(world, client_id, who="admin").status_code == 201


def test_an_erasure_needs_a_reason(world, events_in_store):
    client_id = world.logged_contact("ann")["client_id"]
    before = events_in_store()

    response = world.post(f"/api/v1/clients/{client_id}/erasure", {}, who="lena")

    assert response.status_code == 422
    assert set(world.error_of(response)["fields"]) == {"reason"}
    assert events_in_store() == before
