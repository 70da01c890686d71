"""`logbook export`: the contacts of a period for research, from the command line."""

from __future__ import annotations

import base64
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook import read_models
from logbook.application import ContactDraft, Logbook
from logbook.audit import AuditAction, audit_log
from logbook.cli import main
from logbook.config import Settings

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def environment(data_dir: Path, research_key: str | None = "r" * 40) -> dict[str, Any]:
    return {
        "LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": "s" * 40, "DATABASE_URL": None,
        "LOGBOOK_MASTER_KEY": base64.urlsafe_b64encode(b"m" * 32).decode(), "LOGBOOK_RESEARCH_KEY": research_key,
        "LOGBOOK_ENCRYPT_EVENTS": None,
    }


def run(data_dir: Path, *args: str, research_key: str | None = "r" * 40) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["export", *args], env=environment(data_dir, research_key))
    return result.exit_code, result.stdout, result.stderr


class Store:
    """Ostend's JAC with worker Ann, who logs a contact a day, on a store in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings.from_environ({k: v for k, v in environment(data_dir).items() if v is not None})
        self.logbook = Logbook(self.settings, clock=lambda: NOW)
        self.logbook.register_team(team_id="jac-oostende", name="JAC Oostende", organisation="caw-nwvl",
                                   site="Oostende", service=Service.JAC)
        self.ann, _ = self.logbook.add_account(account_id="ann", name="Ann", role=Role.WORKER,
                                               team_id="jac-oostende", function=Function.COUNSELLOR)
        self.logbook.register_profile(profile_id="ann-messenger", channel=Channel.MESSENGER,
                                      kind=ProfileKind.PERSONAL, team_id="jac-oostende", users=["ann"])

    def log(self, days: int) -> None:
        for day in range(days):
            self.logbook.log_contact(self.ann, ContactDraft(
                client_ref=f"client-{day % 3}", profile_id="ann-messenger", direction=Direction.INBOUND,
                nature=Nature.KEEPING_IN_TOUCH, occurred_at=datetime(2025, 2, 1, 15, tzinfo=timezone.utc)
                + timedelta(days=day), topics=["school", "home"],
            ))

    def project(self) -> None:
        with closing(read_models.projector(self.settings, lambda: NOW)) as projector:
            projector.catch_up()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store(tmp_path / "data")
    store.log(10)
    store.project()
    yield store
    store.logbook.close()


def test_an_export_prints_how_many_contacts_it_wrote(store, tmp_path):
    out = tmp_path / "february.jsonl"

    code, stdout, stderr = run(store.settings.data_dir, "--format", "jsonl", "--from", "2025-02-03",
                               "--to", "2025-02-08", "--out", str(out))

    assert code == 0, stderr
    assert stdout == "5\n"
    assert len(out.read_bytes().splitlines()) == 5
    assert "exported 5 contacts" in stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_two_exports_of_the_same_range_are_byte_identical(store, tmp_path, fmt):
    outs = [tmp_path / f"{name}.{fmt}" for name in ("first", "second")]
    for out in outs:
        code, stdout, stderr = run(store.settings.data_dir, "--format", fmt, "--from", "2025-02-01",
                                   "--to", "2025-03-01T00:00:00+01:00", "--out", str(out))
        assert (code, stdout) == (0, "10\n"), stderr

    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_each_export_is_recorded_in_the_access_audit_as_the_operator(store, tmp_path):
    run(store.settings.data_dir, "--format", "csv", "--out", str(tmp_path / "all.csv"))

    (entry,) = audit_log(store.settings).search(account_id="operator").items
    assert (entry.role, entry.action, entry.client_id, entry.contact_id, entry.address) == (
        Role.ADMIN, AuditAction.EXPORT, None, None, "cli")


def test_the_export_refuses_while_the_read_models_are_behind_and_writes_nothing(store, tmp_path):
    store.log(1)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    code, stdout, stderr = run(store.settings.data_dir, "--format", "parquet", "--wait", "0",
                               "--out", str(out_dir / "all.parquet"))

    assert (code, stdout) == (1, "")
    assert "read model is at position" in stderr and "Nothing was exported" in stderr
    assert list(out_dir.iterdir()) == []
    assert audit_log(store.settings).search(account_id="operator").items == []


def test_the_export_waits_for_the_read_models_when_asked(store, tmp_path):
    store.log(1)
    store.project()

    code, stdout, _ = run(store.settings.data_dir, "--format", "jsonl", "--wait", "0",
                          "--out", str(tmp_path / "all.jsonl"))

    assert (code, stdout) == (0, "11\n")


@pytest.mark.parametrize(("args", "option"), [
    (["--from", "2025-02-01T00:00:00"], "--from"),
    (["--to", "1 February"], "--to"),
    (["--from", "2025-02-02", "--to", "2025-02-01"], "--to"),
])
def test_a_period_that_is_not_one_is_a_usage_error(store, tmp_path, args, option):
    code, stdout, stderr = run(store.settings.data_dir, "--format", "jsonl", *args,
                               "--out", str(tmp_path / "all.jsonl"))

    assert (code, stdout) == (2, "")
    assert option in stderr
    assert not (tmp_path / "all.jsonl").exists()


def test_without_a_research_key_nothing_is_exported(store, tmp_path):
    code, _, stderr = run(store.settings.data_dir, "--format", "jsonl", "--out", str(tmp_path / "all.jsonl"),
                          research_key=None)

    assert code == 1
    assert "LOGBOOK_RESEARCH_KEY" in stderr
    assert not (tmp_path / "all.jsonl").exists()
