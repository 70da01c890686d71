"""Every bad input answers its status in the error shape, and writes no event.

Each case first arranges what it needs (a contact, a follow-up, a retraction);
then the store's event count is taken; then the bad request is sent.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, BinaryIO
from uuid import uuid4

import pytest

MAX_BODY_BYTES = 65_536


@pytest.fixture(scope="module")
def world(open_world: Any, tmp_path_factory: Any) -> Any:
    """One world for the whole table: each case arranges its own contacts, and refusals write nothing."""
    return open_world(tmp_path_factory.mktemp("bad-input"))


@pytest.fixture
def events_in_store(world: Any) -> Callable[[], int]:
    return world.events_in_store


@dataclass
class Call:
    """A request to send once its case has arranged what it needs."""

    method: str
    path: str
    who: str | None = None
    body: Any = None
    """Sent as JSON, unless `data` is given."""
    data: str | bytes | BinaryIO | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    environ: dict[str, Any] = field(default_factory=dict)

    def send(self, api: Any) -> Any:
        headers = {**api.headers(self.who), **self.headers}
        if self.data is None:
            return api.client.open(self.path, method=self.method, json=self.body, headers=headers,
                                   environ_overrides=self.environ)
        return api.client.open(
            self.path, method=self.method, data=self.data, content_type=self.content_type,
            headers=headers, environ_overrides=self.environ,
        )


# The endpoints behind a token, each with a body that would succeed for an allowed role.

ADMIN_ENDPOINTS = ["register team", "list teams", "add account", "register profile"]
CONTACT_AND_CLIENT_ENDPOINTS = [
    "log contact", "read contact", "correct contact", "retract contact",
    "look up client", "plan follow-up", "complete follow-up",
]
ENDPOINTS = ADMIN_ENDPOINTS + CONTACT_AND_CLIENT_ENDPOINTS
POST_ENDPOINTS = [name for name in ENDPOINTS if name not in ("list teams", "read contact")]


def endpoints(w: Any) -> dict[str, tuple[str, str, Any]]:
    """Method, path and a good body of every endpoint, on a contact, client and follow-up of Ann's."""
    contact = w.logged_contact("ann")
    contact_path = f"/api/v1/contacts/{contact['contact_id']}"
    client_path = f"/api/v1/clients/{contact['client_id']}"
    follow_up_id = w.follow_up("ann", contact["client_id"]).get_json()["follow_up_id"]
    return {
        "register team": ("POST", "/api/v1/teams", {
            "team_id": "salon", "name": "'t Salon", "organisation": "caw-nwvl",
            "site": "Brugge", "service": "youth_work"}),
        "list teams": ("GET", "/api/v1/teams", None),
        "add account": ("POST", "/api/v1/accounts", {
            "account_id": "dirk", "name": "Dirk", "role": "worker", "team_id": "jac-oostende",
            "function": "counsellor"}),
        "register profile": ("POST", "/api/v1/profiles", {
            "profile_id": "ann-whatsapp", "channel": "whatsapp", "kind": "personal",
            "team_id": "jac-oostende", "users": ["ann"]}),
        "log contact": ("POST", "/api/v1/contacts", w.contact_body("ann")),
        "read contact": ("GET", contact_path, None),
        "correct contact": ("POST", f"{contact_path}/corrections", {
            "changes": {"nature": "information"}, "reason": "Mistyped the nature."}),
        "retract contact": ("POST", f"{contact_path}/retraction", {"reason": "Logged twice."}),
        "look up client": ("POST", "/api/v1/clients/lookup", {"client_ref": "jonas-k"}),
        "plan follow-up": ("POST", f"{client_path}/follow-ups", {
            "due": (w.now + timedelta(days=1)).isoformat(), "reason": "Call back."}),
        "complete follow-up": ("POST", f"{client_path}/follow-ups/{follow_up_id}/completion", {}),
    }


def allowed_role(endpoint: str) -> str:
    return "admin" if endpoint in ADMIN_ENDPOINTS else "ann"


def call(w: Any, endpoint: str, who: str | None, **raw: Any) -> Call:
    method, path, body = endpoints(w)[endpoint]
    return Call(method, path, who, body, **raw)


def assert_refused(world: Any, events_in_store: Callable[[], int], request: Call,
                   status: int, code: str | None, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sends the request and checks its status, error (code and fields, when given) and that the store did not grow."""
    before = events_in_store()

    response = request.send(world)

    assert response.status_code == status, response.get_data(as_text=True)
    error = world.error_of(response)
    if code is not None:
        assert error["code"] == code
    if fields is not None:
        assert error["fields"] == fields
    assert events_in_store() == before
    return error


# 413: the size is checked before the token, the role and the body.

def oversized_json() -> str:
    return json.dumps({"client_ref": "jonas-k", "thread": "x" * MAX_BODY_BYTES})


@pytest.mark.parametrize("who", [None, "rita"], ids=["without token", "with a role not allowed"])
@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_a_body_over_65536_bytes_is_too_large_whoever_sends_it(world, events_in_store, endpoint, who):
    request = call(world, endpoint, who, data=oversized_json(), content_type="application/json")

    assert_refused(world, events_in_store, request, 413, "payload_too_large", {})


def test_a_body_over_the_limit_is_too_large_even_when_it_is_not_json(world, events_in_store):
    request = call(world, "log contact", None, data="x" * (MAX_BODY_BYTES + 1), content_type="text/plain")

    assert_refused(world, events_in_store, request, 413, "payload_too_large", {})


def test_a_body_of_exactly_65536_bytes_is_read(world, events_in_store):
    body = world.contact_body("ann", padding="")
    body["padding"] = "y" * (MAX_BODY_BYTES - len(json.dumps(body)))
    data = json.dumps(body)
    assert len(data.encode()) == MAX_BODY_BYTES
    request = Call("POST", "/api/v1/contacts", "ann", data=data, content_type="application/json")

    # Read and validated: the padding is an unknown field, not a size problem.
    assert_refused(world, events_in_store, request, 422, "validation_error", {"padding": ["Unknown field."]})


@pytest.mark.parametrize("who", [None, "ann"], ids=["without token", "with a token"])
def test_a_chunked_body_over_the_limit_is_too_large_before_the_token_is_checked(world, events_in_store, who):
    # Without a Content-Length header the size is only known while reading the body.
    request = call(
        world, "log contact", who, data=io.BytesIO(oversized_json().encode()), content_type="application/json",
        headers={"Transfer-Encoding": "chunked"}, environ={"wsgi.input_terminated": True},
    )

    assert_refused(world, events_in_store, request, 413, "payload_too_large", {})


# 415: a body that is not declared JSON.

@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_a_body_declared_as_plain_text_is_an_unsupported_media_type(world, events_in_store, endpoint):
    request = call(world, endpoint, allowed_role(endpoint))
    request.data, request.content_type = json.dumps(request.body), "text/plain"

    assert_refused(world, events_in_store, request, 415, "unsupported_media_type", {})


@pytest.mark.parametrize("content_type", [
    None, "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x",
])
def test_a_contact_sent_as_anything_but_json_is_an_unsupported_media_type(world, events_in_store, content_type):
    request = Call("POST", "/api/v1/contacts", "ann", data=json.dumps(world.contact_body("ann")),
                   content_type=content_type)

    assert_refused(world, events_in_store, request, 415, "unsupported_media_type", {})


# 400: a JSON body that is not an object.

@pytest.mark.parametrize("data", ["[]", '[{"client_ref": "jonas-k"}]', '"jonas-k"', "42", "null", "true",
                                  "{", '{"client_ref": }', "{'client_ref': 'jonas-k'}", ""])
def test_a_contact_body_that_is_not_a_json_object_is_a_bad_request(world, events_in_store, data):
    request = Call("POST", "/api/v1/contacts", "ann", data=data, content_type="application/json")

    assert_refused(world, events_in_store, request, 400, "bad_request", {})


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_an_array_body_is_a_bad_request_on_every_endpoint(world, events_in_store, endpoint):
    request = call(world, endpoint, allowed_role(endpoint))
    request.data, request.content_type = json.dumps([request.body]), "application/json"

    assert_refused(world, events_in_store, request, 400, "bad_request", {})


# 401: no token, or not a valid one. Each case comes from an address of its own: the
# module's world shares one clock that stands still, and more than 20 failures from
# one address within a minute answer 429 (tests/api/test_tokens.py).

_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def from_own_address() -> dict[str, Any]:
    return {"REMOTE_ADDR": next(_addresses)}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_request_without_a_token_is_unauthorized(world, events_in_store, endpoint):
    request = call(world, endpoint, None, environ=from_own_address())

    assert_refused(world, events_in_store, request, 401, "unauthorized", {})


@pytest.mark.parametrize("authorization", [
    lambda token: "Bearer lbk_not-a-token-anyone-was-given",
    lambda token: "Bearer",
    lambda token: "Bearer ",
    lambda token: token,
    lambda token: f"Basic {token}",
    lambda token: f"Bearer {token}x",
    lambda token: f"Bearer {token[:-1]}",
], ids=["unknown token", "scheme alone", "empty token", "token without scheme", "basic scheme",
        "token with a character added", "token with a character removed"])
def test_a_request_with_a_bad_token_is_unauthorized(world, events_in_store, authorization):
    request = call(world, "log contact", None, headers={"Authorization": authorization(world.tokens["ann"])},
                   environ=from_own_address())

    assert_refused(world, events_in_store, request, 401, "unauthorized", {})


# 403: a role the action does not allow.

@pytest.mark.parametrize("who", ["ann", "lena"], ids=["worker", "team lead"])
@pytest.mark.parametrize("endpoint", ADMIN_ENDPOINTS)
def test_workers_and_team_leads_may_not_administer(world, events_in_store, endpoint, who):
    request = call(world, endpoint, who)

    assert_refused(world, events_in_store, request, 403, "role_not_allowed", {})


@pytest.mark.parametrize("who", ["rita", "admin"], ids=["researcher", "admin"])
@pytest.mark.parametrize("endpoint", CONTACT_AND_CLIENT_ENDPOINTS)
def test_researchers_and_admins_may_not_act_on_contacts_or_clients(world, events_in_store, endpoint, who):
    request = call(world, endpoint, who)

    assert_refused(world, events_in_store, request, 403, "role_not_allowed", {})


# 403: a profile the account may not use, a contact it may not amend.

@pytest.mark.parametrize("who, profile_id", [
    ("ann", "bob-messenger"),
    ("lena", "ann-messenger"),
    ("ann", "carl-messenger"),
    ("carl", "jac-oostende-whatsapp"),
], ids=["a teammate's personal profile", "a team lead through a worker's profile",
        "a profile of another team", "a shared profile of another team"])
def test_contact_through_a_profile_the_account_may_not_use_is_forbidden(world, events_in_store, who, profile_id):
    request = Call("POST", "/api/v1/contacts", who, world.contact_body(who, profile_id=profile_id))

    assert_refused(world, events_in_store, request, 403, "profile_not_allowed", {})


@pytest.mark.parametrize("amendment, body", [
    ("corrections", {"changes": {"nature": "information"}, "reason": "Not keeping in touch."}),
    ("retraction", {"reason": "Not mine to keep."}),
])
def test_another_worker_of_the_team_may_not_amend_a_contact(world, events_in_store, amendment, body):
    contact = world.logged_contact("ann")
    request = Call("POST", f"/api/v1/contacts/{contact['contact_id']}/{amendment}", "bob", body)

    assert_refused(world, events_in_store, request, 403, "not_author", {})


# 404: unknown, or of another team.

def unknown_contact(w: Any) -> Call:
    return Call("GET", f"/api/v1/contacts/{uuid4()}", "ann")


def contact_of_another_team(w: Any) -> Call:
    contact = w.logged_contact("carl")
    return Call("GET", f"/api/v1/contacts/{contact['contact_id']}", "ann")


def a_client_id_read_as_a_contact(w: Any) -> Call:
    contact = w.logged_contact("ann")
    return Call("GET", f"/api/v1/contacts/{contact['client_id']}", "ann")


def correction_of_an_unknown_contact(w: Any) -> Call:
    return Call("POST", f"/api/v1/contacts/{uuid4()}/corrections", "ann",
                {"changes": {"nature": "information"}, "reason": "Typo."})


def correction_of_a_contact_of_another_team(w: Any) -> Call:
    contact = w.logged_contact("carl")
    return Call("POST", f"/api/v1/contacts/{contact['contact_id']}/corrections", "lena",
                {"changes": {"nature": "information"}, "reason": "Typo."})


def retraction_of_a_contact_of_another_team(w: Any) -> Call:
    contact = w.logged_contact("carl")
    return Call("POST", f"/api/v1/contacts/{contact['contact_id']}/retraction", "lena", {"reason": "Not ours."})


def follow_up_of_a_client_never_met(w: Any) -> Call:
    return Call("POST", f"/api/v1/clients/{uuid4()}/follow-ups", "ann",
                {"due": w.now.isoformat(), "reason": "Call back."})


def follow_up_of_a_client_only_another_team_met(w: Any) -> Call:
    # Same organisation, same ref: one client, but Ostend has not met it yet.
    contact = w.logged_contact("carl", client_ref=f"met-in-bruges-{uuid4()}")
    return Call("POST", f"/api/v1/clients/{contact['client_id']}/follow-ups", "ann",
                {"due": w.now.isoformat(), "reason": "Call back."})


def completion_of_an_unknown_follow_up(w: Any) -> Call:
    contact = w.logged_contact("ann")
    return Call("POST", f"/api/v1/clients/{contact['client_id']}/follow-ups/{uuid4()}/completion", "ann", {})


def completion_of_a_follow_up_of_another_team(w: Any) -> Call:
    contact = w.logged_contact("carl", client_ref=f"met-in-bruges-{uuid4()}")
    follow_up_id = w.follow_up("carl", contact["client_id"]).get_json()["follow_up_id"]
    return Call("POST", f"/api/v1/clients/{contact['client_id']}/follow-ups/{follow_up_id}/completion",
                "ann", {})


@pytest.mark.parametrize("case", [
    unknown_contact, contact_of_another_team, a_client_id_read_as_a_contact,
    correction_of_an_unknown_contact, correction_of_a_contact_of_another_team,
    retraction_of_a_contact_of_another_team, follow_up_of_a_client_never_met,
    follow_up_of_a_client_only_another_team_met, completion_of_an_unknown_follow_up,
    completion_of_a_follow_up_of_another_team,
], ids=lambda case: case.__name__)
def test_what_is_unknown_or_of_another_team_is_not_found(world, events_in_store, case):
    request = case(world)

    error = assert_refused(world, events_in_store, request, 404, "not_found", {})

    assert "carl" not in error["message"] and "jac-brugge" not in error["message"]


# 409: duplicates, conflicting repeats, acting on what is closed.

def duplicate_team(w: Any) -> Call:
    return Call("POST", "/api/v1/teams", "admin", {
        "team_id": "jac-oostende", "name": "Other", "organisation": "caw-nwvl", "site": "Oostende",
        "service": "jac"})


def duplicate_account(w: Any) -> Call:
    return Call("POST", "/api/v1/accounts", "admin", {
        "account_id": "ann", "name": "Another Ann", "role": "researcher"})


def duplicate_profile(w: Any) -> Call:
    return Call("POST", "/api/v1/profiles", "admin", {
        "profile_id": "ann-messenger", "channel": "whatsapp", "kind": "shared", "team_id": "jac-oostende",
        "users": ["ann", "bob"]})


def repeat_with_another_nature(w: Any) -> Call:
    body = w.contact_body("ann", contact_id=str(uuid4()))
    w.post("/api/v1/contacts", body, who="ann")
    return Call("POST", "/api/v1/contacts", "ann", {**body, "nature": "help_conversation"})


def repeat_with_another_client_ref(w: Any) -> Call:
    body = w.contact_body("ann", contact_id=str(uuid4()))
    w.post("/api/v1/contacts", body, who="ann")
    return Call("POST", "/api/v1/contacts", "ann", {**body, "client_ref": "someone-else"})


def repeat_by_another_account(w: Any) -> Call:
    body = w.contact_body("ann", contact_id=str(uuid4()), profile_id="jac-oostende-whatsapp")
    w.post("/api/v1/contacts", body, who="ann")
    return Call("POST", "/api/v1/contacts", "bob", body)


def retracted(w: Any) -> str:
    contact = w.logged_contact("ann")
    path = f"/api/v1/contacts/{contact['contact_id']}"
    assert w.post(f"{path}/retraction", {"reason": "Logged twice."}, who="ann").status_code == 201
    return path


def correction_of_a_retracted_contact(w: Any) -> Call:
    return Call("POST", f"{retracted(w)}/corrections", "ann", {"changes": {"nature": "information"},
                                                              "reason": "Typo."})


def retraction_of_a_retracted_contact(w: Any) -> Call:
    return Call("POST", f"{retracted(w)}/retraction", "ann", {"reason": "Logged twice."})


def completion_of_a_completed_follow_up(w: Any) -> Call:
    contact = w.logged_contact("ann")
    follow_up_id = w.follow_up("ann", contact["client_id"]).get_json()["follow_up_id"]
    path = f"/api/v1/clients/{contact['client_id']}/follow-ups/{follow_up_id}/completion"
    assert w.post(path, {}, who="ann").status_code == 201
    return Call("POST", path, "lena", {})


@pytest.mark.parametrize("case, code", [
    (duplicate_team, "already_exists"),
    (duplicate_account, "already_exists"),
    (duplicate_profile, "already_exists"),
    (repeat_with_another_nature, "contact_id_conflict"),
    (repeat_with_another_client_ref, "contact_id_conflict"),
    (repeat_by_another_account, "contact_id_conflict"),
    (correction_of_a_retracted_contact, "contact_retracted"),
    (retraction_of_a_retracted_contact, "contact_retracted"),
    (completion_of_a_completed_follow_up, "follow_up_completed"),
], ids=lambda value: getattr(value, "__name__", ""))
def test_duplicates_conflicting_repeats_and_acting_on_what_is_closed_are_conflicts(
    world, events_in_store, case, code
):
    request = case(world)

    assert_refused(world, events_in_store, request, 409, code, {})


# 422: invalid fields, a flat map of field name to messages.

def contact(**fields: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return Call("POST", "/api/v1/contacts", "ann", w.contact_body("ann", **fields))
    return case


def contact_at(delta: timedelta) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return Call("POST", "/api/v1/contacts", "ann", w.contact_body("ann", occurred_at=(w.now + delta).isoformat()))
    return case


def contact_without(name: str) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        body = w.contact_body("ann")
        del body[name]
        return Call("POST", "/api/v1/contacts", "ann", body)
    return case


def correction(changes: Any, reason: Any = "Mistyped.") -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        contact = w.logged_contact("ann")
        return Call("POST", f"/api/v1/contacts/{contact['contact_id']}/corrections", "ann",
                    {"changes": changes, "reason": reason})
    return case


def correction_to(delta: timedelta) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return correction({"occurred_at": (w.now + delta).isoformat()})(w)
    return case


def retraction(body: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        contact = w.logged_contact("ann")
        return Call("POST", f"/api/v1/contacts/{contact['contact_id']}/retraction", "ann", body)
    return case


def follow_up(body: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        contact = w.logged_contact("ann")
        return Call("POST", f"/api/v1/clients/{contact['client_id']}/follow-ups", "ann", body)
    return case


def profile(**fields: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return Call("POST", "/api/v1/profiles", "admin", {
            "profile_id": "new-profile", "channel": "messenger", "kind": "shared",
            "team_id": "jac-oostende", "users": ["ann"], **fields})
    return case


def account(**fields: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return Call("POST", "/api/v1/accounts", "admin", {"account_id": "dirk", "name": "Dirk", **fields})
    return case


def team(**fields: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return Call("POST", "/api/v1/teams", "admin", {
            "team_id": "salon", "name": "'t Salon", "organisation": "caw-nwvl", "site": "Brugge",
            "service": "youth_work", **fields})
    return case


INVALID = [
    ("occurred_at 5 minutes and a second ahead", contact_at(timedelta(minutes=5, seconds=1)),
     "contact_in_future", {"occurred_at"}),
    ("occurred_at a year ahead", contact_at(timedelta(days=365)), "contact_in_future", {"occurred_at"}),
    ("occurred_at without offset", contact(occurred_at="2025-03-01T11:00:00"), "validation_error",
     {"occurred_at"}),
    ("occurred_at not a time", contact(occurred_at="yesterday"), "validation_error", {"occurred_at"}),
    ("occurred_at a number", contact(occurred_at=1740826800), "validation_error", {"occurred_at"}),
    ("unknown profile_id", contact(profile_id="nobodys-profile"), "unknown_reference", {"profile_id"}),
    ("profile_id not a slug", contact(profile_id="Ann's Messenger"), "validation_error", {"profile_id"}),
    ("11 topics", contact(topics=[f"topic-{n}" for n in range(11)]), "validation_error", {"topics"}),
    ("topic not a slug", contact(topics=["Job Search"]), "validation_error", {"topics.0"}),
    ("topics not a list", contact(topics="school"), "validation_error", {"topics"}),
    ("thread of 101 characters", contact(thread="t" * 101), "validation_error", {"thread"}),
    ("message_count 0", contact(message_count=0), "validation_error", {"message_count"}),
    ("message_count not a number", contact(message_count="many"), "validation_error", {"message_count"}),
    ("negative duration", contact(duration_minutes=-5), "validation_error", {"duration_minutes"}),
    ("unknown nature", contact(nature="therapy"), "validation_error", {"nature"}),
    ("unknown direction", contact(direction="sideways"), "validation_error", {"direction"}),
    ("contact_id not a UUID", contact(contact_id="42"), "validation_error", {"contact_id"}),
    ("blank client_ref", contact(client_ref="   "), "validation_error", {"client_ref"}),
    ("unknown field on a contact", contact(notes="Talked about home."), "validation_error", {"notes"}),
    ("contact without client_ref", contact_without("client_ref"), "validation_error", {"client_ref"}),
    ("contact without occurred_at", contact_without("occurred_at"), "validation_error", {"occurred_at"}),
    ("contact without profile_id", contact_without("profile_id"), "validation_error", {"profile_id"}),
    ("unknown field in corrections' changes", correction({"client_id": str(uuid4())}), "validation_error",
     {"changes.client_id"}),
    ("profile_id in corrections' changes", correction({"profile_id": "bob-messenger"}), "validation_error",
     {"changes.profile_id"}),
    ("empty corrections' changes", correction({}), "invalid_correction", {"changes"}),
    ("changes not an object", correction(["nature"]), "validation_error", {"changes._schema"}),
    ("correction into the future", correction_to(timedelta(minutes=6)), "contact_in_future",
     {"changes.occurred_at"}),
    ("correction to a naive time", correction({"occurred_at": "2025-03-01T10:00:00"}), "validation_error",
     {"changes.occurred_at"}),
    ("correction to 11 topics", correction({"topics": [f"t{n}" for n in range(11)]}), "validation_error",
     {"changes.topics"}),
    ("correction to a long thread", correction({"thread": "t" * 101}), "validation_error",
     {"changes.thread"}),
    ("correction without reason", correction({"nature": "information"}, reason=None), "validation_error",
     {"reason"}),
    ("retraction with blank reason", retraction({"reason": " "}), "validation_error", {"reason"}),
    ("retraction without reason", retraction({}), "validation_error", {"reason"}),
    ("follow-up due without offset", follow_up({"due": "2025-03-08T10:00:00", "reason": "Call."}),
     "validation_error", {"due"}),
    ("follow-up without reason", follow_up({"due": "2025-03-08T10:00:00+01:00"}), "validation_error",
     {"reason"}),
    ("personal profile with two users", profile(kind="personal", users=["ann", "bob"]),
     "invalid_profile_users", {"users"}),
    ("personal profile without users", profile(kind="personal", users=[]), "invalid_profile_users", {"users"}),
    ("shared profile without users", profile(users=[]), "invalid_profile_users", {"users"}),
    ("profile with an unknown user", profile(users=["ann", "ghost"]), "invalid_profile_users", {"users"}),
    ("profile with a user of another team", profile(users=["ann", "carl"]), "invalid_profile_users",
     {"users"}),
    ("profile with a researcher", profile(users=["rita"]), "invalid_profile_users", {"users"}),
    ("profile of an unknown team", profile(team_id="jac-gent"), "unknown_reference", {"team_id"}),
    ("profile with an unknown channel", profile(channel="telegram"), "validation_error", {"channel"}),
    ("worker without team", account(role="worker", function="counsellor"), "invalid_account", {"team_id"}),
    ("worker without function", account(role="worker", team_id="jac-oostende"), "invalid_account",
     {"function"}),
    ("worker of an unknown team", account(role="worker", team_id="jac-gent", function="counsellor"),
     "unknown_reference", {"team_id"}),
    ("admin with a team", account(role="admin", team_id="jac-oostende"), "invalid_account", {"team_id"}),
    ("researcher as intern", account(role="researcher", intern=True), "invalid_account", {"intern"}),
    ("unknown role", account(role="boss"), "validation_error", {"role"}),
    ("account_id not a slug", account(account_id="Dirk D", role="researcher"), "validation_error",
     {"account_id"}),
    ("team with an unknown service", team(service="hospital"), "validation_error", {"service"}),
    ("team with a blank name", team(name=" "), "validation_error", {"name"}),
    ("organisation not a slug", team(organisation="CAW Noord-West"), "validation_error", {"organisation"}),
]


@pytest.mark.parametrize("case, code, field_names", [row[1:] for row in INVALID], ids=[row[0] for row in INVALID])
def test_invalid_fields_are_unprocessable(world, events_in_store, case, code, field_names):
    request = case(world)

    error = assert_refused(world, events_in_store, request, 422, code)

    assert set(error["fields"]) == field_names


# Whatever the body holds, the answer is a 4xx in the error shape, never a 500.

NOT_TEXT = "jonas\ud800"
"""Valid JSON as an escape, but a lone surrogate is no Unicode character: it cannot be encoded as UTF-8."""


def lookup(client_ref: Any) -> Callable[[Any], Call]:
    def case(w: Any) -> Call:
        return Call("POST", "/api/v1/clients/lookup", "ann", {"client_ref": client_ref})
    return case


UNENCODABLE = [
    ("client_ref of a contact", contact(client_ref=NOT_TEXT), {"client_ref"}),
    ("thread of a contact", contact(thread=NOT_TEXT), {"thread"}),
    ("client_ref of a lookup", lookup(NOT_TEXT), {"client_ref"}),
    ("thread of a correction", correction({"thread": NOT_TEXT}), {"changes.thread"}),
    ("reason of a correction", correction({"nature": "information"}, reason=NOT_TEXT), {"reason"}),
    ("reason of a retraction", retraction({"reason": NOT_TEXT}), {"reason"}),
    ("reason of a follow-up", follow_up({"due": "2025-03-08T10:00:00+01:00", "reason": NOT_TEXT}), {"reason"}),
    ("name of a team", team(name=NOT_TEXT), {"name"}),
    ("site of a team", team(site=NOT_TEXT), {"site"}),
    ("name of an account", account(role="researcher", name=NOT_TEXT), {"name"}),
]


@pytest.mark.parametrize("case, field_names", [row[1:] for row in UNENCODABLE], ids=[row[0] for row in UNENCODABLE])
def test_a_string_that_is_not_unicode_text_is_unprocessable_not_a_server_error(world, events_in_store, case,
                                                                                 field_names):
    request = case(world)

    error = assert_refused(world, events_in_store, request, 422, code=None)

    assert set(error["fields"]) == field_names


DEPTH = 10_000
"""Far deeper than Python's recursion limit, and still under the size limit."""


def test_a_deeply_nested_array_is_a_bad_request_not_a_server_error(world, events_in_store):
    request = Call("POST", "/api/v1/contacts", "ann", data="[" * DEPTH + "]" * DEPTH,
                   content_type="application/json")

    assert_refused(world, events_in_store, request, 400, "bad_request", {})


@pytest.mark.parametrize("data", [
    '{"topics": ' + "[" * DEPTH + "]" * DEPTH + "}",
    '{"a":' * DEPTH + "1" + "}" * DEPTH,
], ids=["nested topics", "nested objects"])
def test_a_deeply_nested_object_is_refused_in_the_error_shape_not_a_server_error(world, events_in_store, data):
    request = Call("POST", "/api/v1/contacts", "ann", data=data, content_type="application/json")
    before = events_in_store()

    response = request.send(world)

    # Unreadable as an object (400) or read and found invalid (422): either, in the error shape.
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    world.error_of(response)
    assert events_in_store() == before
