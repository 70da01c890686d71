"""Writes through gunicorn, reads of the read models the projector process keeps, with ?after=<position>."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_a_worker_reads_the_timeline_and_a_team_lead_the_crossing_right_after_logging(server, projector, worker):
    # The worker helps a client on Messenger, in a conversation of the team's shared profile.
    logged = server.post("/api/v1/contacts", worker.token, worker.contact("Mila V.", nature="help_conversation"))
    assert logged.status_code == 201, logged.text
    receipt = logged.json()
    lead = server.post("/api/v1/accounts", server.admin_token, {
        "account_id": f"lead-{worker.team_id}", "name": "Lena", "role": "team_lead",
        "team_id": worker.team_id, "function": "counsellor",
    }).json()["token"]

    # Reading with the write's position waits for the projector, then shows the write.
    timeline = server.get(f"/api/v1/clients/{receipt['client_id']}/timeline?after={receipt['position']}",
                          worker.token)
    crossings = server.get(f"/api/v1/crossings?team_id={worker.team_id}&after={receipt['position']}", lead)

    assert timeline.status_code == 200, timeline.text
    assert [item["contact_id"] for item in timeline.json()["items"]] == [receipt["contact_id"]]
    assert crossings.status_code == 200, crossings.text
    [crossing] = crossings.json()["items"]
    assert (crossing["rule"], crossing["severity"], crossing["status"]) == ("drift_into_help", "high", "open")
    assert crossing["contact_ids"] == [receipt["contact_id"]]


def test_a_read_after_a_position_the_store_has_not_reached_answers_503_with_retry_after(server, projector, worker):
    ahead = server.count_events() + 1_000_000

    response = server.get(f"/api/v1/teams/{worker.team_id}/clients?after={ahead}", worker.token)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "projection_behind"
