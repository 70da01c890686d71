"""GET /api/v1/research/compare: the comparison report's figures, for researchers alone."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pytest

from logbook.compare import compare

COMPARE = "/api/v1/research/compare"


@pytest.fixture(scope="module")
def world(open_world: Any, tmp_path_factory: Any) -> Any:
    """Ostend's Ann refers a help question, its intern Bob keeps in touch, Bruges' Carl helps and then refers."""
    world = open_world(tmp_path_factory.mktemp("compare"))
    hours_ago = lambda hours: (world.now - timedelta(hours=hours)).isoformat()  # noqa: E731
    world.logged_contact("ann", nature="help_question", thread="t-ann", occurred_at=hours_ago(30))
    world.logged_contact("ann", nature="referral_safe_chat", thread="t-ann", occurred_at=hours_ago(27))
    world.logged_contact("bob", client_ref="mira-b", occurred_at=hours_ago(26))
    world.logged_contact("ann", client_ref="mira-b", profile_id="jac-oostende-whatsapp", occurred_at=hours_ago(25))
    for nature, hours in (("help_question", 6), ("help_conversation", 5), ("referral_safe_chat", 4)):
        world.logged_contact("carl", client_ref="noah-c", nature=nature, thread="t-carl", occurred_at=hours_ago(hours))
    world.project()
    return world


def figures(world: Any, by: str, **period: Any) -> Any:
    """The function's figures, as JSON would carry them."""
    views = world.app.extensions["views"]
    with world.app.app_context():
        comparison = compare(world.app.extensions["logbook"].get(), views.get("boundaries"), by=by, **period)
    return json.loads(json.dumps(asdict(comparison), default=str))


@pytest.mark.parametrize("by", ["site", "team", "profile_kind"])
def test_a_researcher_gets_the_figures_the_report_is_made_of(world: Any, by: str) -> None:
    response = world.get(f"{COMPARE}?by={by}", who="rita")

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    expected = figures(world, by)
    assert set(body) == {"by", "from", "to", "position", "policy_versions", "events_digest", "groups"}
    assert (body["by"], body["from"], body["to"]) == (by, None, None)
    assert body["position"] == world.events_in_store()
    assert (body["policy_versions"], body["events_digest"]) == (expected["policy_versions"],
                                                                  expected["events_digest"])
    assert body["groups"] == expected["groups"]


def test_the_sites_show_who_referred_and_who_helped(world: Any) -> None:
    groups = {group["key"]: group for group in world.get(f"{COMPARE}?by=site", who="rita").get_json()["groups"]}
    ostend, bruges = groups["Oostende"], groups["Brugge"]

    assert list(groups) == ["Brugge", "Oostende"]
    assert ostend["contacts"]["by_profile_kind"] == {"personal": 3, "shared": 1, "professional": 0, "page": 0}
    assert (ostend["contacts"]["by_interns"], ostend["crossings"]["by_rule"]["intern_personal_profile"]) == (1, 1)
    assert ostend["referral"] == {"help_questions": 1, "referred": 1, "rate": 1.0, "median_hours": 3.0,
                                  "p90_hours": 3.0}
    assert bruges["drift"] == {"conversations": 1, "drifted": 1, "share": 1.0, "drifted_then_referred": 1,
                               "referred_share": 1.0}
    assert ostend["drift"]["drifted"] == 0


def test_a_period_is_echoed_and_limits_the_contacts(world: Any) -> None:
    start = (world.now - timedelta(hours=10)).isoformat()

    body = world.get(f"{COMPARE}?by=site&from={start.replace('+', '%2B')}&to=2025-03-02", who="rita").get_json()

    assert (body["from"], body["to"]) == (start, "2025-03-02T00:00:00+01:00")
    assert [group["key"] for group in body["groups"]] == ["Brugge"]
    assert body["groups"][0]["contacts"]["total"] == 3


@pytest.mark.parametrize("who", ["admin", "ann", "lena", "carl"])
def test_everyone_but_researchers_is_refused(world: Any, who: str) -> None:
    response = world.get(f"{COMPARE}?by=site", who=who)

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "role_not_allowed"


def test_without_a_token_it_is_401(world: Any) -> None:
    response = world.client.get(f"{COMPARE}?by=site", environ_overrides={"REMOTE_ADDR": "10.9.9.9"})

    assert response.status_code == 401


@pytest.mark.parametrize("query", [
    "by=rule", "by=month", "", "by=site&from=yesterday", "by=site&from=2025-03-02&to=2025-03-01", "by=site&colour=red",
])
def test_a_bad_query_is_422_naming_its_field(world: Any, query: str) -> None:
    response = world.get(f"{COMPARE}?{query}", who="rita")

    assert response.status_code == 422
    error = world.error_of(response)
    assert error["fields"]


def test_the_openapi_document_describes_the_figures(world: Any) -> None:
    document = world.get("/api/v1/openapi.json").get_json()

    operation = document["paths"][COMPARE]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"by", "from", "to", "after"}
    schemas = document["components"]["schemas"]
    assert set(schemas["Comparison"]["properties"]) == {"by", "from", "to", "position", "policy_versions",
                                                         "events_digest", "groups"}
