"""What answers without a token: liveness, the OpenAPI document and the docs."""

from __future__ import annotations

API_PATHS = {
    "/healthz",
    "/api/v1/me",
    "/api/v1/teams",
    "/api/v1/accounts",
    "/api/v1/accounts/{account_id}/tokens",
    "/api/v1/accounts/{account_id}/tokens/revoke",
    "/api/v1/accounts/{account_id}/deactivation",
    "/api/v1/profiles",
    "/api/v1/contacts",
    "/api/v1/contacts/batch",
    "/api/v1/contacts/{contact_id}",
    "/api/v1/contacts/{contact_id}/corrections",
    "/api/v1/contacts/{contact_id}/retraction",
    "/api/v1/clients/lookup",
    "/api/v1/clients/{client_id}/follow-ups",
    "/api/v1/clients/{client_id}/follow-ups/{follow_up_id}/completion",
    "/api/v1/clients/{client_id}/timeline",
    "/api/v1/clients/{client_id}/erasure",
    "/api/v1/teams/{team_id}/follow-ups",
    "/api/v1/teams/{team_id}/clients",
    "/api/v1/policies",
    "/api/v1/crossings",
    "/api/v1/crossings/{crossing_id}",
    "/api/v1/crossings/{crossing_id}/reviews",
    "/api/v1/reports/boundaries",
    "/api/v1/audit",
    "/api/v1/research/events",
    "/api/v1/research/replays",
    "/api/v1/research/replays/{replay_id}",
    "/api/v1/research/compare",
}


def test_the_openapi_document_lists_every_path_without_a_token(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == API_PATHS


def test_the_openapi_document_declares_bearer_authentication(client):
    document = client.get("/api/v1/openapi.json").get_json()

    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}


def test_the_browsable_docs_answer_without_a_token(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert "openapi.json" in response.get_data(as_text=True)


def test_healthz_answers_without_a_token_with_the_last_position(world, client):
    world.logged_contact("ann")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "position": world.events_in_store()}


def test_an_unknown_url_answers_404_in_the_error_shape(client, api):
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert api.error_of(response)["fields"] == {}


def test_a_wrong_method_answers_405_in_the_error_shape(world):
    response = world.get("/api/v1/contacts", who="ann")

    assert response.status_code == 405
    assert world.error_of(response)["code"] == "method_not_allowed"


def test_the_openapi_document_describes_errors_in_the_shape_they_are_answered(client):
    from api.errors import ErrorSchema

    document = client.get("/api/v1/openapi.json").get_json()
    answered = client.post("/api/v1/contacts", json={}).get_json()

    assert set(document["components"]["schemas"]["Error"]["properties"]) == {"error"}
    assert set(document["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message", "fields"}
    assert ErrorSchema().validate(answered) == {}
