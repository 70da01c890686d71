"""PostgreSQL restarted under load, with real gunicorn and a real projector.

Issue 6, item 6. Runs under ``--store=postgres`` only, and only where the test
may restart the local server (``pg_ctlcluster`` as root); elsewhere it is
skipped and says why. The server is always started again, even when the test
fails, and every wait is bounded.

What is stopped: the PostgreSQL server, with ``pg_ctlcluster stop -m fast``
(every connection is cut), for about two seconds, while one client writes
contacts without pause. What is expected: while it is away, every answer is
503 with ``Retry-After``, within a few seconds; once it is back, writes
succeed again through the same gunicorn workers; the projector stops with an
error (for its supervisor) and, started again, catches up. What is counted:
each answer by status, the workers gunicorn booted, and each contact in the
store after the client retried what was not answered 201 or 200.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from logbook import read_models
from logbook.config import Settings
from logbook.store import EventStore
from tests.e2e.conftest import VENV_BIN, Server, Worker, _environment
from tests.e2e.test_faults import _fresh_worker, _own_server
from tests.stores import POSTGRES_URL

pytestmark = [pytest.mark.e2e, pytest.mark.postgres_only]

AWAY_SECONDS = 2.0
FAIL_FAST_SECONDS = 5.0
"""The longest a request may take to be refused while the server is away."""
WAIT_SECONDS = 30.0
CONTACTS_BEFORE, CONTACTS_AFTER = 20, 20


@dataclass
class Answer:
    body: dict[str, object]
    status: int | None
    """None when no answer came (the connection failed or timed out)."""
    seconds: float
    retry_after: str | None


@dataclass
class WriteStream:
    """One client logging contacts one after another, each with a fresh contact id, until stopped."""

    server: Server
    worker: Worker
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            self.answers.append(self.post(self.worker.contact(f"client-{number % 7}", contact_id=str(uuid.uuid4()))))

    def post(self, body: dict[str, object]) -> Answer:
        started = time.monotonic()
        try:
            response = requests.post(self.server.url("/api/v1/contacts"), json=body,
                                     headers={"Authorization": f"Bearer {self.worker.token}"}, timeout=10)
        except requests.RequestException:
            return Answer(body, None, time.monotonic() - started, None)
        return Answer(body, response.status_code, time.monotonic() - started,
                      response.headers.get("Retry-After"))

    def count(self, status: int | None) -> int:
        return sum(1 for answer in list(self.answers) if answer.status == status)

    def wait_for(self, status: int, count: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.count(status) < count:
            assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {count} answers {status}: " \
                                                f"{Counter(a.status for a in self.answers)}"
            time.sleep(0.01)


def _cluster() -> tuple[str, str] | None:
    """The version and name of the local cluster that serves the test database, if this test may restart it."""
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0 or not Path("/etc/postgresql").is_dir():
        return None
    if urlsplit(POSTGRES_URL).hostname not in ("127.0.0.1", "localhost"):
        return None
    port = str(urlsplit(POSTGRES_URL).port or 5432)
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False).stdout
    for line in listing.splitlines():
        version, name, cluster_port, *_ = line.split()
        if cluster_port == port:
            return version, name
    return None


def _pg_ctl(action: str, cluster: tuple[str, str]) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action]
    subprocess.run([*command, "-m", "fast"] if action == "stop" else command, check=True, timeout=60)


@contextmanager
def _server_away(cluster: tuple[str, str]) -> Iterator[None]:
    _pg_ctl("stop", cluster)
    try:
        yield
    finally:
        _pg_ctl("start", cluster)


@contextmanager
def _projector(data_dir: Path, stderr_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(stderr_file, "ab") as stderr:
        process = subprocess.Popen([str(VENV_BIN / "logbook"), "projections", "run"], env=_environment(data_dir),
                                   stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def _booted_workers(server: Server) -> int:
    return len(re.findall(r"Booting worker with pid", server.log()))


def _settings(server: Server) -> Settings:
    return Settings.from_environ(_environment(server.data_dir))


def _caught_up(settings: Settings) -> bool:
    with closing(EventStore(settings)) as store:
        head = store.recorder.max_notification_id() or 0
    for name in read_models.PROJECTIONS:
        with closing(read_models.open_view(settings, name)) as view:
            if view.position() < head:
                return False
    return True


def _wait_until_caught_up(settings: Settings) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not _caught_up(settings):
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.1)


def test_postgresql_restarted_under_load_answers_503_then_recovers_without_restarting_the_web(
    tmp_path: Path,
) -> None:
    cluster = _cluster()
    if cluster is None:
        pytest.skip("this test restarts the local PostgreSQL server: it needs pg_ctlcluster, root and a local URL")
    with _own_server(tmp_path) as server, _projector(server.data_dir, tmp_path / "projector.err") as projector:
        stream = WriteStream(server, _fresh_worker(server))
        writer = threading.Thread(target=stream.run, daemon=True)
        writer.start()
        try:
            stream.wait_for(201, CONTACTS_BEFORE)
            _wait_until_caught_up(_settings(server))  # the projector is following
            booted = _booted_workers(server)
            with _server_away(cluster):
                stream.wait_for(503, 1)
                time.sleep(AWAY_SECONDS)
                answered_while_away = len(stream.answers)
            created_before_return = stream.count(201)
            stream.wait_for(201, created_before_return + CONTACTS_AFTER)
        finally:
            stream.stop.set()
            writer.join(timeout=WAIT_SECONDS)
        projector_status = projector.wait(timeout=WAIT_SECONDS)

        statuses = Counter(answer.status for answer in stream.answers)
        assert set(statuses) <= {201, 503, None}, statuses
        refused = [answer for answer in stream.answers if answer.status == 503]
        assert all(answer.retry_after for answer in refused), "every 503 says when to try again"
        assert max(answer.seconds for answer in refused) < FAIL_FAST_SECONDS, [a.seconds for a in refused]
        assert stream.answers[answered_while_away:] and stream.count(201) >= created_before_return + CONTACTS_AFTER
        assert _booted_workers(server) == booted, "no gunicorn worker was started again"

        # The projector lost its connection and said so; started again, it catches up.
        assert projector_status == 1
        said = (tmp_path / "projector.err").read_text()
        assert "lost its connection" in said and "Traceback" not in said, said
        with _projector(server.data_dir, tmp_path / "projector-again.err"):
            _wait_until_caught_up(_settings(server))

        # Every contact answered 201 is stored once; each one without such an answer, retried, ends stored once.
        unanswered = [answer for answer in stream.answers if answer.status != 201]
        for retried in (stream.post(answer.body) for answer in unanswered):  # the same body, as a client retries
            assert retried.status in (200, 201), retried
        for answer in stream.answers:
            assert server.count_events(uuid.UUID(str(answer.body["contact_id"]))) == 1, answer


def test_a_second_projector_waits_and_takes_over_when_the_first_is_killed(tmp_path: Path) -> None:
    """Two projectors on one database: one runs each read model, the other waits; SIGKILL the first.

    Expected: the second says it waits for the read models the first holds;
    once the first is killed, the server releases its locks, and the second
    takes over and brings the views up to the store's head, through the ten
    contacts written after the kill.
    """
    with _own_server(tmp_path) as server, \
            _projector(server.data_dir, tmp_path / "first.err") as first:
        settings = _settings(server)
        stream = WriteStream(server, _fresh_worker(server))
        for number in range(10):
            assert stream.post(stream.worker.contact(f"client-{number}", contact_id=str(uuid.uuid4()))).status == 201
        _wait_until_caught_up(settings)
        with _projector(server.data_dir, tmp_path / "second.err") as second:
            deadline = time.monotonic() + WAIT_SECONDS
            while "waiting for projection" not in (tmp_path / "second.err").read_text():
                assert time.monotonic() < deadline and second.poll() is None, (tmp_path / "second.err").read_text()
                time.sleep(0.1)

            first.kill()
            first.wait(timeout=WAIT_SECONDS)
            for number in range(10):
                answer = stream.post(stream.worker.contact(f"client-{number}", contact_id=str(uuid.uuid4())))
                assert answer.status == 201

            _wait_until_caught_up(settings)
            assert second.poll() is None, "the second projector is running"
