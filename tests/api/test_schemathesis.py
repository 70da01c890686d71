"""Schemathesis over every operation of the OpenAPI document, against the app in process.

Each operation is exercised by the first of a worker, a team lead, an admin and
a researcher whose role may perform it: valid (positive) and invalid (negative)
queries and bodies, on a path naming resources that exist (a contact of the
worker's, its client and follow-up, the crossing it made, the team, a spare
account, a replay), so that requests reach the view; and on generated paths
(not for accounts: a generated account id might be the caller's own, and a
rotation would end its token mid-run). Every other role that may perform it sends a few valid requests too, as its
answers may differ. Every answer must be no server error, and match the status,
content type and schema the document gives for it (flask-smorest documents a
`default` error response for every operation, in the one error shape); and a
request the document says is invalid must be refused with a 4xx (but by the
batch, which answers 200 with a refusal per invalid contact).

The one 5xx of the contract is 503 `projection_behind`, for a read with
`?after=` beyond what its read model has processed: it is answered at once here
(no 5 s wait), and accepted only in the error shape, with its `Retry-After`.

The run is bounded and derandomized: the same examples every run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import api.read_models
from logbook.access import ALLOWED_ROLES

CALLERS = {"worker": "ann", "team_lead": "lena", "admin": "admin", "researcher": "rita"}
"""In the order that picks who exercises an operation fully: the first whose role may perform it."""
POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 10
GENERATED_PATH_EXAMPLES = 5
"""Few: a generated id names nothing, so each such request ends in the same 404."""
OTHER_ROLE_EXAMPLES = 5

CONFIG = schemathesis.Config.from_dict({
    "seed": 20260501,
    "generation": {"deterministic": True, "with-security-parameters": False},
})


def projection_behind_or_not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """`not_a_server_error`, except the documented 503 of a read after a position its read model has not reached."""
    if response.status_code == 503 and "after" in (case.query or {}):
        error = json.loads(response.content)["error"]
        assert error["code"] == "projection_behind", error
        assert response.headers.get("retry-after") == ["1"], response.headers
        return True
    return not_a_server_error(ctx, response, case)


CHECKS = [
    projection_behind_or_not_a_server_error, status_code_conformance, content_type_conformance,
    response_schema_conformance, negative_data_rejection,
]
ANSWERS_EACH_ITEM = {"POST /api/v1/contacts/batch"}
"""Answers 200 with a result per item, an invalid item's among them: no `negative_data_rejection` there."""


class Run(NamedTuple):
    name: str
    mode: GenerationMode
    path_parameters: dict[str, str] | None
    """Fixed to resources that exist; None to generate them."""
    examples: int


@pytest.fixture(scope="module")
def world(open_world: Any, tmp_path_factory: Any) -> Any:
    """The shared world, with contacts of Ann's (one made a crossing), a follow-up, a spare account and a replay."""
    world = open_world(tmp_path_factory.mktemp("schemathesis"))
    contact = world.logged_contact("ann", note="Talked about school.", topics=["school"])
    world.logged_contact("ann", nature="help_question", profile_id="jac-oostende-whatsapp")
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


@pytest.fixture(scope="module")
def operations(world: Any) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.app, config=CONFIG)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture
def read_models_answer_at_once(monkeypatch: Any) -> None:
    monkeypatch.setattr(api.read_models, "WAIT_SECONDS", 0)


def roles_that_may_perform(app: Flask, operation: Any) -> list[str]:
    """The roles the guard lets through to the operation's view, in the order of `CALLERS`."""
    sample_path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", operation.path)
    endpoint, _ = app.url_map.bind("localhost").match(sample_path, method=operation.method.upper())
    action = getattr(app.view_functions[endpoint], "logbook_action", None)
    return [role for role in CALLERS if action is None or role in ALLOWED_ROLES[action]]


def runs(operation: Any, resources: dict[str, str], fully: bool) -> Iterator[Run]:
    existing = {parameter.name: resources[parameter.name] for parameter in operation.path_parameters}
    if not fully:
        yield Run("valid", GenerationMode.POSITIVE, existing, OTHER_ROLE_EXAMPLES)
        return
    yield Run("valid", GenerationMode.POSITIVE, existing, POSITIVE_EXAMPLES)
    if len(operation.query) or len(operation.body):
        yield Run("invalid", GenerationMode.NEGATIVE, existing, NEGATIVE_EXAMPLES)
    if existing and "account_id" not in existing:  # a generated account id might be the caller's own
        yield Run("generated path", GenerationMode.POSITIVE, None, GENERATED_PATH_EXAMPLES)


def exercise(operation: Any, run: Run, headers: dict[str, str]) -> None:
    strategy = operation.as_strategy(generation_mode=run.mode, headers=headers, path_parameters=run.path_parameters)
    checks = [check for check in CHECKS
              if not (check is negative_data_rejection and operation.label in ANSWERS_EACH_ITEM)]

    @given(case=strategy)
    @settings(max_examples=run.examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(checks=checks)

    call()


@pytest.mark.usefixtures("read_models_answer_at_once")
@pytest.mark.parametrize("role", list(CALLERS))
def test_every_operation_the_role_may_perform_answers_as_documented(world, operations, role, subtests):
    caller = CALLERS[role]
    world.project()

    for operation in operations:
        roles = roles_that_may_perform(world.app, operation)
        if role not in roles:
            continue  # 403 before anything is read: tests/api/test_authorization_matrix.py
        for run in runs(operation, world.resources, fully=role == roles[0]):
            with subtests.test(msg=f"{operation.label}, {run.name}"):
                exercise(operation, run, world.headers(caller))

    assert world.get("/api/v1/me", who=caller).status_code == 200, "the caller's token still works"
