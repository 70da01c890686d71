"""Reasons and review comments: free text about a client, sealed with its key as notes are.

A correction's or retraction's reason, a follow-up's reason and a team lead's
comment on a crossing may all name or describe the client. None of it is stored
in clear, in the events or in the read models; the team reads it back in
clear; once the client is erased, it reads as null everywhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_privacy import forms_of
from tests.stores import stored_bytes

CORRECTION = "Lotte vertelde over haar stiefvader; het werd een hulpgesprek."
RETRACTION = "Verkeerde cliënt: dit was Lottes zus Noor."
FOLLOW_UP = "Bellen na de zitting bij de jeugdrechter in Kortrijk."
COMMENT = "Lotte zat in crisis; Dora verwees meteen door. Aanvaardbaar."
TEXTS = (CORRECTION, RETRACTION, FOLLOW_UP, COMMENT)


@pytest.fixture
def amended(world: Any) -> dict[str, Any]:
    """Kortrijk: Dora helps Lotte through her own profile, corrects one contact, retracts another and plans a
    follow-up; Kim reviews the drift."""
    world.add_team("jac-kortrijk", organisation="caw-zuid", site="Kortrijk")
    world.add_account("dora", team_id="jac-kortrijk")
    world.add_account("kim", role="team_lead", team_id="jac-kortrijk")
    world.add_profile("dora-messenger", "jac-kortrijk", ["dora"])
    corrected = world.logged_contact("dora", client_ref="lotte-v", nature="information")
    retracted = world.logged_contact("dora", client_ref="lotte-v", nature="keeping_in_touch")
    client_id = corrected["client_id"]
    correction = {"changes": {"nature": "help_conversation"}, "reason": CORRECTION}
    assert world.post(f"/api/v1/contacts/{corrected['contact_id']}/corrections", correction, who="dora").status_code == 201
    retraction = {"reason": RETRACTION}
    assert world.post(f"/api/v1/contacts/{retracted['contact_id']}/retraction", retraction, who="dora").status_code == 201
    assert world.follow_up("dora", client_id, reason=FOLLOW_UP).status_code == 201
    world.project()
    crossings = world.get("/api/v1/crossings?rule=drift_into_help", who="kim").get_json()["items"]
    (crossing,) = crossings
    review = {"verdict": "acceptable", "comment": COMMENT}
    assert world.post(f"/api/v1/crossings/{crossing['crossing_id']}/reviews", review, who="kim").status_code == 201
    world.project()
    return {"corrected": corrected, "retracted": retracted, "client_id": client_id,
            "crossing_id": crossing["crossing_id"]}


def reasons(world: Any, contact: dict[str, Any]) -> list[str | None]:
    shown = world.get(f"/api/v1/contacts/{contact['contact_id']}", who="dora").get_json()
    return [entry["reason"] for entry in shown["history"] if entry["type"] != "logged"]


def comments(world: Any, crossing_id: str) -> list[str | None]:
    detail = world.get(f"/api/v1/crossings/{crossing_id}", who="kim").get_json()
    return [review["comment"] for review in detail["reviews"]]


def test_the_team_reads_its_reasons_and_comments_in_clear(world, amended):
    assert reasons(world, amended["corrected"]) == [CORRECTION]
    assert reasons(world, amended["retracted"]) == [RETRACTION]
    assert comments(world, amended["crossing_id"]) == [COMMENT]


def test_no_reason_or_comment_is_in_clear_in_the_store_or_its_read_models(world, amended, tmp_path):
    views = {path.name: path.read_bytes() for path in tmp_path.rglob("projections/*") if path.is_file()}
    files = stored_bytes(tmp_path) | views

    assert any(name.startswith(("boundaries.sqlite3", "postgres:reviews")) for name in files)  # the views too
    for name, content in files.items():
        for text in TEXTS:
            for form in forms_of(text):
                assert form not in content, f"{text!r} found in {name}"


def test_after_an_erasure_reasons_and_comments_read_as_null(world, amended):
    erasure = {"reason": "Request under GDPR art. 17."}
    assert world.post(f"/api/v1/clients/{amended['client_id']}/erasure", erasure, who="kim").status_code == 201
    world.project()

    assert reasons(world, amended["corrected"]) == [None]
    assert reasons(world, amended["retracted"]) == [None]
    assert comments(world, amended["crossing_id"]) == [None]
