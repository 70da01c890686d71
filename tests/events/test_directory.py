"""Teams, accounts and profiles: the shapes the domain accepts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from events import Account, Profile, Team
from events.errors import AccountShapeError, InvalidInputError, ProfileUsersError
from events.vocabulary import Channel, Function, ProfileKind, Role, Service

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def register_account(**shape: Any) -> Account:
    return Account.register(**{"account_id": "ann", "name": "Ann", "team_id": None, "function": None,
                               "intern": False, "now": NOW, **shape})


def register_profile(kind: ProfileKind, users: list[str], profile_id: str = "jac-brugge-messenger") -> Profile:
    return Profile.register(profile_id=profile_id, channel=Channel.MESSENGER, kind=kind, team_id="jac-brugge",
                            users=users, now=NOW)


def test_a_team_is_registered_with_its_organisation_site_and_service():
    team = Team.register(team_id="salon", name="'t Salon", organisation="caw-nwvl", site="Brugge",
                         service=Service.YOUTH_WORK, now=NOW)

    assert (team.team_id, team.name, team.organisation, team.site, team.service) == (
        "salon", "'t Salon", "caw-nwvl", "Brugge", Service.YOUTH_WORK)
    assert team.id == Team.id_for("salon")
    assert team.created_on == NOW


@pytest.mark.parametrize("team_id, organisation, field", [
    ("JAC Oostende", "caw-nwvl", "team_id"),
    ("jac-oostende-", "caw-nwvl", "team_id"),
    ("", "caw-nwvl", "team_id"),
    ("jac-oostende", "CAW NWVL", "organisation"),
    ("jac-oostende", "c" * 65, "organisation"),
])
def test_team_and_organisation_ids_must_be_slugs(team_id, organisation, field):
    with pytest.raises(InvalidInputError) as refused:
        Team.register(team_id=team_id, name="JAC", organisation=organisation, site="Oostende",
                      service=Service.JAC, now=NOW)

    assert refused.value.field == field


def test_ids_of_one_slug_differ_by_kind():
    assert len({Team.id_for("ann"), Account.id_for("ann"), Profile.id_for("ann")}) == 3
    assert Team.id_for("jac-oostende") != Team.id_for("jac-brugge")


def test_ids_derived_from_slugs_never_change():
    # Stored aggregates are keyed by these: another mapping would orphan them all.
    assert str(Team.id_for("jac-oostende")) == "e33c6937-18a4-5c44-8656-17a242c619e4"
    assert str(Account.id_for("ann")) == "0e651c25-44fd-53f3-a82d-fb6136f453fd"
    assert str(Profile.id_for("ann-messenger")) == "9b721a46-a859-592b-9f7a-6d980306879c"


@pytest.mark.parametrize("role", [Role.WORKER, Role.TEAM_LEAD])
@pytest.mark.parametrize("intern", [False, True])
@pytest.mark.parametrize("function", list(Function))
def test_workers_and_team_leads_have_a_team_a_function_and_maybe_an_intern_flag(role, intern, function):
    account = register_account(role=role, team_id="jac-oostende", function=function, intern=intern)

    assert (account.role, account.team_id, account.function, account.intern) == (role, "jac-oostende",
                                                                                  function, intern)
    assert account.belongs_to_a_team


@pytest.mark.parametrize("role", [Role.WORKER, Role.TEAM_LEAD])
@pytest.mark.parametrize("shape, field", [
    ({"function": Function.COUNSELLOR}, "team_id"),
    ({"team_id": "jac-oostende"}, "function"),
    ({}, "team_id"),
])
def test_a_worker_or_team_lead_without_team_or_function_is_refused(role, shape, field):
    with pytest.raises(AccountShapeError) as refused:
        register_account(role=role, **shape)

    assert refused.value.field == field


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ADMIN])
@pytest.mark.parametrize("shape, field", [
    ({"team_id": "jac-oostende"}, "team_id"),
    ({"function": Function.OUTREACH}, "function"),
    ({"intern": True}, "intern"),
])
def test_a_researcher_or_admin_with_a_team_function_or_intern_flag_is_refused(role, shape, field):
    with pytest.raises(AccountShapeError) as refused:
        register_account(role=role, **shape)

    assert refused.value.field == field


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ADMIN])
def test_researchers_and_admins_belong_to_no_team(role):
    account = register_account(role=role)

    assert (account.team_id, account.function, account.intern) == (None, None, False)
    assert not account.belongs_to_a_team


def test_an_account_id_must_be_a_slug():
    with pytest.raises(InvalidInputError) as refused:
        register_account(account_id="Ann Peeters", role=Role.RESEARCHER)

    assert refused.value.field == "account_id"


def test_a_personal_profile_has_its_one_user():
    profile = register_profile(ProfileKind.PERSONAL, ["carl"], profile_id="carl-messenger")

    assert (profile.profile_id, profile.channel, profile.kind, profile.team_id) == (
        "carl-messenger", Channel.MESSENGER, ProfileKind.PERSONAL, "jac-brugge")
    assert list(profile.users) == ["carl"]
    assert profile.id == Profile.id_for("carl-messenger")


@pytest.mark.parametrize("users", [[], ["carl", "dina"], ["carl", "dina", "emma"]])
def test_a_personal_profile_needs_exactly_one_user(users):
    with pytest.raises(ProfileUsersError) as refused:
        register_profile(ProfileKind.PERSONAL, users)

    assert refused.value.field == "users"


@pytest.mark.parametrize("kind", [ProfileKind.SHARED, ProfileKind.PROFESSIONAL, ProfileKind.PAGE])
def test_other_profiles_may_have_several_users(kind):
    profile = register_profile(kind, ["carl", "dina", "emma"])

    assert list(profile.users) == ["carl", "dina", "emma"]


@pytest.mark.parametrize("kind", [ProfileKind.SHARED, ProfileKind.PROFESSIONAL, ProfileKind.PAGE])
def test_a_profile_without_users_is_refused(kind):
    with pytest.raises(ProfileUsersError):
        register_profile(kind, [])


def test_a_user_listed_twice_is_refused():
    with pytest.raises(ProfileUsersError):
        register_profile(ProfileKind.SHARED, ["carl", "dina", "carl"])


def test_a_profile_id_must_be_a_slug():
    with pytest.raises(InvalidInputError) as refused:
        Profile.register(profile_id="Carl's Messenger", channel=Channel.MESSENGER, kind=ProfileKind.PERSONAL,
                         team_id="jac-brugge", users=["carl"], now=NOW)

    assert refused.value.field == "profile_id"
