"""A client's timeline and a team's lists of clients and follow-ups over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

import api.read_models

CONTACT_ITEM_KEYS = {
    "type", "contact_id", "occurred_at", "recorded_at", "team_id", "account_id", "profile_id", "profile_kind",
    "channel", "direction", "nature", "thread", "message_count", "duration_minutes", "topics", "corrected",
    "retracted", "note", "note_erased",
}
FOLLOW_UP_ITEM_KEYS = {
    "type", "follow_up_id", "occurred_at", "due", "planned_at", "completed_at", "team_id", "account_id", "status",
}


def timeline_path(client_id: str, query: str = "") -> str:
    return f"/api/v1/clients/{client_id}/timeline{query}"


@pytest.fixture
def met(world: Any) -> dict[str, Any]:
    """Ann met Jonas an hour ago and planned to follow him up in a week; the projector has run."""
    contact = world.logged_contact("ann", topics=["school"])
    follow_up = world.follow_up("ann", contact["client_id"]).get_json()
    world.project()
    return {"client_id": contact["client_id"], "contact": contact, "follow_up": follow_up}


def test_a_timeline_answers_the_clients_status_items_and_cursor(world, met):
    response = world.get(timeline_path(met["client_id"]), who="ann")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"client_id", "status", "last_contact_at", "items", "next_cursor"}
    assert (body["client_id"], body["status"], body["next_cursor"]) == (met["client_id"], "follow_up_due", None)
    assert datetime.fromisoformat(body["last_contact_at"]) == world.now - timedelta(hours=1)
    contact, follow_up = body["items"]
    assert set(contact) == CONTACT_ITEM_KEYS
    assert (contact["type"], contact["contact_id"], contact["account_id"], contact["topics"]) == (
        "contact", met["contact"]["contact_id"], "ann", ["school"])
    assert set(follow_up) == FOLLOW_UP_ITEM_KEYS
    assert (follow_up["type"], follow_up["follow_up_id"], follow_up["status"], follow_up["completed_at"]) == (
        "follow_up", met["follow_up"]["follow_up_id"], "planned", None)
    assert follow_up["occurred_at"] == follow_up["due"]


@pytest.mark.parametrize(("who", "status"), [
    ("ann", 200), ("bob", 200), ("lena", 200), ("admin", 403), ("carl", 404), ("rita", 403),
])
def test_a_timeline_is_read_by_the_teams_that_met_the_client_alone(world, met, who, status):
    response = world.get(timeline_path(met["client_id"]), who=who)

    assert response.status_code == status
    if status != 200:
        assert world.error_of(response)["code"] == {404: "not_found", 403: "role_not_allowed"}[status]


def test_another_teams_client_and_an_unknown_client_are_not_found_alike(world, met):
    other_team = world.get(timeline_path(met["client_id"]), who="carl")
    unknown = world.get(timeline_path("7c0e2f0a-5d52-4c55-9a8e-0d1f2b3c4d5e"), who="ann")
    unknown_to_bruges = world.get(timeline_path("7c0e2f0a-5d52-4c55-9a8e-0d1f2b3c4d5e"), who="carl")

    for response in (other_team, unknown, unknown_to_bruges):
        assert response.status_code == 404
        assert world.error_of(response)["message"] == "No such client."


def test_once_bruges_met_the_client_carl_sees_both_teams_contacts(world, met):
    world.logged_contact("carl", occurred_at=(world.now - timedelta(minutes=30)).isoformat())
    world.project()

    response = world.get(timeline_path(met["client_id"]), who="carl")

    assert response.status_code == 200
    assert [item["team_id"] for item in response.get_json()["items"] if item["type"] == "contact"] == [
        "jac-oostende", "jac-brugge"]


def test_a_read_after_a_position_sees_that_event(world, met):
    later = world.logged_contact("bob", occurred_at=(world.now - timedelta(minutes=5)).isoformat())
    world.project()

    response = world.get(timeline_path(met["client_id"], f"?after={later['position']}"), who="ann")

    assert response.status_code == 200
    assert later["contact_id"] in [item.get("contact_id") for item in response.get_json()["items"]]


@pytest.mark.parametrize("path", [
    "/api/v1/clients/{client_id}/timeline", "/api/v1/teams/jac-oostende/clients",
    "/api/v1/teams/jac-oostende/follow-ups",
])
def test_a_read_after_a_position_the_read_model_has_not_reached_answers_503(world, met, monkeypatch, path):
    monkeypatch.setattr(api.read_models, "WAIT_SECONDS", 0.2)

    response = world.get(path.format(**met) + f"?after={world.events_in_store() + 1}", who="ann")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert world.error_of(response)["code"] == "projection_behind"


def test_pages_of_a_timeline_follow_the_cursor(world, met):
    for hours in (5, 4, 3):
        world.logged_contact("ann", occurred_at=(world.now - timedelta(hours=hours)).isoformat())
    world.project()

    first = world.get(timeline_path(met["client_id"], "?limit=3"), who="ann").get_json()
    rest = world.get(timeline_path(met["client_id"], f"?limit=3&cursor={first['next_cursor']}"), who="ann").get_json()

    assert [len(first["items"]), len(rest["items"]), rest["next_cursor"]] == [3, 2, None]
    assert rest["items"][-1]["type"] == "follow_up"


def test_a_teams_follow_ups_list_its_open_ones(world, met):
    overdue = world.follow_up("lena", met["client_id"], due=(world.now - timedelta(days=1)).isoformat())
    world.project()

    everything = world.get("/api/v1/teams/jac-oostende/follow-ups", who="bob")
    only_overdue = world.get("/api/v1/teams/jac-oostende/follow-ups?status=overdue", who="bob")
    only_due = world.get("/api/v1/teams/jac-oostende/follow-ups?status=due", who="bob")

    assert everything.status_code == 200
    assert set(everything.get_json()) == {"items", "next_cursor"}
    items = everything.get_json()["items"]
    assert set(items[0]) == {"follow_up_id", "client_id", "due", "planned_at", "account_id", "status"}
    assert [(i["follow_up_id"], i["status"], i["account_id"]) for i in items] == [
        (overdue.get_json()["follow_up_id"], "overdue", "lena"), (met["follow_up"]["follow_up_id"], "due", "ann")]
    assert [i["status"] for i in only_overdue.get_json()["items"]] == ["overdue"]
    assert [i["status"] for i in only_due.get_json()["items"]] == ["due"]


def test_a_teams_clients_list_their_status(world, met):
    world.logged_contact("ann", client_ref="sara-v", nature="referral_safe_chat")
    world.project()

    everything = world.get("/api/v1/teams/jac-oostende/clients", who="lena")
    referred = world.get("/api/v1/teams/jac-oostende/clients?status=referred", who="lena")

    assert everything.status_code == 200
    assert set(everything.get_json()) == {"items", "next_cursor"}
    items = everything.get_json()["items"]
    assert set(items[0]) == {"client_id", "status", "last_contact_at", "next_due", "open_follow_ups"}
    assert sorted(i["status"] for i in items) == ["follow_up_due", "referred"]
    assert [i["status"] for i in referred.get_json()["items"]] == ["referred"]
    jonas = next(i for i in items if i["client_id"] == met["client_id"])
    assert (jonas["open_follow_ups"], jonas["next_due"] is not None) == (1, True)


@pytest.mark.parametrize("path", ["/api/v1/teams/jac-oostende/clients", "/api/v1/teams/jac-oostende/follow-ups"])
@pytest.mark.parametrize(("who", "status"), [
    ("ann", 200), ("lena", 200), ("admin", 403), ("carl", 404), ("rita", 403),
])
def test_a_teams_lists_are_read_by_its_members_alone(world, met, path, who, status):
    response = world.get(path, who=who)

    assert response.status_code == status
    if status == 404:
        assert world.error_of(response)["message"] == "No such team."


@pytest.mark.parametrize(("query", "field"), [
    ("?cursor=not-a-cursor", "cursor"),
    ("?cursor=MjAyNQ", "cursor"),
    ("?limit=0", "limit"),
    ("?limit=501", "limit"),
    ("?limit=many", "limit"),
    ("?after=-1", "after"),
    ("?sort=desc", "sort"),
])
@pytest.mark.parametrize("path", [
    "/api/v1/clients/{client_id}/timeline", "/api/v1/teams/jac-oostende/clients",
    "/api/v1/teams/jac-oostende/follow-ups",
])
def test_bad_query_arguments_answer_422_naming_the_argument(world, met, path, query, field):
    response = world.get(path.format(**met) + query, who="ann")

    assert response.status_code == 422
    assert set(world.error_of(response)["fields"]) == {field}


@pytest.mark.parametrize("path", ["/api/v1/teams/jac-oostende/clients", "/api/v1/teams/jac-oostende/follow-ups"])
def test_a_status_a_list_does_not_know_answers_422(world, path):
    response = world.get(f"{path}?status=forgotten", who="ann")

    assert response.status_code == 422
    assert set(world.error_of(response)["fields"]) == {"status"}


def test_the_list_of_teams_still_answers_admins(world):
    response = world.get("/api/v1/teams", who="admin")

    assert response.status_code == 200
    assert [team["team_id"] for team in response.get_json()["items"]] == ["jac-oostende", "jac-brugge"]
