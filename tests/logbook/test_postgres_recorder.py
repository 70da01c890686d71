"""The library's own recorder test cases, run against the recorder the logbook uses on PostgreSQL.

`BriefPostgresApplicationRecorder.insert_events` sends the library's statements in one
round trip where the library takes two: these cases check it still records, numbers,
refuses conflicts and serves concurrent writers as the library's recorder does.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from psycopg.sql import SQL, Identifier

from logbook.store import BriefPostgresApplicationRecorder
from tests.stores import POSTGRES_URL, SCHEMA_PREFIX

pytestmark = pytest.mark.postgres_only


class TestBriefPostgresApplicationRecorder(ApplicationRecorderTestCase[BriefPostgresApplicationRecorder]):
    def setUp(self) -> None:
        self.schema = f"{SCHEMA_PREFIX}{os.getpid()}_recorder_{uuid4().hex[:8]}"
        self._run(SQL("CREATE SCHEMA {}").format(Identifier(self.schema)))
        self.datastores: list[PostgresDatastore] = []

    def tearDown(self) -> None:
        for datastore in self.datastores:
            datastore.close()
        self._run(SQL("DROP SCHEMA {} CASCADE").format(Identifier(self.schema)))

    def create_recorder(self) -> BriefPostgresApplicationRecorder:
        url = urlsplit(POSTGRES_URL)
        datastore = PostgresDatastore(
            url.path.lstrip("/"), url.hostname or "127.0.0.1", url.port or 5432, url.username or "postgres",
            url.password or "", schema=self.schema, pool_size=4, max_overflow=10,
        )
        self.datastores.append(datastore)
        recorder = BriefPostgresApplicationRecorder(datastore)
        recorder.create_table()
        return recorder

    @staticmethod
    def _run(statement: SQL | psycopg.sql.Composed) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(statement)


del ApplicationRecorderTestCase  # collect the cases only through the subclass
