"""Teams, accounts, profiles and tokens: registered once, never stored twice."""

from __future__ import annotations

import pytest

from events.errors import AlreadyExistsError, ProfileUsersError, UnknownReferenceError
from events.vocabulary import Channel, Function, ProfileKind, Role, Service


def test_teams_are_listed_in_the_order_they_were_registered(world):
    world.logbook.register_team(team_id="salon", name="'t Salon", organisation="caw-nwvl", site="Brugge",
                                service=Service.YOUTH_WORK)

    teams = world.logbook.list_teams()

    assert [team.team_id for team in teams] == ["jac-oostende", "jac-brugge", "salon"]
    assert teams[2].service is Service.YOUTH_WORK


@pytest.mark.parametrize("register", [
    lambda logbook: logbook.register_team(team_id="jac-oostende", name="Again", organisation="caw-nwvl",
                                          site="Oostende", service=Service.JAC),
    lambda logbook: logbook.add_account(account_id="ann", name="Another Ann", role=Role.RESEARCHER),
    lambda logbook: logbook.register_profile(profile_id="ann-messenger", channel=Channel.WHATSAPP,
                                             kind=ProfileKind.SHARED, team_id="jac-oostende", users=["bob"]),
], ids=["team", "account", "profile"])
def test_a_taken_id_is_refused_and_nothing_is_stored(world, register):
    stored = world.logbook.count_events()

    with pytest.raises(AlreadyExistsError):
        register(world.logbook)

    assert world.logbook.count_events() == stored
    assert world.logbook.account("ann").role is Role.WORKER


def test_a_duplicate_team_is_not_listed_twice(world):
    with pytest.raises(AlreadyExistsError):
        world.logbook.register_team(team_id="jac-brugge", name="Again", organisation="caw-nwvl", site="Brugge",
                                    service=Service.JAC)

    assert [team.team_id for team in world.logbook.list_teams()] == ["jac-oostende", "jac-brugge"]


def test_an_account_of_an_unknown_team_is_refused(world):
    with pytest.raises(UnknownReferenceError) as refused:
        world.logbook.add_account(account_id="greet", name="Greet", role=Role.WORKER, team_id="jac-gent",
                                  function=Function.COUNSELLOR)

    assert refused.value.field == "team_id"


@pytest.mark.parametrize("users", [["ann", "carl"], ["ann", "rita"], ["ann", "ghost"]],
                         ids=["a worker of another team", "a researcher", "an unknown account"])
def test_a_profiles_users_are_workers_or_team_leads_of_its_team(world, users):
    stored = world.logbook.count_events()

    with pytest.raises(ProfileUsersError):
        world.logbook.register_profile(profile_id="new-profile", channel=Channel.MESSENGER, kind=ProfileKind.SHARED,
                                       team_id="jac-oostende", users=users)

    assert world.logbook.count_events() == stored


def test_a_token_authenticates_its_account_and_nothing_else_does(logbook):
    _, token = logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)

    assert logbook.authenticate(token).account_id == "admin"
    assert logbook.authenticate(token + "x") is None
    assert logbook.authenticate("") is None
    assert logbook.authenticate("lbk_guessed") is None


def test_another_token_for_an_account_works_beside_the_first(logbook):
    _, first = logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)

    second = logbook.issue_token("admin")

    assert second != first
    assert logbook.authenticate(first).account_id == logbook.authenticate(second).account_id == "admin"


def test_a_token_works_in_another_process(logbook, open_logbook):
    _, token = logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)

    assert open_logbook().authenticate(token).account_id == "admin"
