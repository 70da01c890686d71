"""Nothing gunicorn, its workers, the projector or the command line write holds a client ref, a note or a token.

One scenario over real gunicorn, with distinctive secrets, good requests and
bad ones; then every line every process wrote is searched for every secret,
in every form it could take on the way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.stores import store_environ

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
TIMEOUT_SECONDS = 10.0
STOPPED = {401, 429}
"""Refused tokens; a 429 too, once the session's tests have failed enough times from loopback."""

REF = "Kwartelkoning-Ærøskøbing-Ωmega-7731"
REF_AGAIN = "  KWARTELKONING-ÆRØSKØBING-ΩMEGA-７７３１\t"
"""The same client as `REF` once stripped, NFKC-normalised and case-folded."""
OLD_REF = "Weißdorn-ﬁnch-Ⅻ-4402"
"""A client last met six years ago, whose notes retention shreds."""
NOTE = ("Roerdompnotitie: vader drinkt, ze slaapt soms bij een vriendin in Bredene. " * 27)[:2000]
NOTE_AGAIN = "Graspiepernotitie: vroeg of de school al gebeld heeft over het examen."
OLD_NOTE = "Boomvalknotitie: verhuisd naar een pleeggezin in Gistel."
OTHER_NOTE = "Kwikstaartnotitie: een andere notitie onder een bestaand contact-id."
TOO_LONG_NOTE = ("Tjiftjafnotitie over de rechtszaak van haar broer. " * 45)[:2001]
FOLLOW_UP_REASON = "Vragen naar de Zilverreiger-afspraak bij de huisarts"
CORRECTION_REASON = "Korhoen: ik heb haar vraag toch beantwoord"
RETRACTION_REASON = "Bergeend: verkeerde jongere aangeduid"
ERASURE_REASON = "Appelvink: gevraagd door de jongere zelf"
DISTINCTIVE_WORDS = {
    "client ref": ["Kwartelkoning", "Weißdorn"],
    "note": ["Roerdompnotitie", "Graspiepernotitie", "Boomvalknotitie", "Kwikstaartnotitie", "Tjiftjafnotitie"],
    "reason": ["Zilverreiger", "Korhoen", "Bergeend", "Appelvink"],
}


@dataclass(frozen=True)
class Secret:
    kind: str
    name: str
    forms: dict[str, str]
    """Each way the secret could be written, by the name of the way."""


def ref_secret(name: str, ref: str) -> Secret:
    normalised = unicodedata.normalize("NFKC", ref.strip()).casefold()
    forms = {"as sent": ref, "stripped": ref.strip(), "NFKC-casefolded": normalised}
    for how, text in list(forms.items()):
        forms[f"{how}, JSON-escaped"] = json.dumps(text)[1:-1]
        forms[f"{how}, percent-encoded"] = quote(text)
    return Secret("client ref", name, forms)


def text_secret(kind: str, name: str, text: str) -> Secret:
    return Secret(kind, name, {"whole": text, "JSON-escaped": json.dumps(text)[1:-1], "first 40 characters": text[:40]})


def token_secret(name: str, token: str) -> Secret:
    return Secret("token", name, {"whole": token, "without its prefix": token.removeprefix("lbk_")})


def word_secrets() -> list[Secret]:
    return [Secret(kind, f"word {word}", {"word": word}) for kind, words in DISTINCTIVE_WORDS.items() for word in words]


def findings(secrets: list[Secret], outputs: dict[str, str]) -> list[str]:
    """Where each secret appears, by kind, name, form, output and line number; never the line itself."""
    found = []
    for source, text in outputs.items():
        for number, line in enumerate(text.splitlines(), start=1):
            folded = line.casefold()
            found += [
                f"{secret.kind} '{secret.name}' ({how}) in {source}, line {number}"
                for secret in secrets for how, form in secret.forms.items() if form.casefold() in folded
            ]
    return found


# Processes beside the server: a projector and the command line, their output kept.

def environment(data_dir: Path) -> dict[str, str]:
    """The server's environment: its data directory, nothing of a developer's shell."""
    leaky = ("DATABASE_URL", "PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGBOOK_") and k not in leaky}
    return env | {"LOGBOOK_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"} | store_environ(data_dir)


@contextmanager
def projector_writing_to(data_dir: Path, out: Path, err: Path) -> Iterator[None]:
    """`logbook projections run`, its standard output and error in files; stopped on the way out.

    The session's `projector` fixture would hold the read models' locks: this
    test runs before any test that asks for it, as the files are named.
    """
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen([str(VENV_BIN / "logbook"), "projections", "run"], env=environment(data_dir),
                                   stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while b"following" not in err.read_bytes():
            # Its stderr says why, without secrets: most likely another projector holds the read models.
            assert process.poll() is None, f"the projector exited: {err.read_text(errors='replace')}"
            assert time.monotonic() < deadline, "the projector did not start"
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=TIMEOUT_SECONDS)
    assert process.returncode == 0


def run_logbook(data_dir: Path, outputs: dict[str, str], *args: str) -> str:
    """Runs a `logbook` command, keeps its standard output and error for the search, returns its output."""
    result = subprocess.run([str(VENV_BIN / "logbook"), *args], env=environment(data_dir), capture_output=True,
                            text=True, timeout=60, check=False)
    outputs[f"`logbook {' '.join(args)}` stdout"] = result.stdout
    outputs[f"`logbook {' '.join(args)}` stderr"] = result.stderr
    assert result.returncode == 0, f"`logbook {' '.join(args)}` exited with {result.returncode}"
    return result.stdout


# Requests.

def request(server: Any, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, server.url(path), headers=headers | kwargs.pop("headers", {}),
                            timeout=TIMEOUT_SECONDS, **kwargs)


def where(response: requests.Response) -> str:
    """The request's method and path, without its query string, which may hold a token."""
    return f"{response.request.method} {(response.request.path_url or '').partition('?')[0]}"


def answered(response: requests.Response, status: int = 201) -> dict[str, Any]:
    # Only the status and path: a text could hold a note, and the assertion's message would print it.
    assert response.status_code == status, where(response)
    return response.json()


def refused(response: requests.Response, *statuses: int) -> str:
    assert response.status_code in statuses, where(response)
    return response.json()["error"]["code"]


def test_no_ref_note_or_token_appears_in_any_line_the_processes_write(server, worker, tmp_path):
    outputs: dict[str, str] = {}
    tokens = {"admin": server.admin_token, "worker": worker.token}
    now = datetime.now(timezone.utc)
    with projector_writing_to(server.data_dir, tmp_path / "projector.out", tmp_path / "projector.err"):
        # The admin adds a team lead to the worker's team.
        lead = answered(server.post("/api/v1/accounts", server.admin_token, {
            "account_id": f"lead-{worker.team_id}", "name": "Lena", "role": "team_lead",
            "team_id": worker.team_id, "function": "counsellor",
        }))
        tokens["team lead"] = lead["token"]

        # The worker logs contacts with two clients, with notes; one of them once more under another spelling.
        first = answered(server.post("/api/v1/contacts", worker.token, worker.contact(
            REF, nature="help_question", note=NOTE, contact_id=str(uuid.uuid4()))))
        again = answered(server.post("/api/v1/contacts", worker.token, worker.contact(
            REF_AGAIN, minutes_ago=3, note=NOTE_AGAIN)))
        old = answered(server.post("/api/v1/contacts", worker.token, worker.contact(
            OLD_REF, minutes_ago=6 * 366 * 24 * 60, note=OLD_NOTE)))
        client_id = first["client_id"]
        assert again["client_id"] == client_id != old["client_id"]
        looked_up = answered(server.post("/api/v1/clients/lookup", worker.token, {"client_ref": REF_AGAIN}), 200)
        assert looked_up["client_id"] == client_id

        # The worker reads the contact and the timeline, notes in clear, and plans a follow-up.
        assert answered(server.get(f"/api/v1/contacts/{first['contact_id']}", worker.token), 200)["note"] == NOTE
        timeline = answered(server.get(f"/api/v1/clients/{client_id}/timeline?after={again['position']}",
                                      worker.token), 200)
        assert {item.get("note") for item in timeline["items"]} == {NOTE, NOTE_AGAIN}
        answered(server.post(f"/api/v1/clients/{client_id}/follow-ups", worker.token, {
            "due": (now + timedelta(days=7)).isoformat(), "reason": FOLLOW_UP_REASON}))

        # They correct one contact, retract the other, and the team lead erases the client.
        answered(server.post(f"/api/v1/contacts/{first['contact_id']}/corrections", worker.token, {
            "changes": {"nature": "help_conversation"}, "reason": CORRECTION_REASON}))
        answered(server.post(f"/api/v1/contacts/{again['contact_id']}/retraction", worker.token, {
            "reason": RETRACTION_REASON}))
        erased = answered(server.post(f"/api/v1/clients/{client_id}/erasure", lead["token"], {
            "reason": ERASURE_REASON}))
        after_erasure = answered(server.get(f"/api/v1/clients/{client_id}/timeline?after={erased['position']}",
                                           worker.token), 200)
        assert {item.get("note") for item in after_erasure["items"]} == {None}

        # Conflicts: a second erasure, a retracted contact corrected, a contact id again with another note.
        conflicts = [
            server.post(f"/api/v1/clients/{client_id}/erasure", lead["token"], {"reason": ERASURE_REASON}),
            server.post(f"/api/v1/contacts/{again['contact_id']}/corrections", worker.token, {
                "changes": {"nature": "help_conversation"}, "reason": CORRECTION_REASON}),
            server.post("/api/v1/contacts", worker.token, worker.contact(
                REF, nature="help_question", note=OTHER_NOTE, contact_id=first["contact_id"])),
        ]
        assert [refused(response, 409) for response in conflicts] == [
            "client_erased", "contact_retracted", "contact_id_conflict"]

        # Bad input that holds the secrets.
        bogus = "lbk_Bogus" + uuid.uuid4().hex
        tokens["bogus"] = bogus
        contact = worker.contact(REF, note=NOTE_AGAIN)
        assert [refused(response, 422) for response in [
            server.post("/api/v1/contacts", worker.token, contact | {"client_ref": (REF * 7)[:230]}),
            server.post("/api/v1/contacts", worker.token, contact | {"note": TOO_LONG_NOTE}),
            server.post("/api/v1/contacts", worker.token, contact | {"profile_id": "no-such-profile"}),
            server.post("/api/v1/contacts", worker.token, worker.contact(REF, minutes_ago=-60, note=NOTE_AGAIN)),
            server.post("/api/v1/clients/lookup", worker.token, {"client_ref": (OLD_REF * 12)[:201]}),
        ]] == ["validation_error", "validation_error", "unknown_reference", "contact_in_future", "validation_error"]
        malformed = json.dumps(contact)[:-20].encode()
        assert refused(request(server, "POST", "/api/v1/contacts", worker.token, data=malformed,
                               headers={"Content-Type": "application/json"}), 400) == "bad_request"
        huge = json.dumps(contact | {"note": TOO_LONG_NOTE * 40}).encode()
        assert refused(request(server, "POST", "/api/v1/contacts", worker.token, data=huge,
                               headers={"Content-Type": "application/json"}), 413) == "payload_too_large"

        # Tokens that do not work: a bogus one, one in the query string.
        refused(server.get("/api/v1/me", bogus), *STOPPED)
        refused(request(server, "GET", f"/api/v1/me?access_token={worker.token}"), *STOPPED)
        refused(request(server, "GET", f"/api/v1/me?token={bogus}", bogus), *STOPPED)

        # Nothing there, or not the team's.
        nowhere = [
            server.get(f"/api/v1/contacts/{uuid.uuid4()}", worker.token),
            server.get(f"/api/v1/clients/{uuid.uuid4()}/timeline", worker.token),
            server.post(f"/api/v1/clients/{uuid.uuid4()}/follow-ups", worker.token, {
                "due": (now + timedelta(days=7)).isoformat(), "reason": FOLLOW_UP_REASON}),
            server.post(f"/api/v1/clients/{uuid.uuid4()}/erasure", lead["token"], {"reason": ERASURE_REASON}),
        ]
        assert {refused(response, 404) for response in nowhere} == {"not_found"}

        # The worker rotates their token, then revokes the new one; the command line revokes the lead's.
        rotated = answered(server.post(f"/api/v1/accounts/{worker.account_id}/tokens", worker.token, {}))["token"]
        tokens["rotated"] = rotated
        refused(server.get("/api/v1/me", worker.token), *STOPPED)
        assert answered(server.post(f"/api/v1/accounts/{worker.account_id}/tokens/revoke", rotated, {}),
                       200) == {"revoked": 1}
        refused(server.get("/api/v1/me", rotated), *STOPPED)
        assert run_logbook(server.data_dir, outputs, "accounts", "revoke", lead["account_id"]) == "1\n"
        refused(server.get("/api/v1/me", lead["token"]), *STOPPED)

        # Retention shreds the notes of the client met six years ago.
        assert int(run_logbook(server.data_dir, outputs, "retention", "apply", "--wait", "5")) >= 1

        # The last request: once its access log line is written, every earlier one is.
        last = f"/api/v1/contacts/{uuid.uuid4()}"
        refused(server.get(last, server.admin_token), 403, 404)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while last not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)

    outputs["gunicorn's log"] = server.log()
    outputs["projector stdout"] = (tmp_path / "projector.out").read_text(errors="replace")
    outputs["projector stderr"] = (tmp_path / "projector.err").read_text(errors="replace")
    secrets = [
        ref_secret("as first sent", REF), ref_secret("spelled again", REF_AGAIN), ref_secret("old", OLD_REF),
        *(text_secret("note", name, note) for name, note in [
            ("of the first contact", NOTE), ("of the second contact", NOTE_AGAIN), ("of the old contact", OLD_NOTE),
            ("of the conflicting repeat", OTHER_NOTE), ("too long", TOO_LONG_NOTE)]),
        *(token_secret(name, token) for name, token in tokens.items()),
        text_secret("follow-up reason", "planned", FOLLOW_UP_REASON),
        *(text_secret("reason", name, reason) for name, reason in [
            ("of the correction", CORRECTION_REASON), ("of the retraction", RETRACTION_REASON),
            ("of the erasure", ERASURE_REASON)]),
        *word_secrets(),
    ]

    # Bare bools, so that a failure does not print the logs.
    access_logged = last in outputs["gunicorn's log"] and f"/{client_id}/erasure" in outputs["gunicorn's log"]
    assert access_logged, "the access log was not captured"
    projector_logged = "following" in outputs["projector stderr"]
    assert projector_logged, "the projector's standard error was not captured"
    found = findings(secrets, outputs)
    assert not found, "secrets in the logs:\n" + "\n".join(found)
