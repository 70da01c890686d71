"""A bounded load test on loopback: workers logging contacts, team leads reading, on SQLite and on PostgreSQL.

Run as ``.venv/bin/python bench/load.py`` (``--quick`` for a smoke run of about two
minutes, ``--store sqlite|postgres|both``). For each store, with the same settings, it
starts what ``make run`` starts on a fresh store (``logbook init``, ``logbook projections
run``, and ``logbook serve``: here two of them side by side, with 1 and with 4
workers of 4 threads each, as configured by default), sets up teams, workers, team leads, profiles and clients over the API, and
measures three phases on each server, each bounded in time and in requests:

1. **mix**: client threads of four teams; 80 % of the requests are a worker logging
   a contact (``POST /contacts``), 20 % the team lead reading a client's timeline
   or the team's crossings;
2. **writes**: the same threads, every request a single contact;
3. **bulk**: fewer threads posting batches of contacts (``POST /contacts/batch``);

and for each, throughput, p50/p99 latency of each kind of request, every non-2xx
answer, and projection lag: the time from a write's answer until every read model
reflects its position, seen by a process of its own polling the views' tracking
positions (``View.position()``) every few milliseconds. After each phase it waits
(bounded) until the read models reflect its last write; a write never reflected
counts as an infinite lag. The servers take turns (1 then 4 workers, then 4 then 1),
so that a slower or busier spell of a shared machine hits both alike.

The baseline is measured in the same run, before and after each store's HTTP
phases: the library's own single-event append rate, an ``eventsourcing``
``Application`` with the store's settings (``logbook.store.library_env``) but the
library's own recorder (`_library_own_env`), saving one new ``Contact`` per ``save()``
in process, in 1 and in 4 writer processes.

The load generator is this process: threads, each with a kept-alive connection
(`bench.http_session`), on the same CPUs as gunicorn, the projector (and PostgreSQL);
its CPU is printed.
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import os
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

# Run as a script, this file's folder comes first on the path: the repository's root takes its place.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(BENCH.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]

import psycopg  # noqa: E402
from eventsourcing.application import Application  # noqa: E402

from bench.demo_store import machine  # noqa: E402
from bench.http_session import Session, TransportError  # noqa: E402
from events import Account, Contact, Profile  # noqa: E402
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role  # noqa: E402
from logbook import read_models  # noqa: E402
from logbook.config import Settings  # noqa: E402
from logbook.store import EventStore, library_env, postgres_unreachable  # noqa: E402

VENV_BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("LOGBOOK_BENCH_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-load-secret-key-0123456789-abcdefghij"
TEAMS, WORKERS_PER_TEAM, CLIENTS_PER_TEAM = 4, 4, 500
"""Four teams of three workers and an intern, a team lead each, 500 clients each: enough that a client's
conversations stay a few dozen contacts long over a run (the boundaries projection judges a contact against
its whole conversation, so far longer ones would measure that rather than the load)."""
FIRST_CONTACTS_BATCH = 250
SITES = ("Oostende", "Brugge", "Kortrijk", "Roeselare")
WRITE_SHARE = 0.8
"""Of the mix: the rest are the team lead's reads, half timelines and half crossings."""
NOTE_SHARE = 0.2
NATURES = (
    ("keeping_in_touch", 30), ("information", 10), ("invitation", 10), ("practical_arrangement", 5),
    ("leisure_offer", 5), ("worrying_post_outreach", 5), ("help_question", 15), ("help_conversation", 10),
    ("referral_safe_chat", 8), ("referral_in_person", 2),
)
NOTE = ("Vroeg of hij na school mag langskomen; thuis is het gespannen. Uitgenodigd op het JAC donderdag, "
        "hij twijfelt nog. Volgende week opnieuw polsen.")
TIMEOUT_SECONDS = 30.0
LAG_POLL_SECONDS = 0.01
LAG_WAIT_SECONDS = 30.0
"""How long, after a phase, the read models may take to reflect its last write."""
TARGET_HTTP_TO_LIBRARY, TARGET_BULK_TO_SINGLE, TARGET_LAG_P99_SECONDS = 0.50, 5.0, 1.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPUS = len(os.sched_getaffinity(0))
LEAKY_VARIABLES = ("DATABASE_URL", "PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")
PHASES = ("mix", "writes", "bulk")
STORES = ("sqlite", "postgres")
Seconds = dict[str, float]
"""Amounts by name (CPU seconds, clock ticks, events), added up over turns."""


class BenchFailure(Exception):
    """Something the benchmark started did not work: the message says what, with the end of its log."""


def main() -> None:
    options = _parse_options()
    signal.signal(signal.SIGTERM, _interrupt)  # so that every process started is stopped on the way out
    line = machine("gunicorn", "psycopg") + _postgres_version()
    print(line, file=sys.stderr)
    stores = list(STORES) if options.store == "both" else [options.store]
    skipped: dict[str, str] = {}
    if "postgres" in stores and (why := postgres_unreachable(POSTGRES_URL)):
        print(f"skipping PostgreSQL: {why}", file=sys.stderr)
        skipped["postgres"] = why
        stores.remove("postgres")
    results = StoreResults()
    with tempfile.TemporaryDirectory(prefix="logbook-bench-load-") as tmp:
        for store in stores:
            _measure_store(store, options, Path(tmp), results)
    _report(line, options, results, skipped)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _as_child() -> None:
    """In a forked child: the parent stops it with SIGTERM, and Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=(*STORES, "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="phases of about 2 s, one round of library rates")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each phase on each server, all turns together [10; 2 with --quick]")
    parser.add_argument("--turns", type=int, default=None, help="turns each phase is split into [2; 1 with --quick]")
    parser.add_argument("--max-requests", type=int, default=100_000, help="requests of each turn of a phase at most [100000]")
    parser.add_argument("--clients", type=int, default=16, help="client threads of the mix and the writes [16]")
    parser.add_argument("--bulk-clients", type=int, default=4, help="client threads posting batches [4]")
    parser.add_argument("--batch", type=int, default=100, help="contacts per batch [100]")
    parser.add_argument("--workers", default="1,4", help="gunicorn worker counts to compare [1,4]")
    options = parser.parse_args()
    options.seconds = options.seconds or (2.0 if options.quick else 10.0)
    options.turns = options.turns or (1 if options.quick else 2)
    options.warmup_seconds = 0.5 if options.quick else 2.0
    options.library_seconds = 1.0 if options.quick else 3.0
    options.worker_counts = [int(n) for n in options.workers.split(",")]
    return options


def _measure_store(store: str, options: argparse.Namespace, tmp: Path, results: StoreResults) -> None:
    # The library's rates before and after the HTTP phases: a slower spell of the machine hits both sides.
    _library_round(store, options, tmp, results, ascending=True)
    try:
        _run_store(store, options, tmp, results)
    except BenchFailure as error:
        print(f"  FAILED: {error}", file=sys.stderr)
        results.failures[f"{store}, HTTP"] = str(error)
    except (TransportError, psycopg.Error, OSError) as error:
        print(traceback.format_exc(), file=sys.stderr)
        results.failures[f"{store}, HTTP"] = f"{type(error).__name__}: {error}"
    if not options.quick:
        _library_round(store, options, tmp, results, ascending=False)


# The library's own append rate.


@dataclass(frozen=True)
class LibraryRate:
    processes: int
    appends: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.appends / self.seconds if self.seconds else 0.0


def _library_round(store: str, options: argparse.Namespace, tmp: Path, results: StoreResults,
                   ascending: bool) -> None:
    for processes in sorted({1, max(options.worker_counts)}, reverse=not ascending):
        try:
            rate = _library_rate(store, processes, options.library_seconds, tmp)
        except (BenchFailure, psycopg.Error, OSError, threading.BrokenBarrierError, queue.Empty) as error:
            results.failures[f"{store}, library, {processes} process(es)"] = f"{type(error).__name__}: {error}"
            continue
        results.library[store].append(rate)
        print(f"library append, {store}, {processes} process(es): {rate.rate:,.0f}/s", file=sys.stderr)


def _library_rate(store: str, processes: int, seconds: float, tmp: Path) -> LibraryRate:
    """Appends per second of ``processes`` processes, each an `Application` saving one new contact per save."""
    name = f"library-{store}-{processes}-{uuid4().hex[:6]}"
    schema = f"bench_load_{os.getpid()}_{name.split('-')[-1]}" if store == "postgres" else None
    settings = _settings(tmp / name, schema)
    with ExitStack() as stack:
        if schema is not None:
            _create_schema(schema)
            stack.callback(_drop_schema, schema)
        context = multiprocessing.get_context("fork")
        creating = context.Process(target=_create_library_tables, args=(settings,))
        creating.start()
        creating.join(60)
        if creating.exitcode != 0:
            raise BenchFailure(f"the library could not create its tables on {store} (exit {creating.exitcode})")
        ready, results = context.Barrier(processes + 1), context.Queue()
        writers = [context.Process(target=_library_writer, args=(settings, ready, seconds, results), daemon=True)
                   for _ in range(processes)]
        stack.callback(_stop_all, writers)
        for writer in writers:
            writer.start()
        ready.wait(timeout=60)
        counts = [results.get(timeout=seconds + 60) for _ in writers]
    return LibraryRate(processes, sum(n for n, _ in counts), max(s for _, s in counts))


def _library_own_env(settings: Settings, create_tables: bool = False) -> dict[str, str]:
    """The store's settings with the library's own recorder and pool checks, not the logbook's.

    The logbook's recorders take turns on SQLite's write lock, and send PostgreSQL's insert
    in one round trip where the library takes two: the baseline is the library as it comes.
    """
    env = library_env(settings, create_tables)
    for name in ("APPLICATION_RECORDER_TOPIC", "POSTGRES_PRE_PING"):
        env.pop(name, None)
    return env


def _create_library_tables(settings: Settings) -> None:
    _as_child()
    Application(env=_library_own_env(settings, create_tables=True)).close()


def _library_writer(settings: Settings, ready: Any, seconds: float, results: Any) -> None:
    _as_child()
    app: Application[UUID] = Application(env=_library_own_env(settings))
    try:
        account, profile = _bare_directory()
        client_id = uuid4()
        for _ in range(50):  # warm up: the connection, the first pages
            app.save(_bare_contact(account, profile, client_id))
        ready.wait(timeout=60)
        started = time.monotonic()
        deadline, appends = started + seconds, 0
        while time.monotonic() < deadline:
            app.save(_bare_contact(account, profile, client_id))
            appends += 1
        results.put((appends, time.monotonic() - started))
    finally:
        app.close()


def _bare_directory() -> tuple[Account, Profile]:
    now = datetime.now(timezone.utc)
    account = Account.register(account_id="w-0-0", name="Lotte", role=Role.WORKER, team_id="team-0",
                               function=Function.COUNSELLOR, intern=False, now=now)
    profile = Profile.register(profile_id="team-0-whatsapp", channel=Channel.WHATSAPP, kind=ProfileKind.SHARED,
                               team_id="team-0", users=["w-0-0"], now=now)
    return account, profile


def _bare_contact(account: Account, profile: Profile, client_id: UUID) -> Contact:
    now = datetime.now(timezone.utc)
    return Contact.log(contact_id=uuid4(), client_id=client_id, account=account, profile=profile,
                       direction=Direction.INBOUND, nature=Nature.KEEPING_IN_TOUCH,
                       occurred_at=now - timedelta(minutes=5), now=now)


# A deployment: the store, the projector and gunicorn, as `make run` starts them.


@dataclass
class Person:
    account_id: str
    token: str
    personal_profile: str | None = None


@dataclass
class Team:
    team_id: str
    shared_profile: str
    workers: list[Person]
    lead: Person
    client_refs: list[str]
    client_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Server:
    """One `logbook serve` (gunicorn) on the store."""

    workers: int
    base_url: str
    process: subprocess.Popen[bytes]


@dataclass
class Deployment:
    """A fresh store with its projector and a server for each worker count, as `make run` starts them."""

    store: str
    settings: Settings
    admin_token: str
    projector: subprocess.Popen[bytes]
    servers: list[Server]
    logs: dict[str, Path]
    teams: list[Team] = field(default_factory=list)


def _run_store(store: str, options: argparse.Namespace, tmp: Path, results: StoreResults) -> None:
    runs = {(store, workers): Run(store, workers) for workers in options.worker_counts}
    with _deployment(store, options.worker_counts, tmp) as deployment:
        _populate(deployment)
        for server in deployment.servers:  # every worker has built its application and opened its views
            _drive(deployment, server, "mix", options.clients, options.warmup_seconds, options)
        _wait_for_projector(deployment)
        for turn in range(options.turns):
            for phase in PHASES:
                for server in deployment.servers if turn % 2 == 0 else deployment.servers[::-1]:
                    result = _measure_phase(deployment, server, phase, options)
                    runs[(store, server.workers)].turns[phase].append(result)
                    print(f"  {store}, {server.workers} worker(s), turn {turn + 1}, {phase}: "
                          f"{_phase_summary(result)}", file=sys.stderr)
    results.runs |= runs
    results.log_trouble[store] = {name: _trouble(path) for name, path in deployment.logs.items()}


@contextmanager
def _deployment(store: str, worker_counts: list[int], tmp: Path) -> Iterator[Deployment]:
    home = tmp / store
    home.mkdir()
    schema = f"bench_load_{os.getpid()}" if store == "postgres" else None
    settings = _settings(home / "data", schema)
    env = _environment(settings)
    logs = {"projector": home / "projector.log"}
    with ExitStack() as stack:
        if schema is not None:
            _create_schema(schema)
            stack.callback(_drop_schema, schema)
        admin_token = _init(env, home)
        projector = stack.enter_context(_started([str(VENV_BIN / "logbook"), "projections", "run"], env, home,
                                                 logs["projector"]))
        _wait_for_projector_start(projector, logs["projector"], "following")
        servers = []
        for workers in worker_counts:
            log = logs[f"gunicorn, {workers} worker(s)"] = home / f"gunicorn-{workers}.log"
            port = _free_port()
            process = stack.enter_context(_started(
                [str(VENV_BIN / "logbook"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
                env, home, log))
            servers.append(Server(workers, f"http://127.0.0.1:{port}", process))
            _wait_until_healthy(process, servers[-1].base_url, log)
        yield Deployment(store, settings, admin_token, projector, servers, logs)


def _settings(data_dir: Path, schema: str | None) -> Settings:
    return Settings(data_dir=data_dir, database_url=POSTGRES_URL if schema else None,
                    secret_key=SECRET_KEY.encode(), database_schema=schema or "public")


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGBOOK_") and k not in LEAKY_VARIABLES}
    env |= {"LOGBOOK_DATA_DIR": str(settings.data_dir), "LOGBOOK_SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1"}
    if settings.database_url:
        env |= {"DATABASE_URL": settings.database_url, "LOGBOOK_DATABASE_SCHEMA": settings.database_schema}
    return env


def _init(env: dict[str, str], home: Path) -> str:
    done = subprocess.run([str(VENV_BIN / "logbook"), "init"], env=env, cwd=home, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchFailure(f"`logbook init` failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


@contextmanager
def _started(argv: list[str], env: dict[str, str], home: Path, log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of its own session, its output in ``log_file``; stopped on the way out, whatever happens."""
    with open(log_file, "ab") as log:
        process = subprocess.Popen(argv, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn stops its workers, the projector its projections); SIGKILL to the group if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the master is reaped only below, so the group is still ours
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _stop_all(processes: list[Any]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
        process.join(10)


def _wait_for_projector_start(process: subprocess.Popen[bytes], log_file: Path, mark: str) -> None:
    deadline = time.monotonic() + 30
    while mark not in log_file.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise BenchFailure(f"`logbook projections run` did not start ({process.returncode}): {_tail(log_file)}")
        time.sleep(0.05)


def _wait_until_healthy(server: subprocess.Popen[bytes], base_url: str, log_file: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchFailure(f"`logbook serve` exited with {server.returncode}: {_tail(log_file)}")
        try:
            with Session() as session:
                if session.get(base_url + "/healthz", timeout=1).status_code == 200:
                    return
        except TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise BenchFailure(f"`logbook serve` did not answer /healthz in 30 s: {_tail(log_file)}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(log_file: Path, lines: int = 15) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def _trouble(log_file: Path) -> list[str]:
    """Lines of a log that tell of a failure: tracebacks, errors, 5xx answers."""
    marks = ("Traceback", "Error", "ERROR", "error:", "CRITICAL", "WORKER TIMEOUT", '" 50')
    return [line for line in log_file.read_text(errors="replace").splitlines() if any(m in line for m in marks)]


# PostgreSQL.


def _postgres_version() -> str:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return ""
    return f", PostgreSQL {row[0].split()[0]} on loopback" if row else ""


def _create_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')


def _drop_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# The population, over the API.


def _populate(deployment: Deployment) -> None:
    """Teams, their workers (one an intern), team leads, profiles, and a first contact with every client."""
    base_url = deployment.servers[0].base_url
    with Session() as session:
        deployment.teams = [_add_team(session, base_url, deployment.admin_token, t) for t in range(TEAMS)]
        for team in deployment.teams:
            worker = team.workers[0]
            for first in range(0, len(team.client_refs), FIRST_CONTACTS_BATCH):
                refs = team.client_refs[first:first + FIRST_CONTACTS_BATCH]
                contacts = [_contact_body(random.Random(ref), team, worker, ref, note=True) for ref in refs]
                results = _call(session, "POST", base_url + "/api/v1/contacts/batch", worker.token,
                                {"contacts": contacts})["results"]
                if any(result["status"] != 201 for result in results):
                    raise BenchFailure(f"the first contacts of {team.team_id} were refused: {results[:3]}")
                team.client_ids += [result["body"]["client_id"] for result in results]


def _add_team(session: Session, base_url: str, admin_token: str, t: int) -> Team:
    team_id, api = f"team-{t}", base_url + "/api/v1"
    _call(session, "POST", f"{api}/teams", admin_token, {
        "team_id": team_id, "name": f"JAC {SITES[t % len(SITES)]}", "organisation": "caw-nwvl",
        "site": SITES[t % len(SITES)], "service": "jac"})
    workers = []
    for w in range(WORKERS_PER_TEAM):
        account_id = f"w-{t}-{w}"
        account = _call(session, "POST", f"{api}/accounts", admin_token, {
            "account_id": account_id, "name": f"Worker {t}.{w}", "role": "worker", "team_id": team_id,
            "function": "counsellor", "intern": w == WORKERS_PER_TEAM - 1})
        _call(session, "POST", f"{api}/profiles", admin_token, {
            "profile_id": f"{account_id}-messenger", "channel": "messenger", "kind": "personal",
            "team_id": team_id, "users": [account_id]})
        workers.append(Person(account_id, account["token"], f"{account_id}-messenger"))
    lead = _call(session, "POST", f"{api}/accounts", admin_token, {
        "account_id": f"lead-{t}", "name": f"Lead {t}", "role": "team_lead", "team_id": team_id,
        "function": "counsellor"})
    shared = f"{team_id}-whatsapp"
    _call(session, "POST", f"{api}/profiles", admin_token, {
        "profile_id": shared, "channel": "whatsapp", "kind": "shared", "team_id": team_id,
        "users": [w.account_id for w in workers] + [f"lead-{t}"]})
    refs = [f"{team_id}-client-{c}" for c in range(CLIENTS_PER_TEAM)]
    return Team(team_id, shared, workers, Person(f"lead-{t}", lead["token"]), refs)


def _call(session: Session, method: str, url: str, token: str, body: dict[str, Any]) -> Any:
    response = session.request(method, url, json=body, headers=_bearer(token), timeout=TIMEOUT_SECONDS)
    if not response.ok:
        raise BenchFailure(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
    return response.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _contact_body(rng: random.Random, team: Team, worker: Person, client_ref: str, note: bool | None = None) -> dict:
    """A contact as workers log them: mostly through the team's shared profile, some drifting into help."""
    occurred_at = datetime.now(timezone.utc) - timedelta(minutes=rng.uniform(1, 240))
    body = {
        "client_ref": client_ref,
        "profile_id": team.shared_profile if rng.random() < 0.6 else worker.personal_profile,
        "direction": rng.choice(("inbound", "outbound")),
        "nature": rng.choices([n for n, _ in NATURES], [w for _, w in NATURES])[0],
        "occurred_at": occurred_at.isoformat(),
        "thread": f"{client_ref}-t{rng.randrange(3)}" if rng.random() < 0.7 else None,
    }
    if note if note is not None else rng.random() < NOTE_SHARE:
        body["note"] = NOTE
    return body


# Driving the load.


@dataclass(frozen=True)
class Sample:
    """One request: its kind, how long it took, its answer, and for a write the position and when it was answered."""

    kind: str
    latency: float
    status: int
    answered_at: float
    position: int | None = None
    contacts: int = 0
    refused: tuple[int, ...] = ()
    """The statuses of a batch's contacts that were not created."""


@dataclass
class Load:
    samples: list[Sample] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    ended_at: float = 0.0


def _drive(deployment: Deployment, server: Server, phase: str, threads: int, seconds: float,
           options: argparse.Namespace) -> Load:
    """``threads`` clients doing the phase's requests until ``seconds`` pass or the phase's requests are spent."""
    load, lock = Load(), threading.Lock()
    budget = iter(range(options.max_requests))
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        rng, team = random.Random(f"{phase}-{index}"), deployment.teams[index % len(deployment.teams)]
        samples, errors = [], Counter[str]()
        with Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    if next(budget, None) is None:
                        break
                try:
                    samples.append(_request(session, server.base_url, phase, team, rng, options.batch))
                except TransportError as error:
                    errors[error.kind] += 1
        with lock:
            load.samples += samples
            load.transport_errors += errors

    started = time.monotonic()
    pool = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        while thread.is_alive():  # joined in short waits, so that Ctrl-C gets through
            thread.join(0.2)
    load.ended_at = time.monotonic()
    load.seconds = load.ended_at - started
    return load


def _request(session: Session, base_url: str, phase: str, team: Team, rng: random.Random,
             batch: int) -> Sample:
    api = base_url + "/api/v1"
    if phase == "bulk":
        worker = rng.choice(team.workers)
        body = {"contacts": [_contact_body(rng, team, worker, rng.choice(team.client_refs)) for _ in range(batch)]}
        return _timed(session, "batch", "POST", f"{api}/contacts/batch", worker.token, body)
    if phase == "writes" or rng.random() < WRITE_SHARE:
        worker = rng.choice(team.workers)
        body = _contact_body(rng, team, worker, rng.choice(team.client_refs))
        return _timed(session, "write", "POST", f"{api}/contacts", worker.token, body)
    if rng.random() < 0.5:
        return _timed(session, "timeline", "GET", f"{api}/clients/{rng.choice(team.client_ids)}/timeline",
                      team.lead.token)
    return _timed(session, "crossings", "GET", f"{api}/crossings?team_id={team.team_id}", team.lead.token)


def _timed(session: Session, kind: str, method: str, url: str, token: str,
           body: dict[str, Any] | None = None) -> Sample:
    started = time.monotonic()
    response = session.request(method, url, json=body, headers=_bearer(token), timeout=TIMEOUT_SECONDS)
    answered_at = time.monotonic()
    latency = answered_at - started
    if not response.ok or kind not in ("write", "batch"):
        return Sample(kind, latency, response.status_code, answered_at)
    answer = response.json()
    if kind == "write":
        return Sample(kind, latency, response.status_code, answered_at, answer["position"], 1)
    created = [r["body"]["position"] for r in answer["results"] if r["status"] in (200, 201)]
    refused = tuple(r["status"] for r in answer["results"] if r["status"] != 201)
    return Sample(kind, latency, response.status_code, answered_at, max(created, default=None), len(created), refused)


# Projection lag: a process of its own polls the views' positions.


class LagMonitor:
    """A child process that records when the read models' position (the least of the views') changed."""

    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("fork")  # no thread runs in this process when it forks
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=_follow_views, args=(settings, child_end), daemon=True)
        self._process.start()
        if not self._connection.poll(30):
            raise BenchFailure("the lag monitor did not start")
        kind, value = self._connection.recv()
        if kind == "error":
            raise BenchFailure(f"the lag monitor cannot read the views: {value}")
        self.pid: int = self._process.pid or 0

    def finish(self, position: int, wait: float) -> list[tuple[float, int]]:
        """When the views' position changed, until it reached ``position`` or ``wait`` seconds passed."""
        self._connection.send((position, wait))
        if not self._connection.poll(wait + 30):
            raise BenchFailure("the lag monitor did not answer")
        kind, value = self._connection.recv()
        if kind == "error":
            raise BenchFailure(f"the lag monitor failed: {value}")
        return value

    def close(self) -> None:
        self._process.join(1)  # it exits once it has answered
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(10)


def _follow_views(settings: Settings, connection: Connection) -> None:
    _as_child()
    try:
        views = [read_models.open_view(settings, name) for name in read_models.PROJECTIONS]
    except Exception as error:  # told to the parent, which reports it
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ready", None))
    changes: list[tuple[float, int]] = []
    target, deadline, last = None, 0.0, -1
    try:
        while True:
            position = min(view.position() for view in views)
            now = time.monotonic()  # after the query: a lag is over-estimated by the query's time, never under
            if position != last:
                changes.append((now, position))
                last = position
            if target is None and connection.poll():
                target, wait = connection.recv()
                deadline = now + wait
            if target is not None and (position >= target or now > deadline):
                break
            time.sleep(LAG_POLL_SECONDS)
    except Exception as error:  # told to the parent, which reports it
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("changes", changes))


def _lags(samples: list[Sample], changes: list[tuple[float, int]]) -> tuple[list[float], int]:
    """Each write's lag (infinite if never reflected), and how many were never reflected."""
    times, positions = [t for t, _ in changes], [p for _, p in changes]
    lags, never = [], 0
    for sample in samples:
        if sample.position is None:
            continue
        index = bisect.bisect_left(positions, sample.position)
        if index == len(positions):
            lags.append(float("inf"))
            never += 1
        else:
            lags.append(max(0.0, times[index] - sample.answered_at))
    return lags, never


def _wait_for_projector(deployment: Deployment) -> None:
    """Until the read models reflect every event recorded so far (bounded)."""
    monitor = LagMonitor(deployment.settings)
    try:
        changes = monitor.finish(_head(deployment), LAG_WAIT_SECONDS)
    finally:
        monitor.close()
    if changes and changes[-1][1] < _head(deployment):
        raise BenchFailure(f"the read models did not catch up in {LAG_WAIT_SECONDS:.0f} s: "
                           f"{_tail(deployment.logs['projector'])}")


def _head(deployment: Deployment) -> int:
    store = EventStore(deployment.settings)
    try:
        return store.recorder.max_notification_id() or 0
    finally:
        store.close()


# A phase, measured.


@dataclass
class PhaseResult:
    """A phase on one server, or several turns of it merged."""

    load: Load
    lags: list[float]
    never_reflected: int
    cpu: Seconds
    """CPU seconds of gunicorn (server), this process (generator), the projector, PostgreSQL serving them, and the
    lag monitor with the PostgreSQL backends serving it (monitor)."""
    ticks: Seconds
    """The machine's clock ticks: all of them (total), busy ones (busy), and those of work not this run's (other)."""
    advance: Seconds
    """Events the read models advanced by, and seconds, during the phase and after it until they caught up."""
    projector_alive: bool
    rates: list[float] = field(default_factory=list)
    """Of each turn merged into this result."""
    other_work: Seconds = field(default_factory=dict)
    """CPU seconds of the other processes, by name."""
    connections: int = 0
    """PostgreSQL connections this run's processes held at the phase's end (the most of the turns)."""

    @classmethod
    def merged(cls, turns: list[PhaseResult]) -> PhaseResult:
        merged = cls(Load(), [], 0, {}, {}, {}, True, [t.contacts_rate for t in turns])
        for turn in turns:
            merged.load.samples += turn.load.samples
            merged.load.transport_errors += turn.load.transport_errors
            merged.load.seconds += turn.load.seconds
            merged.lags += turn.lags
            merged.never_reflected += turn.never_reflected
            merged.cpu = _added(merged.cpu, turn.cpu)
            merged.ticks = _added(merged.ticks, turn.ticks)
            merged.advance = _added(merged.advance, turn.advance)
            merged.projector_alive &= turn.projector_alive
            merged.other_work = _added(merged.other_work, turn.other_work)
            merged.connections = max(merged.connections, turn.connections)
        return merged

    def of(self, kind: str) -> list[Sample]:
        return [s for s in self.load.samples if s.kind == kind]

    @property
    def rate(self) -> float:
        return len(self.load.samples) / self.load.seconds if self.load.seconds else 0.0

    @property
    def contacts_rate(self) -> float:
        return sum(s.contacts for s in self.load.samples) / self.load.seconds if self.load.seconds else 0.0

    def share(self, ticks: str) -> float:
        return self.ticks[ticks] / self.ticks["total"] if self.ticks["total"] else 0.0

    def projector_rate(self, when: str) -> float:
        """Events per second the read models advanced by ``during`` the phase or ``after`` it."""
        seconds = self.advance[f"{when} seconds"]
        return self.advance[f"{when} events"] / seconds if seconds else float("nan")

    @property
    def errors(self) -> Counter[str]:
        """Every answer that was not 2xx, every contact of a batch not created, every transport error."""
        errors = Counter(str(s.status) for s in self.load.samples if not 200 <= s.status < 300)
        errors += Counter(f"batch contact {status}" for s in self.load.samples for status in s.refused)
        return errors + self.load.transport_errors


@dataclass
class Run:
    """One server's phases, each merged from its turns."""

    store: str
    workers: int
    turns: dict[str, list[PhaseResult]] = field(default_factory=lambda: {phase: [] for phase in PHASES})

    def phase(self, name: str) -> PhaseResult:
        return PhaseResult.merged(self.turns[name])


@dataclass
class StoreResults:
    runs: dict[tuple[str, int], Run] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    log_trouble: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """By store, the lines of each log (the projector's, each gunicorn's) that tell of trouble."""
    library: dict[str, list[LibraryRate]] = field(default_factory=lambda: {store: [] for store in STORES})

    def library_rate(self, store: str, processes: int) -> float:
        rates = [r.rate for r in self.library[store] if r.processes == processes]
        return statistics.mean(rates) if rates else float("nan")


def _measure_phase(deployment: Deployment, server: Server, phase: str, options: argparse.Namespace) -> PhaseResult:
    threads = options.bulk_clients if phase == "bulk" else options.clients
    monitor = LagMonitor(deployment.settings)
    try:
        before = CpuSnapshot.take()
        load = _drive(deployment, server, phase, threads, options.seconds / options.turns, options)
        after = CpuSnapshot.take()
        ours = {os.getpid(), monitor.pid, deployment.projector.pid,
                *(pid for each in deployment.servers for pid in _tree(each.process.pid))}
        backends = _postgres_backends_of(ours) if deployment.store == "postgres" else set()
        observing = _postgres_backends_of({monitor.pid}) if deployment.store == "postgres" else set()
        last = max((s.position for s in load.samples if s.position is not None), default=0)
        changes = monitor.finish(last, LAG_WAIT_SECONDS)
    finally:
        monitor.close()
    lags, never = _lags(load.samples, changes)
    groups = {"server": _tree(server.process.pid), "generator": {os.getpid()},
              "projector": _tree(deployment.projector.pid), "postgres": backends - observing,
              "monitor": {monitor.pid} | observing}
    cpu = {name: after.seconds(before, pids) for name, pids in groups.items()}
    others = set(after.processes) - ours - backends
    ticks = {"total": after.machine[1] - before.machine[1], "busy": after.machine[0] - before.machine[0],
             "other": after.seconds(before, others) * CLOCK_TICKS}
    other_work: Seconds = {}
    for pid in others:
        other_work = _added(other_work, {after.processes[pid][0]: after.seconds(before, {pid})})
    return PhaseResult(load, lags, never, cpu, ticks, _advance(changes, load.ended_at),
                       deployment.projector.poll() is None, [], other_work, len(backends))


def _advance(changes: list[tuple[float, int]], ended_at: float) -> Seconds:
    """How far, and in how long, the read models advanced during the phase and after it."""
    (started_at, first), (caught_up_at, last) = changes[0], changes[-1]
    at_end = next((p for t, p in reversed(changes) if t <= ended_at), first)
    return {"during events": at_end - first, "during seconds": ended_at - started_at,
            "after events": last - at_end, "after seconds": max(0.0, caught_up_at - ended_at)}


def _added(a: Seconds, b: Seconds) -> Seconds:
    return {name: a.get(name, 0.0) + b.get(name, 0.0) for name in a.keys() | b.keys()}


@dataclass(frozen=True)
class CpuSnapshot:
    """The CPU every process and the whole machine have used so far, in clock ticks."""

    machine: tuple[int, int]
    """Busy and total ticks of every CPU."""
    processes: dict[int, tuple[str, int]]
    """Each process's name and user plus system ticks."""

    @classmethod
    def take(cls) -> CpuSnapshot:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        idle = values[3] + values[4]
        processes = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    head, tail = (entry / "stat").read_text().rsplit(")", 1)
                except OSError:
                    continue  # gone meanwhile
                fields = tail.split()
                processes[int(entry.name)] = (head.split("(", 1)[1], int(fields[11]) + int(fields[12]))
        return cls((sum(values) - idle, sum(values)), processes)

    def seconds(self, before: CpuSnapshot, pids: set[int]) -> float:
        """CPU seconds the processes used since ``before`` (all of it, for one started since)."""
        ticks = sum(self.processes[pid][1] - before.processes.get(pid, ("", 0))[1]
                    for pid in pids if pid in self.processes)
        return ticks / CLOCK_TICKS



def _postgres_backends_of(pids: set[int]) -> set[int]:
    """The PostgreSQL backends serving connections of these processes: their sockets' ports, in pg_stat_activity."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # gone meanwhile
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
        rows = connection.execute("SELECT pid, client_port FROM pg_stat_activity").fetchall()
    return {pid for pid, port in rows if port in ports}


def _tree(pid: int) -> set[int]:
    """A process and its children: gunicorn's master and workers."""
    return {pid, *_children(pid)}


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# The report.

Phases = dict[tuple[str, int], dict[str, PhaseResult]]
"""Each server's phases, merged from their turns, by store and worker count."""


def _phase_summary(result: PhaseResult) -> str:
    return (f"{result.rate:,.0f} req/s, {result.contacts_rate:,.0f} contacts/s, lag p99 "
            f"{_ms(_percentile(result.lags, 99))} ms, errors {sum(result.errors.values())}, other work "
            f"{result.share('other'):.0%}" + (f", {result.connections} PostgreSQL connections" if result.connections
                                              else ""))


def _report(line: str, options: argparse.Namespace, results: StoreResults, skipped: dict[str, str]) -> None:
    phases = {key: {name: run.phase(name) for name in PHASES}
              for key, run in sorted(results.runs.items(), key=_in_store_order)}
    print(line)
    print(f"load generator: this process, {options.clients} client threads ({options.bulk_clients} for batches of "
          f"{options.batch}) on kept-alive connections, on the same {CPUS} CPUs as gunicorn, the projector "
          f"and PostgreSQL; each phase {options.seconds:g} s on each server in {options.turns} turn(s), at most "
          f"{options.max_requests:,} requests a turn" + ("; QUICK: a smoke run, not figures" if options.quick else ""))
    _report_library(results)
    _report_table(phases)
    for what, failure in results.failures.items():
        print(f"  {what}: FAILED: " + "\n    ".join(failure.strip().splitlines()))
    for store, why in skipped.items():
        print(f"  {store}: skipped, {why}")
    every = [result for by_phase in phases.values() for result in by_phase.values()]
    busiest = max((result.share("other") for result in every), default=0)
    if busiest > 0.05:
        names: Seconds = {}
        for result in every:
            names = _added(names, result.other_work)
        print(f"  NOTE: the machine was shared: other work took up to {busiest:.0%} of its CPUs during a phase "
              f"({', '.join(f'{name} {names[name]:.0f} s' for name in sorted(names, key=names.__getitem__)[:-5:-1])}); "
              "compare the turns")
    connections = max((result.connections for result in every), default=0)
    if connections:
        print(f"  PostgreSQL connections held by the servers ({', '.join(map(str, options.worker_counts))} workers), "
              f"the projector and the lag monitor: up to {connections}")
    _report_scaling(phases, results, options)
    _report_trouble(phases, results)
    _report_targets(phases, results, options)


def _report_library(results: StoreResults) -> None:
    print("library append, in process, one Contact per save (mean of the rounds before and after HTTP):")
    for store, rates in results.library.items():
        for processes in sorted({r.processes for r in rates}):
            rounds = [r.rate for r in rates if r.processes == processes]
            print(f"  {store:<8} {processes} writer process(es): {results.library_rate(store, processes):>7,.0f} "
                  f"appends/s  (rounds {', '.join(f'{r:,.0f}' for r in rounds)})")


def _report_table(phases: Phases) -> None:
    header = ("store", "wk", "phase", "req/s", "contacts/s", "turns", "write p50/p99", "timeline p50/p99",
              "crossings p50/p99", "batch p50/p99", "lag p50/p99", "errors", "srv", "gen", "proj", "pg", "mon",
              "busy", "other")
    rows: list[tuple[str, ...]] = [header]
    for (store, workers), results in phases.items():
        for phase, result in results.items():
            never = f" ({result.never_reflected} never)" if result.never_reflected else ""
            rows.append((store, str(workers), phase, f"{result.rate:,.0f}", f"{result.contacts_rate:,.0f}",
                         ", ".join(f"{rate:,.0f}" for rate in result.rates),
                         *(_p50_p99([s.latency for s in result.of(kind)])
                           for kind in ("write", "timeline", "crossings", "batch")),
                         _p50_p99(result.lags) + never, str(sum(result.errors.values())),
                         *(_per_request(result.cpu[name], result)
                           for name in ("server", "generator", "projector", "postgres", "monitor")),
                         f"{result.share('busy'):.0%}", f"{result.share('other'):.0%}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  " + "  ".join(cell.rjust(width) if i > 2 else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())
    print("  turns: contacts/s of each turn; latencies and lags in ms; lag: from a write's answer until every read\n"
          f"  model reflects its position (polled every {LAG_POLL_SECONDS * 1000:.0f} ms); CPU per request in ms of "
          "gunicorn's master and workers (srv),\n  the load generator (gen), the projector (proj), PostgreSQL "
          "serving them (pg), and the lag monitor with its\n  PostgreSQL backends (mon: the measurement's own "
          "cost); busy: the share of the machine's CPUs in use during\n  the phase; other: the share that work "
          "not this run's took")


def _report_scaling(phases: Phases, results: StoreResults, options: argparse.Namespace) -> None:
    low, high = min(options.worker_counts), max(options.worker_counts)
    if low == high:
        return
    print(f"scaling from {low} to {high} gunicorn workers (contacts/s; req/s for the mix):")
    for store in STORES:
        one, many = phases.get((store, low)), phases.get((store, high))
        if one is None or many is None:
            continue
        parts = []
        for phase in PHASES:
            a, b = one[phase], many[phase]
            rate_a, rate_b = (a.rate, b.rate) if phase == "mix" else (a.contacts_rate, b.contacts_rate)
            parts.append(f"{phase} {rate_a:,.0f} -> {rate_b:,.0f} ({rate_b / rate_a:.2f} x)")
        library = results.library_rate(store, high) / results.library_rate(store, low)
        print(f"  {store:<8} " + "; ".join(parts) + f"\n           the library itself, {low} -> {high} processes: "
              f"{library:.2f} x, {results.library_rate(store, high):,.0f} appends/s with {high}")
        for workers, result in ((low, one["writes"]), (high, many["writes"])):
            cpu = (sum(result.cpu.values()) - result.cpu["monitor"]) / len(result.load.samples) \
                if result.load.samples else float("nan")
            print(f"           single writes, {workers} worker(s): {result.contacts_rate:,.0f}/s with the CPUs "
                  f"{result.share('busy'):.0%} busy; a write costs {cpu * 1000:.1f} ms of CPU all told "
                  f"(srv+gen+proj+pg), which {CPUS} CPUs allow {CPUS / cpu:,.0f} times a second")
    print("  why: more workers overlap what a request waits for (the commit's sync, PostgreSQL's round trips) and\n"
          "  use more CPUs at once; they cannot overlap the inserts, which the library serialises per table on both\n"
          "  stores (SQLite: one writer at a time, under the store's turn-taking lock; PostgreSQL: LOCK TABLE ...\n"
          "  IN EXCLUSIVE MODE in every insert transaction), so the store's own rate does not grow with writers (the\n"
          "  library, 1 -> 4 processes); below that ceiling, what a request costs in CPU, on CPUs shared with the\n"
          "  load generator, the projector and PostgreSQL, bounds the rate")


def _report_trouble(phases: Phases, results: StoreResults) -> None:
    for (store, workers), by_phase in phases.items():
        for phase, result in by_phase.items():
            if result.errors:
                print(f"  {store}, {workers} workers, {phase}: errors {dict(result.errors)}")
            if not result.projector_alive:
                print(f"  {store}, {workers} workers, {phase}: THE PROJECTOR HAD EXITED")
    for store, logs in results.log_trouble.items():
        for name, lines in logs.items():
            if lines:
                print(f"  {store}: {len(lines)} trouble line(s) in the log of the {name}, e.g.")
                for trouble in lines[:3]:
                    print(f"    {trouble[:200]}")


def _report_targets(phases: Phases, results: StoreResults, options: argparse.Namespace) -> None:
    high = max(options.worker_counts)
    print("targets:")
    library = results.library_rate("postgres", high)
    if ("postgres", high) in phases and library == library:
        http = phases[("postgres", high)]["writes"].contacts_rate
        ratio = http / library
        print(f"  HTTP single-contact writes on PostgreSQL, {high} workers / library, {high} writer processes: "
              f"{http:,.0f} / {library:,.0f} = {ratio:.2f} (>= {TARGET_HTTP_TO_LIBRARY:.2f}: "
              f"{_met(ratio >= TARGET_HTTP_TO_LIBRARY)})")
    else:
        print("  HTTP writes on PostgreSQL / library: NOT MEASURED")
    for (store, workers), by_phase in phases.items():
        bulk, single = by_phase["bulk"].contacts_rate, by_phase["writes"].contacts_rate
        ratio = bulk / single if single else float("nan")
        print(f"  bulk / single contacts, {store}, {workers} workers: {bulk:,.0f} / {single:,.0f} = {ratio:.1f} x "
              f"(>= {TARGET_BULK_TO_SINGLE:.0f} x: {_met(ratio >= TARGET_BULK_TO_SINGLE)})")
    for (store, workers), by_phase in phases.items():
        if workers != high:
            continue
        for phase, result in by_phase.items():
            p99 = _percentile(result.lags, 99)
            print(f"  projection lag p99, {store}, {high} workers, {phase}: {_ms(p99)} ms "
                  f"(< {TARGET_LAG_P99_SECONDS * 1000:.0f} ms: {_met(p99 < TARGET_LAG_P99_SECONDS)}); "
                  f"{result.contacts_rate:,.0f} contacts/s written, the read models advanced "
                  f"{result.projector_rate('during'):,.0f} events/s during the phase"
                  + (f", {result.projector_rate('after'):,.0f} after it, catching up for "
                     f"{result.advance['after seconds']:.1f} s" if result.advance["after seconds"] > 1 else ""))


def _in_store_order(item: tuple[tuple[str, int], Any]) -> tuple[int, int]:
    (store, workers), _ = item
    return STORES.index(store), workers


def _per_request(cpu_seconds: float, result: PhaseResult) -> str:
    return f"{cpu_seconds / len(result.load.samples) * 1000:.1f}" if result.load.samples else "-"


def _met(met: bool) -> str:
    return "met" if met else "MISSED"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _ms(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    return "never" if seconds == float("inf") else f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def _p50_p99(values: list[float]) -> str:
    return f"{_ms(_percentile(values, 50))}/{_ms(_percentile(values, 99))}" if values else "-"


if __name__ == "__main__":
    main()
