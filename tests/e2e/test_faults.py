"""Faults under real gunicorn: a worker killed mid-write, a data directory out of space.

Issue 6, item 6. Each test states what was killed or taken away, what was
expected and what was counted. Each starts a server of its own (two sync
workers, on loopback) on a fresh data directory, and stops it, and unmounts
what it mounted, even when it fails; every wait is bounded. The killed worker
runs on either store; the full event store's data directory is SQLite's alone
(the key store, the audit log and the throttle live there on either store).

The other faults of item 6 are tested elsewhere:

- identical requests racing with one contact_id over both workers (exactly one
  201, every other answer 200 with the same body, one contact stored):
  ``test_identical_requests_racing_with_one_contact_id_store_one_contact`` in
  tests/e2e/test_concurrent_ingest.py;
- a projector killed with SIGKILL, resuming to the rows of a clean rebuild:
  ``test_a_projector_killed_at_random_moments_ends_with_the_rows_of_a_clean_rebuild``
  in tests/projections/test_rebuild.py;
- PostgreSQL restarted during load: tests/e2e/test_postgres_faults.py.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from logbook.config import Settings
from logbook.store import EventStore
from tests.e2e.conftest import (
    REQUEST_TIMEOUT_SECONDS,
    WORKERS,
    Server,
    Worker,
    _created,
    _environment,
    _gunicorn,
    _init_store,
)
from tests.stores import TestStore

pytestmark = pytest.mark.e2e

CONTACTS = 240
THREADS = 6
CLIENTS = 30
KILLS = 3
KILL_AT = (0.15, 0.4, 0.65)
"""The share of the stream answered when each kill is tried."""
WAIT_SECONDS = 30.0
STOPPED_SECONDS = 0.1
"""How long a worker caught with a waiting client stays stopped before it is judged: its answer may be on the way."""
SMALL_DISK_MEGABYTES = 3
LOOP_DISK_MEGABYTES = 8
"""ext4 needs a little more room for itself than tmpfs does."""
OUT_OF_SPACE = {"error": {
    "code": "insufficient_storage", "message": "The store is out of space; try again later.", "fields": {},
}}
UNSAFE_LOG_LINE = re.compile(r'" 500 |Traceback|unexpected ')
"""A 500 in the access log, a traceback, or api.errors' line for an unexpected error."""


# A gunicorn worker killed in the middle of a stream of writes.


def test_a_worker_killed_mid_request_loses_no_answered_contact_and_a_retry_stores_each_contact_once(tmp_path):
    """Killed: a gunicorn worker, with SIGKILL, three times during a stream of 240 contacts from 6 threads.

    Each kill is of a worker caught (stopped with SIGSTOP) holding the
    connection of a client that is still waiting for its answer, so that it dies
    answering that request; gunicorn's master starts another worker each time.

    Expected: every other contact is answered 201 and stored where its answer
    says; each unanswered one is either wholly stored (its Contact.Logged with the
    facts sent, its client recorded with its team in the same transaction) or
    absent; sent again with the same contact_id, it answers 200 with what is
    stored if it was stored, else 201; in the end the store holds exactly one
    event per contact_id, its Contact.Logged, and no client without a contact.

    Counted, straight from the SQLite file: the contacts (at least 240, one per
    contact_id), the kills (3), the unanswered contacts (at least one per kill,
    at most one per client thread per kill: a worker's threads may hold several) and, of
    those, how many were found stored and how many absent (printed).
    """
    with _own_server(tmp_path) as server:
        worker = _fresh_worker(server)
        bodies: list[dict[str, Any]] = []

        def next_body() -> dict[str, Any]:
            n = len(bodies)
            bodies.append(worker.contact(f"client-{n % CLIENTS}", minutes_ago=n % 60, contact_id=str(uuid.uuid4()),
                                         thread=f"t-{n}", topics=["school"]))
            return bodies[-1]

        answers, killed = _stream_with_kills(server, worker, next_body)

        unanswered = [body for body in bodies if answers[body["contact_id"]] is None]
        statuses = Counter(answer.status for answer in answers.values() if answer is not None)
        assert len(killed) == KILLS, killed
        assert len(bodies) >= CONTACTS
        assert statuses == {201: len(bodies) - len(unanswered)}, statuses
        # A worker dies holding every request its threads had taken, not only the one it was caught with
        # (unless that one's whole answer was already on its way).
        assert 1 <= len(unanswered) <= KILLS * THREADS
        stored = _stored_events(server.data_dir)
        contacts = _contacts(stored)
        for body in bodies:
            answer = answers[body["contact_id"]]
            if answer is not None:
                assert body["contact_id"] in contacts
                _assert_answer_matches_store(answer.body, contacts[body["contact_id"]])
            if body["contact_id"] in contacts:
                _assert_stored_as_sent(contacts[body["contact_id"]], body, worker)
        _assert_clients_consistent(stored)
        found = sum(body["contact_id"] in contacts for body in unanswered)
        print(f"{len(killed)} workers killed; {len(unanswered)} contacts unanswered: {found} stored, "
              f"{len(unanswered) - found} absent")

        # The client cannot tell which of its unanswered requests were stored: it sends each again.
        for body in unanswered:
            retry = server.post("/api/v1/contacts", worker.token, body)

            assert retry.status_code == (200 if body["contact_id"] in contacts else 201), retry.text
            _assert_answer_matches_store(retry.json(), _contacts(_stored_events(server.data_dir))[body["contact_id"]])

        stored = _stored_events(server.data_dir)
        assert sorted(_contacts(stored)) == sorted(body["contact_id"] for body in bodies)
        assert Counter(event.originator for event in stored if event.originator in answers) == dict.fromkeys(answers, 1)
        _assert_clients_consistent(stored)
        _assert_intact(server.data_dir)
        assert not re.search(r'" 5\d\d ', server.log()), "a 5xx was answered"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


class Stream:
    """Contacts posted once each from several threads, over a bare HTTP connection per request.

    It knows which clients are waiting for an answer, by the local port of
    their connection, so that a worker can be killed while a client waits on it.
    """

    def __init__(self, server: Server, worker: Worker) -> None:
        self.port = int(server.base_url.rsplit(":", 1)[1])
        self.token = worker.token
        self.answers: dict[str, Answer | None] = {}
        self._waiting: set[int] = set()
        self._lock = threading.Lock()

    def waiting(self) -> set[int]:
        """The local ports of the clients waiting for an answer now."""
        with self._lock:
            return set(self._waiting)

    def post_until_done(self, next_body: Callable[[], dict[str, Any] | None]) -> None:
        while (body := next_body()) is not None:
            self.answers[body["contact_id"]] = self._post_once(body)

    def _post_once(self, body: dict[str, Any]) -> Answer | None:
        """The answer, or None when the connection broke or no answer came in time."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            connection.connect()
            port = connection.sock.getsockname()[1]
            with self._lock:
                self._waiting.add(port)
            try:
                connection.request("POST", "/api/v1/contacts", json.dumps(body), {
                    "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                })
                response = connection.getresponse()
                return Answer(response.status, json.loads(response.read()))
            finally:
                with self._lock:
                    self._waiting.discard(port)
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()


def _stream_with_kills(
    server: Server, worker: Worker, next_body: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Answer | None], list[int]]:
    """Bodies posted once each, from `THREADS` threads, while a worker is killed at each share of `KILL_AT`.

    The stream goes on until every kill was made and `CONTACTS` bodies were
    posted: requests take about a millisecond here, so a stream of fixed length
    could end before the kills. Returns each contact_id's answer (None when there
    was none) and the killed workers, once gunicorn has replaced them.
    """
    master = _master_of(server)
    stream = Stream(server, worker)
    killed: list[int] = []
    done = threading.Event()
    lock = threading.Lock()
    taken = 0

    def take() -> dict[str, Any] | None:
        nonlocal taken
        with lock:
            if done.is_set() and taken >= CONTACTS:
                return None
            taken += 1
            return next_body()

    with ThreadPoolExecutor(THREADS) as pool:
        streams = [pool.submit(stream.post_until_done, take) for _ in range(THREADS)]
        try:
            for share in KILL_AT:
                _wait_until(lambda share=share: len(stream.answers) >= share * CONTACTS, "the stream to advance")
                pid = _kill_a_worker_a_client_waits_on(master, stream, until=lambda: False)
                if pid is not None:
                    killed.append(pid)
        finally:
            done.set()
        for finished in streams:
            finished.result(timeout=WAIT_SECONDS)
    _wait_until(lambda: len(_workers(master) - set(killed)) == WORKERS, "gunicorn to replace the killed workers")
    return stream.answers, killed


def _kill_a_worker_a_client_waits_on(master: int, stream: Stream, until: Callable[[], bool]) -> int | None:
    """SIGKILLs a worker that holds the connection of a waiting client; its pid, or None if none was caught."""
    listeners = _sockets(master)
    deadline = time.monotonic() + WAIT_SECONDS
    while not until() and time.monotonic() < deadline:
        for pid in _workers(master):
            if _stopped_while_a_client_waits(pid, listeners, stream):
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.001)
    return None


def _stopped_while_a_client_waits(pid: int, listeners: set[str], stream: Stream) -> bool:
    """Stops the worker and keeps it stopped if a client still waits on it after a while; else lets it go on.

    A client whose whole answer was sent before the stop gets it during the
    while, and stops waiting: the worker is then not the one to kill.
    """
    # Requests take about a millisecond: the worker is stopped first, then asked whether a client waits on it.
    try:
        os.kill(pid, signal.SIGSTOP)
        _wait_until(lambda: _state(pid) in ("T", "t", "Z", None), "a worker to stop", timeout=1.0)
        time.sleep(STOPPED_SECONDS)
        if _peer_ports(pid, listeners) & stream.waiting():
            return True
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    return False


def _peer_ports(pid: int, listeners: set[str]) -> set[int]:
    """The client ports of the connections a worker accepted and holds (from /proc/net/tcp, by socket inode)."""
    inodes = {socket.removeprefix("socket:[").removesuffix("]") for socket in _sockets(pid) - listeners}
    ports = set()
    for line in _read("/proc/net/tcp").decode().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def _master_of(server: Server) -> int:
    """The gunicorn master serving ``server``: a child of this process bound to its address."""
    address = server.base_url.removeprefix("http://").encode()
    masters = [pid for pid in _children(os.getpid()) if address in _read(f"/proc/{pid}/cmdline")]
    assert len(masters) == 1, masters
    return masters[0]


def _workers(master: int) -> set[int]:
    return {pid for pid in _children(master) if _state(pid) not in ("Z", None)}


def _children(parent: int) -> list[int]:
    """From /proc/*/stat, since /proc/<pid>/task/*/children is not always there."""
    children = []
    for entry in os.listdir("/proc"):
        stat = _read(f"/proc/{entry}/stat") if entry.isdigit() else b""
        if stat and int(stat.rsplit(b")", 1)[1].split()[1]) == parent:
            children.append(int(entry))
    return children


def _state(pid: int) -> str | None:
    stat = _read(f"/proc/{pid}/stat")
    return stat.rsplit(b")", 1)[1].split()[0].decode() if stat else None


def _sockets(pid: int) -> set[str]:
    """The sockets a process holds open, as ``socket:[inode]``."""
    sockets = set()
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return sockets
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:"):
            sockets.add(target)
    return sockets


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except (FileNotFoundError, ProcessLookupError):
        return b""


# What the SQLite file holds, read without the server.


@dataclass(frozen=True)
class Stored:
    position: int
    originator: str
    version: int
    topic: str
    state: dict[str, Any]


def _stored_events(data_dir: Path) -> list[Stored]:
    """Every event in the store's order, read apart from the server (plain JSON: the store is not encrypted)."""
    with closing(EventStore(Settings.from_environ(_environment(data_dir)))) as store:
        notifications = store.recorder.select_notifications(start=None, limit=1_000_000)
    return [Stored(n.id, str(n.originator_id), n.originator_version, n.topic, json.loads(n.state))
            for n in notifications]


def _contacts(stored: list[Stored]) -> dict[str, Stored]:
    return {event.originator: event for event in stored if event.topic.endswith(":Contact.Logged")}


def _plain(value: Any) -> Any:
    """A value as the library's JSON transcoder stored it, without its type tag."""
    return value["_data_"] if isinstance(value, dict) and "_type_" in value else value


def _assert_stored_as_sent(logged: Stored, body: dict[str, Any], worker: Worker) -> None:
    facts = {name: _plain(logged.state[name]) for name in (
        "account_id", "team_id", "profile_id", "direction", "nature", "thread", "topics", "message_count",
    )}
    assert facts == {
        "account_id": worker.account_id, "team_id": worker.team_id, "profile_id": worker.profile_id,
        "direction": body["direction"], "nature": body["nature"], "thread": body["thread"],
        "topics": body["topics"], "message_count": 1,
    }
    assert datetime.fromisoformat(_plain(logged.state["occurred_at"])) == datetime.fromisoformat(body["occurred_at"])
    assert logged.version == 1


def _assert_answer_matches_store(receipt: dict[str, Any], logged: Stored) -> None:
    assert (receipt["contact_id"], receipt["position"]) == (logged.originator, logged.position)
    assert uuid.UUID(receipt["client_id"]).hex == _plain(logged.state["client_id"])


def _assert_clients_consistent(stored: list[Stored]) -> None:
    """Each contact's client was recorded with the contact's team; no client exists without a contact.

    A client is only ever recorded in the transaction of its first contact with a
    team, so a client without a contact would be half of a transaction.
    """
    clients: dict[str, list[Stored]] = {}
    for event in stored:
        if event.topic.startswith("events.client:"):
            clients.setdefault(event.originator, []).append(event)
    teams_met: dict[str, set[str]] = {}
    for client_id, events in clients.items():
        assert [event.version for event in events] == list(range(1, len(events) + 1))
        teams_met[client_id] = {event.state["team_id"] for event in events if "team_id" in event.state}
    contacts = _contacts(stored).values()
    for logged in contacts:
        assert logged.state["team_id"] in teams_met[str(uuid.UUID(_plain(logged.state["client_id"])))]
    assert set(clients) == {str(uuid.UUID(_plain(logged.state["client_id"]))) for logged in contacts}


def _assert_intact(data_dir: Path) -> None:
    """Every SQLite file of the data directory passes SQLite's own integrity check (the event store's among them)."""
    files = sorted(data_dir.glob("*.sqlite3"))
    assert TestStore.is_postgres() or data_dir / "logbook.sqlite3" in files
    for file in files:
        with closing(_read_only(file)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)], file.name


def _read_only(file: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{file}?mode=ro", uri=True, timeout=10)


# The data directory out of space.


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose data directory is a file system of a few megabytes of its own."""
    home = tmp_path_factory.mktemp("faults-disk")
    with _small_file_system(home / "data"), _own_server(home) as server:
        yield server


@pytest.fixture
def log_checked(small_disk: Server) -> Iterator[list[str]]:
    """Strings the test sent that must never reach the log; the test's part of the log is checked afterwards."""
    before = len(small_disk.log())
    secrets: list[str] = []
    yield secrets
    log = small_disk.log()[before:]
    assert not UNSAFE_LOG_LINE.search(log), log
    assert "out of space (" in log
    for secret in secrets:
        assert secret not in log


@pytest.mark.sqlite_only("fills the data directory that holds the SQLite store")
def test_writes_to_a_full_data_directory_answer_507_while_reads_work_and_resume_once_space_is_back(
    small_disk, log_checked,
):
    """Taken away: every free byte of the data directory's file system, by a ballast file.

    Expected: contacts are logged until SQLite's log cannot grow, then each
    answers 507 in the error shape with Retry-After, quoting nothing sent; reads
    that write nothing (the caller's account, the teams, health) answer 200;
    every SQLite file passes its integrity check; once the ballast is deleted,
    with the same server, each refused contact sent again answers 201.

    Counted: the contacts answered 201 while the disk was full (those SQLite's
    log had room for: each is stored), the 507s (each not stored), and in the
    end one stored contact per contact_id.
    """
    server, worker = small_disk, _fresh_worker(small_disk)
    refused, accepted = [], []

    with _disk_filled(server.data_dir):
        for n in range(50):
            body = worker.contact(f"ref-{n}-{uuid.uuid4().hex}", contact_id=str(uuid.uuid4()), thread=f"t-{n}")
            log_checked.append(body["client_ref"])
            answer = server.post("/api/v1/contacts", worker.token, body)
            (accepted if answer.status_code == 201 else refused).append((body, answer))
            if len(refused) == 3:
                break

        assert len(refused) == 3, [answer.status_code for _, answer in accepted]
        for body, answer in refused:
            _assert_out_of_space(answer)
            assert body["client_ref"] not in answer.text and body["thread"] not in answer.text
        assert server.get("/api/v1/me", worker.token).status_code == 200
        assert server.get("/api/v1/teams", server.admin_token).status_code == 200
        assert requests.get(server.url("/healthz"), timeout=10).status_code == 200
        _assert_intact(server.data_dir)
        contacts = _contacts(_stored_events(server.data_dir))
        assert all(body["contact_id"] in contacts for body, _ in accepted)
        assert not any(body["contact_id"] in contacts for body, _ in refused)

    for body, _ in refused:
        assert server.post("/api/v1/contacts", worker.token, body).status_code == 201
    logged = Counter(event.originator for event in _stored_events(server.data_dir))
    assert all(logged[body["contact_id"]] == 1 for body, _ in accepted + refused)
    _assert_intact(server.data_dir)


def test_a_note_for_a_new_client_answers_507_when_the_key_store_cannot_grow(small_disk, log_checked):
    """Taken away: every free byte of the data directory, before a contact with a note for a client new to it.

    Expected: 507 in the error shape (the client's data key cannot be written to
    keys.sqlite3, before anything else is), the note quoted nowhere; the same
    request answers 201 once the ballast is deleted.

    Counted: the contact's events (none while full, one after), the key store's integrity.
    """
    server, worker = small_disk, _fresh_worker(small_disk)
    note = f"note-{uuid.uuid4().hex} exams next week"
    body = worker.contact(f"ref-{uuid.uuid4().hex}", contact_id=str(uuid.uuid4()), note=note)
    log_checked.extend([note, body["client_ref"]])

    with _disk_filled(server.data_dir):
        answer = server.post("/api/v1/contacts", worker.token, body)

        _assert_out_of_space(answer)
        assert note not in answer.text
        assert server.count_events(uuid.UUID(body["contact_id"])) == 0
        _assert_intact(server.data_dir)

    assert server.post("/api/v1/contacts", worker.token, body).status_code == 201
    assert server.count_events(uuid.UUID(body["contact_id"])) == 1
    assert server.get(f"/api/v1/contacts/{body['contact_id']}", worker.token).json()["note"] == note


def test_an_audited_read_answers_507_rather_than_unaudited_when_the_audit_log_cannot_grow(small_disk, log_checked):
    """Taken away: every free byte of the data directory, before a worker reads a contact of their team.

    Expected: 507 in the error shape, since the read cannot be recorded in
    audit.sqlite3 and an unaudited read must not answer; 200 with the contact
    once the ballast is deleted.

    Counted: the audit entries of the contact (none added while full, one after).
    """
    server, worker = small_disk, _fresh_worker(small_disk)
    logged = server.post("/api/v1/contacts", worker.token, worker.contact(f"ref-{uuid.uuid4().hex}")).json()
    path = f"/api/v1/contacts/{logged['contact_id']}"

    with _disk_filled(server.data_dir):
        _assert_out_of_space(server.get(path, worker.token))
        assert _audit_entries(server, logged["contact_id"]) == 0
        _assert_intact(server.data_dir)

    assert server.get(path, worker.token).status_code == 200
    assert _audit_entries(server, logged["contact_id"]) == 1


def test_a_bad_token_answers_507_when_the_throttle_cannot_count_it(small_disk, log_checked):
    """Taken away: every free byte of the data directory, before a request with a token that is not one.

    Expected: 507 in the error shape, since the failure cannot be counted in
    throttle.sqlite3 (nothing is let through uncounted); 401 once the ballast is deleted.

    Counted: the throttle's integrity.
    """
    server = small_disk
    token = f"not-a-token-{uuid.uuid4().hex}"
    log_checked.append(token)

    with _disk_filled(server.data_dir):
        _assert_out_of_space(server.get("/api/v1/me", token))
        _assert_intact(server.data_dir)

    assert server.get("/api/v1/me", token).status_code == 401


@pytest.mark.sqlite_only("fills the data directory that holds the SQLite store")
def test_a_revocation_stored_on_a_full_disk_is_in_force_in_every_worker_at_once(small_disk, log_checked):
    """Taken away: every free byte of the data directory, with SQLite's log checkpointed first.

    The checkpoint lets the store's next small write reuse its log, as SQLite
    does once every frame was copied to the database: the revocation is then
    stored. The accounts.changed signal, which tells the other workers to read
    the account again, is overwritten in place, so it needs no free block.

    Expected: 200 `{revoked: 1}` while the disk is full, the signal moved, and
    the token refused at once by both workers, which had the account cached
    (507 while the throttle cannot record the failed login, 401 once it can).

    Counted: the account's TokensRevoked events (one), the signal's content
    (changed), 10 requests with the revoked token while full (none 200) and
    10 after (all 401).
    """
    server, worker = small_disk, _fresh_worker(small_disk)
    for _ in range(20):  # both workers read the account and keep it
        assert server.get("/api/v1/me", worker.token).status_code == 200
    for n in range(5):  # room in SQLite's log for the revocation
        assert server.post("/api/v1/contacts", worker.token, worker.contact(f"ref-{n}")).status_code == 201
    signal_file = server.data_dir / "accounts.changed"
    signal_before = signal_file.read_bytes()
    _checkpoint(server.data_dir / "logbook.sqlite3")
    revoke = f"/api/v1/accounts/{worker.account_id}/tokens/revoke"

    with _disk_filled(server.data_dir):
        revoked = server.post(revoke, server.admin_token, {})
        assert (revoked.status_code, revoked.json()) == (200, {"revoked": 1})
        assert _revocations(server, worker) == 1
        assert signal_file.read_bytes() != signal_before
        # Refused by both workers; 507 rather than 401 while the throttle cannot count the failure.
        assert {server.get("/api/v1/me", worker.token).status_code for _ in range(10)} <= {401, 507}
        _assert_intact(server.data_dir)
    assert [server.get("/api/v1/me", worker.token).status_code for _ in range(10)] == [401] * 10


def _assert_out_of_space(answer: requests.Response) -> None:
    assert answer.status_code == 507, answer.text
    assert answer.json() == OUT_OF_SPACE
    assert int(answer.headers["Retry-After"]) > 0


def _audit_entries(server: Server, contact_id: str) -> int:
    with closing(_read_only(server.data_dir / "audit.sqlite3")) as connection:
        return connection.execute(
            "SELECT COUNT(*) FROM audit_entries WHERE contact_id = ?", (uuid.UUID(contact_id).hex,)
        ).fetchone()[0]


def _revocations(server: Server, worker: Worker) -> int:
    events = _stored_events(server.data_dir)
    account = next(e.originator for e in events if e.topic.endswith(":Account.Registered")
                   and e.state["account_id"] == worker.account_id)
    return sum(e.originator == account and e.topic.endswith(":Account.TokensRevoked") for e in events)


def _checkpoint(database: Path) -> None:
    """Copies every frame of SQLite's log into the database, so that the next writer starts the log again."""
    with closing(sqlite3.connect(database, timeout=10)) as connection:
        busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == copied > 0, (busy, frames, copied)


@contextmanager
def _disk_filled(data_dir: Path) -> Iterator[None]:
    """A ballast file takes every free byte of the data directory's file system; deleting it gives them back."""
    ballast = data_dir / "ballast"
    try:
        _fill(ballast)
        assert os.statvfs(data_dir).f_bavail == 0
        yield
    finally:
        ballast.unlink(missing_ok=True)


def _fill(ballast: Path) -> None:
    descriptor = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    os.write(descriptor, bytes(size))
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(descriptor)


@contextmanager
def _small_file_system(mount_point: Path) -> Iterator[None]:
    """A tmpfs of a few megabytes at ``mount_point``, else a loop-mounted ext4; skips when neither can be mounted."""
    mount_point.mkdir(mode=0o700)
    reasons = []
    for attempt in (_mount_tmpfs, _mount_loop):
        reason = attempt(mount_point)
        if reason is None:
            break
        reasons.append(reason)
    else:
        pytest.skip(f"no small file system can be mounted here: {'; '.join(reasons)}")
    try:
        yield
    finally:
        _unmount(mount_point)


def _mount_tmpfs(mount_point: Path) -> str | None:
    return _run("mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_MEGABYTES}M,mode=0700", "tmpfs", str(mount_point))


def _mount_loop(mount_point: Path) -> str | None:
    image = mount_point.with_name("disk.img")
    with open(image, "wb") as file:
        file.truncate(LOOP_DISK_MEGABYTES << 20)
    reason = _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image)) or _run("mount", "-o", "loop", str(image),
                                                                           str(mount_point))
    if reason is None:
        os.chmod(mount_point, 0o700)
    return reason


def _unmount(mount_point: Path) -> None:
    if _run("umount", str(mount_point)) is not None:
        _run("umount", "-l", str(mount_point))  # something still holds it: detach it now, free it when released


def _run(*command: str) -> str | None:
    """None when the command succeeded, else why it did not."""
    if shutil.which(command[0]) is None:
        return f"{command[0]} is not installed"
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return None if result.returncode == 0 else f"{' '.join(command[:3])}: {result.stderr.strip()}"


# Servers and accounts of the tests' own.


@contextmanager
def _own_server(home: Path) -> Iterator[Server]:
    """`logbook init` and gunicorn on ``home``/data, as the session's server but for this test alone."""
    env = _environment(home / "data")
    admin_token = _init_store(env, home)
    with _gunicorn(env, home) as (base_url, log_file):
        yield Server(base_url, admin_token, home / "data", log_file)


def _fresh_worker(server: Server) -> Worker:
    """A worker of a fresh team with the team's shared profile, as conftest's ``worker`` fixture makes one."""
    suffix = uuid.uuid4().hex[:8]
    team_id, account_id, profile_id = f"jac-{suffix}", f"worker-{suffix}", f"shared-{suffix}"
    _created(server, "/api/v1/teams", {
        "team_id": team_id, "name": "JAC Oostende", "organisation": "caw-nwvl", "site": "Oostende", "service": "jac",
    })
    account = _created(server, "/api/v1/accounts", {
        "account_id": account_id, "name": "Lotte", "role": "worker", "team_id": team_id, "function": "counsellor",
    })
    _created(server, "/api/v1/profiles", {
        "profile_id": profile_id, "channel": "messenger", "kind": "shared", "team_id": team_id, "users": [account_id],
    })
    return Worker(account["token"], account_id, team_id, profile_id)


def _wait_until(condition: Any, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.002)

