"""The logbook as a CAW runs it: gunicorn, two sync workers, an SQLite file, HTTP on loopback."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.stores import TestStore, stored_bytes

pytestmark = pytest.mark.e2e


def test_an_admin_sets_up_a_team_and_its_worker_logs_contacts_and_reads_them_back(server):
    # The admin registers the Ostend JAC team, a counsellor, and the team's shared Messenger profile.
    admin = server.admin_token
    team = {"team_id": "jac-oostende", "name": "JAC Oostende", "organisation": "caw-nwvl",
            "site": "Oostende", "service": "jac"}
    assert server.post("/api/v1/teams", admin, team).status_code == 201
    account = server.post("/api/v1/accounts", admin, {
        "account_id": "lotte", "name": "Lotte", "role": "worker",
        "team_id": "jac-oostende", "function": "counsellor",
    })
    assert account.status_code == 201, account.text
    lotte = account.json()["token"]
    profile = server.post("/api/v1/profiles", admin, {
        "profile_id": "jac-oostende-messenger", "channel": "messenger", "kind": "shared",
        "team_id": "jac-oostende", "users": ["lotte"],
    })
    assert profile.status_code == 201, profile.text
    assert team in server.get("/api/v1/teams", admin).json()["items"]

    # Lotte logs an invitation to a client, and the client's answer the next minute.
    invitation = {
        "client_ref": "Jonas B.", "profile_id": "jac-oostende-messenger", "direction": "outbound",
        "nature": "invitation", "occurred_at": "2025-03-04T16:30:00+01:00",
        "thread": "movie night", "topics": ["leisure"],
    }
    answer = {**invitation, "direction": "inbound", "nature": "keeping_in_touch",
              "occurred_at": "2025-03-04T16:31:00+01:00", "message_count": 3}
    logged = [server.post("/api/v1/contacts", lotte, body) for body in (invitation, answer)]
    assert [r.status_code for r in logged] == [201, 201], [r.text for r in logged]
    first, second = (r.json() for r in logged)
    assert first["client_id"] == second["client_id"]
    assert first["position"] < second["position"]
    assert datetime.fromisoformat(first["recorded_at"]).utcoffset() is not None

    # Reading them back gives what she logged, each with its one "logged" event.
    for receipt, body in ((first, invitation), (second, answer)):
        response = server.get(f"/api/v1/contacts/{receipt['contact_id']}", lotte)
        assert response.status_code == 200, response.text
        contact = response.json()
        assert contact["client_id"] == receipt["client_id"]
        assert contact["account_id"] == "lotte"
        assert contact["team_id"] == "jac-oostende"
        assert (contact["channel"], contact["profile_kind"]) == ("messenger", "shared")
        assert (contact["direction"], contact["nature"]) == (body["direction"], body["nature"])
        assert datetime.fromisoformat(contact["occurred_at"]) == datetime.fromisoformat(body["occurred_at"])
        assert contact["message_count"] == body.get("message_count", 1)
        assert contact["retracted"] is False
        assert [(e["type"], e["position"]) for e in contact["history"]] == [("logged", receipt["position"])]
        assert "client_ref" not in contact


def test_a_client_ref_never_reaches_the_store_or_the_server_log(server, worker):
    ref = f"Zoë-{uuid.uuid4().hex[:12]}-Vandenbroucke"

    response = server.post("/api/v1/contacts", worker.token, worker.contact(ref))

    assert response.status_code == 201, response.text
    stored = stored_bytes(server.data_dir)
    assert "postgres:logbook_events" in stored if TestStore.is_postgres() else "logbook.sqlite3-wal" in stored
    forms = {ref, ref.casefold(), ref.upper()}
    for name, raw in stored.items():
        for form in forms:
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert form.encode(encoding) not in raw, f"{form!r} in {name} ({encoding})"
    log = server.log()
    assert not any(form in log for form in forms)
