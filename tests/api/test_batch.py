"""Bulk logging: up to 500 contacts in one request and one transaction, each answered as alone.

A batch is what a worker's phone sends when it syncs after being offline, or an
import. Every contact of it is checked as `POST /api/v1/contacts` checks one, and
answered with the status and body (or error) that request would have had; the
valid ones are saved together, with one `save()`, or not at all.
"""

from __future__ import annotations

import io
import json
import time
from contextlib import closing
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import OperationalError

from api.contacts import NewContactSchema
from events import Client, Contact
from logbook.application import ContactDraft, Logbook
from tests.stores import TestStore

BATCH = "/api/v1/contacts/batch"
MAX_BATCH_BODY_BYTES = 1_048_576
NOTE = "Vraagt of hij zaterdag mee mag naar de sporthal."


def post_batch(world: Any, contacts: list[Any], who: str | None = "ann") -> Any:
    return world.post(BATCH, {"contacts": contacts}, who=who)


def results_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"results"}
    return body["results"]


def statuses(results: list[dict[str, Any]]) -> list[int]:
    return [result["status"] for result in results]


def error_of(world: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The error of a refused contact, checked to be the inner object of the error shape."""
    assert set(result) == {"status", "error"}, result
    return world.error_of(_Answer({"error": result["error"]}))


class _Answer:
    """A refused contact's result dressed as a response, for `error_of`'s checks of the error shape."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def get_json(self, silent: bool = False) -> Any:
        return self.body

    def get_data(self, as_text: bool = False) -> str:
        return json.dumps(self.body)


def stored_events(world: Any, after: int) -> list[Any]:
    logbook: Logbook = world.app.extensions["logbook"].get()
    notifications = logbook.recorder.select_notifications(start=after + 1, limit=10_000)
    return [logbook.mapper.to_domain_event(notification) for notification in notifications]


def contacts_of(world: Any, who: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    return [world.contact_body(who, client_ref=f"client-{n % 7}", contact_id=str(uuid4()), **fields)
            for n in range(count)]


# All valid.

def test_a_batch_of_valid_contacts_is_logged_with_a_receipt_each(world, events_in_store):
    before = events_in_store()
    contacts = [world.contact_body("ann", client_ref="jonas-k"), world.contact_body("ann", client_ref="jonas-k"),
                world.contact_body("ann", client_ref="lisa-v", profile_id="jac-oostende-whatsapp")]

    results = results_of(post_batch(world, contacts))

    assert statuses(results) == [201, 201, 201]
    bodies = [result["body"] for result in results]
    assert all(set(body) == {"contact_id", "client_id", "position", "recorded_at"} for body in bodies)
    assert bodies[0]["client_id"] == bodies[1]["client_id"] != bodies[2]["client_id"]
    assert events_in_store() == before + 3 + 2  # three contacts, two clients registered
    for body in bodies:
        stored = world.get(f"/api/v1/contacts/{body['contact_id']}", who="ann").get_json()
        assert stored["history"][0]["position"] == body["position"]


def test_the_receipts_of_a_batch_are_those_of_post_contacts(world):
    single = world.logged_contact("ann", client_ref="single")

    (result,) = results_of(post_batch(world, [world.contact_body("ann", client_ref="batched")]))

    assert set(result) == {"status", "body"}
    assert set(result["body"]) == set(single)
    assert result["body"]["recorded_at"] == single["recorded_at"]


def test_a_batch_is_saved_in_one_transaction_at_consecutive_positions(world, logbook, events_in_store, monkeypatch):
    inserts: list[int] = []
    insert_events = logbook.recorder.insert_events

    def counted(stored_events: Any, **kwargs: Any) -> Any:
        inserts.append(len(stored_events))
        return insert_events(stored_events, **kwargs)

    monkeypatch.setattr(logbook.recorder, "insert_events", counted)
    before, head = events_in_store(), logbook.recorder.max_notification_id() or 0

    results = results_of(post_batch(world, contacts_of(world, "ann", 20)))

    assert statuses(results) == [201] * 20
    assert inserts == [20 + 7]  # one insert of the 20 contacts and the 7 clients they registered
    assert events_in_store() == before + 27
    positions = [result["body"]["position"] for result in results]
    assert positions == sorted(positions)
    assert set(positions) <= set(range(head + 1, head + 28))


def test_a_failure_in_the_middle_of_saving_a_batch_writes_none_of_it(world, logbook, events_in_store, monkeypatch):
    written: list[int] = []
    insert_rows = logbook.recorder._insert_events

    def fail_after_writing(cursor: Any, stored_events: Any, **kwargs: Any) -> Any:
        insert_rows(cursor, stored_events, **kwargs)  # the rows are in the transaction...
        written.append(len(stored_events))
        raise OperationalError("disk I/O error")  # ...which then fails

    monkeypatch.setattr(logbook.recorder, "_insert_events", fail_after_writing)
    before = events_in_store()
    contacts = contacts_of(world, "ann", 10)

    refused = post_batch(world, contacts)

    assert refused.status_code == 503
    assert written and set(written) == {10 + 7}  # once; on PostgreSQL the library tries a few times
    assert events_in_store() == before
    assert all(world.get(f"/api/v1/contacts/{c['contact_id']}", who="ann").status_code == 404 for c in contacts)
    monkeypatch.undo()
    assert statuses(results_of(post_batch(world, contacts))) == [201] * 10


# Refusals, contact by contact.

def test_an_invalid_contact_is_refused_alone_and_the_others_are_logged(world, events_in_store):
    before = events_in_store()
    later = (world.now + timedelta(hours=1)).isoformat()
    contacts = [
        world.contact_body("ann", client_ref="first"),
        world.contact_body("ann", nature="small_talk", client_ref=None),
        world.contact_body("ann", profile_id="nobody-messenger"),
        world.contact_body("ann", profile_id="carl-messenger"),
        world.contact_body("ann", occurred_at=later),
        "not a contact",
        world.contact_body("ann", client_ref="last"),
    ]

    results = results_of(post_batch(world, contacts))

    assert statuses(results) == [201, 422, 422, 403, 422, 400, 201]
    codes = [error_of(world, result)["code"] for result in results[1:6]]
    assert codes == ["validation_error", "unknown_reference", "profile_not_allowed", "contact_in_future",
                     "bad_request"]
    assert set(error_of(world, results[1])["fields"]) == {"nature", "client_ref"}
    assert set(error_of(world, results[2])["fields"]) == {"profile_id"}
    assert error_of(world, results[3])["fields"] == {}
    assert set(error_of(world, results[4])["fields"]) == {"occurred_at"}
    assert events_in_store() == before + 2 + 2


def test_a_contact_with_an_unknown_field_is_refused_with_that_field(world):
    (result,) = results_of(post_batch(world, [world.contact_body("ann", mood="fine")]))

    assert result["status"] == 422
    assert error_of(world, result)["fields"] == {"mood": ["Unknown field."]}


def test_a_batch_of_refused_contacts_writes_nothing(world, events_in_store):
    before = events_in_store()

    results = results_of(post_batch(world, [world.contact_body("ann", profile_id="carl-messenger")] * 3))

    assert statuses(results) == [403, 403, 403]
    assert events_in_store() == before


# Repeats and contact ids.

def test_a_repeat_of_a_stored_contact_answers_200_with_its_original_receipt(world, events_in_store):
    body = world.contact_body("ann", contact_id=str(uuid4()))
    original = world.logged_contact("ann", **body)
    before = events_in_store()

    results = results_of(post_batch(world, [body, world.contact_body("ann", client_ref="new")]))

    assert statuses(results) == [200, 201]
    assert results[0]["body"] == original
    assert events_in_store() == before + 2  # the new contact and its client; the repeat writes nothing


def test_a_contact_id_used_for_another_stored_contact_is_a_conflict(world, events_in_store):
    body = world.contact_body("ann", contact_id=str(uuid4()))
    world.logged_contact("ann", **body)
    before = events_in_store()

    (result,) = results_of(post_batch(world, [{**body, "nature": "information"}]))

    assert result["status"] == 409
    assert error_of(world, result)["code"] == "contact_id_conflict"
    assert events_in_store() == before


def test_a_contact_id_repeated_inside_a_batch_is_a_conflict_after_its_first(world, events_in_store):
    body = world.contact_body("ann", contact_id=str(uuid4()))
    before = events_in_store()

    results = results_of(post_batch(world, [body, body, {**body, "nature": "information"}]))

    assert statuses(results) == [201, 409, 409]
    assert {error_of(world, result)["code"] for result in results[1:]} == {"contact_id_conflict"}
    assert events_in_store() == before + 2  # one contact, one client


def test_a_contact_id_is_taken_by_the_first_contact_of_the_batch_that_gets_past_its_checks(world):
    contact_id = str(uuid4())
    refused = world.contact_body("ann", contact_id=contact_id, profile_id="carl-messenger")

    results = results_of(post_batch(world, [refused, world.contact_body("ann", contact_id=contact_id)]))

    # As two single requests: the refused one recorded nothing, so the id was free for the next.
    assert statuses(results) == [403, 201]


# The whole request.

def test_more_than_500_contacts_are_refused_whole_and_nothing_is_written(world, events_in_store):
    before = events_in_store()

    response = post_batch(world, contacts_of(world, "ann", 501))

    assert response.status_code == 422
    assert world.error_of(response)["fields"] == {"contacts": ["A batch holds 1 to 500 contacts."]}
    assert events_in_store() == before


@pytest.mark.parametrize(("body", "status", "fields"), [
    ({"contacts": []}, 422, {"contacts"}),
    ({}, 422, {"contacts"}),
    ({"contacts": None}, 422, {"contacts"}),
    ({"contacts": {"client_ref": "jonas-k"}}, 422, {"contacts"}),
    ({"contacts": "all of them"}, 422, {"contacts"}),
    ({"contacts": [], "more": 1}, 422, {"contacts", "more"}),
    ([{"contacts": []}], 400, set()),
], ids=["empty", "no contacts", "null", "an object", "a string", "an unknown field", "not an object"])
def test_a_body_that_is_not_a_list_of_contacts_is_refused_whole(world, events_in_store, body, status, fields):
    before = events_in_store()

    response = world.post(BATCH, body, who="ann")

    assert response.status_code == status
    assert set(world.error_of(response)["fields"]) == fields
    assert events_in_store() == before


@pytest.mark.parametrize("who", ["rita", "admin"])
def test_a_role_that_may_not_log_contacts_is_refused_whole(world, events_in_store, who):
    before = events_in_store()

    response = post_batch(world, [world.contact_body("ann", profile_id="jac-oostende-whatsapp")], who=who)

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "role_not_allowed"
    assert events_in_store() == before


def test_a_team_lead_logs_a_batch_through_the_teams_shared_profile(world):
    results = results_of(post_batch(world, [world.contact_body("lena", profile_id="jac-oostende-whatsapp")],
                                    who="lena"))

    assert statuses(results) == [201]


def test_a_batch_without_a_token_is_unauthorized(world, events_in_store):
    before = events_in_store()

    response = post_batch(world, [world.contact_body("ann")], who=None)

    assert response.status_code == 401
    assert world.error_of(response)["code"] == "unauthorized"
    assert events_in_store() == before


# The size of the body: up to 1 MiB for this endpoint alone.

def body_of_exactly(world: Any, size: int) -> bytes:
    """500 contacts with notes as long as fit, padded with JSON whitespace to ``size`` bytes."""
    def body(note_length: int) -> bytes:
        contacts = [world.contact_body("ann", client_ref=f"client-{n % 5}", note=f"{n:03}" + "x" * note_length)
                    for n in range(500)]
        return json.dumps({"contacts": contacts}).encode()

    data = body(min(1997, (size - len(body(0))) // 500))
    assert size - 500 < len(data) <= size
    return data + b" " * (size - len(data))


@pytest.mark.parametrize("who", [None, "ann"], ids=["without token", "with a token"])
def test_a_batch_over_1_mib_is_too_large_before_anything_else(world, events_in_store, who):
    before = events_in_store()

    response = world.client.post(BATCH, data=body_of_exactly(world, MAX_BATCH_BODY_BYTES + 1),
                                 content_type="application/json", headers=world.headers(who))

    assert response.status_code == 413
    assert world.error_of(response) == {
        "code": "payload_too_large", "message": "The body exceeds 1048576 bytes.", "fields": {},
    }
    assert events_in_store() == before


def test_a_chunked_batch_over_1_mib_is_too_large(world, events_in_store):
    before = events_in_store()

    response = world.client.post(
        BATCH, data=io.BytesIO(body_of_exactly(world, MAX_BATCH_BODY_BYTES + 1)), content_type="application/json",
        headers={**world.headers("ann"), "Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert events_in_store() == before


def test_a_batch_of_500_contacts_in_exactly_1_mib_is_logged(world, events_in_store):
    before = events_in_store()

    response = world.client.post(BATCH, data=body_of_exactly(world, MAX_BATCH_BODY_BYTES),
                                 content_type="application/json", headers=world.headers("ann"))

    assert statuses(results_of(response)) == [201] * 500
    assert events_in_store() == before + 500 + 5


def test_other_endpoints_keep_their_limit_of_64_kib(world):
    body = world.contact_body("ann", thread="x" * 65_536)

    assert world.post("/api/v1/contacts", body, who="ann").status_code == 413
    (result,) = results_of(post_batch(world, [body]))
    assert result["status"] == 422  # read; then its thread is too long


# Notes.

def test_the_notes_of_a_batch_are_sealed_and_read_by_the_team(world):
    contacts = [world.contact_body("ann", client_ref="jonas-k", note=NOTE),
                world.contact_body("ann", client_ref="lisa-v", note="Tweede notitie."),
                world.contact_body("ann", client_ref="no-note")]

    bodies = [result["body"] for result in results_of(post_batch(world, contacts))]

    notes = [world.get(f"/api/v1/contacts/{body['contact_id']}", who="ann").get_json()["note"] for body in bodies]
    assert notes == [NOTE, "Tweede notitie.", None]
    assert world.get(f"/api/v1/contacts/{bodies[0]['contact_id']}", who="lena").get_json()["note"] == NOTE


def test_a_repeat_with_its_note_is_a_repeat_and_with_another_note_a_conflict(world):
    body = world.contact_body("ann", contact_id=str(uuid4()), note=NOTE)
    original = world.logged_contact("ann", **body)

    results = results_of(post_batch(world, [body, {**body, "note": "Another note."}]))

    assert statuses(results) == [200, 409]
    assert results[0]["body"] == original


def test_a_refused_contact_with_a_note_makes_its_client_no_data_key(world, logbook):
    contacts = [world.contact_body("ann", client_ref="kept-out", note=NOTE, profile_id="carl-messenger"),
                world.contact_body("ann", client_ref="kept-out-2", note=NOTE,
                                   occurred_at=(world.now + timedelta(hours=1)).isoformat())]

    assert statuses(results_of(post_batch(world, contacts))) == [403, 422]

    for client_ref in ("kept-out", "kept-out-2"):
        client_id = world.post("/api/v1/clients/lookup", {"client_ref": client_ref}, who="ann").get_json()["client_id"]
        assert not logbook.notes.keys.holds_key(UUID(client_id))


# Equal to single requests.

def mixed_batch(world: Any, stored: dict[str, dict[str, Any]]) -> list[Any]:
    """A batch with every kind of answer, but no contact id twice (single requests would repeat it)."""
    return [
        world.contact_body("ann", client_ref="kid-1", contact_id=str(uuid4()), topics=["school"]),
        world.contact_body("ann", client_ref="kid-1", thread="t-1", message_count=4),
        stored["repeated"],
        {**stored["taken"], "nature": "information"},
        world.contact_body("ann", nature="small_talk"),
        world.contact_body("ann", profile_id="nobody-messenger"),
        world.contact_body("ann", profile_id="carl-messenger", note=NOTE),
        world.contact_body("ann", occurred_at=(world.now + timedelta(minutes=6)).isoformat()),
        world.contact_body("ann", client_ref="met-in-brugge", direction="outbound"),
        world.contact_body("ann", client_ref="kid-2", profile_id="jac-oostende-whatsapp", note=NOTE),
        world.contact_body("ann", client_ref="kid-2", note="x" * 2001),
        {**stored["noted"], "note": "Another note."},
        ["not", "a", "contact"],
        world.contact_body("ann", client_ref="kid-1", contact_id=str(uuid4()), duration_minutes=20),
    ]


def arrange(world: Any, stored: dict[str, dict[str, Any]]) -> int:
    for body in stored.values():
        world.logged_contact("ann", **body)
    world.logged_contact("carl", client_ref="met-in-brugge")
    return world.events_in_store()


def shapes(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events without their times and ciphertexts, each id named by the order it first appears in."""
    aliases: dict[UUID, str] = {}

    def alias(value: Any) -> Any:
        if isinstance(value, UUID):
            return aliases.setdefault(value, f"id-{len(aliases)}")
        return value

    return [(type(event).__qualname__, {name: alias(value) for name, value in vars(event).items()
                                        if name not in ("timestamp", "sealed_note")}) for event in events]


def comparable(result: dict[str, Any], item: Any) -> dict[str, Any]:
    """A result without a contact id the server chose, nor, on PostgreSQL, a position.

    PostgreSQL's positions have gaps where a transaction rolled back, and a batch
    and its contacts sent one by one roll back different transactions.
    """
    body = dict(result.get("body") or {})
    if isinstance(item, dict) and "contact_id" not in item:
        body.pop("contact_id", None)
    if TestStore.is_postgres():
        body.pop("position", None)
    return {**result, "body": body}


def test_a_batch_answers_and_records_exactly_what_its_contacts_sent_one_by_one_do(world, open_world, tmp_path):
    one_by_one = open_world(tmp_path / "one-by-one")
    stored = {name: world.contact_body("ann", client_ref=name, contact_id=str(uuid4()), **fields)
              for name, fields in (("repeated", {"note": NOTE}), ("taken", {}), ("noted", {"note": NOTE}))}
    assert arrange(world, stored) == arrange(one_by_one, stored)
    before = world.events_in_store()
    contacts = mixed_batch(world, stored)

    batched = results_of(post_batch(world, contacts))
    singles = [one_by_one.post("/api/v1/contacts", item, who="ann") for item in contacts]

    assert statuses(batched) == [response.status_code for response in singles]
    assert statuses(batched) == [201, 201, 200, 409, 422, 422, 403, 422, 201, 201, 422, 409, 400, 201]
    for item, result, single in zip(contacts, batched, singles, strict=True):
        answered = single.get_json()
        expected = {"status": single.status_code, **({"error": answered["error"]} if "error" in answered
                                                       else {"body": answered})}
        assert comparable(result, item) == comparable(expected, item)
    assert shapes(stored_events(world, before)) == shapes(stored_events(one_by_one, before))


# Racing other requests.

def test_a_batch_that_lost_a_race_is_checked_again_and_saved_whole(world, logbook, events_in_store, monkeypatch):
    raced = world.contact_body("ann", client_ref="raced", contact_id=str(uuid4()))
    contacts = [world.contact_body("ann", client_ref="raced"), raced, world.contact_body("ann", client_ref="calm")]
    saves = []
    save = logbook.save

    def another_process_first(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append(len(aggregates))
        if len(saves) == 1:
            # Another process logs the same contact, registering its client, just before this batch saves.
            with closing(Logbook(world.app.extensions["logbook"].settings, world.clock)) as other:
                other.log_contact(other.account("ann"), draft_of(raced))
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(logbook, "save", another_process_first)
    before = events_in_store()

    results = results_of(post_batch(world, contacts))

    assert statuses(results) == [201, 200, 201]
    assert saves == [5, 3]  # the second attempt: two contacts and one new client; the raced one is a repeat
    events = stored_events(world, before)
    assert [type(event) for event in events] == [Contact.Logged, Client.Registered,  # the other process
                                                 Contact.Logged, Contact.Logged, Client.Registered]
    assert results[1]["body"]["position"] == before + 1


def draft_of(body: dict[str, Any]) -> ContactDraft:
    return ContactDraft(**NewContactSchema().load(body))


# Speed and the document.

def test_a_batch_of_500_contacts_is_logged_in_reasonable_time(world):
    contacts = contacts_of(world, "ann", 500)

    started = time.perf_counter()
    results = results_of(post_batch(world, contacts))
    elapsed = time.perf_counter() - started

    assert statuses(results) == [201] * 500
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_the_openapi_document_describes_the_batch(world):
    document = world.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][BATCH]["post"]
    schemas = document["components"]["schemas"]

    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert schemas[request]["properties"]["contacts"]["items"] == {"$ref": "#/components/schemas/NewContact"}
    assert schemas[request]["properties"]["contacts"]["maxItems"] == 500
    assert {"200", "413"} <= set(operation["responses"])
    results = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    result = schemas[results]["properties"]["results"]["items"]["$ref"].split("/")[-1]
    assert set(schemas[result]["properties"]) == {"status", "body", "error"}
