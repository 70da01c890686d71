"""Token lifecycle: tokens expire, are revoked and rotated, and stop with their account, in every process."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from events.errors import (
    AccountDeactivatedError,
    NotAccountHolderError,
    NotFoundError,
    RoleNotAllowedError,
    SelfDeactivationError,
)
from logbook.application import Logbook

TTL = timedelta(days=90)


def test_a_token_works_until_exactly_the_configured_lifetime_has_passed(world):
    token = world.logbook.issue_token("ann")

    # One microsecond before its 90th day it still works; at the 90th day it does not.
    world.clock.advance(TTL - timedelta(microseconds=1))
    assert world.logbook.authenticate(token).account_id == "ann"
    world.clock.advance(timedelta(microseconds=1))
    assert world.logbook.authenticate(token) is None


def test_the_lifetime_comes_from_the_settings(world):
    token = world.logbook.issue_token("ann")
    short_lived = Logbook(replace(world.logbook.settings, token_ttl_days=1), clock=world.clock)

    world.clock.advance(timedelta(days=1))

    assert world.logbook.authenticate(token).account_id == "ann"
    assert short_lived.authenticate(token) is None
    short_lived.close()


def test_an_account_revokes_its_own_tokens_and_learns_how_many_worked(world):
    # Ann has the token she was added with, and two more.
    tokens = [world.logbook.issue_token("ann"), world.logbook.issue_token("ann")]

    revoked = world.logbook.revoke_tokens(world.ann, "ann")

    assert revoked == 3
    assert [world.logbook.authenticate(token) for token in tokens] == [None, None]


def test_an_admin_revokes_the_tokens_of_any_account(world):
    token = world.logbook.issue_token("carl")

    assert world.logbook.revoke_tokens(world.admin, "carl") == 2
    assert world.logbook.authenticate(token) is None


@pytest.mark.parametrize("who", ["lena", "bob", "rita", "carl"])
def test_no_one_else_revokes_an_accounts_tokens(world, who):
    token = world.logbook.issue_token("ann")
    stored = world.logbook.count_events()

    with pytest.raises(NotAccountHolderError):
        world.logbook.revoke_tokens(getattr(world, who), "ann")

    assert world.logbook.count_events() == stored
    assert world.logbook.authenticate(token).account_id == "ann"


def test_revoking_again_counts_nothing(world):
    world.logbook.revoke_tokens(world.ann, "ann")
    stored = world.logbook.count_events()

    assert world.logbook.revoke_tokens(world.admin, "ann") == 0
    assert world.logbook.count_events() == stored


def test_expired_tokens_are_revoked_but_not_counted_and_never_come_back(world):
    token = world.logbook.issue_token("ann")
    world.clock.advance(TTL)

    revoked = world.logbook.revoke_tokens(world.admin, "ann")

    assert revoked == 0
    longer_lived = Logbook(replace(world.logbook.settings, token_ttl_days=3650), clock=world.clock)
    assert longer_lived.authenticate(token) is None
    longer_lived.close()


def test_revoking_the_tokens_of_an_unknown_account_finds_nothing(world):
    with pytest.raises(NotFoundError):
        world.logbook.revoke_tokens(world.admin, "nobody")


def test_rotation_replaces_every_earlier_token_in_one_save(world):
    earlier = world.logbook.issue_token("ann")
    stored = world.logbook.count_events()

    token = world.logbook.rotate_token(world.ann, "ann")

    assert world.logbook.authenticate(token).account_id == "ann"
    assert world.logbook.authenticate(earlier) is None
    # Revoked, issued, and the token's entry: three events, one transaction.
    assert world.logbook.count_events() == stored + 3
    assert world.logbook.revoke_tokens(world.ann, "ann") == 1


def test_no_one_else_rotates_an_accounts_token(world):
    with pytest.raises(NotAccountHolderError):
        world.logbook.rotate_token(world.lena, "ann")


def test_issuing_another_token_keeps_the_others(world):
    first = world.logbook.issue_token("ann")

    second = world.logbook.issue_token("ann")

    assert world.logbook.authenticate(first).account_id == world.logbook.authenticate(second).account_id == "ann"


def test_a_deactivated_accounts_tokens_stop_at_once(world):
    token = world.logbook.issue_token("ann")
    assert world.logbook.authenticate(token).active

    account = world.logbook.deactivate_account(world.admin, "ann")

    assert (account.active, account.deactivated_at) == (False, world.clock.now)
    assert world.logbook.authenticate(token) is None
    assert not world.logbook.account("ann").active


@pytest.mark.parametrize("command", [
    lambda world: world.logbook.deactivate_account(world.admin, "ann"),
    lambda world: world.logbook.issue_token("ann"),
    lambda world: world.logbook.rotate_token(world.admin, "ann"),
], ids=["deactivate", "issue a token", "rotate"])
def test_a_deactivated_account_is_not_deactivated_again_nor_given_tokens(world, command):
    world.logbook.deactivate_account(world.admin, "ann")
    stored = world.logbook.count_events()

    with pytest.raises(AccountDeactivatedError):
        command(world)

    assert world.logbook.count_events() == stored


def test_an_admin_cannot_deactivate_their_own_account(world):
    token = world.logbook.issue_token("admin")

    with pytest.raises(SelfDeactivationError):
        world.logbook.deactivate_account(world.admin, "admin")

    assert world.logbook.authenticate(token).account_id == "admin"


def test_only_an_admin_deactivates_an_account(world):
    with pytest.raises(RoleNotAllowedError):
        world.logbook.deactivate_account(world.lena, "ann")

    assert world.logbook.account("ann").active


def test_the_command_line_deactivates_without_an_actor(world):
    account = world.logbook.deactivate_account(None, "admin")

    assert not account.active


# Several processes on one store, as gunicorn's workers are.

def test_a_revocation_in_one_process_stops_the_token_in_another_at_once(world, open_logbook):
    token = world.logbook.issue_token("ann")
    other_process = open_logbook()
    assert other_process.authenticate(token).account_id == "ann"  # now cached there

    world.logbook.revoke_tokens(world.ann, "ann")

    assert other_process.authenticate(token) is None


def test_a_deactivation_in_one_process_stops_the_tokens_in_another_at_once(world, open_logbook):
    token = world.logbook.issue_token("ann")
    other_process = open_logbook()
    assert other_process.authenticate(token).account_id == "ann"

    world.logbook.deactivate_account(world.admin, "ann")

    assert other_process.authenticate(token) is None
    assert not other_process.account("ann").active


def test_a_token_issued_or_rotated_in_one_process_works_in_another(world, open_logbook):
    other_process = open_logbook()
    first = world.logbook.issue_token("ann")
    assert other_process.authenticate(first).account_id == "ann"

    rotated = world.logbook.rotate_token(world.ann, "ann")

    assert other_process.authenticate(rotated).account_id == "ann"
    assert other_process.authenticate(first) is None


def test_authenticating_again_reads_nothing_from_the_store_until_an_account_changes(world, open_logbook, monkeypatch):
    token = world.logbook.issue_token("ann")
    web_worker = open_logbook()
    web_worker.authenticate(token)
    reads = []
    select_events = web_worker.recorder.select_events
    monkeypatch.setattr(web_worker.recorder, "select_events", lambda *a, **k: reads.append(a) or select_events(*a, **k))

    for _ in range(3):
        assert web_worker.authenticate(token).account_id == "ann"
    quiet = len(reads)
    world.logbook.revoke_tokens(world.admin, "bob")  # another account: still a signal
    assert web_worker.authenticate(token).account_id == "ann"

    assert quiet == 0
    assert len(reads) == 1
