"""The logbook command line, run through click's runner against a temporary store."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from logbook.application import Logbook
from logbook.cli import main
from logbook.config import Settings
from logbook.tokens import TOKEN_PREFIX
from tests.sealed_text import contact_and_client_events

SECRET = "s" * 40


def run(data_dir: Path, *args: str, secret: str | None = None) -> tuple[int, str, str]:
    env = {"LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": secret, "DATABASE_URL": None}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_init_prints_the_admin_token_alone_and_generates_a_key(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "init")

    assert code == 0
    assert out.strip().startswith(TOKEN_PREFIX) and len(out.strip().splitlines()) == 1
    assert "admin" in err
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    app = Logbook(Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path)}))
    assert app.authenticate(out.strip()).role == "admin"


def test_init_again_keeps_the_store_and_prints_nothing(tmp_path: Path) -> None:
    run(tmp_path, "init")
    key = (tmp_path / "secret.key").read_text()

    code, out, err = run(tmp_path, "init")

    assert code == 0
    assert out == ""
    assert "kept the existing store" in err
    assert (tmp_path / "secret.key").read_text() == key


def test_accounts_add_prints_a_token_that_authenticates(tmp_path: Path) -> None:
    run(tmp_path, "init")
    Logbook(Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path)})).register_team(
        team_id="jac-brugge", name="JAC Brugge", organisation="caw-nwvl", site="Brugge", service="jac")

    code, out, _ = run(tmp_path, "accounts", "add", "fien", "--name", "Fien", "--role", "worker",
                       "--team", "jac-brugge", "--function", "counsellor", "--intern")

    assert code == 0
    account = Logbook(Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path)})).authenticate(out.strip())
    assert (account.account_id, account.intern, account.team_id) == ("fien", True, "jac-brugge")


def test_accounts_add_for_an_unknown_team_fails_with_a_message(tmp_path: Path) -> None:
    run(tmp_path, "init")

    code, out, err = run(tmp_path, "accounts", "add", "fien", "--name", "Fien", "--role", "worker",
                         "--team", "nowhere", "--function", "counsellor")

    assert code == 1
    assert out == ""
    assert "nowhere" in err


def test_a_short_secret_key_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "store", "init", secret="too-short")

    assert code == 1
    assert "at least 32" in err
    assert not (tmp_path / "store").exists()


def _contact_and_client_events(data_dir: Path) -> list[tuple[Any, ...]]:
    with closing(Logbook(Settings.from_environ({"LOGBOOK_DATA_DIR": str(data_dir),
                                                "LOGBOOK_SECRET_KEY": SECRET}))) as app:
        return contact_and_client_events(app)


def test_demo_is_deterministic_and_loads_once(tmp_path: Path) -> None:
    for name in ("a", "b"):
        run(tmp_path / name, "init", secret=SECRET)
        code, _, err = run(tmp_path / name, "demo", "--contacts", "400", secret=SECRET)
        assert code == 0, err

    code, _, err = run(tmp_path / "a", "demo", "--contacts", "400", secret=SECRET)

    first, second = _contact_and_client_events(tmp_path / "a"), _contact_and_client_events(tmp_path / "b")
    assert len(first) > 400
    assert first == second
    assert "already loaded" in err


@pytest.mark.parametrize("practice_profile", ["oost-pieter-messenger", "jac-brugge-shared-messenger"])
def test_demo_shows_the_seeds_profiles(tmp_path: Path, practice_profile: str) -> None:
    run(tmp_path, "init", secret=SECRET)
    run(tmp_path, "demo", "--contacts", "300", secret=SECRET)

    app = Logbook(Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": SECRET}))
    profile = app.profile(practice_profile)

    assert profile.kind in ("personal", "shared")
    if profile.kind == "personal":
        assert app.account(profile.users[0]).intern
    else:
        assert len(profile.users) > 1


def test_init_makes_a_data_directory_only_its_owner_can_read(tmp_path: Path) -> None:
    run(tmp_path / "var", "init")

    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700
