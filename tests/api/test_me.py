"""GET /api/v1/me: who the token belongs to, and which profiles it may log through."""

from __future__ import annotations


def test_a_worker_sees_their_own_and_their_teams_shared_profiles_but_not_a_colleagues(world):
    response = world.get("/api/v1/me", who="ann")

    assert response.status_code == 200
    me = response.get_json()
    assert (me["account_id"], me["role"], me["team_id"], me["intern"]) == ("ann", "worker", "jac-oostende", False)
    assert me["profiles"] == [
        {"profile_id": "ann-messenger", "channel": "messenger", "kind": "personal"},
        {"profile_id": "jac-oostende-whatsapp", "channel": "whatsapp", "kind": "shared"},
    ]
    assert "token" not in me


def test_a_worker_of_another_team_sees_only_their_teams_profiles(world):
    me = world.get("/api/v1/me", who="carl").get_json()

    assert [p["profile_id"] for p in me["profiles"]] == ["carl-messenger"]


def test_a_researcher_has_no_team_and_no_profiles(world):
    me = world.get("/api/v1/me", who="rita").get_json()

    assert (me["role"], me["team_id"], me["profiles"]) == ("researcher", None, [])


def test_me_needs_a_token(world):
    response = world.get("/api/v1/me")

    assert response.status_code == 401
    assert world.error_of(response)["code"] == "unauthorized"
