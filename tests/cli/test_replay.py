"""`logbook replay`: a report of the history as of a moment under one policy, or a clear refusal that writes nothing."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook.application import ContactDraft, Logbook
from logbook.cli import main
from logbook.config import Settings

NOW = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
UNTIL = "2026-05-07T14:00:00+02:00"
WITHOUT_DRIFT = {"version": "without-drift", "effective_from": "2019-01-01T00:00:00+01:00",
                 "rules": {"drift_into_help": {"enabled": False}}}


def env_of(data_dir: Path, research_key: str | None = "r" * 40) -> dict[str, str | None]:
    return {"LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": "s" * 40, "LOGBOOK_RESEARCH_KEY": research_key,
            "DATABASE_URL": None}


def run(data_dir: Path, *args: str, research_key: str | None = "r" * 40) -> Any:
    return CliRunner().invoke(main, list(args), env=env_of(data_dir, research_key))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Ann of JAC Oostende: a help question never referred, and help that drifted, then a referral."""
    data_dir = tmp_path / "var"
    settings = Settings.from_environ({key: value for key, value in env_of(data_dir).items() if value})
    with closing(Logbook(settings, clock=lambda: NOW)) as app:
        app.register_team(team_id="jac-oostende", name="JAC Oostende", organisation="caw-nwvl", site="Oostende",
                          service=Service.JAC)
        ann, _ = app.add_account(account_id="ann", name="Ann", role=Role.WORKER, team_id="jac-oostende",
                                 function=Function.COUNSELLOR)
        app.register_profile(profile_id="ann-messenger", channel=Channel.MESSENGER, kind=ProfileKind.PERSONAL,
                             team_id="jac-oostende", users=["ann"])
        for client_ref, nature in (("jonas-k", Nature.HELP_QUESTION), ("mila-v", Nature.HELP_CONVERSATION),
                                   ("mila-v", Nature.REFERRAL_SAFE_CHAT)):
            app.log_contact(ann, ContactDraft(client_ref=client_ref, profile_id="ann-messenger", thread=client_ref,
                                              direction=Direction.INBOUND, nature=nature,
                                              occurred_at=NOW - timedelta(hours=1)))
    return data_dir


def test_a_replay_writes_its_report_prints_its_path_and_shows_its_progress(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = run(store, "replay", "--until", UNTIL, "--policy", "sector-agreement-2019", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "report.json")
    assert "replay" in result.stderr and "events/s" in result.stderr
    report = json.loads((out / "report.json").read_bytes())
    assert report["policy_version"] == "sector-agreement-2019"
    assert {crossing["rule"] for crossing in report["crossings"]} == {
        "help_question_not_referred", "drift_into_help", "personal_profile_contact"}
    assert sorted(path.name for path in out.iterdir()) == ["report.json"]


def test_a_policy_file_is_the_body_the_api_takes(store: Path, tmp_path: Path) -> None:
    policy = tmp_path / "without-drift.json"
    policy.write_text(json.dumps(WITHOUT_DRIFT))

    result = run(store, "replay", "--until", UNTIL, "--policy", str(policy), "--out", str(tmp_path / "out"))

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_bytes())
    assert report["policy_version"] == "without-drift"
    assert "drift_into_help" not in {crossing["rule"] for crossing in report["crossings"]}


@pytest.mark.parametrize("until", ["2026-05-07T14:00:00", "2026-05-07", "tomorrow"])
def test_a_moment_without_its_offset_is_refused_and_nothing_is_written(
    store: Path, tmp_path: Path, until: str
) -> None:
    result = run(store, "replay", "--until", until, "--policy", "sector-agreement-2019", "--out",
                 str(tmp_path / "out"))

    assert result.exit_code == 2
    assert "--until" in result.stderr and "UTC offset" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("body", "named"), [
    ({**WITHOUT_DRIFT, "rules": {"drift_into_help": {"enabled": "no"}}}, "rules.drift_into_help.enabled"),
    ({"version": "no-date"}, "effective_from"),
    ("not json", "does not hold JSON"),
])
def test_a_bad_policy_file_is_refused_naming_the_field_and_nothing_is_written(
    store: Path, tmp_path: Path, body: Any, named: str
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(body if isinstance(body, str) else json.dumps(body))

    result = run(store, "replay", "--until", UNTIL, "--policy", str(policy), "--out", str(tmp_path / "out"))

    assert result.exit_code == 2
    assert "--policy" in result.stderr and named in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("policy", ["nwvl-2030", "missing/policy.json"])
def test_an_unknown_version_or_file_is_refused(store: Path, tmp_path: Path, policy: str) -> None:
    result = run(store, "replay", "--until", UNTIL, "--policy", policy, "--out", str(tmp_path / "out"))

    assert result.exit_code == 2
    assert "--policy" in result.stderr
    assert not (tmp_path / "out").exists()


def test_without_a_research_key_nothing_is_replayed(store: Path, tmp_path: Path) -> None:
    result = run(store, "replay", "--until", UNTIL, "--policy", "sector-agreement-2019", "--out",
                 str(tmp_path / "out"), research_key=None)

    assert result.exit_code == 1
    assert "LOGBOOK_RESEARCH_KEY" in result.stderr
    assert not (tmp_path / "out").exists()
