"""How fast contacts are logged over HTTP, against the event store's own append rate, and what encryption costs.

Run as ``.venv/bin/python bench/ingest.py``. In one run it measures:

1. the library's in-process rate: ``Application.save(Contact.log(...))`` in a
   loop, one new contact (one event) per save, on a fresh SQLite file, with the
   store plain and with it encrypted (the library's ``AESCipher``, as
   ``LOGBOOK_ENCRYPT_EVENTS=1`` sets it up), which isolates the cipher's cost;
2. HTTP ingest: gunicorn (its default threads) on a fresh SQLite file on
   127.0.0.1, several client threads posting distinct contacts, bounded by a
   count and a time limit; contacts per second and p50/p99 latency; for
   plain, every contact carrying a ``note`` of about 200 characters
   (sealed with its client's key), the whole store encrypted without notes,
   and plain once more as a control, whose ratio to the first shows the noise;

and prints each rate with its ratio to the plain one (cost = 1 - ratio), the
HTTP / library ratio, the machine, and where the CPU went. The four servers
run side by side and are measured in turns of a few seconds, in the order
plain, notes, encrypted, control and then backwards, so that a slower or
busier spell of the machine hits each of them alike.
The clients use a few client refs, warmed up first, so that in the measured
phase every request appends exactly one event, as the library loop does (and
every client's note key exists already).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import math
import os
import platform
import resource
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar
from uuid import UUID, uuid4

# Run as a script, this file's folder comes first on the path, where bench/projections.py would shadow the
# projections package: the repository's root takes its place.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(BENCH.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]

from eventsourcing.application import Application  # noqa: E402

from bench.http_session import Session, TransportError  # noqa: E402
from events import Account, Contact, Profile  # noqa: E402
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service  # noqa: E402
from logbook.application import Logbook  # noqa: E402
from logbook.config import MASTER_KEY_BYTES, Settings  # noqa: E402
from logbook.store import SQLITE_FILE, cipher_env  # noqa: E402

VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key-bench-secret-key-0123456789"
LOGBOOK_APP = "api:create_app()"
"""What gunicorn serves: the logbook's app factory."""
TEAM_ID, ACCOUNT_ID, PROFILE_ID = "jac-oostende", "lotte", "jac-oostende-messenger"
CLIENT_REFS = [f"client-{n}" for n in range(8)]
TARGET_RATIO, TARGET_P99_MS, TARGET_NOTES_COST = 0.35, 50.0, 0.15
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")
NOTES = (
    "Vroeg of hij na school mag langskomen; thuis is het weer gespannen sinds de ruzie met zijn stiefvader. "
    "Uitgenodigd op het JAC donderdag, hij twijfelt nog. Volgende week opnieuw polsen.",
    "Stuurde een bericht na een post over slapeloosheid en examenstress. Gevraagd hoe het gaat; ze wil "
    "liever chatten dan bellen. Doorverwezen naar de veilige chat, link gestuurd.",
    "Korte babbel over de voetbalploeg en een stage die niet doorging. Geen hulpvraag, wel wat somber. "
    "Afgesproken dat ik na de vakantie even iets stuur om te horen hoe het loopt.",
)
"""Notes as workers write them, about 200 characters each."""
NOTE_PROBE = NOTES[0][:40]
"""A piece of a note: the store must never hold it in clear."""


@dataclass(frozen=True)
class Variant:
    """One way of running the server for HTTP ingest."""

    name: str
    notes: bool = False
    encrypt_events: bool = False
    control: bool = False
    """Plain again: how far two identical servers' rates differ is this run's noise."""


VARIANTS = (
    Variant("plain"),
    Variant("notes", notes=True),
    Variant("encrypted store", encrypt_events=True),
    Variant("plain, control", control=True),
)


def main() -> None:
    options = _parse_options()
    machine = _machine()
    print(machine, file=sys.stderr)
    master_key = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
    # The library is measured before and after HTTP, so a slower or busier spell hits both sides.
    library: dict[bool, list[LibraryRound]] = {False: [], True: []}
    _library_rounds(options, master_key, library)
    http = _http_ingest(options, master_key)
    _library_rounds(options, master_key, library)
    _report(machine, options, library, http)


def _library_rounds(options: argparse.Namespace, master_key: str, rounds: dict[bool, list[LibraryRound]]) -> None:
    for round_ in range(options.library_rounds):
        for encrypted in (False, True) if round_ % 2 == 0 else (True, False):
            rounds[encrypted].append(_library_rate(options.library_events, master_key if encrypted else None))
    print("library plain: " + ", ".join(f"{r.rate:,.0f}/s" for r in rounds[False])
          + "; encrypted: " + ", ".join(f"{r.rate:,.0f}/s" for r in rounds[True]), file=sys.stderr)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library-events", type=int, default=2000, help="events per library round [2000]")
    parser.add_argument("--library-rounds", type=int, default=2,
                        help="library rounds, plain and encrypted, before and again after HTTP; the median counts [2]")
    parser.add_argument("--contacts", type=int, default=4000,
                        help="contacts posted over HTTP to each variant (plain, notes, encrypted, control) [4000]")
    parser.add_argument("--turns", type=int, default=8, help="turns each variant's contacts are split into [8]")
    parser.add_argument("--warmup", type=int, default=200, help="contacts posted to each server before measuring [200]")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads [8]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server [2]")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time limit of each variant's turns together [60]")
    return parser.parse_args()


# The library's own rate.


@dataclass(frozen=True)
class LibraryRound:
    rate: float
    """Contacts per second."""
    cpu_ms: float
    """This process's CPU per contact: on a disk whose every commit waits for a sync, the rate hides the cipher."""


def _library_rate(events: int, master_key: str | None = None) -> LibraryRound:
    """Contacts per second that the library's own `Application.save` appends in process.

    A plain `eventsourcing` application on a fresh SQLite file, with none of
    the logbook's code in the loop but building the same `Contact.Logged` event;
    with ``master_key``, its payloads encrypted as ``LOGBOOK_ENCRYPT_EVENTS=1`` does.
    """
    with tempfile.TemporaryDirectory(prefix="logbook-bench-") as data_dir:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(Path(data_dir) / "library.sqlite3")}
        if master_key is not None:
            env |= cipher_env(base64.urlsafe_b64decode(master_key))
        app: Application[UUID] = Application(env=env)
        try:
            account, profile, client_id = _bare_directory()
            for _ in range(50):  # warm up: the WAL file, the first pages
                app.save(_contact(account, profile, client_id))
            started, cpu_before = time.perf_counter(), _process_cpu_seconds()
            for _ in range(events):
                app.save(_contact(account, profile, client_id))
            seconds, cpu_seconds = time.perf_counter() - started, _process_cpu_seconds() - cpu_before
            return LibraryRound(events / seconds, _per(cpu_seconds, events))
        finally:
            app.close()


def _bare_directory() -> tuple[Account, Profile, UUID]:
    now = datetime.now(timezone.utc)
    account = Account.register(account_id=ACCOUNT_ID, name="Lotte", role=Role.WORKER, team_id=TEAM_ID,
                               function=Function.COUNSELLOR, intern=False, now=now)
    profile = Profile.register(profile_id=PROFILE_ID, channel=Channel.MESSENGER, kind=ProfileKind.SHARED,
                               team_id=TEAM_ID, users=[ACCOUNT_ID], now=now)
    return account, profile, uuid4()


def _contact(account: Account, profile: Profile, client_id: UUID) -> Contact:
    now = datetime.now(timezone.utc)
    return Contact.log(
        contact_id=uuid4(), client_id=client_id, account=account, profile=profile,
        direction=Direction.INBOUND, nature=Nature.KEEPING_IN_TOUCH,
        occurred_at=now - timedelta(minutes=5), now=now,
    )


def _set_up_directory(app: Logbook) -> tuple[Account, Profile, str]:
    """The team, worker and shared profile every contact of the benchmark goes through."""
    app.register_team(team_id=TEAM_ID, name="JAC Oostende", organisation="caw-nwvl",
                      site="Oostende", service=Service.JAC)
    account, token = app.add_account(account_id=ACCOUNT_ID, name="Lotte", role=Role.WORKER,
                                      team_id=TEAM_ID, function=Function.COUNSELLOR)
    profile = app.register_profile(profile_id=PROFILE_ID, channel=Channel.MESSENGER,
                                   kind=ProfileKind.SHARED, team_id=TEAM_ID, users=[ACCOUNT_ID])
    return account, profile, token


# HTTP ingest.


@dataclass
class HttpResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    transport_errors: Counter = field(default_factory=Counter)
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    events_stored: int = 0
    log_trouble: list[str] = field(default_factory=list)
    in_clear: list[str] = field(default_factory=list)
    """What the store's files hold in clear, of a profile id (in every payload) and a note."""
    rates: list[float] = field(default_factory=list)
    """Of each turn merged into this result."""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @classmethod
    def merged(cls, results: list[HttpResult]) -> HttpResult:
        merged = cls(rates=[result.rate for result in results])
        for result in results:
            merged.seconds += result.seconds
            merged.latencies += result.latencies
            merged.statuses += result.statuses
            merged.transport_errors += result.transport_errors
            merged.client_cpu_seconds += result.client_cpu_seconds
            merged.server_cpu_seconds += result.server_cpu_seconds
            merged.events_stored += result.events_stored
        return merged


@dataclass
class Server:
    """A variant's gunicorn on a store of its own, warmed up."""

    variant: Variant
    data_dir: Path
    token: str
    port: int
    master: subprocess.Popen
    log_trouble: list[str] = field(default_factory=list)
    in_clear: list[str] = field(default_factory=list)

def _measured_post_many(data_dir: Path, master_pid: int, port: int, token: str, count: int, threads: int,
                        max_seconds: float, notes: bool) -> HttpResult:
    """`_post_many`, with the server's CPU it took and the events it stored."""
    events_before = _count_events(data_dir)
    server_cpu_before = _cpu_seconds_of_children(master_pid)
    result = _post_many(port, token, count, threads, max_seconds, notes)
    result.server_cpu_seconds = _cpu_seconds_of_children(master_pid) - server_cpu_before
    result.events_stored = _count_events(data_dir) - events_before
    return result


def _in_turns(servers: Sequence[T], name: Callable[[T], str], measure: Callable[[T], HttpResult],
              turns: int) -> dict[str, list[HttpResult]]:
    """Each server's measures: they take turns, forwards then backwards, so that no spell of the machine favours one."""
    results: dict[str, list[HttpResult]] = {name(server): [] for server in servers}
    for turn in range(turns):
        for server in servers if turn % 2 == 0 else servers[::-1]:
            results[name(server)].append(measure(server))
        print(f"HTTP turn {turn + 1}: " + ", ".join(f"{key} {measures[-1].rate:,.0f}/s"
                                                     for key, measures in results.items()), file=sys.stderr)
    return results


def _http_ingest(options: argparse.Namespace, master_key: str) -> dict[str, HttpResult]:
    """Each variant's result: the servers run side by side and take turns."""
    per_turn, seconds_per_turn = math.ceil(options.contacts / options.turns), options.max_seconds / options.turns

    def measure(server: Server) -> HttpResult:
        return _measured_post_many(server.data_dir, server.master.pid, server.port, server.token, per_turn,
                                   options.threads, seconds_per_turn, server.variant.notes)

    with ExitStack() as stack:
        servers = [stack.enter_context(_server(options, variant, master_key)) for variant in VARIANTS]
        turns = _in_turns(servers, lambda server: server.variant.name, measure, options.turns)
    results = {}
    for server in servers:
        results[server.variant.name] = HttpResult.merged(turns[server.variant.name])
        results[server.variant.name].log_trouble = server.log_trouble
        results[server.variant.name].in_clear = server.in_clear
    return results


@contextmanager
def _server(options: argparse.Namespace, variant: Variant, master_key: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="logbook-bench-") as data_dir_name:
        data_dir = Path(data_dir_name)
        token = _prepare_store(data_dir, master_key, variant.encrypt_events)
        server_env = {"LOGBOOK_MASTER_KEY": master_key, "LOGBOOK_ENCRYPT_EVENTS": "1" if variant.encrypt_events else "0"}
        with _gunicorn(data_dir, options.workers, server_env) as (port, master, log_file):
            server = Server(variant, data_dir, token, port, master)
            _post_many(port, token, options.warmup, options.threads, options.max_seconds, variant.notes)
            yield server
        # Stopped: its log is complete and its store checkpointed into the database file.
        log = log_file.read_text(errors="replace")
        server.log_trouble = [line for line in log.splitlines() if _is_trouble(line)]
        server.in_clear = _in_clear(data_dir)


def _prepare_store(data_dir: Path, master_key: str, encrypt_events: bool) -> str:
    app = Logbook(Settings(data_dir=data_dir, database_url=None, secret_key=SECRET_KEY.encode(),
                           master_key=base64.urlsafe_b64decode(master_key), encrypt_events=encrypt_events))
    try:
        return _set_up_directory(app)[2]
    finally:
        app.close()


def _in_clear(data_dir: Path) -> list[str]:
    """Which of a profile id and a piece of a note the event store's files hold in clear."""
    stored = b"".join(path.read_bytes() for path in data_dir.glob(f"{SQLITE_FILE}*") if path.suffix != ".lock")
    probes = {"profile id": PROFILE_ID, "note": NOTE_PROBE}
    return [what for what, probe in probes.items() if probe.encode() in stored]


def _post_many(port: int, token: str, count: int, threads: int, max_seconds: float, notes: bool) -> HttpResult:
    """Posts ``count`` distinct contacts from ``threads`` threads, or as many as fit in ``max_seconds``.

    Each thread is a client with a connection it keeps alive (`bench.http_session`), as a load
    generator's: the less CPU the clients take, the more of the two cores the server has.
    """
    result = HttpResult()
    numbers = iter(range(count))
    take = threading.Lock()
    deadline = time.monotonic() + max_seconds
    cpu_before = _process_cpu_seconds()
    url, headers = f"http://127.0.0.1:{port}/api/v1/contacts", {"Authorization": f"Bearer {token}"}

    def client() -> None:
        latencies, statuses, errors = [], Counter(), Counter()
        with Session() as session:
            while time.monotonic() < deadline:
                with take:
                    number = next(numbers, None)
                if number is None:
                    break
                body = _contact_body(number, notes)
                started = time.perf_counter()
                try:
                    status = session.request("POST", url, json=body, headers=headers).status_code
                except TransportError as error:
                    errors[error.kind] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
        with take:
            result.latencies.extend(latencies)
            result.statuses.update(statuses)
            result.transport_errors.update(errors)

    started = time.perf_counter()
    pool = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(max_seconds + 60)
    result.seconds = time.perf_counter() - started
    result.client_cpu_seconds = _process_cpu_seconds() - cpu_before
    return result


def _contact_body(number: int, notes: bool = False) -> dict:
    occurred_at = datetime.now(timezone.utc) - timedelta(minutes=5 + number % 600)
    body = {
        "client_ref": CLIENT_REFS[number % len(CLIENT_REFS)], "profile_id": PROFILE_ID,
        "direction": "inbound", "nature": "keeping_in_touch", "occurred_at": occurred_at.isoformat(),
    }
    if notes:
        body["note"] = f"{NOTES[number % len(NOTES)]} ({number})"
    return body


@contextmanager
def _gunicorn(data_dir: Path, workers: int, server_env: dict[str, str],
             app: str = LOGBOOK_APP) -> Iterator[tuple[int, subprocess.Popen, Path]]:
    """gunicorn as the logbook configures it, serving ``app`` (the logbook by default); the repository's root
    is on its path, for the apps of ``bench/`` (no installed package)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOGBOOK_") and k not in ("DATABASE_URL", "PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")}
    env.update(LOGBOOK_DATA_DIR=str(data_dir), LOGBOOK_SECRET_KEY=SECRET_KEY, **server_env)
    port = _free_port()
    argv = [str(VENV_BIN / "gunicorn"), "--config", "python:logbook.gunicorn_config",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--pythonpath", str(BENCH.parent)]
    if _gunicorn_has_setting("control_socket_disable"):
        argv.append("--no-control-socket")  # gunicorn 24+ would share one under ~/.gunicorn
    log_file = data_dir / "gunicorn.log"
    with open(log_file, "ab") as log:
        master = subprocess.Popen([*argv, app], env=env, cwd=data_dir,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_healthy(master, port, log_file)
        yield port, master, log_file
    finally:
        _stop(master)


def _gunicorn_has_setting(name: str) -> bool:
    import gunicorn.config

    return any(setting.name == name for setting in gunicorn.config.KNOWN_SETTINGS)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(master: subprocess.Popen, port: int, log_file: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if master.poll() is not None:
            sys.exit(f"gunicorn exited with {master.returncode}:\n{log_file.read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass  # not listening yet
        finally:
            connection.close()
        time.sleep(0.1)
    sys.exit(f"gunicorn did not answer /healthz in 20 s:\n{log_file.read_text()}")


def _stop(master: subprocess.Popen) -> None:
    if master.poll() is not None:
        return
    master.terminate()
    try:
        master.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(master.pid, signal.SIGKILL)  # not reaped yet, so the group is still ours
        master.wait(timeout=10)


def _count_events(data_dir: Path) -> int:
    uri = f"file:{data_dir / SQLITE_FILE}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as connection:
        return connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def _is_trouble(line: str) -> bool:
    return any(mark in line for mark in ("database is locked", "Traceback", "unexpected", '" 500 '))


# CPU accounting.


def _process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds_of_children(master_pid: int) -> float:
    """User and system CPU of gunicorn's master and its workers so far."""
    total = 0
    for pid in [master_pid, *_children(master_pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# The report.


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {usable} CPUs ({model}), load average before the run {load}; Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, eventsourcing {version('eventsourcing')}, "
            f"gunicorn {version('gunicorn')}")


def _report(machine: str, options: argparse.Namespace, library: dict[bool, list[LibraryRound]],
            http: dict[str, HttpResult]) -> None:
    plain_library, encrypted_library = (statistics.median(r.rate for r in library[key]) for key in (False, True))
    plain_cpu, encrypted_cpu = (statistics.median(r.cpu_ms for r in library[key]) for key in (False, True))
    plain = http[VARIANTS[0].name]
    ratio = plain.rate / plain_library
    rows = [
        ("library append, in process", f"{plain_library:,.0f} contacts/s", _library_note(options, library[False])),
        ("  CPU per contact", f"{plain_cpu:.3f} ms", "median, this process"),
        ("library append, store encrypted", f"{encrypted_library:,.0f} contacts/s",
         f"{_versus(encrypted_library, plain_library)}; " + _library_note(options, library[True])),
        ("  CPU per contact", f"{encrypted_cpu:.3f} ms",
         f"{encrypted_cpu / plain_cpu:.2f} x plain: the cipher's own cost, +{encrypted_cpu - plain_cpu:.3f} ms"),
    ]
    for variant in VARIANTS:
        rows += _http_rows(variant, http[variant.name], plain, options)
    rows += [
        ("ratio HTTP / library, plain", f"{ratio:.2f}", f"target >= {TARGET_RATIO}: {_met(ratio >= TARGET_RATIO)}"),
        ("client CPU per contact", f"{_per(plain.client_cpu_seconds, len(plain.latencies)):.2f} ms",
         "this process's client threads, plain"),
    ]
    print(machine)
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width[0]}}  {value:>{width[1]}}  {note}".rstrip())


def _library_note(options: argparse.Namespace, rounds: list[LibraryRound]) -> str:
    return f"median of {len(rounds)} rounds of {options.library_events}: " + ", ".join(f"{r.rate:,.0f}" for r in rounds)


def _http_rows(variant: Variant, http: HttpResult, plain: HttpResult,
               options: argparse.Namespace) -> list[tuple[str, str, str]]:
    done = len(http.latencies)
    p50, p99 = (_percentile(http.latencies, q) * 1000 for q in (50, 99))
    runs = f"{done} in {http.seconds:.2f} s, turns at " + ", ".join(f"{r:,.0f}" for r in http.rates)
    if variant is VARIANTS[0]:
        rate_note = f"{runs}; gunicorn {options.workers} workers, {options.threads} client threads"
        p99_note = f"target < {TARGET_P99_MS:.0f} ms: {_met(p99 < TARGET_P99_MS)}"
        cpu_note = "gunicorn master and workers"
    else:
        rate_note = f"{_versus(http.rate, plain.rate)}; {runs}"
        if variant.notes:
            rate_note += f"; target cost < {TARGET_NOTES_COST:.0%}: {_met(1 - http.rate / plain.rate < TARGET_NOTES_COST)}"
        if variant.control:
            rate_note = f"a second plain server: the noise of this run; {rate_note}"
        p99_note = ""
        cpu_note = f"{_per(http.server_cpu_seconds, done) / _per(plain.server_cpu_seconds, len(plain.latencies)):.2f}" \
                   " x plain"
    created = http.statuses.get(201, 0) == done and done > 0
    return [
        (f"HTTP ingest, {variant.name}", f"{http.rate:,.0f} contacts/s",
         rate_note if created else f"NOT ALL 201, NOT AN INGEST RATE; {rate_note}"),
        ("  latency p50", f"{p50:.1f} ms", ""),
        ("  latency p99", f"{p99:.1f} ms", p99_note),
        ("  server CPU per contact", f"{_per(http.server_cpu_seconds, done):.2f} ms", cpu_note),
        ("  statuses", ", ".join(f"{s}: {n}" for s, n in sorted(http.statuses.items())) or "-",
         f"transport errors: {dict(http.transport_errors) or 0}; events stored: {http.events_stored}; "
         f"in clear in the store: {', '.join(http.in_clear) or 'neither profile id nor note'}"),
        ("  log trouble", str(len(http.log_trouble)), "; ".join(http.log_trouble[:3])),
    ]


def _versus(rate: float, plain: float) -> str:
    return f"ratio to plain {rate / plain:.2f}, cost {1 - rate / plain:.1%}"


def _met(met: bool) -> str:
    return "met" if met else "MISSED"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _per(cpu_seconds: float, count: int) -> float:
    return cpu_seconds / count * 1000 if count else float("nan")


if __name__ == "__main__":
    main()
