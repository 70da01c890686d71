"""On PostgreSQL, `logbook backup` and `restore` refuse, and say what to do instead."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner

from logbook.cli import main

pytestmark = pytest.mark.postgres_only


@pytest.mark.parametrize("command", [["backup", "--out"], ["restore", "--from"]])
def test_backup_and_restore_refuse_a_postgres_store_and_point_to_pg_dump(tmp_path: Path, command: list[str]) -> None:
    env = {"LOGBOOK_DATA_DIR": str(tmp_path / "data"), "LOGBOOK_SECRET_KEY": "s" * 40,
           "LOGBOOK_MASTER_KEY": base64.urlsafe_b64encode(b"m" * 32).decode(), "DATABASE_URL": None}
    archive = tmp_path / "logbook.tar.gz"
    if command[0] == "restore":
        archive.write_bytes(b"not read")

    result = CliRunner().invoke(main, [*command, str(archive)], env=env)

    assert result.exit_code == 1, result.output
    assert "pg_dump" in result.output
    assert not (tmp_path / "data" / "logbook.sqlite3").exists()
    assert archive.exists() == (command[0] == "restore"), "no archive was written"
