"""Logging, reading, correcting and retracting contacts over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

RECEIPT_KEYS = {"contact_id", "client_id", "position", "recorded_at"}
AMENDMENT_KEYS = {"contact_id", "position", "recorded_at"}
CONTACT_KEYS = {
    "contact_id", "client_id", "team_id", "profile_id", "account_id", "channel", "profile_kind",
    "direction", "nature", "occurred_at", "thread", "message_count", "duration_minutes", "topics",
    "retracted", "history", "note", "note_erased",
}


def aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None, text
    return moment


def test_a_worker_logs_a_contact_and_receives_its_receipt(world, events_in_store):
    before = events_in_store()

    response = world.log_contact("ann", nature="help_question", thread="exam stress", topics=["school"])

    assert response.status_code == 201
    receipt = response.get_json()
    assert set(receipt) == RECEIPT_KEYS
    assert str(UUID(receipt["contact_id"])) == receipt["contact_id"]
    assert str(UUID(receipt["client_id"])) == receipt["client_id"]
    assert isinstance(receipt["position"], int) and receipt["position"] > before
    assert aware(receipt["recorded_at"]) == world.now
    assert events_in_store() > before


def test_a_contact_keeps_the_contact_id_the_worker_chose(world):
    contact_id = str(uuid4())

    receipt = world.logged_contact("ann", contact_id=contact_id)

    assert receipt["contact_id"] == contact_id
    assert world.get(f"/api/v1/contacts/{contact_id}", who="ann").status_code == 200


def test_a_contact_exactly_five_minutes_ahead_of_the_clock_is_logged(world):
    response = world.log_contact("ann", occurred_at=(world.now + timedelta(minutes=5)).isoformat())

    assert response.status_code == 201


def test_every_user_of_a_shared_profile_logs_through_it(world):
    statuses = [
        world.log_contact(who, profile_id="jac-oostende-whatsapp").status_code for who in ("ann", "bob", "lena")
    ]

    assert statuses == [201, 201, 201]


def test_positions_of_logged_contacts_strictly_increase(world):
    positions = [world.logged_contact("ann", client_ref=f"client-{n}")["position"] for n in range(5)]

    assert positions == sorted(set(positions))


@pytest.mark.parametrize("spelled_out", [{}, {"message_count": 1, "topics": [], "thread": None,
                                               "duration_minutes": None}],
                         ids=["defaults left out", "defaults spelled out"])
def test_a_repeat_with_the_same_contact_id_and_body_answers_200_with_the_original_body(
    world, events_in_store, clock, spelled_out
):
    body = world.contact_body("ann", contact_id=str(uuid4()))
    first = world.post("/api/v1/contacts", body, who="ann")
    after_first = events_in_store()
    clock.advance(timedelta(minutes=3))

    repeat = world.post("/api/v1/contacts", {**body, **spelled_out}, who="ann")

    assert first.status_code == 201
    assert repeat.status_code == 200
    assert repeat.get_json() == first.get_json()
    assert events_in_store() == after_first


def test_a_repeat_of_a_corrected_contact_still_answers_its_original_receipt(world):
    body = world.contact_body("ann", contact_id=str(uuid4()))
    first = world.post("/api/v1/contacts", body, who="ann").get_json()
    world.post(f"/api/v1/contacts/{first['contact_id']}/corrections",
               {"changes": {"nature": "information"}, "reason": "Was information."}, who="ann")

    repeat = world.post("/api/v1/contacts", body, who="ann")

    assert repeat.status_code == 200
    assert repeat.get_json() == first


def test_reading_a_contact_shows_its_state_and_the_logged_event(world):
    occurred_at = (world.now - timedelta(hours=2)).isoformat()
    receipt = world.logged_contact(
        "bob", occurred_at=occurred_at, direction="outbound", nature="invitation", thread="summer camp",
        message_count=3, duration_minutes=10, topics=["leisure", "camp"],
    )

    response = world.get(f"/api/v1/contacts/{receipt['contact_id']}", who="bob")

    assert response.status_code == 200
    contact = response.get_json()
    assert set(contact) == CONTACT_KEYS
    history = contact.pop("history")
    assert contact == {
        "contact_id": receipt["contact_id"], "client_id": receipt["client_id"], "team_id": "jac-oostende",
        "profile_id": "bob-messenger", "account_id": "bob", "channel": "messenger", "profile_kind": "personal",
        "direction": "outbound", "nature": "invitation", "occurred_at": occurred_at, "thread": "summer camp",
        "message_count": 3, "duration_minutes": 10, "topics": ["leisure", "camp"], "retracted": False,
        "note": None, "note_erased": False,
    }
    assert history == [{"type": "logged", "position": receipt["position"],
                        "recorded_at": receipt["recorded_at"], "account_id": "bob"}]


def test_a_teammate_reads_a_contact_of_the_team(world):
    receipt = world.logged_contact("ann")

    response = world.get(f"/api/v1/contacts/{receipt['contact_id']}", who="bob")

    assert response.status_code == 200
    assert response.get_json()["account_id"] == "ann"


def test_a_correction_is_applied_and_kept_in_the_history(world, clock):
    receipt = world.logged_contact("ann", nature="keeping_in_touch", topics=["school"])
    path = f"/api/v1/contacts/{receipt['contact_id']}"
    corrected_time = (world.now - timedelta(hours=3)).isoformat()
    changes = {"nature": "help_conversation", "occurred_at": corrected_time, "topics": ["housing"],
               "thread": None, "message_count": 12, "duration_minutes": 25, "direction": "outbound"}
    clock.advance(timedelta(minutes=30))

    response = world.post(f"{path}/corrections", {"changes": changes, "reason": "It became help."}, who="ann")

    assert response.status_code == 201
    amendment = response.get_json()
    assert set(amendment) == AMENDMENT_KEYS
    assert amendment["contact_id"] == receipt["contact_id"]
    assert amendment["position"] > receipt["position"]
    assert aware(amendment["recorded_at"]) == world.now + timedelta(minutes=30)
    contact = world.get(path, who="ann").get_json()
    assert {name: contact[name] for name in changes} == changes
    assert contact["profile_id"] == "ann-messenger" and contact["retracted"] is False
    assert contact["history"] == [
        {"type": "logged", "position": receipt["position"], "recorded_at": receipt["recorded_at"],
         "account_id": "ann"},
        {"type": "corrected", "position": amendment["position"], "recorded_at": amendment["recorded_at"],
         "account_id": "ann", "changes": changes, "reason": "It became help."},
    ]


def test_later_corrections_win_and_earlier_fields_stay_corrected(world):
    receipt = world.logged_contact("ann", nature="keeping_in_touch", message_count=1)
    path = f"/api/v1/contacts/{receipt['contact_id']}"

    world.post(f"{path}/corrections", {"changes": {"nature": "help_question", "message_count": 4},
                                       "reason": "First look."}, who="ann")
    world.post(f"{path}/corrections", {"changes": {"nature": "referral_safe_chat"},
                                       "reason": "Referred after all."}, who="ann")

    contact = world.get(path, who="ann").get_json()
    assert contact["nature"] == "referral_safe_chat"
    assert contact["message_count"] == 4
    assert [entry["type"] for entry in contact["history"]] == ["logged", "corrected", "corrected"]


def test_a_retraction_marks_the_contact_and_stays_in_the_history(world):
    receipt = world.logged_contact("ann")
    path = f"/api/v1/contacts/{receipt['contact_id']}"

    response = world.post(f"{path}/retraction", {"reason": "Logged on the wrong client."}, who="ann")

    assert response.status_code == 201
    amendment = response.get_json()
    assert set(amendment) == AMENDMENT_KEYS
    assert amendment["position"] > receipt["position"]
    contact = world.get(path, who="ann").get_json()
    assert contact["retracted"] is True
    assert contact["nature"] == "keeping_in_touch"
    last = contact["history"][-1]
    assert (last["type"], last["position"], last["account_id"]) == ("retracted", amendment["position"], "ann")
    assert last["recorded_at"] == amendment["recorded_at"]
    assert last["reason"] == "Logged on the wrong client."
    assert "changes" not in last


def test_history_positions_strictly_increase(world):
    receipt = world.logged_contact("ann")
    path = f"/api/v1/contacts/{receipt['contact_id']}"
    world.logged_contact("bob")
    world.post(f"{path}/corrections", {"changes": {"thread": "t1"}, "reason": "Named it."}, who="ann")
    world.logged_contact("carl")
    world.post(f"{path}/retraction", {"reason": "Double."}, who="ann")

    positions = [entry["position"] for entry in world.get(path, who="ann").get_json()["history"]]

    assert len(positions) == 3
    assert positions == sorted(set(positions))


@pytest.mark.parametrize("amendment, body", [
    ("corrections", {"changes": {"nature": "help_conversation"}, "reason": "Reviewed the boundary."}),
    ("retraction", {"reason": "Not a contact with a client."}),
])
def test_a_team_lead_of_the_team_amends_a_workers_contact(world, amendment, body):
    receipt = world.logged_contact("ann")
    path = f"/api/v1/contacts/{receipt['contact_id']}"

    response = world.post(f"{path}/{amendment}", body, who="lena")

    assert response.status_code == 201
    assert world.get(path, who="ann").get_json()["history"][-1]["account_id"] == "lena"


def test_a_correction_by_another_worker_of_the_team_is_forbidden(world, events_in_store):
    receipt = world.logged_contact("ann")
    path = f"/api/v1/contacts/{receipt['contact_id']}"
    before = events_in_store()

    response = world.post(f"{path}/corrections", {"changes": {"nature": "information"}, "reason": "Hm."},
                          who="bob")

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "not_author"
    assert events_in_store() == before
    assert world.get(path, who="ann").get_json()["nature"] == "keeping_in_touch"


@pytest.mark.parametrize("field, value", [("message_count", 2.7), ("message_count", "3"),
                                          ("duration_minutes", 3.9), ("duration_minutes", True)])
def test_a_count_that_is_not_a_whole_number_is_refused_not_truncated(world, events_in_store, field, value):
    before = events_in_store()

    response = world.log_contact("ann", **{field: value})

    assert response.status_code == 422
    assert set(world.error_of(response)["fields"]) == {field}
    assert events_in_store() == before
