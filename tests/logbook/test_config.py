"""Configuration is read in one place, and the shell's environment never leaks into the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.vocabulary import Role
from logbook.application import Logbook
from logbook.config import ConfigurationError, Settings


def test_settings_come_from_the_mapping_they_are_given(tmp_path):
    settings = Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": "k" * 32,
                                      "DATABASE_URL": "sqlite:///elsewhere.sqlite3"})

    assert settings.data_dir == tmp_path
    assert settings.secret_key == b"k" * 32
    assert settings.database_url == "sqlite:///elsewhere.sqlite3"


def test_the_data_directory_defaults_to_var(monkeypatch):
    monkeypatch.setenv("LOGBOOK_DATA_DIR", "/somewhere/else")

    assert Settings.from_environ({}).data_dir == Path("./var")


def test_a_short_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError):
        Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": "short"})


def test_without_a_secret_key_the_logbook_does_not_start(tmp_path):
    with pytest.raises(ConfigurationError):
        Logbook(Settings(data_dir=tmp_path, database_url=None, secret_key=None))


def test_a_postgres_url_is_not_yet_supported_and_its_password_is_not_repeated(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="postgresql://logbook:s3cret@db/logbook",
                        secret_key=b"x" * 40)

    with pytest.raises(ConfigurationError) as refused:
        Logbook(settings)

    assert "s3cret" not in str(refused.value)


def test_the_store_is_the_sqlite_file_in_the_data_directory_whatever_the_shell_says(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("SQLITE_DBNAME", str(tmp_path / "leaked.sqlite3"))
    logbook = Logbook(Settings(data_dir=tmp_path / "data", database_url=None, secret_key=b"x" * 40))

    try:
        logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)
    finally:
        logbook.close()

    assert (tmp_path / "data" / "logbook.sqlite3").stat().st_size > 0
    assert not (tmp_path / "leaked.sqlite3").exists()
    reopened = Logbook(Settings(data_dir=tmp_path / "data", database_url=None, secret_key=b"x" * 40))
    try:
        assert reopened.account("admin").account_id == "admin"
    finally:
        reopened.close()
