"""Group commit: single-contact HTTP ingest at 16 concurrent clients, against the library's own append rate.

Run as ``.venv/bin/python bench/group_commit.py`` (``--quick`` for a smoke run).
In one run, on SQLite, it measures:

1. the library's in-process rate: ``Application.save(Contact.log(...))`` in a
   loop, one new contact (one event) per save, on a fresh SQLite file, before
   and after the HTTP phases (the median counts), as ``bench/ingest.py`` does;
2. HTTP ingest of single contacts (``POST /api/v1/contacts``) from 16 client
   threads, each on a connection it keeps alive, against three gunicorn servers
   on fresh stores, side by side and measured in turns (forwards, then
   backwards) so that no spell of the machine favours one:
   - **one thread per worker**: each worker serves one request at a time, so
     every contact is a transaction of its own (as before group commit);
   - **group commit, no wait**: 8 threads per worker; contacts that arrive
     while a transaction is being written share the next one;
   - **group commit** (the default settings): the same, and a busy worker
     waits up to ``LOGBOOK_GROUP_COMMIT_WAIT_MS`` (2 ms) for more;

   and, in the same turns, two framework ceilings (``bench/framework_ceiling.py``):
   gunicorn as the default server runs it (workers, threads, worker class,
   access log) serving an app that reads the body and answers 201 with a
   receipt of the same shape, and does nothing else (no authentication, no
   validation, no store):
   - **framework ceiling, Flask only**;
   - **framework ceiling, flask-smorest**: the same behind flask-smorest's
     ``Api``, one Blueprint and marshmallow schemas, as the logbook's routes.

It prints each server's rate, p50/p99 latency and server CPU per contact, the
ratio of the default server's rate to the library's (target >= 1.0, p99 under
50 ms), and the ceilings' ratios to the library's rate: the most any app on
gunicorn + Flask could reach on this machine with this load generator.
"""

from __future__ import annotations

import argparse
import base64
import math
import secrets
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this file's folder comes first on the path: the repository's root takes its place.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(BENCH.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]

from bench.ingest import (  # noqa: E402
    LOGBOOK_APP,
    HttpResult,
    LibraryRound,
    _cpu_seconds_of_children,
    _gunicorn,
    _in_turns,
    _library_rate,
    _machine,
    _measured_post_many,
    _per,
    _percentile,
    _post_many,
    _prepare_store,
)
from logbook.config import MASTER_KEY_BYTES  # noqa: E402
from logbook.tokens import new_token  # noqa: E402

TARGET_RATIO, TARGET_P99_MS, CLIENTS = 1.0, 50.0, 16


@dataclass(frozen=True)
class Setup:
    """One way of running the server."""

    name: str
    threads: int
    wait_ms: float | None = None
    """The logbook's group commit wait; None for a ceiling, which has no store to wait for."""
    app: str = LOGBOOK_APP
    """What gunicorn serves: the logbook, or a framework ceiling of ``bench/framework_ceiling.py``."""

    @property
    def is_logbook(self) -> bool:
        return self.app == LOGBOOK_APP


DEFAULT = Setup("group commit (default wait)", threads=8, wait_ms=2.0)
SETUPS = (
    Setup("one thread per worker", threads=1, wait_ms=2.0),
    Setup("group commit, no wait", threads=8, wait_ms=0.0),
    DEFAULT,
)
# gunicorn as the default server runs it, serving apps that only read the body and answer.
CEILINGS = (
    Setup("framework ceiling, Flask only", threads=DEFAULT.threads, app="bench.framework_ceiling:app"),
    Setup("framework ceiling, flask-smorest", threads=DEFAULT.threads, app="bench.framework_ceiling:smorest_app"),
)


@dataclass
class Server:
    setup: Setup
    data_dir: Path
    token: str
    port: int
    master_pid: int

    def measure(self, count: int, max_seconds: float) -> HttpResult:
        if self.setup.is_logbook:
            return _measured_post_many(self.data_dir, self.master_pid, self.port, self.token, count, CLIENTS,
                                       max_seconds, notes=False)
        # A ceiling has no store whose events could be counted: only the server's CPU is.
        cpu_before = _cpu_seconds_of_children(self.master_pid)
        result = _post_many(self.port, self.token, count, CLIENTS, max_seconds, notes=False)
        result.server_cpu_seconds = _cpu_seconds_of_children(self.master_pid) - cpu_before
        return result


def main() -> None:
    options = _parse_options()
    machine = _machine()
    print(machine, file=sys.stderr)
    master_key = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
    library = _library_rounds(options)
    http = _http_ingest(options, master_key)
    library += _library_rounds(options)
    _report(machine, options, library, http)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer contacts and rounds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server [2]")
    parser.add_argument("--contacts", type=int, default=8000, help="contacts posted to each server [8000]")
    parser.add_argument("--turns", type=int, default=8, help="turns each server's contacts are split into [8]")
    parser.add_argument("--library-events", type=int, default=4000, help="events per library round [4000]")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time limit of each server's turns [60]")
    options = parser.parse_args()
    if options.quick:
        options.contacts, options.turns, options.library_events = 1600, 4, 1000
    return options


def _library_rounds(options: argparse.Namespace) -> list[LibraryRound]:
    rounds = [_library_rate(options.library_events) for _ in range(2)]
    print("library: " + ", ".join(f"{r.rate:,.0f}/s" for r in rounds), file=sys.stderr)
    return rounds


def _http_ingest(options: argparse.Namespace, master_key: str) -> dict[str, HttpResult]:
    per_turn, seconds_per_turn = math.ceil(options.contacts / options.turns), options.max_seconds / options.turns
    with ExitStack() as stack:
        servers = [stack.enter_context(_server(options, setup, master_key)) for setup in SETUPS + CEILINGS]
        turns = _in_turns(servers, lambda server: server.setup.name,
                          lambda server: server.measure(per_turn, seconds_per_turn), options.turns)
    return {name: HttpResult.merged(results) for name, results in turns.items()}


@contextmanager
def _server(options: argparse.Namespace, setup: Setup, master_key: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="logbook-bench-") as data_dir_name:
        data_dir = Path(data_dir_name)
        env = {"LOGBOOK_MASTER_KEY": master_key, "WEB_THREADS": str(setup.threads)}
        if setup.is_logbook:
            token = _prepare_store(data_dir, master_key, encrypt_events=False)
            env["LOGBOOK_GROUP_COMMIT_WAIT_MS"] = str(setup.wait_ms)
        else:
            token = new_token()  # ignored by a ceiling, but its requests carry a header like the logbook's
        with _gunicorn(data_dir, options.workers, env, setup.app) as (port, master, _log):
            _post_many(port, token, 200, CLIENTS, options.max_seconds, notes=False)  # warm up
            yield Server(setup, data_dir, token, port, master.pid)


def _report(machine: str, options: argparse.Namespace, library: list[LibraryRound],
            http: dict[str, HttpResult]) -> None:
    library_rate = statistics.median(r.rate for r in library)
    print(machine)
    print(f"  library append, in process: {library_rate:,.0f} contacts/s "
          f"(median of {len(library)} rounds of {options.library_events}: "
          + ", ".join(f"{r.rate:,.0f}" for r in library) + ")")
    for setup in SETUPS + CEILINGS:
        print("  " + _server_line(setup, http[setup.name], options, library_rate))
    default = http[DEFAULT.name]
    ratio, p99 = default.rate / library_rate, _percentile(default.latencies, 99) * 1000
    baseline = http[SETUPS[0].name].rate
    print(f"  group commit / one thread per worker: {default.rate / baseline:.2f} x")
    print(f"  target, group commit / library >= {TARGET_RATIO}: {ratio:.2f}, {'met' if ratio >= TARGET_RATIO else 'MISSED'}")
    print(f"  target, p99 < {TARGET_P99_MS:.0f} ms at {CLIENTS} clients: {p99:.1f} ms, "
          f"{'met' if p99 < TARGET_P99_MS else 'MISSED'}")
    for ceiling in CEILINGS:
        print("  " + _ceiling_line(ceiling, http[ceiling.name], default, library_rate))


def _server_line(setup: Setup, result: HttpResult, options: argparse.Namespace, library_rate: float) -> str:
    done = len(result.latencies)
    p50, p99 = (_percentile(result.latencies, q) * 1000 for q in (50, 99))
    # A ceiling stores nothing: all its answers being 201 is all there is to check.
    stored = result.events_stored == done if setup.is_logbook else True
    all_created = result.statuses.get(201, 0) == done > 0 and stored
    wait = f", wait {setup.wait_ms:g} ms" if setup.wait_ms is not None else ""
    return (f"{setup.name} ({options.workers} workers x {setup.threads} threads{wait}): "
            f"{result.rate:,.0f} contacts/s, ratio to the library {result.rate / library_rate:.2f}; "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; server CPU {_per(result.server_cpu_seconds, done):.2f} ms "
            f"and client CPU {_per(result.client_cpu_seconds, done):.2f} ms per contact; "
            f"turns at {', '.join(f'{r:,.0f}' for r in result.rates)}"
            + ("" if all_created else f"; NOT ALL STORED ONCE AS 201: {dict(result.statuses)}, "
                                      f"{result.events_stored} events, {dict(result.transport_errors)}"))


def _ceiling_line(ceiling: Setup, result: HttpResult, default: HttpResult, library_rate: float) -> str:
    """What a ceiling's rate means for the target: no app on its stack, however lean, could beat it here."""
    ratio = result.rate / library_rate
    verdict = ("so the target is out of reach on this stack here, whatever the app does" if ratio < TARGET_RATIO
               else "so the stack leaves room for the target; the app's own cost is what stands in the way")
    return (f"{ceiling.name} / library: {ratio:.2f}, the most any app served this way could reach on this "
            f"machine with this load generator, {verdict}; the default server reaches "
            f"{default.rate / result.rate:.2f} of this ceiling")


if __name__ == "__main__":
    main()
