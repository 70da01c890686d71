"""Researchers replay the history through the API: a job to start and poll, whose report is the command line's."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from click.testing import CliRunner

from logbook.cli import main

REPLAYS = "/api/v1/research/replays"
WITHOUT_DRIFT = {"version": "without-drift", "effective_from": "2019-01-01T00:00:00+01:00",
                 "rules": {"drift_into_help": {"enabled": False}}}


@pytest.fixture
def logged(world: Any) -> Any:
    """Ann's help question never referred, Ann's help then referral, intern Bob's and Carl's keeping in touch."""
    world.logged_contact("ann", client_ref="jonas-k", nature="help_question")
    for nature in ("help_conversation", "referral_safe_chat"):
        world.logged_contact("ann", client_ref="mila-v", nature=nature, thread="t-1")
    world.logged_contact("bob", client_ref="noor-d")
    world.logged_contact("carl", client_ref="lars-b")
    return world


def until(world: Any) -> str:
    """Three days on: Ann's help question went unreferred for its 48 hours."""
    return (world.now + timedelta(days=3)).isoformat()


def replays_dir(world: Any) -> Path:
    return Path(world.app.extensions["logbook"].settings.data_dir) / "research" / "replays"


def started(world: Any, policy: Any = "sector-agreement-2019") -> dict[str, Any]:
    response = world.post(REPLAYS, {"until": until(world), "policy": policy}, who="rita")
    assert response.status_code == 202, response.get_data(as_text=True)
    return dict(response.get_json())


def finished(world: Any, replay_id: str) -> dict[str, Any]:
    """The replay once it is no longer running, polled for at most a minute."""
    deadline = time.monotonic() + 60
    while True:
        response = world.get(f"{REPLAYS}/{replay_id}", who="rita")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = dict(response.get_json())
        if body["status"] != "running" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def cli_replay(world: Any, out: Path, policy: str = "sector-agreement-2019") -> bytes:
    settings = world.app.extensions["logbook"].settings
    env = {
        "LOGBOOK_DATA_DIR": str(settings.data_dir), "LOGBOOK_SECRET_KEY": settings.secret_key.decode(),
        "LOGBOOK_MASTER_KEY": base64.urlsafe_b64encode(settings.master_key).decode(),
        "LOGBOOK_RESEARCH_KEY": settings.research_key.decode(), "DATABASE_URL": None,
    }
    result = CliRunner().invoke(main, ["replay", "--until", until(world), "--policy", policy, "--out", str(out)],
                                env=env)
    assert result.exit_code == 0, result.output
    return (out / "report.json").read_bytes()


def test_a_researcher_starts_a_replay_polls_it_and_reads_the_report_the_command_line_writes(
    logged: Any, tmp_path: Path
) -> None:
    job = started(logged)

    done = finished(logged, job["replay_id"])

    expected = cli_replay(logged, tmp_path / "cli")
    assert (job["status"], job["policy_version"], job["until"]) == ("running", "sector-agreement-2019",
                                                                    "2025-03-04T12:00:00+00:00")
    assert done == {**job, "status": "done", "report": json.loads(expected)}
    assert (replays_dir(logged) / job["replay_id"].replace("-", "") / "report.json").read_bytes() == expected
    rules = {crossing["rule"] for crossing in done["report"]["crossings"]}
    assert rules >= {"help_question_not_referred", "drift_into_help", "intern_personal_profile"}
    assert "jonas" not in json.dumps(done) and "ann" not in json.dumps(done["report"]["crossings"])


def test_reading_a_done_replay_is_recorded_in_the_access_audit(logged: Any) -> None:
    finished(logged, started(logged)["replay_id"])

    entries = logged.get("/api/v1/audit?account_id=rita", who="admin").get_json()["items"]

    assert [(entry["action"], entry["client_id"]) for entry in entries] == [("export", None)]


def test_a_replay_under_a_policy_body_is_judged_by_it_alone(logged: Any) -> None:
    done = finished(logged, started(logged, policy=WITHOUT_DRIFT)["replay_id"])

    assert done["status"] == "done" and done["policy_version"] == "without-drift"
    assert done["report"]["crossings"]
    assert not [crossing for crossing in done["report"]["crossings"] if crossing["rule"] == "drift_into_help"]


@pytest.mark.parametrize("who", ["admin", "ann", "lena"])
def test_only_researchers_replay(world: Any, who: str) -> None:
    body = {"until": until(world), "policy": "sector-agreement-2019"}

    posted = world.post(REPLAYS, body, who=who)
    read = world.get(f"{REPLAYS}/{uuid4()}", who=who)

    assert (posted.status_code, read.status_code) == (403, 403)
    assert world.error_of(posted)["code"] == "role_not_allowed"
    assert not replays_dir(world).exists()


@pytest.mark.parametrize(("policy", "field", "code"), [
    ({**WITHOUT_DRIFT, "rules": {"drift_into_help": {"enabled": "yes"}}}, "policy.rules.drift_into_help.enabled",
     "invalid"),
    ({"version": "no-date"}, "policy.effective_from", "invalid"),
    ({**WITHOUT_DRIFT, "version": "sector-agreement-2019"}, "policy.version", "invalid"),
    ("nwvl-2030", "policy", "unknown_policy"),
    (42, "policy", "validation_error"),
])
def test_a_bad_policy_is_refused_naming_the_field_and_starts_nothing(
    world: Any, policy: Any, field: str, code: str
) -> None:
    response = world.post(REPLAYS, {"until": until(world), "policy": policy}, who="rita")

    assert response.status_code == 422
    error = world.error_of(response)
    assert (error["code"], list(error["fields"])) == (code, [field])
    assert not replays_dir(world).exists()


@pytest.mark.parametrize("moment", ["2025-03-04T12:00:00", "yesterday", None])
def test_a_moment_without_its_offset_is_refused_and_starts_nothing(world: Any, moment: Any) -> None:
    response = world.post(REPLAYS, {"until": moment, "policy": "sector-agreement-2019"}, who="rita")

    assert response.status_code == 422
    assert list(world.error_of(response)["fields"]) == ["until"]
    assert not replays_dir(world).exists()


@pytest.mark.parametrize("replay_id", [str(uuid4()), "not-an-id"])
def test_an_unknown_replay_is_not_found(world: Any, replay_id: str) -> None:
    response = world.get(f"{REPLAYS}/{replay_id}", who="rita")

    assert response.status_code == 404
    assert world.error_of(response)["code"] == "not_found"


def test_a_third_replay_at_once_is_refused_with_429(world: Any) -> None:
    for n in range(2):
        running(world, f"{n + 1:032x}", pid=os.getpid())

    response = world.post(REPLAYS, {"until": until(world), "policy": "sector-agreement-2019"}, who="rita")

    assert response.status_code == 429
    assert (world.error_of(response)["code"], response.headers["Retry-After"]) == ("too_many_replays", "60")
    assert len(list(path for path in replays_dir(world).iterdir() if path.is_dir())) == 2


def running(world: Any, replay_hex: str, pid: int) -> None:
    """The status file of a replay running in process ``pid`` of this host."""
    from logbook.replay import _this_process

    job_dir = replays_dir(world) / replay_hex
    job_dir.mkdir(parents=True)
    status = {"replay_id": replay_hex, "status": "running", "until": "2025-03-04T12:00:00+00:00",
              "policy_version": "sector-agreement-2019", **_this_process(), "pid": pid,
              "host": socket.gethostname()}
    (job_dir / "status.json").write_text(json.dumps(status))
