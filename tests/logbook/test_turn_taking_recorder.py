"""The library's own recorder test cases, run against the recorder the logbook uses on SQLite."""

from __future__ import annotations

import tempfile
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from logbook.store import TurnTakingSQLiteApplicationRecorder


class TestTurnTakingSQLiteApplicationRecorder(ApplicationRecorderTestCase[TurnTakingSQLiteApplicationRecorder]):
    def setUp(self) -> None:
        self._directory = tempfile.TemporaryDirectory()
        self.db_name = str(Path(self._directory.name) / "events.sqlite3")

    def tearDown(self) -> None:
        self._directory.cleanup()

    def create_recorder(self) -> TurnTakingSQLiteApplicationRecorder:
        recorder = TurnTakingSQLiteApplicationRecorder(SQLiteDatastore(db_name=self.db_name))
        recorder.create_table()
        return recorder

    def test_writers_take_turns_through_a_lock_file_beside_the_database(self) -> None:
        recorder = self.create_recorder()

        recorder.insert_events([StoredEvent(uuid4(), 1, "topic", b"state")])

        assert Path(self.db_name + ".lock").exists()


del ApplicationRecorderTestCase  # collect the cases only through the subclass
