"""Publishing and listing versions of the boundary policy over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from events.policy import SECTOR_AGREEMENT_2019

PATH = "/api/v1/policies"


def body(version: str = "caw-2027", **more: Any) -> dict[str, Any]:
    return {"version": version, "effective_from": "2027-01-01T00:00:00+01:00", **more}


def test_an_admin_publishes_a_version_and_gets_it_back_complete_with_its_position(world):
    before = world.events_in_store()

    response = world.post(PATH, body(rules={"out_of_hours": {"enabled": True}},
                                     overrides={"caw-zuid": {"personal_profile_contact": {"enabled": False}}}),
                          who="admin")

    assert response.status_code == 201, response.get_data(as_text=True)
    published = response.get_json()
    assert before < published["position"] <= world.events_in_store()
    assert published["version"] == "caw-2027"
    assert published["effective_from"] == "2027-01-01T00:00:00+01:00"
    assert published["conversation_gap_hours"] == 24
    assert set(published["rules"]) == set(SECTOR_AGREEMENT_2019.to_body()["rules"])
    assert published["rules"]["out_of_hours"]["enabled"] is True
    assert published["rules"]["drift_into_help"] == {"enabled": True, "severity": "high",
                                                     "params": {"referred_severity": "low"}}
    assert published["overrides"] == {"caw-zuid": {"personal_profile_contact": {
        "enabled": False, "severity": "low", "params": {"experiment_organisations": ["caw-nwvl"]}}}}


@pytest.mark.parametrize("who", ["lena", "admin"])
def test_team_leads_and_admins_list_the_built_in_agreement_then_the_published_versions(world, who):
    world.post(PATH, body("caw-2028", effective_from="2028-01-01T00:00:00+01:00"), who="admin")
    world.post(PATH, body("caw-2027"), who="admin")

    response = world.get(PATH, who=who)

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["version"] for item in items] == ["sector-agreement-2019", "caw-2028", "caw-2027"]
    assert items[0] == SECTOR_AGREEMENT_2019.to_body()
    assert items[0]["effective_from"] == "2019-01-01T00:00:00+01:00"


@pytest.mark.parametrize("method, who", [("POST", "ann"), ("GET", "ann"), ("GET", "rita"), ("POST", "rita"),
                                         ("POST", "lena")])
def test_roles_not_allowed_are_forbidden(world, method, who):
    before = world.events_in_store()

    response = world.post(PATH, body(), who=who) if method == "POST" else world.get(PATH, who=who)

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "role_not_allowed"
    assert world.events_in_store() == before


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_policies_need_a_token(world, method):
    response = world.post(PATH, body()) if method == "POST" else world.get(PATH)

    assert response.status_code == 401


@pytest.mark.parametrize("sent, field", [
    (body(rules={"bogus": {"enabled": True}}), "rules.bogus"),
    (body(rules={"drift_into_help": {"severity": "critical"}}), "rules.drift_into_help.severity"),
    (body(rules={"out_of_hours": {"params": {"working_hours": {
        "weekdays": [1], "start": "09:00", "end": "17:00", "timezone": "Mars/Olympus"}}}}),
     "rules.out_of_hours.params.working_hours.timezone"),
    (body(overrides={"caw-zuid": {"drift_into_help": {"enabled": "no"}}}), "overrides.caw-zuid.drift_into_help.enabled"),
])
def test_a_policy_that_breaks_a_rule_is_refused_naming_the_field_and_writes_nothing(world, sent, field):
    before = world.events_in_store()

    response = world.post(PATH, sent, who="admin")

    assert response.status_code == 422
    error = world.error_of(response)
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert world.events_in_store() == before


@pytest.mark.parametrize("sent, field", [
    ({**body(), "colour": "red"}, "colour"),
    ({**body(), "position": 3}, "position"),
    (body(effective_from="2027-01-01T00:00:00"), "effective_from"),
    (body(version="CAW 2027"), "version"),
    (body(conversation_gap_hours=0), "conversation_gap_hours"),
    (body(rules=[]), "rules"),
    ({"effective_from": "2027-01-01T00:00:00+01:00"}, "version"),
])
def test_a_body_of_the_wrong_shape_is_refused_by_the_schema_and_writes_nothing(world, sent, field):
    before = world.events_in_store()

    response = world.post(PATH, sent, who="admin")

    assert response.status_code == 422
    error = world.error_of(response)
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]
    assert world.events_in_store() == before


def test_a_version_published_twice_is_a_conflict(world):
    world.post(PATH, body(), who="admin")
    before = world.events_in_store()

    response = world.post(PATH, body(), who="admin")

    assert response.status_code == 409
    assert world.error_of(response)["code"] == "already_exists"
    assert world.events_in_store() == before


def test_the_built_in_version_cannot_be_published(world):
    before = world.events_in_store()

    response = world.post(PATH, body("sector-agreement-2019"), who="admin")

    assert response.status_code == 409
    assert world.error_of(response)["code"] == "already_exists"
    assert world.events_in_store() == before


def test_the_openapi_document_describes_publishing_and_listing(client):
    document = client.get("/api/v1/openapi.json").get_json()

    operations = document["paths"][PATH]
    assert operations["post"]["summary"].startswith("Publish a version of the boundary policy")
    assert operations["get"]["summary"].startswith("List the versions of the policy")
    assert "201" in operations["post"]["responses"] and "200" in operations["get"]["responses"]
