"""The research event stream: every event researchers may see, pseudonymised, once each, in the store's order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from events.vocabulary import Role
from logbook.audit import AuditAction
from logbook.research import ResearchView

EVENTS = "/api/v1/research/events"
RESEARCH_KEY = b"r" * 40
"""The app's LOGBOOK_RESEARCH_KEY in tests/api/conftest.py."""


@pytest.fixture
def admin_token(app):
    """The first admin, under an id that no research form may show (``admin`` is also the name of a role)."""
    _, token = app.extensions["logbook"].get().add_account(account_id="root-operational", name="Root Operator",
                                                            role=Role.ADMIN)
    return token


def page(api: Any, after: int | None = None, limit: int | None = None, who: str = "rita") -> dict[str, Any]:
    query = "&".join(f"{name}={value}" for name, value in (("after", after), ("limit", limit)) if value is not None)
    response = api.get(f"{EVENTS}?{query}", who=who)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def read_all(api: Any, after: int = 0, limit: int = 3) -> tuple[list[dict[str, Any]], int]:
    """Every item from ``after`` on, as a client reads them: passing next_after back until a page is empty."""
    items: list[dict[str, Any]] = []
    while True:
        answer = page(api, after, limit)
        if not answer["items"]:
            return items, answer["next_after"]
        items += answer["items"]
        after = answer["next_after"]


def some_contacts(world: Any, count: int, **fields: Any) -> list[dict[str, Any]]:
    return [world.logged_contact("ann", client_ref=f"ref-{i % 2}", **fields) for i in range(count)]


# Paging.


def test_a_researcher_reads_every_event_once_in_the_stores_order(world):
    contacts = some_contacts(world, 5)

    items, next_after = read_all(world, limit=4)

    positions = [item["position"] for item in items]
    assert positions == sorted(set(positions))
    assert {contact["position"] for contact in contacts} <= set(positions)
    assert items == page(world, limit=1000)["items"]
    assert next_after == world.events_in_store()


def test_paging_survives_events_recorded_between_pages(world):
    some_contacts(world, 3)
    first = page(world, limit=5)

    later = some_contacts(world, 3)
    rest, _ = read_all(world, after=first["next_after"], limit=5)

    positions = [item["position"] for item in first["items"] + rest]
    assert positions == sorted(set(positions))
    assert first["items"] + rest == page(world, limit=1000)["items"]
    assert [item["position"] for item in rest if item["type"] == "Contact.Logged"][-3:] == [
        contact["position"] for contact in later]


def test_a_page_fills_past_events_researchers_never_see(world):
    some_contacts(world, 1)
    before = world.events_in_store()
    for _ in range(5):  # tokens: how the logbook is run, never shown
        assert world.post("/api/v1/accounts/carl/tokens", {}, who="admin").status_code == 201
    (contact,) = some_contacts(world, 1)

    answer = page(world, after=before, limit=1)

    assert contact["position"] - before > 5
    assert [item["position"] for item in answer["items"]] == [contact["position"]]
    assert answer["next_after"] == contact["position"]


def test_the_end_of_the_stream_is_an_empty_page_past_the_last_event(world):
    world.post("/api/v1/accounts/carl/tokens", {}, who="admin")  # the last events are never shown
    head = world.events_in_store()

    answer = page(world, after=head - 1)

    assert answer == {"items": [], "next_after": head}
    assert page(world, after=head) == {"items": [], "next_after": head}
    assert page(world, after=head + 10) == {"items": [], "next_after": head + 10}


# What an item is.


def test_an_item_is_the_research_form_of_its_event(world):
    contact = world.logged_contact("bob", client_ref="jonas-k", nature="help_question", thread="t-1",
                                   note="Vraagt naar de examens.", topics=["school"],
                                   occurred_at=(world.now - timedelta(minutes=95)).isoformat())
    research = ResearchView(RESEARCH_KEY)

    (item,) = [item for item in page(world, limit=1000)["items"] if item["position"] == contact["position"]]

    assert item == {
        "position": contact["position"], "type": "Contact.Logged", "recorded_at": "2025-03-01T12:00:00Z",
        "contact": research.pseudonyms.contact(UUID(contact["contact_id"])),
        "client": research.pseudonyms.client(UUID(contact["client_id"])), "team_id": "jac-oostende",
        "account": research.pseudonyms.account("bob"), "account_function": "counsellor", "intern": True,
        "profile": research.pseudonyms.profile("bob-messenger"), "channel": "messenger",
        "profile_kind": "personal", "direction": "inbound", "nature": "help_question",
        "occurred_at": "2025-03-01T10:00:00Z", "thread": research.thread("t-1"), "message_count": 1,
        "duration_minutes": None, "topics": ["school"], "has_note": True,
    }


def test_each_page_is_recorded_in_the_access_audit(world):
    page(world, limit=2)
    page(world, after=2, limit=2)

    entries = world.get("/api/v1/audit?account_id=rita", who="admin").get_json()["items"]
    assert [(entry["action"], entry["role"], entry["client_id"]) for entry in entries] == [
        (AuditAction.EXPORT, "researcher", None)] * 2


# No operational id.


def test_the_stream_holds_no_operational_id_ref_name_or_text(api):
    secrets = operational_world(api)

    data = api.client.get(f"{EVENTS}?limit=1000", headers=api.headers("rita-operational")).get_data()

    assert b'"Contact.Logged"' in data and b'"Review.Recorded"' in data and b'"Client.Erased"' in data
    assert {secret for secret in secrets if secret.encode().lower() in data.lower()} == set()


def operational_world(api: Any) -> set[str]:
    """Two teams whose accounts, profiles, refs, threads and texts are distinctive; every id they made."""
    api.add_team("jac-oost", site="Oostende")
    api.add_team("jac-kort", organisation="caw-zuid", site="Kortrijk")
    for account_id, more in (
        ("ann-operational", {"team_id": "jac-oost"}), ("bob-operational", {"team_id": "jac-oost", "intern": True}),
        ("lena-operational", {"team_id": "jac-oost", "role": "team_lead"}),
        ("dora-operational", {"team_id": "jac-kort"}), ("kim-operational", {"team_id": "jac-kort", "role": "team_lead"}),
        ("rita-operational", {"role": "researcher"}),
    ):
        api.add_account(account_id, **more)
    api.add_profile("ann-op-messenger", "jac-oost", ["ann-operational"])
    api.add_profile("oost-op-whatsapp", "jac-oost", ["ann-operational", "bob-operational"], kind="shared",
                    channel="whatsapp")
    api.add_profile("dora-op-messenger", "jac-kort", ["dora-operational"])
    made = _contacts_follow_ups_and_erasure(api) | _a_reviewed_crossing(api)
    refs_and_texts = {"jonas-ref-17", "mila-ref-23", "yusuf-ref-31", "thread-jonas-private", "Note-Secret-Text",
                      "Reason-Secret-Text", "Comment-Secret-Text", "root-operational", "Root Operator"}
    ids = {f"{who}-operational" for who in ("ann", "bob", "lena", "dora", "kim", "rita")}
    ids |= {"ann-op-messenger", "oost-op-whatsapp", "dora-op-messenger"}
    ids |= {name.title() for name in ids}  # the accounts' names
    return refs_and_texts | ids | {form for value in made for form in (value, UUID(value).hex)}


def _contacts_follow_ups_and_erasure(api: Any) -> set[str]:
    def log(who: str, profile_id: str, ref: str, **fields: Any) -> dict[str, Any]:
        return api.logged_contact(who, profile_id=profile_id, client_ref=ref, **fields)
    jonas = log("ann-operational", "ann-op-messenger", "jonas-ref-17", thread="thread-jonas-private",
                note="Note-Secret-Text", topics=["school"])
    mila = log("bob-operational", "oost-op-whatsapp", "mila-ref-23", note="Note-Secret-Text")
    api.post(f"/api/v1/contacts/{jonas['contact_id']}/corrections",
             {"changes": {"thread": "thread-jonas-private", "nature": "help_question"},
              "reason": "Reason-Secret-Text"}, who="ann-operational")
    api.post(f"/api/v1/contacts/{mila['contact_id']}/retraction", {"reason": "Reason-Secret-Text"},
             who="lena-operational")
    planned = api.follow_up("ann-operational", jonas["client_id"], reason="Reason-Secret-Text").get_json()
    api.post(f"/api/v1/clients/{jonas['client_id']}/follow-ups/{planned['follow_up_id']}/completion", {},
             who="ann-operational")
    erased = api.post(f"/api/v1/clients/{mila['client_id']}/erasure", {"reason": "Reason-Secret-Text"},
                      who="lena-operational")
    assert erased.status_code == 201, erased.get_data(as_text=True)
    return {jonas["contact_id"], jonas["client_id"], mila["contact_id"], mila["client_id"], planned["follow_up_id"]}


def _a_reviewed_crossing(api: Any) -> set[str]:
    """Dora helps a client through her own profile, in an organisation where that crosses a boundary; Kim reviews."""
    yusuf = api.logged_contact("dora-operational", profile_id="dora-op-messenger", client_ref="yusuf-ref-31",
                               nature="help_conversation", occurred_at=(api.now - timedelta(days=3)).isoformat())
    api.project()
    crossings = api.get("/api/v1/crossings", who="kim-operational").get_json()["items"]
    assert crossings
    for crossing in crossings:
        reviewed = api.post(f"/api/v1/crossings/{crossing['crossing_id']}/reviews",
                            {"verdict": "acceptable", "comment": "Comment-Secret-Text"}, who="kim-operational")
        assert reviewed.status_code == 201, reviewed.get_data(as_text=True)
    return {yusuf["contact_id"], yusuf["client_id"], *(crossing["crossing_id"] for crossing in crossings)}


# Who may read it, and what is refused.


@pytest.mark.parametrize("who", ["admin", "ann", "lena"])
def test_only_researchers_read_the_stream_not_even_an_admin(world, who):
    response = world.get(EVENTS, who=who)

    assert response.status_code == 403
    assert world.error_of(response)["code"] == "role_not_allowed"


def test_the_stream_needs_a_token(world):
    response = world.get(EVENTS)

    assert response.status_code == 401
    assert world.error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(("query", "field"), [
    ("limit=1001", "limit"), ("limit=0", "limit"), ("after=-1", "after"), ("after=next", "after"),
    ("cursor=abc", "cursor"),
])
def test_a_page_out_of_bounds_is_refused_naming_the_field(world, query, field):
    response = world.get(f"{EVENTS}?{query}", who="rita")

    assert response.status_code == 422
    assert field in world.error_of(response)["fields"]


def test_the_openapi_document_describes_the_stream_and_its_open_items(client):
    document = client.get("/api/v1/openapi.json").get_json()

    operation = document["paths"][EVENTS]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"after", "limit"}
    item = document["components"]["schemas"]["ResearchEvent"]
    assert item["additionalProperties"] is True
    assert set(item["required"]) == {"position", "type", "recorded_at"}
