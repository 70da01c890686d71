"""Clients are pseudonymous: an id derived from the organisation and the normalised ref."""

from __future__ import annotations

import pytest

from events import Client
from events.vocabulary import Function, Role, Service
from logbook import application


def test_the_same_ref_in_two_teams_of_one_organisation_is_one_client(world):
    logbook = world.logbook

    # Ann in Ostend and Carl in Bruges both meet "Jonas K." and each write the ref their way.
    in_ostend = logbook.log_contact(world.ann, world.draft(client_ref="Jonas K."))
    in_bruges = logbook.log_contact(world.carl, world.draft("carl-messenger", client_ref="  jonas k. "))

    # One client, met by both teams.
    assert in_bruges.client_id == in_ostend.client_id
    client = logbook.repository.get(in_ostend.client_id)
    assert isinstance(client, Client)
    assert client.was_met_by("jac-oostende") and client.was_met_by("jac-brugge")
    assert logbook.look_up_client(world.lena, "JONAS K.") == in_ostend.client_id


@pytest.mark.parametrize("written, as_known", [
    ("  jonas\t", "jonas"),
    ("ＪＯＮＡＳ", "jonas"),
    ("Straße", "STRASSE"),
    ("ﬁlip", "FILIP"),
    ("Ωmega", "ωmega"),
    ("jonas\u00a0k", "Jonas K"),
    ("e\u0301mile", "\u00c9mile"),
], ids=["stripped", "full-width", "sharp s", "ligature", "greek capital", "no-break space", "combining accent"])
def test_refs_are_compared_stripped_nfkc_normalised_and_casefolded(world, written, as_known):
    logbook = world.logbook

    assert logbook.look_up_client(world.ann, written) == logbook.look_up_client(world.carl, as_known)


@pytest.mark.parametrize("one, other", [("jonas", "jonas-k"), ("jonas k", "jonask"), ("jonas", "jonás")])
def test_different_refs_are_different_clients(world, one, other):
    assert world.logbook.look_up_client(world.ann, one) != world.logbook.look_up_client(world.ann, other)


def test_the_same_ref_in_another_organisation_is_another_client(world):
    logbook = world.logbook
    logbook.register_team(team_id="jac-gent", name="JAC Gent", organisation="caw-oost-vlaanderen", site="Gent",
                          service=Service.JAC)
    greet, _ = logbook.add_account(account_id="greet", name="Greet", role=Role.WORKER, team_id="jac-gent",
                                   function=Function.COUNSELLOR)

    assert logbook.look_up_client(greet, "jonas") != logbook.look_up_client(world.ann, "jonas")


def test_a_client_id_depends_on_the_secret_key(world, open_logbook, tmp_path):
    other_deployment = open_logbook(tmp_path / "other", secret_key=b"y" * 40)
    other_deployment.register_team(team_id="jac-oostende", name="JAC Oostende", organisation="caw-nwvl",
                                   site="Oostende", service=Service.JAC)
    ann_there, _ = other_deployment.add_account(account_id="ann", name="Ann", role=Role.WORKER,
                                                team_id="jac-oostende", function=Function.COUNSELLOR)

    assert other_deployment.look_up_client(ann_there, "jonas") != world.logbook.look_up_client(world.ann, "jonas")


def test_a_client_id_is_the_same_after_a_restart_and_never_changes(world, open_logbook):
    before = world.logbook.look_up_client(world.ann, "jonas")
    world.logbook.close()

    restarted = open_logbook()

    assert restarted.look_up_client(restarted.account("ann"), "jonas") == before
    # Stored contacts are keyed by it: another derivation would split every client in two.
    assert str(before) == "37f6c705-c5ca-893a-9d28-25f46b2be76c"


def test_a_process_remembers_a_bounded_number_of_clients_as_met_and_still_records_each_meeting_once(
    world, monkeypatch
):
    monkeypatch.setattr(application, "MET_REMEMBERED", 3)
    logbook = world.logbook
    refs = [f"client-{n}" for n in range(8)]

    for _ in range(2):  # the second round meets clients the process has forgotten
        for ref in refs:
            logbook.log_contact(world.ann, world.draft(client_ref=ref))
    logbook.log_contact(world.carl, world.draft("carl-messenger", client_ref=refs[0]))

    assert len(logbook._met) <= 3
    histories = {ref: [type(event).__qualname__ for event in logbook.events.get(
        logbook.look_up_client(world.ann, ref))] for ref in refs}
    assert histories[refs[0]] == ["Client.Registered", "Client.MetByTeam"]  # Bruges met it once, after Ostend
    assert all(history == ["Client.Registered"] for history in list(histories.values())[1:])
