"""Configuration is read in one place, and the shell's environment never leaks into the store."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from events.vocabulary import Role
from logbook.application import Logbook
from logbook.config import ConfigurationError, Settings
from logbook.store import is_postgres, library_env
from tests.stores import POSTGRES_URL


def test_settings_come_from_the_mapping_they_are_given(tmp_path):
    settings = Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": "k" * 32,
                                      "DATABASE_URL": "sqlite:///elsewhere.sqlite3"})

    assert settings.data_dir == tmp_path
    assert settings.secret_key == b"k" * 32
    assert settings.database_url == "sqlite:///elsewhere.sqlite3"


def test_the_data_directory_defaults_to_var(monkeypatch):
    monkeypatch.setenv("LOGBOOK_DATA_DIR", "/somewhere/else")

    assert Settings.from_environ({}).data_dir == Path("./var")


MILLISECOND_SETTINGS = {
    "LOGBOOK_GROUP_COMMIT_WAIT_MS": ("group_commit_wait_ms", [(None, 2.0), ("0", 0.0), ("5.5", 5.5)],
                                     ["-1", "51", "soon"]),
    "LOGBOOK_PROJECTOR_BACKLOG_MS": ("projector_backlog_ms", [(None, 500.0), ("0", 0.0), ("2000", 2000.0)],
                                     ["-1", "5001", "later"]),
}
"""Per variable: the setting it gives, values with what they give (None: unset), and values refused."""


@pytest.mark.parametrize(("variable", "value", "milliseconds"), [
    (variable, value, milliseconds)
    for variable, (_, accepted, _) in MILLISECOND_SETTINGS.items() for value, milliseconds in accepted
])
def test_a_wait_in_milliseconds_is_a_setting_with_its_default(tmp_path, variable, value, milliseconds):
    environ = {"LOGBOOK_DATA_DIR": str(tmp_path)} | ({variable: value} if value else {})

    assert getattr(Settings.from_environ(environ), MILLISECOND_SETTINGS[variable][0]) == milliseconds


@pytest.mark.parametrize(("variable", "value"), [
    (variable, value) for variable, (_, _, refused) in MILLISECOND_SETTINGS.items() for value in refused
])
def test_a_wait_out_of_its_range_is_refused_naming_its_variable(tmp_path, variable, value):
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path), variable: value})


def test_a_short_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError):
        Settings.from_environ({"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_SECRET_KEY": "short"})


def test_without_a_secret_key_the_logbook_does_not_start(tmp_path):
    with pytest.raises(ConfigurationError):
        Logbook(Settings(data_dir=tmp_path, database_url=None, secret_key=None))


def test_an_unsupported_database_url_is_refused_and_its_password_is_not_repeated(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="mysql://logbook:s3cret@db/logbook", secret_key=b"x" * 40)

    with pytest.raises(ConfigurationError) as refused:
        Logbook(settings)

    assert "mysql" in str(refused.value) and "s3cret" not in str(refused.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgres_url_names_the_library_s_postgres_store_in_the_configured_schema(tmp_path, scheme):
    settings = Settings.from_environ({
        "LOGBOOK_DATA_DIR": str(tmp_path), "DATABASE_URL": f"{scheme}://log%40book:s3%2Fcret@db.example:6543/caw",
        "LOGBOOK_DATABASE_SCHEMA": "caw_nwvl",
    })

    env = library_env(settings)

    assert is_postgres(settings)
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("log@book", "s3/cret")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == ("db.example", "6543", "caw")
    assert env["POSTGRES_SCHEMA"] == "caw_nwvl"
    assert env["CREATE_TABLE"] == "n", "only `logbook init` creates the tables"
    assert library_env(settings, create_tables=True)["CREATE_TABLE"] == "y"


@pytest.mark.parametrize("schema", ["Caw", "caw-nwvl", "1caw", "x; DROP TABLE y", ""])
def test_a_database_schema_that_is_not_a_plain_lower_case_name_is_refused(tmp_path, schema):
    environ = {"LOGBOOK_DATA_DIR": str(tmp_path), "LOGBOOK_DATABASE_SCHEMA": schema, "DATABASE_URL": "sqlite:///x"}
    if not schema:
        assert Settings.from_environ(environ).database_schema == "public"
        return
    with pytest.raises(ConfigurationError):
        Settings.from_environ(environ)


@pytest.mark.postgres_only
def test_a_postgres_store_before_logbook_init_is_refused_with_what_to_do(tmp_path):
    with closing(psycopg.connect(POSTGRES_URL, autocommit=True)) as connection:
        connection.execute("CREATE SCHEMA lbt_not_initialised")
    try:
        url = urlsplit(POSTGRES_URL)
        with_password = url._replace(netloc=f"{url.username}:s3cret@{url.hostname}:{url.port or 5432}").geturl()
        settings = Settings(data_dir=tmp_path, database_url=with_password, secret_key=b"x" * 40,
                            database_schema="lbt_not_initialised")

        with pytest.raises(ConfigurationError) as refused:
            Logbook(settings)

        assert "logbook init" in str(refused.value) and "s3cret" not in str(refused.value)
    finally:
        with closing(psycopg.connect(POSTGRES_URL, autocommit=True)) as connection:
            connection.execute("DROP SCHEMA lbt_not_initialised CASCADE")


@pytest.mark.sqlite_only("the embedded store's file")
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
