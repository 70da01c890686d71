"""Which store the suite runs against, and how a test's data directory finds its place in it.

``pytest --store=postgres`` runs the suite on the PostgreSQL server of
``LOGBOOK_TEST_POSTGRES_URL`` (the local one by default). Each test keeps its
data directory, for the files that always live there (keys, audit, throttle),
and gets a schema of its own in the test database, named after that directory
and created with its tables, as ``logbook init`` creates them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Collection
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from logbook.config import Settings
from logbook.store import connect_postgres, is_postgres, sqlite_path
from projections.sql import table_names

POSTGRES_URL = os.environ.get("LOGBOOK_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA_PREFIX = "lbt_"
STORES = ("sqlite", "postgres")


class TestStore:
    """The store of this run; `kind` is set once, from the command line, before any test runs."""

    kind = "sqlite"
    _created: set[str] = set()

    @classmethod
    def is_postgres(cls) -> bool:
        return cls.kind == "postgres"


def schema_for(data_dir: Path) -> str:
    """The test schema of a data directory: the same directory always finds the same schema.

    It names the test run's process, so that runs side by side on one server
    (two sessions, two checkouts) never drop each other's schemas.
    """
    digest = hashlib.blake2b(str(Path(data_dir).resolve()).encode(), digest_size=10).hexdigest()
    return f"{SCHEMA_PREFIX}{os.getpid()}_{digest}"


def store_environ(data_dir: Path) -> dict[str, str]:
    """What a process started by a test needs in its environment to find the test's store."""
    if not TestStore.is_postgres():
        return {}
    schema = schema_for(data_dir)
    ensure_schema(Settings(data_dir=data_dir, database_url=POSTGRES_URL, secret_key=None, database_schema=schema))
    return {"DATABASE_URL": POSTGRES_URL, "LOGBOOK_DATABASE_SCHEMA": schema, "LOGBOOK_POSTGRES_POOL_SIZE": "1"}


def ensure_schema(settings: Settings) -> None:
    """Creates the settings' schema and every table in it once per run, as `logbook init` does."""
    from logbook import read_models  # noqa: PLC0415 - the read models import the whole application
    from logbook.store import EventStore  # noqa: PLC0415

    if settings.database_schema in TestStore._created:
        return
    TestStore._created.add(settings.database_schema)
    EventStore(settings, create_tables=True).close()
    read_models.create_tables(settings)


def drop_test_schemas() -> None:
    """Drops the schemas this run made, and those of earlier runs whose process is gone."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SCHEMA_PREFIX + "%",)
        ).fetchall()
        for (schema,) in rows:
            run = _run_of(schema)
            if run is None or run == os.getpid() or not _running(run):
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _run_of(schema: str) -> int | None:
    """The process id of the test run that made ``schema``; None for a name of an older suite."""
    run, _, _ = schema.removeprefix(SCHEMA_PREFIX).partition("_")
    return int(run) if run.isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def count_stored_events(settings: Settings, originator_id: UUID | None = None) -> int:
    """Counts the stored events (of one aggregate, or all) straight from the store's table."""
    if is_postgres(settings):
        with closing(connect_postgres(settings)) as connection:
            table = sql.SQL("{}.logbook_events").format(sql.Identifier(settings.database_schema))
            if originator_id is None:
                row = connection.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(table)).fetchone()
            else:
                row = connection.execute(
                    sql.SQL("SELECT COUNT(*) FROM {} WHERE originator_id = %s").format(table), (originator_id,)
                ).fetchone()
        assert row is not None
        return int(row[0])
    uri = f"file:{sqlite_path(settings)}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as connection:
        if originator_id is None:
            return int(connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])
        return int(connection.execute(
            "SELECT COUNT(*) FROM stored_events WHERE originator_id=?", (originator_id.hex,)
        ).fetchone()[0])


def stored_bytes(data_dir: Path) -> dict[str, bytes]:
    """What the store keeps, as bytes: the data directory's files and, on PostgreSQL, every table of its schema.

    Tables are copied in PostgreSQL's binary format, in which stored payloads
    appear as they were written, as they do in a SQLite file.
    """
    contents = {path.name: path.read_bytes() for path in sorted(Path(data_dir).iterdir()) if path.is_file()}
    if not TestStore.is_postgres():
        return contents
    schema = schema_for(data_dir)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
        ).fetchall()]
        for table in tables:
            copied = bytearray()
            statement = sql.SQL("COPY {}.{} TO STDOUT (FORMAT binary)").format(
                sql.Identifier(schema), sql.Identifier(table))
            with connection.cursor().copy(statement) as copy:
                for block in copy:
                    copied += block
            contents[f"postgres:{table}"] = bytes(copied)
    return contents


def read_model_rows(settings: Settings, skip: Collection[str] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read model, table by table, in a stable order, with each view's position."""
    from logbook import read_models  # noqa: PLC0415 - the read models import the whole application

    tables: dict[str, list[tuple[Any, ...]]] = {}
    for name in read_models.PROJECTIONS:
        with closing(read_models.open_view(settings, name)) as view, view.reading() as cursor:
            tables[f"{name}.position"] = [(view.position_in(cursor),)]
            for table in sorted(table_names(view.tables)):
                if table not in skip:
                    cursor.execute(f'SELECT * FROM "{table}"')
                    tables[f"{name}.{table}"] = sorted(tuple(row) for row in cursor.fetchall())
    return tables
