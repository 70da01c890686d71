"""No client ref, note or token in a log record, in what the process prints, in an error answer or in an exception.

The in-process counterpart of tests/e2e/test_logs_hold_no_secrets.py: every
log record at DEBUG and up, and the process's standard output and error, are
searched after a whole scenario, after unexpected errors whose text quotes a
secret, and in the domain errors that bad refs and notes raise.
"""

from __future__ import annotations

import json
import logging
import traceback
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from events.contact import check_note
from events.errors import (
    ClientErasedError,
    ContactIdConflictError,
    ContactInFutureError,
    InvalidInputError,
    LogbookError,
    NotFoundError,
    ProfileNotAllowedError,
    UnknownReferenceError,
)
from logbook.application import ContactDraft, Logbook

REF = "Roodborst-Ærøskøbing-Ωmega-5150"
REF_AGAIN = "  ROODBORST-ÆRØSKØBING-ΩMEGA-５１５０\t"
"""The same client as `REF` once stripped, NFKC-normalised and case-folded."""
NOTE = ("Goudvinknotitie: haar vader drinkt, ze slaapt soms bij een vriendin in Bredene. " * 25)[:2000]
NOTE_AGAIN = "Putternotitie: vroeg of de school al gebeld heeft."
OTHER_NOTE = "Sijsjenotitie: een andere notitie onder een bestaand contact-id."
TOO_LONG_NOTE = ("Kramsvogelnotitie over de rechtszaak van haar broer. " * 40)[:2001]
FOLLOW_UP_REASON = "Vragen naar de Ijsvogel-afspraak bij de huisarts"
ERASURE_REASON = "Pimpelmees: gevraagd door de jongere zelf"
BOGUS_TOKEN = "lbk_Bogus-Nachtegaal-0000000000000000000000000"
WORDS = ["Roodborst", "Goudvinknotitie", "Putternotitie", "Sijsjenotitie", "Kramsvogelnotitie", "Ijsvogel",
         "Pimpelmees", "Nachtegaal"]


def forms(text: str) -> dict[str, str]:
    """The ways ``text`` could be written, by name: as sent, stripped, normalised, and each JSON-escaped."""
    ways = {"as sent": text, "stripped": text.strip(), "NFKC-casefolded": unicodedata.normalize("NFKC", text.strip()).casefold()}
    return ways | {f"{how}, JSON-escaped": json.dumps(each)[1:-1] for how, each in ways.items()}


def secrets(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every secret of the tests by a name that says its kind, and its forms."""
    named = {
        "client ref": forms(REF), "client ref spelled again": forms(REF_AGAIN), "note": forms(NOTE),
        "note of the second contact": forms(NOTE_AGAIN), "note of the conflicting repeat": forms(OTHER_NOTE),
        "note too long": forms(TOO_LONG_NOTE), "follow-up reason": forms(FOLLOW_UP_REASON),
        "erasure reason": forms(ERASURE_REASON),
    }
    named |= {f"word {word}": {"word": word} for word in WORDS}
    for name, token in (tokens | {"bogus": BOGUS_TOKEN}).items():
        named[f"token of {name}"] = {"whole": token, "without its prefix": token.removeprefix("lbk_")}
    return named


def assert_no_secret_in(outputs: dict[str, str], tokens: dict[str, str]) -> None:
    """Fails naming each secret found by name, form, output and line number; never the line itself."""
    found = []
    for source, text in outputs.items():
        for number, line in enumerate(text.splitlines(), start=1):
            folded = line.casefold()
            found += [
                f"{name} ({how}) in {source}, line {number}"
                for name, ways in secrets(tokens).items() for how, form in ways.items()
                if form.casefold() in folded
            ]
    assert not found, "secrets found:\n" + "\n".join(found)


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Everything logged and printed: each record's message, arguments and exception, stdout and stderr."""
    out, err = capfd.readouterr()
    records = [
        f"{record.name} {record.levelname} {record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    ]
    return {"log records": "\n".join(records), "caplog text": caplog.text, "stdout": out, "stderr": err}


def json_post(world: Any, path: str, data: str, who: str) -> Any:
    return world.client.post(path, data=data, content_type="application/json", headers=world.headers(who))


# A whole scenario.

def test_a_whole_scenario_logs_and_prints_no_ref_note_or_token(world, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    errors = []

    # Ann logs two contacts with one client under two spellings, with notes; Bob looks the client up.
    first = world.logged_contact("ann", client_ref=REF, note=NOTE, contact_id=str(uuid4()), nature="help_question")
    again = world.logged_contact("ann", client_ref=REF_AGAIN, note=NOTE_AGAIN)
    client_id = first["client_id"]
    lookup = world.post("/api/v1/clients/lookup", {"client_ref": REF_AGAIN}, who="bob")
    assert again["client_id"] == lookup.get_json()["client_id"] == client_id

    # Ann reads the contact and the timeline, plans a follow-up, corrects one contact and retracts the other.
    assert world.get(f"/api/v1/contacts/{first['contact_id']}", who="ann").get_json()["note"] == NOTE
    world.project()
    timeline = world.get(f"/api/v1/clients/{client_id}/timeline?after={again['position']}", who="ann")
    assert {item["note"] for item in timeline.get_json()["items"]} == {NOTE, NOTE_AGAIN}
    assert world.follow_up("ann", client_id, reason=FOLLOW_UP_REASON).status_code == 201
    correction = {"changes": {"nature": "help_conversation"}, "reason": "Toch geholpen."}
    assert world.post(f"/api/v1/contacts/{first['contact_id']}/corrections", correction, who="ann").status_code == 201
    assert world.post(f"/api/v1/contacts/{again['contact_id']}/retraction", {"reason": "Verkeerd."},
                      who="ann").status_code == 201

    # Lena erases the client; a second erasure conflicts, and so does the contact id again with another note.
    assert world.post(f"/api/v1/clients/{client_id}/erasure", {"reason": ERASURE_REASON}, who="lena").status_code == 201
    errors += [
        world.post(f"/api/v1/clients/{client_id}/erasure", {"reason": ERASURE_REASON}, who="lena"),
        world.log_contact("ann", client_ref=REF, note=OTHER_NOTE, contact_id=first["contact_id"],
                          nature="help_question"),
    ]

    # Bad input that holds the secrets, unknown ids, and tokens that do not work.
    errors += [
        world.log_contact("ann", client_ref=(REF * 8)[:230], note=NOTE_AGAIN),
        world.log_contact("ann", client_ref=REF, note=TOO_LONG_NOTE),
        world.log_contact("ann", client_ref=REF, note=NOTE_AGAIN, profile_id="no-such-profile"),
        world.log_contact("ann", client_ref=REF, note=NOTE_AGAIN, occurred_at=(world.now + timedelta(hours=1)).isoformat()),
        world.log_contact("ann", client_ref=REF, note=NOTE_AGAIN, profile_id="carl-messenger"),
        world.post("/api/v1/clients/lookup", {"client_ref": (REF * 8)[:201]}, who="bob"),
        json_post(world, "/api/v1/contacts", json.dumps(world.contact_body("ann", client_ref=REF, note=NOTE))[:-9], "ann"),
        world.client.post("/api/v1/contacts", data=REF, content_type="text/plain", headers=world.headers("ann")),
        world.get(f"/api/v1/contacts/{uuid4()}", who="ann"),
        world.follow_up("ann", str(uuid4()), reason=FOLLOW_UP_REASON),
        world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {BOGUS_TOKEN}"}),
        world.client.get(f"/api/v1/me?access_token={world.tokens['ann']}"),
    ]

    # Ann rotates her token, revokes the new one, and tries both.
    rotated = world.post("/api/v1/accounts/ann/tokens", {}, who="ann").get_json()["token"]
    assert world.client.post("/api/v1/accounts/ann/tokens/revoke", json={},
                             headers={"Authorization": f"Bearer {rotated}"}).get_json() == {"revoked": 1}
    errors += [world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
               for token in (world.tokens["ann"], rotated)]

    assert [response.status_code for response in errors] == [
        409, 409, 422, 422, 422, 422, 403, 422, 400, 415, 404, 404, 401, 401, 401, 401]
    tokens = world.tokens | {"ann, rotated": rotated}
    answers = {f"error answer {number}": response.get_data(as_text=True) for number, response in enumerate(errors, 1)}
    assert_no_secret_in(answers, tokens)
    assert_no_secret_in(logged(caplog, capfd), tokens)


# Unexpected errors whose text quotes a secret.

def raising(message: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(message) from KeyError(NOTE)
    return fail


UNEXPECTED = {
    "looking a client up": ("look_up_client", REF, "POST", "/api/v1/clients/lookup", {"client_ref": REF}),
    "logging a contact": ("log_contact", f"{REF_AGAIN}: {NOTE}", "POST", "/api/v1/contacts", None),
    "planning a follow-up": ("plan_follow_up", FOLLOW_UP_REASON, "POST", "/api/v1/clients/{client_id}/follow-ups",
                             {"due": "2025-03-08T10:00:00+01:00", "reason": FOLLOW_UP_REASON}),
    "authenticating": ("authenticate", "{token}", "GET", "/api/v1/me", None),
}


@pytest.mark.parametrize("method, message, verb, path, body", UNEXPECTED.values(), ids=UNEXPECTED.keys())
def test_an_unexpected_error_quoting_a_secret_answers_500_and_logs_only_its_class_and_frames(
    world, monkeypatch, caplog, capfd, method, message, verb, path, body
):
    client_id = world.logged_contact("ann", client_ref=REF)["client_id"]
    body = world.contact_body("ann", client_ref=REF, note=NOTE) if body is None else body
    monkeypatch.setattr(Logbook, method, raising(message.format(token=world.tokens["ann"])))
    caplog.set_level(logging.DEBUG)

    response = world.client.open(path.format(client_id=client_id), method=verb, json=body if verb == "POST" else None,
                                 headers=world.headers("ann"))

    assert response.status_code == 500
    assert world.error_of(response)["code"] == "internal_error"
    assert_no_secret_in({"the answer": response.get_data(as_text=True)}, world.tokens)
    assert_no_secret_in(logged(caplog, capfd), world.tokens)
    # What was logged: the class, and the frames down to the one that raised.
    [message] = [record.getMessage() for record in caplog.records if record.name == "api.errors"]
    assert message.startswith("unexpected RuntimeError while answering a request at ")
    assert " in fail <- " in message


# Domain errors raised for bad refs and notes.

def draft(**facts: Any) -> ContactDraft:
    base = {"client_ref": REF, "profile_id": "ann-messenger", "direction": "inbound", "nature": "keeping_in_touch",
            "occurred_at": datetime(2025, 3, 1, 11, 0, tzinfo=timezone.utc), "note": NOTE_AGAIN}
    return ContactDraft(**(base | facts))


def log(logbook: Logbook, who: str = "ann", **facts: Any) -> Any:
    return logbook.log_contact(logbook.account(who), draft(**facts))


def erased_twice(logbook: Logbook) -> None:
    client_id = log(logbook).client_id
    logbook.erase_client(logbook.account("lena"), client_id, ERASURE_REASON)
    logbook.erase_client(logbook.account("lena"), client_id, ERASURE_REASON)


def repeated_with_another_note(logbook: Logbook) -> None:
    contact_id = uuid4()
    log(logbook, contact_id=contact_id, note=NOTE)
    log(logbook, contact_id=contact_id, note=OTHER_NOTE)


DOMAIN_ERRORS: dict[str, tuple[Callable[[Logbook], Any], type[LogbookError]]] = {
    "a note too long": (lambda logbook: check_note(TOO_LONG_NOTE), InvalidInputError),
    "a contact with a note too long": (lambda logbook: log(logbook, note=TOO_LONG_NOTE), InvalidInputError),
    "an unknown profile": (lambda logbook: log(logbook, profile_id="no-such-profile"), UnknownReferenceError),
    "a contact in the future": (
        lambda logbook: log(logbook, occurred_at=logbook.clock() + timedelta(hours=1)), ContactInFutureError),
    "another's profile": (lambda logbook: log(logbook, profile_id="carl-messenger"), ProfileNotAllowedError),
    "a contact id again with another note": (repeated_with_another_note, ContactIdConflictError),
    "a second erasure": (erased_twice, ClientErasedError),
    "a follow-up of an unknown client": (
        lambda logbook: logbook.plan_follow_up(logbook.account("ann"), UUID(int=1), logbook.clock(), FOLLOW_UP_REASON),
        NotFoundError),
}


@pytest.mark.parametrize("act, error_class", DOMAIN_ERRORS.values(), ids=DOMAIN_ERRORS.keys())
def test_the_domain_error_raised_for_bad_input_does_not_quote_it(world, logbook, act, error_class):
    with pytest.raises(error_class) as raised:
        act(logbook)

    error = raised.value
    told = {
        "str": str(error), "repr": repr(error), "message": error.message, "args": repr(error.args),
        "traceback": "".join(traceback.format_exception(error)),
    }
    assert_no_secret_in(told, world.tokens)
