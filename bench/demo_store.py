"""What the benchmarks share: the cached demo stores, the machine they ran on, the library's read rate.

`bench/projections.py` and `bench/replay.py` measure the same stores: the demo
(`load_demo(bulk=True)`) over five years, generated once per size and seed
and kept in ``bench/.cache``, named by a digest of the sources the events
depend on. Every phase runs in a child forked from the lean parent, so that
no phase pays for the heap an earlier one left.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from logbook.application import Logbook
from logbook.config import Settings
from logbook.demo import load_demo
from logbook.store import SQLITE_FILE, EventStore

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
SECRET_KEY = b"bench-secret-key-bench-secret-key-0123456789"
MASTER_KEY = b"bench-master-key-wraps-data-keys"
"""Wraps the clients' data keys, which seal the demo's reasons (32 bytes)."""
MONTHS = 60
"""The stores span five years, so that clients keep a few conversations each, as in the demo."""
EVENTS_PER_CONTACT = 1.177
"""Measured on the demo: contacts, their clients, corrections, retractions and follow-ups."""
PAGE = 1000
GENERATED = "generated.json"
SOURCES = ("logbook/demo.py", "logbook/pseudonyms.py", "logbook/notes.py", "events")
"""What the generated events depend on: a change to any of them makes a new store."""
T = TypeVar("T")


@dataclass(frozen=True)
class DemoStore:
    name: str
    data_dir: Path
    events: int
    contacts: int
    generation_seconds: float
    cached: bool

    @property
    def settings(self) -> Settings:
        """The store with its read models beside it, in its own folder."""
        return Settings(data_dir=self.data_dir, database_url=None, secret_key=SECRET_KEY, master_key=MASTER_KEY)

    @property
    def bytes(self) -> int:
        return sum(path.stat().st_size for path in self.data_dir.glob(f"{SQLITE_FILE}*"))


def demo_store(events: int, seed: int, busiest: int) -> DemoStore:
    """The cached store of about ``events`` demo events, generated first if need be."""
    contacts = round(events / EVENTS_PER_CONTACT)
    name = f"demo-{contacts}-seed{seed}-busiest{busiest}-{MONTHS}mo-{_source_digest()}"
    data_dir = CACHE / name
    partial = data_dir.with_name(name + ".partial")
    _wait_for_another_generation(partial, data_dir)
    cached = (data_dir / GENERATED).exists()
    if not cached:
        shutil.rmtree(partial, ignore_errors=True)
        print(f"generating about {events:,} events into {partial} ...", file=sys.stderr)
        in_child(_generate, partial, contacts, seed, busiest)
        partial.rename(data_dir)
    generated = json.loads((data_dir / GENERATED).read_text())
    print(f"store of {generated['events']:,} events: {'cached, ' if cached else ''}generated in "
          f"{generated['seconds']:.1f} s", file=sys.stderr)
    return DemoStore(name, data_dir, generated["events"], generated["contacts"], generated["seconds"], cached)


def in_child(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` run in a child process forked from this one; its result comes back pickled."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as child:  # one task, then it exits
        return child.submit(function, *args).result()


def read_and_decode(settings: Settings) -> tuple[int, float]:
    """The library's own reading of the notification log, each event decoded: (events, seconds)."""
    with closing(EventStore(settings)) as store:
        recorder, mapper = store.recorder, store.mapper
        started, count, position = time.perf_counter(), 0, 0
        while page := recorder.select_notifications(position, PAGE, inclusive_of_start=False):
            for notification in page:
                mapper.to_domain_event(notification)
            count, position = count + len(page), page[-1].id
        return count, time.perf_counter() - started


def machine(*packages: str) -> str:
    """The machine, its load before the run, and the versions that matter, as one line."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                 platform.processor() or "unknown")
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = "".join(f", {package} {version(package)}" for package in ("eventsourcing", *packages))
    return (f"machine: {usable} CPUs ({model}), {memory / 1024 / 1024:.1f} GiB RAM, load average before the run "
            f"{load}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}{versions}")


def _wait_for_another_generation(partial: Path, data_dir: Path, quiet_seconds: float = 120) -> None:
    """Waits while another benchmark run is writing the same store."""
    while not (data_dir / GENERATED).exists() and partial.is_dir():
        changed = max((path.stat().st_mtime for path in partial.iterdir()), default=partial.stat().st_mtime)
        if time.time() - changed > quiet_seconds:
            return  # left behind by a run that died: generate it again
        print(f"another run is generating {partial.name}; waiting ...", file=sys.stderr)
        time.sleep(10)


def _generate(data_dir: Path, contacts: int, seed: int, busiest: int) -> None:
    started = time.perf_counter()
    with closing(Logbook(Settings(data_dir=data_dir, database_url=None, secret_key=SECRET_KEY,
                                  master_key=MASTER_KEY))) as app:
        load_demo(app, seed=seed, contact_count=contacts, echo=lambda m: print(m, file=sys.stderr),
                  months=MONTHS, busiest_client_contacts=busiest, bulk=True)
        events = app.count_events()
    seconds = time.perf_counter() - started
    with closing(sqlite3.connect(data_dir / SQLITE_FILE)) as db:
        (logged,) = db.execute("SELECT COUNT(*) FROM stored_events WHERE topic LIKE '%:Contact.Logged'").fetchone()
    (data_dir / GENERATED).write_text(json.dumps({"events": events, "contacts": logged, "seconds": seconds}))


def _source_digest() -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        path = ROOT / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]
