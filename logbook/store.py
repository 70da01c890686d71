"""The choice of event store, and the one query the library does not offer.

Everything that knows which database holds the events lives here: the
library's settings for the store that ``DATABASE_URL`` names (and for its
cipher, when ``LOGBOOK_ENCRYPT_EVENTS`` is on), its recorders as the logbook
uses them, and reading an aggregate's events together with their positions in
the store's total order.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import getpass
import os
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import IO, Any, cast
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
    Recording,
    StoredEvent,
    Subscription,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresSubscription
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnectionPool, SQLiteDatastore
from eventsourcing.utils import Environment, EnvType, get_topic, retry
from psycopg.sql import SQL, Composable, Identifier

from logbook.config import ConfigurationError, Settings, make_private_dir
from projections.sql import check_connections_cheaply, retry_briefly

SQLITE_FILE = "logbook.sqlite3"
POSTGRES_SCHEMES = ("postgresql", "postgres")
STORE_KEY_INFO = b"logbook event store"
"""HKDF's context for the store's key: no other use of the master key derives the same one."""
PULL_EVERY_SECONDS = 0.025
"""How often, at most, a subscription to the PostgreSQL store reads new events (`PacedPostgresSubscription`)."""


def library_env(settings: Settings, create_tables: bool = False) -> dict[str, str]:
    """The `eventsourcing` settings for the store the configuration names.

    On PostgreSQL the tables are created only when asked (by `logbook init`):
    several processes creating them at once fail with "tuple concurrently updated".
    """
    if is_postgres(settings):
        env = postgres_env(settings) | {"CREATE_TABLE": "y" if create_tables else "n"}
    else:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": sqlite_path(settings),
            "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout_seconds),
            "APPLICATION_RECORDER_TOPIC": get_topic(TurnTakingSQLiteApplicationRecorder),
        }
    if settings.encrypt_events:
        env |= cipher_env(settings.require_master_key())
    return env


def cipher_env(master_key: bytes) -> dict[str, str]:
    """The library's cipher (AES-256-GCM) for every event's payload, keyed by HKDF-SHA256 of the master key."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=STORE_KEY_INFO).derive(master_key)
    return {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": base64.b64encode(key).decode()}


class TurnTakingSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, whose writers in several processes take turns.

    When two gunicorn workers write at once, SQLite's busy handler makes the
    second poll, sleeping at least a millisecond between tries, while a commit
    holds the write lock for about half that. A blocking lock on a file beside
    the database wakes the next writer as soon as the lock is free. Reads are
    not affected; SQLite's own locking still guards the data.
    """

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self._turns = _WriterTurns(datastore.pool.db_name)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._turns:
            return super().insert_events(stored_events, **kwargs)


class _WriterTurns:
    """One writer at a time, among the threads of a process and among processes."""

    def __init__(self, db_name: str) -> None:
        memory = SQLiteConnectionPool.detect_memory_mode(db_name)
        self._path = None if memory else db_name.removeprefix("file:").split("?")[0] + ".lock"
        self._thread_lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._path is not None:
            fcntl.flock(self._lock_file().fileno(), fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        if self._path is not None:
            fcntl.flock(self._lock_file().fileno(), fcntl.LOCK_UN)
        self._thread_lock.release()

    def _lock_file(self) -> IO[bytes]:
        # A lock taken through a descriptor inherited across fork would be shared.
        if self._file is None or self._pid != os.getpid():
            assert self._path is not None
            self._file = open(self._path, "ab")  # noqa: SIM115 - held for the life of the process
            self._pid = os.getpid()
        return self._file


class BriefPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, whose calls give up soon on an unreachable server (`retry_briefly`).

    Its pool checks connections with `ping_if_spoken_to`.
    """

    select_events = retry_briefly(PostgresApplicationRecorder.select_events)
    select_notifications = retry_briefly(PostgresApplicationRecorder.select_notifications)
    max_notification_id = retry_briefly(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        check_connections_cheaply(datastore)
        self._rendered: _InsertStatements | None = None

    @retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)  # as `retry_briefly`
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (the same statements, in one transaction), sent in one round trip.

        The library sends BEGIN, its table lock, NOTIFY and the INSERT in a pipeline,
        waits for their results, then sends COMMIT and waits again: a second round
        trip, made while the table lock is held, and about 0.2 ms more of client CPU
        (psycopg's pipeline machinery, and its statements composed again on every
        call). Here COMMIT is queued behind the INSERT and the pipeline synced once,
        so the lock is held for the server's work alone. A unique violation aborts
        the rest of the pipeline (COMMIT included), raises `IntegrityError` as the
        library's does, and the transaction is rolled back.
        """
        if self.datastore.enable_db_functions or not stored_events:
            return cast(Sequence[int] | None, PostgresApplicationRecorder.insert_events.__wrapped__(  # type: ignore[attr-defined]
                self, stored_events, **kwargs))
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        with self.datastore.get_connection() as connection:
            statements = self._statements(connection)
            with connection.cursor() as cursor, connection.cursor() as inserting:
                try:
                    with connection.pipeline():
                        cursor.execute(b"BEGIN")
                        self._insert_events(cursor, stored_events, **kwargs)  # the library's hook; a no-op here
                        for lock_statement in statements.lock_table:
                            cursor.execute(lock_statement, prepare=True)
                        cursor.execute(statements.notify)
                        inserting.execute(statements.insert, (events,))
                        cursor.execute(b"COMMIT")
                except BaseException:
                    with contextlib.suppress(psycopg.Error):  # a broken connection is dropped by the pool
                        connection.rollback()
                    raise
                return self._fetch_ids_after_insert_events(inserting, stored_events, **kwargs)

    def _statements(self, connection: psycopg.Connection[Any]) -> _InsertStatements:
        if self._rendered is None:
            self._rendered = _InsertStatements(
                lock_table=tuple(cast(Composable, statement).as_bytes(connection)
                                 for statement in self.lock_table_statements),
                notify=SQL("NOTIFY {0}").format(Identifier(self.channel_name)).as_bytes(connection),
                insert=self.insert_events_statement.as_bytes(connection),
            )
        return self._rendered

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return PacedPostgresSubscription(self, gt=gt, topics=topics)


@dataclass(frozen=True)
class _InsertStatements:
    """The insert's statements, composed once (schema and table names never change)."""

    lock_table: tuple[bytes, ...]
    notify: bytes
    insert: bytes


class PacedPostgresSubscription(PostgresSubscription):
    """The library's LISTEN/NOTIFY subscription, which reads new events at most every `PULL_EVERY_SECONDS`.

    The library reads the store as soon as a NOTIFY arrives: under a steady stream
    of single writes, one query (and one wake-up of the follower) per event, where a
    query a moment later reads all of them. A NOTIFY after a quiet spell is still
    followed at once; a backlog is still read page after page without pause.
    """

    def __init__(
        self, recorder: PostgresApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()
    ) -> None:
        self._last_pull = -PULL_EVERY_SECONDS  # set before the library starts the thread that reads it
        super().__init__(recorder, gt=gt, topics=topics)

    def _pull(self) -> None:
        # The library's thread calls this once on start, then once for each wake-up by a NOTIFY
        # (`ListenNotifySubscription._loop_on_pull`, eventsourcing 9.5.6); tests/logbook/test_postgres_connections.py
        # shows the pace holds.
        pause = self._last_pull + PULL_EVERY_SECONDS - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last_pull = time.monotonic()
        super()._pull()


def is_postgres(settings: Settings) -> bool:
    """Whether ``DATABASE_URL`` names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    return settings.database_url is not None and urlsplit(settings.database_url).scheme in POSTGRES_SCHEMES


def postgres_env(settings: Settings) -> dict[str, str]:
    """The library's settings for the PostgreSQL server of ``DATABASE_URL``, in the configured schema.

    Connections are checked before use (pre-ping, made cheap by the recorders:
    `ping_if_spoken_to`), so that a server restarted under load costs the requests
    made while it was away (503) and not the web processes; a call waits at most
    2 s for a connection and is tried twice (`retry_briefly`).
    """
    url = urlsplit(settings.database_url or "")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or getpass.getuser(),
        "POSTGRES_HOST": unquote(url.hostname or "localhost"),
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or getpass.getuser()),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": settings.database_schema,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        # A following projector holds one connection for LISTEN and reads with others meanwhile.
        "POSTGRES_MAX_OVERFLOW": str(max(settings.postgres_pool_size, 3)),
        "POSTGRES_CONNECT_TIMEOUT": "2",
        "APPLICATION_RECORDER_TOPIC": get_topic(BriefPostgresApplicationRecorder),
        "POSTGRES_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout_seconds),
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
    }


def postgres_unreachable(url: str) -> str | None:
    """None when the PostgreSQL server of ``url`` answers; otherwise why not (without the URL's password)."""
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        where = urlsplit(url)
        return (f"PostgreSQL at {where.hostname}:{where.port or 5432} is not reachable "
                f"({type(error).__name__}: {str(error).strip()})")
    return None


def connect_postgres(settings: Settings) -> psycopg.Connection[Any]:
    """A connection of its own (autocommit) to the PostgreSQL server of ``DATABASE_URL``, outside the library's pool."""
    env = postgres_env(settings)
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True,
    )


def create_schema(settings: Settings) -> None:
    """Creates the configured PostgreSQL schema if it does not exist yet."""
    with closing(connect_postgres(settings)) as connection:
        connection.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(settings.database_schema)))


def sqlite_path(settings: Settings) -> str:
    """The SQLite file: ``sqlite:///path`` in ``DATABASE_URL``, else one in the data directory."""
    url = settings.database_url
    if url is None:
        make_private_dir(settings.data_dir)
        return str(settings.data_dir / SQLITE_FILE)
    scheme = urlsplit(url).scheme
    if scheme != "sqlite" or not url.startswith("sqlite:///"):
        # Only the scheme is named: the rest of a URL may hold a password.
        raise ConfigurationError(
            f"DATABASE_URL with scheme '{scheme}' is not supported; "
            "use sqlite:///path/to/file or postgresql://user:password@host:port/database."
        )
    return url[len("sqlite:///"):]


def store_name(settings: Settings) -> str:
    """The store as messages may name it: never with the password a URL may hold."""
    if is_postgres(settings):
        env = postgres_env(settings)
        return f"PostgreSQL database '{env['POSTGRES_DBNAME']}' (schema '{settings.database_schema}')"
    return sqlite_path(settings)


def events_with_positions(app: Application[UUID], originator_id: UUID) -> list[tuple[int, Any]]:
    """The aggregate's events, oldest first, each with its position in the store's total order."""
    recorder: Any = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        statement: Any = SQL(
            "SELECT notification_id AS position, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = %s ORDER BY originator_version"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        params: tuple[Any, ...] = (originator_id,)
    else:
        statement = (
            f"SELECT rowid AS position, originator_version, topic, state FROM {recorder.events_table_name} "
            "WHERE originator_id=? ORDER BY originator_version"
        )
        params = (originator_id.hex,)
    return [
        (row["position"], app.mapper.to_domain_event(
            StoredEvent(originator_id, row["originator_version"], row["topic"], bytes(row["state"]))
        ))
        for row in _rows(recorder, statement, params)
    ]


def count_stored_events(recorder: Any) -> int:
    """How many events the recorder's table holds."""
    if isinstance(recorder, PostgresApplicationRecorder):
        statement: Any = SQL("SELECT COUNT(*) AS count FROM {schema}.{table}").format(
            schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    else:
        statement = f"SELECT COUNT(*) AS count FROM {recorder.events_table_name}"
    return int(_rows(recorder, statement)[0]["count"])


def _rows(recorder: Any, statement: Any, params: tuple[Any, ...] = ()) -> list[Any]:
    """The rows of one statement, which sees one snapshot of the store on its own.

    On PostgreSQL it runs outside a transaction, as the library's own reads do: one
    round trip, where a transaction costs three (BEGIN, the statement, ROLLBACK).
    """
    if isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall())


class EventStore(Application[UUID]):
    """The logbook's store opened only to read its events, as the projector does.

    It needs no secret key: it reads what the `Logbook` wrote, in its order.
    It does need the master key when the store is encrypted.
    """

    name = "logbook"

    def __init__(self, settings: Settings, create_tables: bool = False) -> None:
        if create_tables and is_postgres(settings):
            create_schema(settings)
        super().__init__(env=library_env(settings, create_tables))
        try:
            self._check_created(settings)
            self._check_readable(settings)
        except ConfigurationError:
            Application.close(self)  # not a subclass's close: its __init__ has not run yet
            raise

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's `save` (eventsourcing 9.5), collecting aggregates' events without its protocol checks.

        The library asks of each object whether it is an event and then whether it
        collects events, with `isinstance` against runtime-checkable protocols: on
        Python 3.11 an answer of no inspects every member of the protocol each time,
        about 16 microseconds per aggregate saved. An aggregate of the library's base
        class is collected as the library collects it, in the same order; anything
        else (a log's entry, an event) goes through the library's own checks.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated in the library, called as it calls it
        return recordings

    def _check_created(self, settings: Settings) -> None:
        """Raises `ConfigurationError` if the PostgreSQL tables have not been created by `logbook init`."""
        recorder: Any = self.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            return
        with recorder.datastore.transaction(commit=False) as cursor:
            table = f"{recorder.datastore.schema}.{recorder.events_table_name}"
            cursor.execute("SELECT to_regclass(%s) AS found", (table,))
            row = cursor.fetchone()
        if row is None or row["found"] is None:
            raise ConfigurationError(f"The {store_name(settings)} has no event store yet: run `logbook init` first.")

    def _check_readable(self, settings: Settings) -> None:
        """Raises `ConfigurationError` if the first or last event cannot be read with this configuration.

        A store written with the other ``LOGBOOK_ENCRYPT_EVENTS``, or with another
        master key, fails here, when it is opened, rather than later with garbage.
        """
        last = self.recorder.max_notification_id()
        if not last:
            return
        for position in {1, last}:
            for stored in self.recorder.select_notifications(start=position, limit=1):
                try:
                    state = self.mapper.cipher.decrypt(stored.state) if self.mapper.cipher else stored.state
                    self.mapper.transcoder.decode(state)
                except ValueError:
                    raise ConfigurationError(_unreadable_store(settings)) from None

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library's settings from `Settings` alone, never from the process environment."""
        return Environment(name, dict(env or {}))


def _unreadable_store(settings: Settings) -> str:
    path = store_name(settings)
    if settings.encrypt_events:
        return (f"The event store {path} cannot be decrypted: it was written without "
                "LOGBOOK_ENCRYPT_EVENTS=1, or with another LOGBOOK_MASTER_KEY.")
    return (f"The event store {path} is encrypted: set LOGBOOK_ENCRYPT_EVENTS=1 "
            "and the LOGBOOK_MASTER_KEY it was written with.")
