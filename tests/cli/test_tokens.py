"""`logbook accounts token`, `revoke` and `deactivate`: results alone on stdout, messages on stderr."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from logbook.application import Logbook
from logbook.cli import main
from logbook.config import Settings


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    env = {"LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": None, "DATABASE_URL": None}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def authenticates(data_dir: Path, token: str) -> bool:
    app = Logbook(Settings.from_environ({"LOGBOOK_DATA_DIR": str(data_dir)}))
    try:
        return app.authenticate(token) is not None
    finally:
        app.close()


def test_accounts_token_issues_another_token_beside_the_first(tmp_path: Path) -> None:
    first = run(tmp_path, "init")[1].strip()

    code, out, _ = run(tmp_path, "accounts", "token", "admin")

    assert code == 0
    assert authenticates(tmp_path, out.strip()) and authenticates(tmp_path, first)


def test_accounts_revoke_prints_how_many_tokens_it_revoked_alone(tmp_path: Path) -> None:
    tokens = [run(tmp_path, "init")[1].strip(), run(tmp_path, "accounts", "token", "admin")[1].strip()]

    code, out, err = run(tmp_path, "accounts", "revoke", "admin")

    assert code == 0
    assert out == "2\n"
    assert "admin" in err
    assert not any(authenticates(tmp_path, token) for token in tokens)
    assert run(tmp_path, "accounts", "revoke", "admin")[1] == "0\n"


def test_accounts_revoke_of_an_unknown_account_fails_with_a_message(tmp_path: Path) -> None:
    run(tmp_path, "init")

    code, out, err = run(tmp_path, "accounts", "revoke", "nobody")

    assert code == 1
    assert out == ""
    assert "No such account" in err


def test_accounts_deactivate_stops_the_accounts_tokens(tmp_path: Path) -> None:
    token = run(tmp_path, "init")[1].strip()

    code, out, err = run(tmp_path, "accounts", "deactivate", "admin")

    assert code == 0
    assert out == ""
    assert "deactivated" in err
    assert not authenticates(tmp_path, token)


def test_accounts_deactivate_twice_fails_and_no_token_is_issued_after(tmp_path: Path) -> None:
    run(tmp_path, "init")
    run(tmp_path, "accounts", "deactivate", "admin")

    again = run(tmp_path, "accounts", "deactivate", "admin")
    token = run(tmp_path, "accounts", "token", "admin")

    assert again[0] == token[0] == 1
    assert again[1] == token[1] == ""
    assert "deactivated" in again[2] and "deactivated" in token[2]
