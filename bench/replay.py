"""How fast researchers replay and export the history, against the library's own rate of reading the same events.

Run as ``.venv/bin/python bench/replay.py`` (``--quick`` for a smoke run). On one store of
demo events (about 1,000,000; ``--quick``: 100,000), in one run it measures:

1. the library's read and decode: ``recorder.select_notifications`` in pages of 1,000 and
   ``mapper.to_domain_event`` for each event, before every other phase and again after them
   (the median of the two is the reference);
2. the replay (`logbook.replay.replay`) of the whole store (``until`` one second after the latest
   recorded time of any event) under the built-in policy, scratch read models and report included:
   events/s and its ratio to (1), target >= 0.50;
3. the export (`logbook.export.export_contacts`) of every contact, in each format (jsonl, csv,
   parquet), after both read models were rebuilt (`read_models.rebuild_all`, not counted): rows/s,
   events/s (the store's events over the export's seconds) and the ratio of those to (1), target
   >= 0.70;
4. the peak RSS of an export of a tenth of the contacts (about 100,000 events; a period of the
   same store, from the 45th to the 55th percentile of ``occurred_at``) against that of the
   export of them all (about 1,000,000 events), in each format: target within 10 %.

The store is the one `bench/projections.py` generates (`load_demo(bulk=True)` over five years,
same seed and sizes) and caches in ``bench/.cache``; whichever of the two runs first generates
it. This benchmark never writes read models beside it: its own (and the exports and the
replay's scratch files) live in ``bench/.cache/replay-<store>/``, removed at the end.

Every phase runs in a child process of its own, forked from this lean one (which imports
neither pyarrow nor the replay): a phase never pays for the heap, or the garbage, that an
earlier one left, and its peak RSS (``RUSAGE_SELF`` in the fresh child) is its own.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

# Run as a script, this file's folder comes first on the path, where bench/projections.py
# would stand in for the `projections` package: the repository's root takes its place.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(BENCH.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]

from bench.demo_store import CACHE, MONTHS, SECRET_KEY, DemoStore, demo_store, in_child, machine, read_and_decode  # noqa: E402,E501
from logbook import read_models  # noqa: E402
from logbook.config import Settings  # noqa: E402
from logbook.store import SQLITE_FILE, sqlite_path  # noqa: E402

# The store's name, its settings and the way it is generated are those of bench/projections.py,
# so that both benchmarks share one cached store: keep them the same.
RESEARCH_KEY = b"bench-research-key-bench-research-key-0123456789"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
"""The clock of the rebuild that precedes the exports, as bench/projections.py sets it."""
FORMATS = ("jsonl", "csv", "parquet")
TARGET_REPLAY, TARGET_EXPORT, TARGET_MEMORY = 0.50, 0.70, 0.10
PART = 0.10
"""The share of the contacts (by ``occurred_at``, around the middle) that the smaller export covers."""
T = TypeVar("T")


def main() -> None:
    options = _parse_options()
    machine_line = machine("pyarrow")
    print(machine_line, file=sys.stderr)
    store = demo_store(options.events, options.seed, options.busiest)
    work = CACHE / f"replay-{store.name}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        figures = _measure(store, _settings(store, work), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report(machine_line, options, store, figures)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store [1,000,000]")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the demo [2019]")
    parser.add_argument("--busiest", type=int, default=10_000, help="contacts of the busiest client [10,000]")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run on 100,000 events (busiest client 2,000, the store of "
                             "bench/projections.py --quick)")
    options = parser.parse_args()
    if options.quick:
        options.events, options.busiest = 100_000, 2000
    return options


def _settings(store: DemoStore, work: Path) -> Settings:
    """The cached store's events, with read models (and everything else) in ``work``."""
    return Settings(data_dir=work, database_url=f"sqlite:///{store.data_dir / SQLITE_FILE}", secret_key=SECRET_KEY,
                    research_key=RESEARCH_KEY)


# The phases, each in a child of its own.


@dataclass
class Run:
    count: int
    """Events read (library, replay) or rows written (export)."""
    seconds: float
    peak_rss_mb: float = 0.0
    """The child's peak RSS (``ru_maxrss``): what it inherited at the fork, and what it grew by."""
    start_rss_mb: float = 0.0
    """The child's RSS when the phase began."""
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _library_read(settings: Settings) -> Run:
    """The library's own reading of the notification log, each event decoded to its domain event."""
    start_rss = _rss_mb()
    count, seconds = read_and_decode(settings)
    return Run(count, seconds, _peak_rss_mb(), start_rss)


def _latest_recorded_at(settings: Settings) -> datetime:
    """The latest recorded time of any event, read from the stored JSON (the bench store is not encrypted).

    Not the last event's: the demo's directory events (teams, accounts, profiles) bear the
    moment the store was generated, while its contacts bear their back-dated ``recorded_at``.
    """
    with closing(sqlite3.connect(f"file:{sqlite_path(settings)}?mode=ro", uri=True)) as db:
        texts = [text for (text,) in db.execute(
            "SELECT json_extract(CAST(state AS TEXT), '$.timestamp._data_') FROM stored_events")]
    if not texts or None in texts:
        raise SystemExit("the store's events do not all hold a readable timestamp: is it encrypted?")
    return max(map(datetime.fromisoformat, texts))


def _replay(settings: Settings, until: datetime, out_dir: Path, total: int) -> Run:
    """The whole store replayed under the built-in policy, as ``logbook replay`` runs it (without its bar)."""
    from events.policy import SECTOR_AGREEMENT_2019
    from logbook.replay import replay

    start_rss = _rss_mb()
    started = time.perf_counter()
    report = replay(settings, until, SECTOR_AGREEMENT_2019, out_dir, _heartbeat("replay", total))
    seconds = time.perf_counter() - started
    note = (f"{report.events:,} of the {report.read:,} events read recorded by until; "
            f"{len(report.body['crossings']):,} crossings; policy {report.policy_version}")
    shutil.rmtree(out_dir)
    return Run(report.read, seconds, _peak_rss_mb(), start_rss, note)


def _heartbeat(name: str, total: int, every: int = 100_000) -> Callable[[int], None]:
    done = [0, time.perf_counter()]

    def progress(count: int) -> None:
        before, done[0] = done[0], done[0] + count
        if done[0] // every != before // every:
            rate = done[0] / (time.perf_counter() - done[1])
            print(f"  {name}: {done[0]:,} of {total:,} events, {rate:,.0f} /s", file=sys.stderr)
    return progress


def _rebuild_all(settings: Settings) -> Run:
    """Both read models rebuilt side by side, as ``logbook projections rebuild`` does: not a measured figure."""
    started = time.perf_counter()
    counts = read_models.rebuild_all(settings, _now, lambda name, count: None)
    return Run(max(counts.values()), time.perf_counter() - started)


def _now() -> datetime:
    return NOW


def _export(settings: Settings, fmt: str, start: datetime | None, end: datetime | None, out_path: Path) -> Run:
    from logbook.export import export_contacts

    start_rss = _rss_mb()
    started = time.perf_counter()
    rows = export_contacts(settings, fmt, start, end, out_path, None, wait=0, audit=None)
    seconds = time.perf_counter() - started
    size = out_path.stat().st_size
    out_path.unlink()
    return Run(rows, seconds, _peak_rss_mb(), start_rss, f"{size / 1e6:,.0f} MB")


def _middle_period(settings: Settings, share: float) -> tuple[datetime, datetime]:
    """The period [start, end) around the median ``occurred_at`` that holds about ``share`` of the contacts."""
    path = read_models.projections_dir(settings) / "boundaries.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        (contacts,) = db.execute("SELECT COUNT(*) FROM judged_contacts").fetchone()

        def moment_at(offset: int) -> datetime:
            (text,) = db.execute("SELECT occurred_at FROM judged_contacts ORDER BY occurred_at LIMIT 1 OFFSET ?",
                                 (offset,)).fetchone()
            return datetime.fromisoformat(text)  # stored as fixed-width UTC text ending in Z

        first = round(contacts * (0.5 - share / 2))
        return moment_at(first), moment_at(first + round(contacts * share))


# Running them.


@dataclass
class Figures:
    library: list[Run]
    replay: Run
    until: datetime
    rebuild: Run
    exports: dict[str, Run]
    part_exports: dict[str, Run]
    period: tuple[datetime, datetime]

    @property
    def library_rate(self) -> float:
        return statistics.median(run.per_second for run in self.library)


def _measure(store: DemoStore, settings: Settings, work: Path) -> Figures:
    library = [in_child(_library_read, settings)]
    print(f"library read and decode: {library[0].per_second:,.0f} events/s", file=sys.stderr)
    until = in_child(_latest_recorded_at, settings) + timedelta(seconds=1)
    replayed = in_child(_replay, settings, until, work / "replay", store.events)
    print(f"replay: {replayed.per_second:,.0f} events/s ({replayed.seconds:.1f} s)", file=sys.stderr)
    rebuild = in_child(_rebuild_all, settings)
    print(f"read models rebuilt for the exports (not measured): {rebuild.seconds:.1f} s", file=sys.stderr)
    exports: dict[str, Run] = {}
    for fmt in FORMATS:
        exports[fmt] = in_child(_export, settings, fmt, None, None, work / f"contacts.{fmt}")
        print(f"export {fmt}: {exports[fmt].per_second:,.0f} rows/s, {store.events / exports[fmt].seconds:,.0f} "
              f"events/s, peak RSS {exports[fmt].peak_rss_mb:,.0f} MB", file=sys.stderr)
    period = in_child(_middle_period, settings, PART)
    part_exports: dict[str, Run] = {}
    for fmt in FORMATS:
        part_exports[fmt] = in_child(_export, settings, fmt, *period, work / f"part.{fmt}")
        print(f"export {fmt} of a tenth: {part_exports[fmt].count:,} rows, peak RSS "
              f"{part_exports[fmt].peak_rss_mb:,.0f} MB", file=sys.stderr)
    library.append(in_child(_library_read, settings))
    print(f"again, library read and decode: {library[1].per_second:,.0f} events/s", file=sys.stderr)
    return Figures(library, replayed, until, rebuild, exports, part_exports, period)


# The report.


def _report(machine: str, options: argparse.Namespace, store: DemoStore, figures: Figures) -> None:
    library = figures.library_rate
    replay_ratio = figures.replay.per_second / library
    rows: list[tuple[str, str, str]] = [
        ("store", f"{store.events:,} events",
         f"{store.contacts:,} contacts over {MONTHS} months, seed {options.seed}, busiest client "
         f"{options.busiest:,}; {store.bytes / 1e6:,.0f} MB; generated in {store.generation_seconds:.0f} s"
         f"{' (cached)' if store.cached else ''}"),
        ("library read and decode", f"{library:,.0f} events/s",
         "median of before and after the others: " + ", ".join(f"{r.per_second:,.0f}" for r in figures.library)),
        ("replay, built-in policy", f"{figures.replay.per_second:,.0f} events/s",
         f"{figures.replay.seconds:.1f} s until {figures.until.isoformat()}; {figures.replay.note}; "
         f"peak RSS {figures.replay.peak_rss_mb:,.0f} MB"),
        ("ratio replay / library", f"{replay_ratio:.3f}",
         f"target >= {TARGET_REPLAY:.2f}: {_verdict(replay_ratio >= TARGET_REPLAY)}"),
        ("rebuild before the exports", f"{figures.rebuild.seconds:.1f} s",
         "both read models side by side, not counted"),
    ]
    for fmt, run in figures.exports.items():
        events_rate = store.events / run.seconds
        ratio = events_rate / library
        rows += [
            (f"export {fmt}, all", f"{run.per_second:,.0f} rows/s",
             f"{run.count:,} rows in {run.seconds:.1f} s, {run.note}"),
            (f"export {fmt}, events/s", f"{events_rate:,.0f} events/s", "the store's events over its seconds"),
            (f"ratio export {fmt} / library", f"{ratio:.3f}",
             f"target >= {TARGET_EXPORT:.2f}: {_verdict(ratio >= TARGET_EXPORT)}"),
        ]
    start, end = figures.period
    part_events = round(next(iter(figures.part_exports.values())).count * store.events / store.contacts)
    rows.append(("smaller export's period", f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}",
                 f"the middle tenth of the contacts by occurred_at, in the same store: about {part_events:,} "
                 f"events' worth (its rows x the store's events per contact)"))
    for fmt in FORMATS:
        part, whole = figures.part_exports[fmt], figures.exports[fmt]
        growth = whole.peak_rss_mb / part.peak_rss_mb - 1
        rows += [
            (f"peak RSS, export {fmt}", f"{part.peak_rss_mb:,.0f} / {whole.peak_rss_mb:,.0f} MB",
             f"{part.count:,} / {whole.count:,} rows; when the export began {part.start_rss_mb:,.0f} / "
             f"{whole.start_rss_mb:,.0f} MB"),
            (f"peak RSS {fmt}, all vs a tenth", f"{growth:+.1%}",
             f"target within {TARGET_MEMORY:.0%}: {_verdict(abs(growth) <= TARGET_MEMORY)}"),
        ]
    print(machine)
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width[0]}}  {value:>{width[1]}}  {note}".rstrip())


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    main()
