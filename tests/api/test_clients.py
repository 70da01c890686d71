"""Looking up clients and planning their follow-ups over HTTP."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID


def test_a_worker_looks_up_the_client_id_of_a_ref(world, events_in_store):
    receipt = world.logged_contact("ann", client_ref="Jonas-K")
    before = events_in_store()

    response = world.post("/api/v1/clients/lookup", {"client_ref": "  jonas-k "}, who="bob")

    assert response.status_code == 200
    assert response.get_json() == {"client_id": receipt["client_id"]}
    assert events_in_store() == before


def test_the_same_ref_in_two_teams_of_one_organisation_is_one_client(world):
    in_ostend = world.logged_contact("ann", client_ref="Lotte")

    in_bruges = world.logged_contact("carl", client_ref="lotte")

    assert in_bruges["client_id"] == in_ostend["client_id"]


def test_the_same_ref_in_another_organisation_is_another_client(world):
    world.add_team("jac-gent", organisation="caw-oost-vlaanderen", site="Gent")
    world.add_account("greet", team_id="jac-gent")

    in_ghent = world.post("/api/v1/clients/lookup", {"client_ref": "lotte"}, who="greet").get_json()
    in_ostend = world.post("/api/v1/clients/lookup", {"client_ref": "lotte"}, who="ann").get_json()

    assert in_ghent["client_id"] != in_ostend["client_id"]


def test_a_follow_up_is_planned_and_completed(world, events_in_store):
    receipt = world.logged_contact("ann")
    client_path = f"/api/v1/clients/{receipt['client_id']}"

    planned = world.follow_up("ann", receipt["client_id"], due=(world.now - timedelta(days=1)).isoformat())
    follow_up = planned.get_json()
    completed = world.post(f"{client_path}/follow-ups/{follow_up['follow_up_id']}/completion", {}, who="bob")

    assert planned.status_code == 201
    assert set(follow_up) == {"follow_up_id", "position"}
    assert str(UUID(follow_up["follow_up_id"])) == follow_up["follow_up_id"]
    assert receipt["position"] < follow_up["position"]
    assert completed.status_code == 201
    assert set(completed.get_json()) == {"position"}
    assert completed.get_json()["position"] > follow_up["position"]
    assert completed.get_json()["position"] == events_in_store()


def test_a_team_lead_plans_a_follow_up_of_a_client_a_worker_met(world):
    receipt = world.logged_contact("ann")

    response = world.follow_up("lena", receipt["client_id"])

    assert response.status_code == 201


def test_a_client_comes_into_a_teams_scope_once_the_team_logs_a_contact_with_it(world):
    met_in_bruges = world.logged_contact("carl", client_ref="lotte")
    before_meeting = world.follow_up("ann", met_in_bruges["client_id"])

    world.logged_contact("ann", client_ref="LOTTE")
    after_meeting = world.follow_up("ann", met_in_bruges["client_id"])

    assert before_meeting.status_code == 404
    assert after_meeting.status_code == 201
