"""Where a view keeps its rows: a SQLite file of its own, or the event store's PostgreSQL schema.

The views' statements are written once, for SQLite's driver (``?`` and ``:name``
placeholders), in SQL that PostgreSQL 15 accepts too. What cannot be written
once lives here: the placeholders, which `PostgresCursor` translates; the
tables' types, which `postgres_ddl` translates (text compares bytewise there,
as in SQLite, so that moments, ids and cursors sort alike); JSON arrays, which
each database spells its own way; and how tables are created, versioned and
emptied. Each view's position is kept by the library's tracking recorder of
its database, in the same transaction as its rows.
"""

from __future__ import annotations

import re
import select
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

from eventsourcing.persistence import InterfaceError, OperationalError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.utils import retry
from psycopg import Connection
from psycopg import Cursor as PsycopgCursor
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

UPSTREAM = "logbook"
"""The name of the application whose events the views track."""
CACHE_KIB = 256 * 1024
"""SQLite's page cache for a view's writer: a rebuild touches pages all over its indexes."""
VIEW_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS view_versions (name TEXT PRIMARY KEY, version BIGINT NOT NULL, tables TEXT NOT NULL)"
)
"""On PostgreSQL, each view's schema version and its tables (what to drop when the version changes)."""
TABLE_NAME = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
POSTGRES_TYPES = (
    (re.compile(r"\s*WITHOUT ROWID"), ""),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
)
PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):(\w+)|%")
"""A string literal (left as it is), or what psycopg spells differently: ``?``, ``:name``, ``%``."""

T = TypeVar("T")


class Cursor(Protocol):
    """What the views ask of a cursor; `sqlite3.Cursor` and `PostgresCursor` both offer it."""

    def execute(self, statement: str, params: Any = ..., /) -> Any: ...

    def executemany(self, statement: str, params: Iterable[Any], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class ViewNotCreatedError(Exception):
    """Raised when a view's tables on PostgreSQL are missing or of another version; `create` makes them."""


# Portable statements.


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """An INSERT of ``columns`` (``?`` placeholders) that replaces the columns of the row with the same ``key``."""
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def table_names(tables: Iterable[str]) -> list[str]:
    """The tables that CREATE TABLE statements create, in order."""
    return [match for statement in tables for match in TABLE_NAME.findall(statement)]


def postgres_ddl(statement: str) -> str:
    """A view's CREATE statement, written for SQLite, with PostgreSQL's types and bytewise text."""
    for pattern, replacement in POSTGRES_TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


@lru_cache(maxsize=1024)
def postgres_statement(statement: str) -> str:
    """A statement for SQLite's driver, for psycopg: ``?`` → ``%s``, ``:name`` → ``%(name)s``, ``%`` → ``%%``."""

    def translate(match: re.Match[str]) -> str:
        text = match.group()
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        return f"%({match.group(1)})s" if match.group(1) else "%%"

    return PLACEHOLDER.sub(translate, statement)


# PostgreSQL's cursors and rows, as SQLite's driver gives them.


class Row:
    """A row as `sqlite3.Row` offers it: by index or by column name, as a tuple or as a mapping."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_maker(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    """psycopg's row factory for `Row`s: the column names are read once per result."""
    names = {column.name: index for index, column in enumerate(cursor.description or ())}
    return lambda values: Row(names, values)


class PostgresCursor:
    """A psycopg cursor that takes the views' statements as SQLite's driver does, and gives `Row`s."""

    def __init__(self, cursor: PsycopgCursor[Any]) -> None:
        cursor.row_factory = _row_maker  # the library gives dict rows
        self.raw = cursor

    def execute(self, statement: str, params: Any = ()) -> PostgresCursor:
        self.raw = self.for_statement()
        self.raw.execute(postgres_statement(statement), params)  # parameters, even none: psycopg then reads %%
        return self

    def executemany(self, statement: str, params: Iterable[Any]) -> None:
        self.raw = self.for_statement()
        self.raw.executemany(postgres_statement(statement), params)

    def for_statement(self) -> PsycopgCursor[Any]:
        """The psycopg cursor on which to run the next statement: this one."""
        return self.raw

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchmany(self, size: int) -> list[Any]:
        return self.raw.fetchmany(size)

    def fetchall(self) -> list[Any]:
        return self.raw.fetchall()


class PipelinedCursor(PostgresCursor):
    """A `PostgresCursor` in pipeline mode, which runs each statement on a psycopg cursor of its own.

    In a pipeline, psycopg attaches a statement's result to its cursor when the
    result arrives, which may be after later statements were sent: on a shared
    cursor, an earlier statement's result could take the place of the one about
    to be fetched.
    """

    def __init__(self, connection: Connection[Any]) -> None:
        self._connection = connection
        super().__init__(connection.cursor())

    def for_statement(self) -> PsycopgCursor[Any]:
        """A new psycopg cursor, whose only result will be the next statement's."""
        cursor = self._connection.cursor()
        cursor.row_factory = _row_maker
        return cursor


# The databases.


def _advance(tracking: SQLiteTrackingRecorder | PostgresTrackingRecorder, cursor: Any, position: int | None) -> None:
    """Records ``position`` in the cursor's transaction, unless the view is there already."""
    if position is not None and position > (tracking._max_tracking_id(UPSTREAM, cursor) or 0):
        tracking._insert_tracking(cursor, Tracking(UPSTREAM, position))


def retry_briefly(method: Callable[..., T]) -> Callable[..., T]:
    """The library's method, tried twice rather than ten times when the server cannot be reached.

    The library retries each call ten times, 0.2 s apart, and each try may wait
    seconds for a connection from the pool: a request made while PostgreSQL
    restarts would wait a minute. Tried twice, it is refused within a few seconds.
    """
    return cast(Callable[..., T], retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)(
        method.__wrapped__  # type: ignore[attr-defined]
    ))


def ping_if_spoken_to(connection: Connection[Any]) -> None:
    """The pool's check of an idle connection before use: a round trip only when the server has spoken.

    The library's pre-ping sends an empty query every time a connection leaves its
    pool, which cost a web request a round trip per store call and the projector one
    per page and per view. An idle connection has nothing to read unless the server
    closed it (a restart, a terminated backend: a last message, then end of file) or
    has something to tell it (a notification); only then is it pinged, and one that
    fails is dropped by the pool, which hands out another.
    """
    readable = select.poll()
    readable.register(connection.fileno(), select.POLLIN)
    if readable.poll(0):
        ConnectionPool.check_connection(connection)


def check_connections_cheaply(datastore: PostgresDatastore) -> None:
    """Makes the datastore's pool check connections with `ping_if_spoken_to` rather than the library's pre-ping.

    The library passes its check to the pool when it makes it and offers no way to
    choose another, hence the pool's own attribute; a pool without pre-ping is left alone.
    """
    if getattr(datastore.pool, "_check", None) is ConnectionPool.check_connection:
        datastore.pool._check = ping_if_spoken_to


class BriefPostgresTrackingRecorder(PostgresTrackingRecorder):
    """The library's tracking recorder, whose calls give up soon on an unreachable server (`retry_briefly`).

    Its pool checks connections with `ping_if_spoken_to`.
    """

    insert_tracking = retry_briefly(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = retry_briefly(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = retry_briefly(PostgresTrackingRecorder.has_tracking_id)

    def __init__(self, datastore: PostgresDatastore, *, tracking_table_name: str) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name)
        check_connections_cheaply(datastore)


class SQLiteDatabase:
    """A view's own SQLite file: its tables beside the library's ``tracking`` table.

    A file of its own means rebuilding one read model is dropping one file, and
    the projector never competes with the web workers for the event store's write lock.
    """

    def __init__(self, path: str, lock_timeout: int = 30) -> None:
        self.path = path
        self.tracking = SQLiteTrackingRecorder(SQLiteDatastore(path, lock_timeout=lock_timeout, pool_size=2))

    def open(self, tables: Sequence[str], version: int) -> None:
        """Creates the tables that are missing, after dropping every table of a file of another version."""
        self._drop_other_schema(version)
        self.tracking.create_table()
        with self.tracking.datastore.transaction(commit=True) as cursor:
            for statement in tables:
                cursor.execute(statement)

    def _drop_other_schema(self, version: int) -> None:
        """A read model is rebuilt, not migrated: the file's version is SQLite's ``user_version``."""
        with self.tracking.datastore.transaction(commit=True) as cursor:
            cursor.execute("PRAGMA user_version")
            if cursor.fetchone()[0] == version:
                return
            cursor.execute("SELECT name FROM sqlite_master WHERE type='table'")
            for row in cursor.fetchall():
                cursor.execute(f'DROP TABLE IF EXISTS "{row["name"]}"')
            cursor.execute(f"PRAGMA user_version = {int(version)}")

    @contextmanager
    def writing(self, position: int | None) -> Iterator[SQLiteCursor]:
        """A transaction for rows, which records ``position`` as processed when it commits.

        The commit is not flushed to disk at once (WAL with ``synchronous=NORMAL``):
        a power cut may lose the last transactions, never half of one, and since the
        position is in the same transaction, what was lost is simply projected again.
        """
        with self.tracking.datastore.get_connection(commit=True) as connection:
            connection.cursor().execute("PRAGMA synchronous=NORMAL")
            connection.cursor().execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            with connection.transaction(commit=True) as cursor:
                yield cursor
                _advance(self.tracking, cursor, position)

    @contextmanager
    def reading(self) -> Iterator[SQLiteCursor]:
        """A read transaction: in WAL mode, every statement in it sees the same commits."""
        with self.tracking.datastore.transaction(commit=False) as cursor:
            yield cursor

    def position_in(self, cursor: Cursor) -> int:
        return self.tracking._max_tracking_id(UPSTREAM, cursor) or 0  # type: ignore[arg-type]

    def reset(self, tables: Sequence[str]) -> None:
        """Empties every table and forgets the position, in one transaction."""
        with self.tracking.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'tracking'")
            for row in cursor.fetchall():
                cursor.execute(f'DELETE FROM "{row["name"]}"')
            cursor.execute("DELETE FROM tracking WHERE application_name=?", (UPSTREAM,))

    @staticmethod
    def json_elements(array: str, alias: str) -> str:
        """A FROM item: the elements of the JSON array ``array`` as rows of one column, ``alias.value``."""
        return f"json_each({array}) AS {alias}"

    @staticmethod
    def json_first(array: str) -> str:
        """The first element of the JSON array ``array``, as text."""
        return f"json_extract({array}, '$[0]')"

    def close(self) -> None:
        self.tracking.datastore.close()


class PostgresDatabase:
    """A view's tables in the event store's PostgreSQL schema, beside its tracking table ``<name>_tracking``.

    Its tables are created by `create` (run by ``logbook init``), never on opening:
    several processes creating tables at once fail. Each transaction sets the
    schema as its ``search_path``, so that the views' statements name tables alone.
    """

    def __init__(self, datastore: PostgresDatastore, name: str) -> None:
        self.name = name
        self.tracking = BriefPostgresTrackingRecorder(datastore, tracking_table_name=f"{name}_tracking")
        self._in_schema = SQL("SET LOCAL search_path TO {}").format(Identifier(datastore.schema))

    def create(self, tables: Sequence[str], version: int) -> None:
        """Creates the tracking table and the tables of this ``version``; safe to run again.

        The tables of another version are dropped first, and the position forgotten: the projector fills them again.
        """
        self.tracking.create_table()
        with self._transaction(commit=True) as cursor:
            cursor.execute(VIEW_VERSIONS)
            cursor.execute("SELECT version, tables FROM view_versions WHERE name = ?", (self.name,))
            created = cursor.fetchone()
            if created is not None and created["version"] != version:
                for table in created["tables"].split():
                    cursor.execute(f'DROP TABLE IF EXISTS "{table}"')
                self._forget_position(cursor)
            for statement in tables:
                cursor.execute(postgres_ddl(statement))
            cursor.execute(upsert("view_versions", ("name", "version", "tables"), ("name",)),
                           (self.name, version, " ".join(table_names(tables))))

    def open(self, tables: Sequence[str], version: int) -> None:
        """Raises `ViewNotCreatedError` unless `create` made the tables of this ``version``."""
        with self._transaction(commit=False) as cursor:
            cursor.execute("SELECT to_regclass('view_versions') IS NOT NULL AS found")
            if cursor.fetchone()["found"]:
                cursor.execute("SELECT version FROM view_versions WHERE name = ?", (self.name,))
                created = cursor.fetchone()
                if created is not None and created["version"] == version:
                    return
        raise ViewNotCreatedError(f"The {self.name} read model has no tables of version {version}")

    @contextmanager
    def writing(self, position: int | None) -> Iterator[PostgresCursor]:
        """A transaction for rows, which records ``position`` as processed when it commits.

        Its statements are pipelined: sent as they come, without waiting for each
        answer. A view writes a page with a dozen statements, most of them often with
        no rows, and psycopg waits for the server after each `executemany` outside a
        pipeline, even an empty one; pipelined, a page costs two round trips (the
        position's check, then the commit). A statement that fails still fails the
        transaction, which rolls back whole; the error is raised at the next wait.
        """
        with self.tracking.datastore.get_connection() as connection, connection.pipeline(), \
                connection.transaction():
            cursor = PipelinedCursor(connection)
            cursor.raw.execute(self._in_schema)
            yield cursor
            if position is not None:
                # The library's statement advances the position or raises IntegrityError: should two
                # projectors ever both write (one that lost its lock and has not noticed yet), the
                # later transaction rolls back whole, rather than apply events twice.
                self.tracking._insert_tracking(cursor.for_statement(), Tracking(UPSTREAM, position))

    @contextmanager
    def reading(self, *, streamed: bool = False) -> Iterator[PostgresCursor]:
        """A read-only snapshot, as SQLite's read transactions are: every statement sees the same commits.

        ``streamed``: a server-side cursor, whose rows come from the server as they are fetched.
        """
        snapshot = SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; {}").format(self._in_schema)
        with self.tracking.datastore.transaction(commit=False) as cursor:
            cursor.execute(snapshot)
            if not streamed:
                yield PostgresCursor(cursor)
                return
            with cursor.connection.cursor(name="view_stream") as stream:
                yield PostgresCursor(stream)

    def position_in(self, cursor: Cursor) -> int:
        assert isinstance(cursor, PostgresCursor)
        return self.tracking._max_tracking_id(UPSTREAM, cursor.for_statement()) or 0

    def reset(self, tables: Sequence[str]) -> None:
        """Empties the view's tables and forgets its position, in one transaction."""
        with self._transaction(commit=True) as cursor:
            cursor.execute(f"TRUNCATE {', '.join(table_names(tables))}")
            self._forget_position(cursor)

    def _forget_position(self, cursor: PostgresCursor) -> None:
        """Deletes the view's position; the library's own row (``__migration__``) stays."""
        cursor.execute(f'DELETE FROM "{self.tracking.tracking_table_name}" WHERE application_name = ?', (UPSTREAM,))

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[PostgresCursor]:
        with self.tracking.datastore.transaction(commit=commit) as cursor:
            cursor.execute(self._in_schema)
            yield PostgresCursor(cursor)

    @staticmethod
    def json_elements(array: str, alias: str) -> str:
        """A FROM item: the elements of the JSON array ``array`` as rows of one column, ``alias.value``."""
        return f"json_array_elements_text(CAST({array} AS json)) AS {alias}(value)"

    @staticmethod
    def json_first(array: str) -> str:
        """The first element of the JSON array ``array``, as text."""
        return f"(CAST({array} AS json) ->> 0)"

    def close(self) -> None:
        self.tracking.datastore.close()


Database = SQLiteDatabase | PostgresDatabase
