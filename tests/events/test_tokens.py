"""An account's tokens: issued by digest, expired by age, revoked all at once, and stopped by deactivation."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex

from events import Account
from events.errors import AccountDeactivatedError, SelfDeactivationError
from events.vocabulary import Role

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
LIFETIME = timedelta(days=90)


def an_admin(account_id: str = "admin") -> Account:
    return Account.register(account_id=account_id, name="Admin", role=Role.ADMIN, team_id=None, function=None,
                            intern=False, now=NOW)


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(account: Account, token: str, now: datetime = NOW) -> UUID:
    token_id = uuid4()
    account.issue_token(token_id=token_id, digest=digest_of(token), now=now)
    return token_id


def authenticates(account: Account, token_id: UUID, token: str, now: datetime = NOW,
                  lifetime: timedelta = LIFETIME) -> bool:
    return account.authenticates(token_id=token_id, digest=digest_of(token), lifetime=lifetime, now=now)


def test_a_token_works_until_exactly_its_lifetime_has_passed():
    account = an_admin()
    token_id = issue(account, "lbk_one")

    just_before = authenticates(account, token_id, "lbk_one", now=NOW + LIFETIME - timedelta(microseconds=1))
    at_the_end = authenticates(account, token_id, "lbk_one", now=NOW + LIFETIME)

    assert just_before
    assert not at_the_end


def test_a_token_with_another_digest_does_not_authenticate():
    account = an_admin()
    token_id = issue(account, "lbk_one")

    assert not authenticates(account, token_id, "lbk_two")
    assert not authenticates(account, uuid4(), "lbk_one")


def test_revocation_revokes_every_token_and_counts_those_that_still_worked():
    account = an_admin()
    expired = issue(account, "lbk_old", now=NOW - LIFETIME)
    working = [issue(account, "lbk_a"), issue(account, "lbk_b")]

    revoked = account.revoke_tokens(lifetime=LIFETIME, now=NOW)

    assert revoked == 2
    assert account.tokens == {}
    assert not authenticates(account, working[0], "lbk_a")
    # Revoked too, so that a longer lifetime configured later cannot bring it back.
    assert not authenticates(account, expired, "lbk_old", lifetime=timedelta(days=365))


def test_revoking_an_account_without_tokens_counts_nothing_and_records_nothing():
    account = an_admin()
    issue(account, "lbk_a")
    account.revoke_tokens(lifetime=LIFETIME, now=NOW)
    recorded = len(account.collect_events())

    revoked = account.revoke_tokens(lifetime=LIFETIME, now=NOW)

    assert (recorded, revoked) == (3, 0)
    assert account.collect_events() == []


def test_rotation_revokes_the_earlier_tokens_and_issues_one_in_their_place():
    account = an_admin()
    first = issue(account, "lbk_first")
    new = uuid4()

    revoked = account.rotate_token(token_id=new, digest=digest_of("lbk_new"), lifetime=LIFETIME, now=NOW)

    assert revoked == 1
    assert not authenticates(account, first, "lbk_first")
    assert authenticates(account, new, "lbk_new")
    assert [type(e) for e in account.collect_events()][-2:] == [Account.TokensRevoked, Account.TokenIssued]


def test_a_deactivated_accounts_tokens_stop_working():
    account = an_admin("ops")
    token_id = issue(account, "lbk_one")

    account.deactivate(deactivated_by="admin", now=NOW)

    assert not account.active
    assert account.deactivated_at == NOW
    assert not authenticates(account, token_id, "lbk_one")


@pytest.mark.parametrize("command", [
    lambda account: account.deactivate(deactivated_by="admin", now=NOW),
    lambda account: account.issue_token(token_id=uuid4(), digest=digest_of("lbk_x"), now=NOW),
    lambda account: account.rotate_token(token_id=uuid4(), digest=digest_of("lbk_x"), lifetime=LIFETIME, now=NOW),
], ids=["deactivated again", "given a token", "given a rotated token"])
def test_a_deactivated_account_is_not_deactivated_again_nor_given_tokens(command):
    account = an_admin("ops")
    account.deactivate(deactivated_by=None, now=NOW)
    recorded = len(account.pending_events)

    with pytest.raises(AccountDeactivatedError):
        command(account)

    assert len(account.pending_events) == recorded


def test_an_admin_cannot_deactivate_their_own_account():
    account = an_admin("admin")

    with pytest.raises(SelfDeactivationError):
        account.deactivate(deactivated_by="admin", now=NOW)

    assert account.active


def test_an_accounts_tokens_survive_the_stores_encoding():
    account = an_admin()
    issue(account, "lbk_old", now=NOW - LIFETIME)
    account.rotate_token(token_id=uuid4(), digest=digest_of("lbk_new"), lifetime=LIFETIME, now=NOW)
    account.deactivate(deactivated_by=None, now=NOW + timedelta(hours=1))
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO()):
        transcoder.register(transcoding)
    mapper = Mapper(transcoder=transcoder)

    copy = None
    for event in account.collect_events():
        copy = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(copy)

    assert copy is not None
    assert (copy.tokens, copy.deactivated_at, copy.version) == (account.tokens, account.deactivated_at,
                                                               account.version)
