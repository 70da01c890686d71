"""How fast contacts are logged over HTTP, against the event store's own append rate.

Run as ``.venv/bin/python bench/ingest.py``. In one run it measures:

1. the library's in-process rate: ``Logbook.save(Contact.log(...))`` in a loop,
   one new contact (one event) per save, on a fresh SQLite file;
2. HTTP ingest: gunicorn with sync workers on a fresh SQLite file on
   127.0.0.1, several client threads posting distinct contacts, bounded by a
   count and a time limit; contacts per second and p50/p99 latency;

and prints both with their ratio, the machine, and where the CPU went.
The clients use a few client refs, warmed up first, so that in the measured
phase every request appends exactly one event, as the library loop does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import resource
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
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.application import Application

from events import Account, Contact, Profile
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook.application import Logbook
from logbook.config import Settings

VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key-bench-secret-key-0123456789"
TEAM_ID, ACCOUNT_ID, PROFILE_ID = "jac-oostende", "lotte", "jac-oostende-messenger"
CLIENT_REFS = [f"client-{n}" for n in range(8)]
TARGET_RATIO, TARGET_P99_MS = 0.35, 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main() -> None:
    options = _parse_options()
    machine = _machine()
    print(machine, file=sys.stderr)
    # The library is measured before and after HTTP, so a slower or busier spell hits both sides.
    library_rates = [_library_rate(options.library_events) for _ in range(options.library_rounds)]
    print("library before: " + ", ".join(f"{r:,.0f}/s" for r in library_rates), file=sys.stderr)
    http = _http_ingest(options)
    print(f"HTTP: {len(http.latencies) / http.seconds:,.0f}/s", file=sys.stderr)
    library_rates += [_library_rate(options.library_events) for _ in range(options.library_rounds)]
    _report(machine, options, library_rates, http)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library-events", type=int, default=2000, help="events per library round [2000]")
    parser.add_argument("--library-rounds", type=int, default=2, help="library rounds before and again after HTTP; the median counts [2]")
    parser.add_argument("--contacts", type=int, default=3000, help="contacts posted over HTTP [3000]")
    parser.add_argument("--warmup", type=int, default=200, help="contacts posted before measuring [200]")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads [8]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers [2]")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time limit of the HTTP phase [60]")
    return parser.parse_args()


# The library's own rate.


def _library_rate(events: int) -> float:
    """Contacts per second that the library's own `Application.save` appends in process.

    A plain `eventsourcing` application on a fresh SQLite file, with none of
    the logbook's code in the loop but building the same `Contact.Logged` event.
    """
    with tempfile.TemporaryDirectory(prefix="logbook-bench-") as data_dir:
        app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                               "SQLITE_DBNAME": str(Path(data_dir) / "library.sqlite3")})
        try:
            account, profile, client_id = _bare_directory()
            for _ in range(50):  # warm up: the WAL file, the first pages
                app.save(_contact(account, profile, client_id))
            started = time.perf_counter()
            for _ in range(events):
                app.save(_contact(account, profile, client_id))
            return events / (time.perf_counter() - started)
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


def _http_ingest(options: argparse.Namespace) -> HttpResult:
    with tempfile.TemporaryDirectory(prefix="logbook-bench-") as data_dir:
        token = _prepare_store(Path(data_dir))
        with _gunicorn(Path(data_dir), options.workers) as (port, master, log_file):
            _post_many(port, token, options.warmup, options.threads, options.max_seconds)
            events_before = _count_events(Path(data_dir))
            server_cpu_before = _cpu_seconds_of_children(master.pid)
            result = _post_many(port, token, options.contacts, options.threads, options.max_seconds)
            result.server_cpu_seconds = _cpu_seconds_of_children(master.pid) - server_cpu_before
            result.events_stored = _count_events(Path(data_dir)) - events_before
        log = log_file.read_text(errors="replace")
        result.log_trouble = [line for line in log.splitlines() if _is_trouble(line)]
    return result


def _prepare_store(data_dir: Path) -> str:
    app = Logbook(Settings(data_dir=data_dir, database_url=None, secret_key=SECRET_KEY.encode()))
    try:
        return _set_up_directory(app)[2]
    finally:
        app.close()


def _post_many(port: int, token: str, count: int, threads: int, max_seconds: float) -> HttpResult:
    """Posts ``count`` distinct contacts from ``threads`` threads, or as many as fit in ``max_seconds``."""
    result = HttpResult()
    numbers = iter(range(count))
    take = threading.Lock()
    deadline = time.monotonic() + max_seconds
    cpu_before = _process_cpu_seconds()

    def client() -> None:
        latencies, statuses, errors = [], Counter(), Counter()
        while time.monotonic() < deadline:
            with take:
                number = next(numbers, None)
            if number is None:
                break
            request = _request_bytes(token, _contact_body(number))
            started = time.perf_counter()
            try:
                status = _exchange(port, request)
            except OSError as error:
                errors[type(error).__name__] += 1
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


def _request_bytes(token: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (f"POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n")
    return head.encode() + payload


def _exchange(port: int, request: bytes) -> int:
    """Sends one request on a fresh connection and reads the answer to its end; its status.

    A bare socket, like a load generator's, so that the client's own CPU takes
    as little as it can from the two cores the server also runs on. Sync
    workers close every connection, so there is no keep-alive to gain.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    if not response.startswith(b"HTTP/1."):
        raise OSError("not an HTTP response")
    return int(response[9:12])


def _contact_body(number: int) -> dict:
    occurred_at = datetime.now(timezone.utc) - timedelta(minutes=5 + number % 600)
    return {
        "client_ref": CLIENT_REFS[number % len(CLIENT_REFS)], "profile_id": PROFILE_ID,
        "direction": "inbound", "nature": "keeping_in_touch", "occurred_at": occurred_at.isoformat(),
    }


@contextmanager
def _gunicorn(data_dir: Path, workers: int) -> Iterator[tuple[int, subprocess.Popen, Path]]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOGBOOK_") and k not in ("DATABASE_URL", "PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")}
    env.update(LOGBOOK_DATA_DIR=str(data_dir), LOGBOOK_SECRET_KEY=SECRET_KEY)
    port = _free_port()
    argv = [str(VENV_BIN / "gunicorn"), "--config", "python:logbook.gunicorn_config",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    if _gunicorn_has_setting("control_socket_disable"):
        argv.append("--no-control-socket")  # gunicorn 24+ would share one under ~/.gunicorn
    log_file = data_dir / "gunicorn.log"
    with open(log_file, "ab") as log:
        master = subprocess.Popen([*argv, "api:create_app()"], env=env, cwd=data_dir,
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
    uri = f"file:{data_dir / 'logbook.sqlite3'}?mode=ro"
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


def _report(machine: str, options: argparse.Namespace, library_rates: list[float], http: HttpResult) -> None:
    library = statistics.median(library_rates)
    done = len(http.latencies)
    rate = done / http.seconds if http.seconds else 0.0
    p50, p99 = (_percentile(http.latencies, q) * 1000 for q in (50, 99))
    ratio = rate / library
    rows = [
        ("library append, in process", f"{library:,.0f} contacts/s",
         f"median of {len(library_rates)} rounds of {options.library_events}: " + ", ".join(f"{r:,.0f}" for r in library_rates)),
        ("HTTP ingest", f"{rate:,.0f} contacts/s",
         f"{done} in {http.seconds:.2f} s; gunicorn {options.workers} sync workers, {options.threads} client threads"),
        ("HTTP latency p50", f"{p50:.1f} ms", ""),
        ("HTTP latency p99", f"{p99:.1f} ms", f"target < {TARGET_P99_MS:.0f} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'}"),
        ("ratio HTTP / library", f"{ratio:.2f}", f"target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}"),
        ("server CPU per contact", f"{_per(http.server_cpu_seconds, done):.2f} ms", "gunicorn master and workers"),
        ("client CPU per contact", f"{_per(http.client_cpu_seconds, done):.2f} ms", "this process's client threads"),
        ("statuses", ", ".join(f"{s}: {n}" for s, n in sorted(http.statuses.items())) or "-",
         f"transport errors: {dict(http.transport_errors) or 0}; events stored: {http.events_stored}"),
        ("log trouble", str(len(http.log_trouble)), "; ".join(http.log_trouble[:3])),
    ]
    print(machine)
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width[0]}}  {value:>{width[1]}}  {note}".rstrip())


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _per(cpu_seconds: float, count: int) -> float:
    return cpu_seconds / count * 1000 if count else float("nan")


if __name__ == "__main__":
    main()
