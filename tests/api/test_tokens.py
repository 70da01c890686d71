"""Token lifecycle over HTTP: expiry, revocation, rotation, deactivation, and the throttle of failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api import create_app
from logbook.throttle import THROTTLE_FILE

TTL = timedelta(days=90)
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}


def revoke(world, account_id, who):
    return world.post(f"/api/v1/accounts/{account_id}/tokens/revoke", {}, who=who)


def rotate(world, account_id, who):
    return world.post(f"/api/v1/accounts/{account_id}/tokens", {}, who=who)


def deactivate(world, account_id, who="admin"):
    return world.post(f"/api/v1/accounts/{account_id}/deactivation", {}, who=who)


def me(world, who=None, token=None, environ=None):
    headers = {"Authorization": f"Bearer {token}"} if token else world.headers(who)
    return world.client.get("/api/v1/me", headers=headers, environ_overrides=environ or {})


# Expiry.

def test_a_token_works_until_exactly_its_lifetime_has_passed(world):
    world.clock.advance(TTL - timedelta(seconds=1))
    assert me(world, "ann").status_code == 200

    world.clock.advance(timedelta(seconds=1))
    response = me(world, "ann")

    assert response.status_code == 401
    assert world.error_of(response)["code"] == "unauthorized"


# Revocation.

@pytest.mark.parametrize("who", ["ann", "admin"], ids=["the account itself", "an admin"])
def test_the_account_itself_or_an_admin_revokes_all_its_tokens(world, logbook, who):
    # Ann has the token she was added with, and two more from `logbook accounts token`.
    more = [logbook.issue_token("ann"), logbook.issue_token("ann")]

    response = revoke(world, "ann", who)

    assert response.status_code == 200
    assert response.get_json() == {"revoked": 3}
    assert [me(world, token=token).status_code for token in [world.tokens["ann"], *more]] == [401] * 3
    assert me(world, "carl").status_code == 200


@pytest.mark.parametrize("who", ["lena", "bob", "carl", "rita"])
def test_no_one_else_revokes_an_accounts_tokens(world, who):
    stored = world.events_in_store()

    response = revoke(world, "ann", who)

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "not_account_holder"
    assert world.events_in_store() == stored
    assert me(world, "ann").status_code == 200


def test_revoking_an_account_without_working_tokens_revokes_none(world):
    revoke(world, "ann", "admin")

    response = revoke(world, "ann", "admin")

    assert response.status_code == 200
    assert response.get_json() == {"revoked": 0}


def test_revoking_the_tokens_of_an_unknown_account_is_not_found(world):
    response = revoke(world, "nobody", "admin")

    assert response.status_code == 404
    assert world.error_of(response)["code"] == "not_found"


# Rotation.

def test_rotation_gives_a_new_token_and_stops_the_earlier_ones(world):
    earlier = world.tokens["ann"]

    response = rotate(world, "ann", "ann")

    assert response.status_code == 201
    token = response.get_json()["token"]
    assert set(response.get_json()) == {"token"} and token != earlier
    assert me(world, token=token).get_json()["account_id"] == "ann"
    assert me(world, token=earlier).status_code == 401


def test_an_admin_rotates_a_token_for_an_account(world):
    response = rotate(world, "carl", "admin")

    assert response.status_code == 201
    assert me(world, token=response.get_json()["token"]).get_json()["account_id"] == "carl"
    assert me(world, "carl").status_code == 401


def test_no_one_else_rotates_an_accounts_token(world):
    response = rotate(world, "ann", "lena")

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "not_account_holder"
    assert me(world, "ann").status_code == 200


# Deactivation.

def test_an_admin_deactivates_an_account_whose_tokens_stop_at_once(world):
    assert me(world, "ann").status_code == 200

    response = deactivate(world, "ann")

    assert response.status_code == 200
    assert response.get_json() == {
        "account_id": "ann", "name": "Ann", "role": "worker", "team_id": "jac-oostende", "function": "counsellor",
        "intern": False, "active": False, "deactivated_at": world.clock.now.isoformat(),
    }
    assert me(world, "ann").status_code == 401


def test_deactivating_twice_is_a_conflict(world):
    deactivate(world, "ann")
    stored = world.events_in_store()

    response = deactivate(world, "ann")

    assert response.status_code == 409
    assert world.error_of(response)["code"] == "account_deactivated"
    assert world.events_in_store() == stored


def test_a_deactivated_account_gets_no_new_token(world):
    deactivate(world, "ann")

    response = rotate(world, "ann", "admin")

    assert response.status_code == 409
    assert world.error_of(response)["code"] == "account_deactivated"


def test_an_admin_cannot_deactivate_themselves(world):
    response = deactivate(world, "admin")

    assert response.status_code == 409
    error = world.error_of(response)
    assert error["code"] == "self_deactivation"
    assert "another admin" in error["message"]
    assert me(world, "admin").status_code == 200


@pytest.mark.parametrize("who", ["ann", "lena", "rita"])
def test_only_an_admin_deactivates(world, who):
    response = deactivate(world, "carl", who=who)

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "role_not_allowed"
    assert me(world, "carl").status_code == 200


def test_deactivating_an_unknown_account_is_not_found(world):
    assert deactivate(world, "nobody").status_code == 404


# The throttle of failed authentications.

def fail(world, times, environ=ATTACKER):
    return [me(world, token="lbk_guessed", environ=environ).status_code for _ in range(times)]


def test_the_21st_failure_within_a_minute_is_too_many(world):
    assert fail(world, 20) == [401] * 20

    response = me(world, token="lbk_guessed", environ=ATTACKER)

    assert response.status_code == 429
    assert world.error_of(response)["code"] == "too_many_requests"
    assert response.headers["Retry-After"] == "60"
    assert "lbk_guessed" not in response.get_data(as_text=True)


def test_a_throttled_address_is_refused_without_a_token_too(world):
    fail(world, 20)

    response = world.client.get("/api/v1/me", environ_overrides=ATTACKER)

    assert response.status_code == 429


def test_a_valid_token_is_never_throttled(world):
    fail(world, 25)

    response = me(world, "ann", environ=ATTACKER)

    assert response.status_code == 200


def test_other_addresses_are_not_throttled(world):
    fail(world, 21)

    assert fail(world, 1, environ={"REMOTE_ADDR": "198.51.100.1"}) == [401]


def test_the_wait_shrinks_and_the_address_is_let_through_once_the_window_has_passed(world):
    fail(world, 20)
    world.clock.advance(timedelta(seconds=45))

    waiting = me(world, token="lbk_guessed", environ=ATTACKER)
    world.clock.advance(timedelta(seconds=15))
    after = me(world, token="lbk_guessed", environ=ATTACKER)

    assert (waiting.status_code, waiting.headers["Retry-After"]) == (429, "15")
    assert after.status_code == 401


def test_revoked_and_expired_tokens_count_as_failures(world):
    revoke(world, "ann", "ann")
    world.clock.advance(TTL)  # and every other token has expired

    statuses = [me(world, who, environ=ATTACKER).status_code for who in ["ann", "carl"] * 11]

    assert statuses == [401] * 20 + [429] * 2


def test_failures_in_every_process_on_one_data_directory_add_up(world, tmp_path, clock):
    # A second app on the same data directory, as a second gunicorn worker is.
    other = create_app({"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": "x" * 40, "CLOCK": clock})
    other_client = other.test_client()
    fail(world, 10)
    statuses = [other_client.get("/api/v1/me", environ_overrides=ATTACKER).status_code for _ in range(11)]
    other.extensions["logbook"].close()
    other.extensions["views"].close()

    assert statuses == [401] * 10 + [429]
    assert (tmp_path / THROTTLE_FILE).exists()
