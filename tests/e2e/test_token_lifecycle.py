"""Revocation and deactivation under real gunicorn: whichever worker answers, the token stops at once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

REQUESTS = 6
"""Requests one after another, for both sync workers to answer some; few, as each refusal counts against the address."""

STOPPED = {401, 429}
"""A valid token is never throttled, so a 429 too says the token no longer works."""


def statuses(server, token):
    return {server.get("/api/v1/me", token).status_code for _ in range(REQUESTS)}


def test_a_revoked_token_stops_in_every_worker_at_once(server, worker):
    assert statuses(server, worker.token) == {200}  # cached by whichever workers answered

    response = server.post(f"/api/v1/accounts/{worker.account_id}/tokens/revoke", worker.token, {})

    assert (response.status_code, response.json()) == (200, {"revoked": 1})
    assert statuses(server, worker.token) <= STOPPED


def test_a_rotated_token_replaces_the_old_one_in_every_worker(server, worker):
    assert statuses(server, worker.token) == {200}

    response = server.post(f"/api/v1/accounts/{worker.account_id}/tokens", worker.token, {})

    assert response.status_code == 201, response.text
    assert statuses(server, response.json()["token"]) == {200}
    assert statuses(server, worker.token) <= STOPPED


def test_a_deactivated_accounts_token_stops_in_every_worker_at_once(server, worker):
    assert statuses(server, worker.token) == {200}

    response = server.post(f"/api/v1/accounts/{worker.account_id}/deactivation", server.admin_token, {})

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert statuses(server, worker.token) <= STOPPED
