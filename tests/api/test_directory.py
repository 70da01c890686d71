"""Teams, accounts and profiles, which only an admin registers."""

from __future__ import annotations


def test_an_admin_registers_a_team(api):
    team = {"team_id": "salon", "name": "'t Salon", "organisation": "caw-nwvl", "site": "Brugge",
            "service": "youth_work"}

    response = api.post("/api/v1/teams", team, who="admin")

    assert response.status_code == 201
    assert response.get_json() == team


def test_an_admin_lists_the_teams_in_the_order_they_were_registered(api):
    for team_id in ("jac-oostende", "jac-brugge", "adults-oostende"):
        api.add_team(team_id)

    response = api.get("/api/v1/teams", who="admin")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"items"}
    assert [team["team_id"] for team in body["items"]] == ["jac-oostende", "jac-brugge", "adults-oostende"]
    assert body["items"][1] == {"team_id": "jac-brugge", "name": "Team jac-brugge", "organisation": "caw-nwvl",
                                "site": "Oostende", "service": "jac"}


def test_an_admin_adds_an_intern_and_receives_the_token_once(api):
    api.add_team("jac-oostende")
    account = {"account_id": "bob", "name": "Bob", "role": "worker", "team_id": "jac-oostende",
               "function": "counsellor", "intern": True}

    response = api.post("/api/v1/accounts", account, who="admin")

    assert response.status_code == 201
    body = response.get_json()
    token = body.pop("token")
    assert body == account
    assert isinstance(token, str) and len(token) >= 32


def test_a_new_accounts_token_authenticates_it(api):
    api.add_team("jac-oostende")
    api.add_account("ann", team_id="jac-oostende")

    response = api.post("/api/v1/clients/lookup", {"client_ref": "jonas-k"}, who="ann")

    assert response.status_code == 200


def test_a_researcher_is_added_without_team_or_function(api):
    response = api.post("/api/v1/accounts", {"account_id": "rita", "name": "Rita", "role": "researcher"},
                        who="admin")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"account_id", "name", "role", "team_id", "function", "intern", "token"}
    assert (body["team_id"], body["function"], body["intern"]) == (None, None, False)


def test_an_admin_registers_a_shared_profile(api):
    api.add_team("jac-brugge", site="Brugge")
    for who in ("carl", "dina"):
        api.add_account(who, team_id="jac-brugge")
    profile = {"profile_id": "jac-brugge-messenger", "channel": "messenger", "kind": "shared",
               "team_id": "jac-brugge", "users": ["carl", "dina"]}

    response = api.post("/api/v1/profiles", profile, who="admin")

    assert response.status_code == 201
    assert response.get_json() == profile
