"""How fast the read models are rebuilt, against the library's own rate of reading the same events.

Run as ``.venv/bin/python bench/projections.py`` (``--quick`` for a smoke run). On a store of
demo events, in one run it measures:

1. the raw read: ``SELECT rowid, * FROM stored_events`` in pages of 1,000;
2. the library's read and decode: ``recorder.select_notifications`` in pages of 1,000 and
   ``mapper.to_domain_event`` for each event, before and again after the rebuilds;
3. the rebuild of every projection in one pass (each view reset, then
   ``read_models.projector(settings, clock).catch_up()``) with its peak RSS; for
   information (not with ``--quick``), each projection alone, and all of them side by
   side as ``logbook projections rebuild`` runs them (`read_models.rebuild_all`);
4. the timeline of the busiest client (10,000 contacts): first pages and later pages by cursor;

then the timeline again on a smaller store with its own busiest client, to show that the
query's cost does not grow with the store. The stores are the demo (`load_demo(bulk=True)`:
the events the commands would write, many per save) over five years, with proportionally
more clients; each is generated once and cached in ``bench/.cache``.

Every phase runs in a child process of its own, forked from this lean one: a phase
never pays for the heap, or the garbage, that an earlier one left, and the peak RSS
of a rebuild is its own.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Run as a script, this file's folder comes first on the path, where bench/projections.py
# would stand in for the `projections` package: the repository's root takes its place.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(BENCH.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]

from bench.demo_store import MONTHS, PAGE, SECRET_KEY, DemoStore, demo_store, in_child, machine, read_and_decode  # noqa: E402
from logbook import read_models  # noqa: E402
from logbook.config import Settings  # noqa: E402
from logbook.demo import BUSIEST_CLIENT_REF, ORGANISATION  # noqa: E402
from logbook.pseudonyms import client_id_for  # noqa: E402
from logbook.store import SQLITE_FILE  # noqa: E402
from projections.timelines import TimelineView  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
"""The projector's clock and the timeline's ``now``: a month after the demo's last contact."""
TARGET_RATIO, TARGET_P99_MS = 0.50, 20.0


def main() -> None:
    options = _parse_options()
    machine_line = machine()
    print(machine_line, file=sys.stderr)
    large = demo_store(options.events, options.seed, options.busiest)
    small = demo_store(options.small, options.seed, options.busiest)
    figures = _measure_large(large, options)
    figures.small_rebuild = in_child(_rebuild, small.settings)
    figures.small_timeline = in_child(_timeline, small.settings, options.calls, options.seed)
    if options.profile:
        in_child(_profile, small.settings)
    _report(machine_line, options, large, small, figures)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the large store [1,000,000]")
    parser.add_argument("--small", type=int, default=100_000, help="events in the small store [100,000]")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the demo [2019]")
    parser.add_argument("--busiest", type=int, default=10_000, help="contacts of the busiest client [10,000]")
    parser.add_argument("--calls", type=int, default=2000, help="timeline calls per store [2000]")
    parser.add_argument("--profile", action="store_true", help="also profile a rebuild of the small store")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 100,000 and 20,000 events, a busiest client of 2,000, 500 calls, "
                             "no projection alone")
    options = parser.parse_args()
    if options.quick:
        options.events, options.small, options.busiest, options.calls = 100_000, 20_000, 2000, 500
    return options


# Reading, decoding, rebuilding.


@dataclass
class Rate:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


@dataclass
class Rebuild(Rate):
    peak_rss_mb: float = 0.0


@dataclass
class Figures:
    raw: list[Rate]
    library: list[Rate]
    rebuild: Rebuild
    alone: dict[str, Rebuild]
    side_by_side: Rebuild | None
    timeline: Latencies
    small_rebuild: Rebuild | None = None
    small_timeline: Latencies | None = None

    @property
    def library_rate(self) -> float:
        return statistics.median(rate.per_second for rate in self.library)

    @property
    def raw_rate(self) -> float:
        return statistics.median(rate.per_second for rate in self.raw)


def _measure_large(store: DemoStore, options: argparse.Namespace) -> Figures:
    settings = store.settings
    raw, library = [in_child(_raw_read, settings)], [in_child(_library_read, settings)]
    print(f"raw SELECT: {raw[0].per_second:,.0f} events/s; library read and decode: "
          f"{library[0].per_second:,.0f} events/s", file=sys.stderr)
    rebuild = in_child(_rebuild, settings)
    print(f"rebuild of all projections: {rebuild.per_second:,.0f} events/s", file=sys.stderr)
    alone: dict[str, Rebuild] = {}
    for name in [] if options.quick else read_models.PROJECTIONS:
        alone[name] = in_child(_rebuild, settings, [name])
        print(f"rebuild of {name} alone: {alone[name].per_second:,.0f} events/s", file=sys.stderr)
    side_by_side = None if options.quick else in_child(_rebuild_side_by_side, settings)
    raw.append(in_child(_raw_read, settings))
    library.append(in_child(_library_read, settings))
    print(f"again, raw SELECT: {raw[1].per_second:,.0f} events/s; library read and decode: "
          f"{library[1].per_second:,.0f} events/s", file=sys.stderr)
    timeline = in_child(_timeline, settings, options.calls, options.seed)
    return Figures(raw, library, rebuild, alone, side_by_side, timeline)


def _raw_read(settings: Settings) -> Rate:
    """The stored rows as SQLite gives them, with nothing made of them."""
    uri = f"file:{settings.data_dir / SQLITE_FILE}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        started, count, last = time.perf_counter(), 0, 0
        while rows := db.execute(
            "SELECT rowid, * FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, PAGE)
        ).fetchall():
            count, last = count + len(rows), rows[-1][0]
        return Rate(count, time.perf_counter() - started)


def _library_read(settings: Settings) -> Rate:
    """The library's own reading of the notification log, each event decoded to its domain event."""
    return Rate(*read_and_decode(settings))


def _rebuild(settings: Settings, names: list[str] | None = None) -> Rebuild:
    """Resets the named views (all by default), then projects every event in one pass."""
    for name in names or read_models.PROJECTIONS:
        with closing(read_models.open_view(settings, name)) as view:
            view.reset()
    started = time.perf_counter()
    with closing(read_models.projector(settings, _now, names)) as projector:
        count = projector.catch_up()
    seconds = time.perf_counter() - started
    return Rebuild(count, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _rebuild_side_by_side(settings: Settings) -> Rebuild:
    """Every read model rebuilt at once, each in a process of its own; the rate is over the wall time."""
    started = time.perf_counter()
    counts = read_models.rebuild_all(settings, _now, lambda name, count: None)
    return Rebuild(max(counts.values()), time.perf_counter() - started)


def _now() -> datetime:
    return NOW


def _profile(settings: Settings) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(_rebuild, settings)
    for order in ("tottime", "cumulative"):
        print(f"\nrebuild of the small store, by {order}:")
        pstats.Stats(profiler).strip_dirs().sort_stats(order).print_stats(25)


# The timeline.


@dataclass
class Latencies:
    first_pages: list[float]
    later_pages: list[float]
    pages: int
    items: int

    @property
    def all(self) -> list[float]:
        return self.first_pages + self.later_pages


def _timeline(settings: Settings, calls: int, seed: int) -> Latencies:
    """Half the calls ask for the busiest client's first page, half for a later page by its cursor."""
    client_id = client_id_for(SECRET_KEY, ORGANISATION, BUSIEST_CLIENT_REF)
    dormant_after = timedelta(days=settings.dormant_after_days)
    with closing(read_models.open_view(settings, "timelines")) as view:
        assert isinstance(view, TimelineView)

        def page(cursor: str | None) -> tuple[str | None, int]:
            timeline = view.timeline(client_id, now=NOW, dormant_after=dormant_after, cursor=cursor, limit=50)
            assert timeline is not None, "the busiest client has no timeline"
            return timeline.next_cursor, len(timeline.items)

        cursors, items = _walk(page)
        for cursor in cursors[:100]:  # warm up: the first pages of the index
            page(cursor)
        rng = random.Random(seed)
        first: list[float] = []
        later: list[float] = []
        for call in range(calls):
            cursor = None if call % 2 == 0 else rng.choice(cursors[1:] or [None])
            started = time.perf_counter()
            page(cursor)
            (first if cursor is None else later).append(time.perf_counter() - started)
    return Latencies(first, later, len(cursors), items)


def _walk(page: Callable[[str | None], tuple[str | None, int]]) -> tuple[list[str | None], int]:
    """The cursor of every page of the timeline (None for the first) and how many items it holds."""
    cursors: list[str | None] = [None]
    items = 0
    while True:
        next_cursor, count = page(cursors[-1])
        items += count
        if next_cursor is None:
            return cursors, items
        cursors.append(next_cursor)


# The report.


def _report(machine: str, options: argparse.Namespace, large: DemoStore, small: DemoStore, figures: Figures) -> None:
    library = figures.library_rate
    ratio = figures.rebuild.per_second / library
    large_p99 = _percentile(figures.timeline.all, 99)
    assert figures.small_timeline is not None and figures.small_rebuild is not None
    small_p99 = _percentile(figures.small_timeline.all, 99)
    rows = [
        ("store", f"{large.events:,} events",
         f"{large.contacts:,} contacts over {MONTHS} months, seed {options.seed}; generated in "
         f"{large.generation_seconds:.0f} s{' (cached)' if large.cached else ''}"),
        ("raw SELECT, pages of 1,000", f"{figures.raw_rate:,.0f} events/s",
         "mean of before and after the rebuilds: " + ", ".join(f"{r.per_second:,.0f}" for r in figures.raw)),
        ("library read and decode", f"{library:,.0f} events/s",
         "mean of before and after the rebuilds: " + ", ".join(f"{r.per_second:,.0f}" for r in figures.library)),
        ("rebuild, all projections", _rate(figures.rebuild), f"{figures.rebuild.seconds:.1f} s, one pass"),
        ("ratio rebuild / library", f"{ratio:.2f}", f"target >= {TARGET_RATIO:.2f}: {_verdict(ratio >= TARGET_RATIO)}"),
        ("rebuild peak RSS", f"{figures.rebuild.peak_rss_mb:,.0f} MB", "of the process that rebuilt all"),
        *((f"rebuild, {name} alone", _rate(rate), f"{rate.seconds:.1f} s, peak RSS {rate.peak_rss_mb:,.0f} MB")
          for name, rate in figures.alone.items()),
        *([("rebuild, side by side", _rate(figures.side_by_side),
            f"{figures.side_by_side.seconds:.1f} s, one process per projection, as `logbook projections rebuild`"),
           ("ratio side by side / library", f"{figures.side_by_side.per_second / library:.2f}",
            f"target >= {TARGET_RATIO:.2f}: {_verdict(figures.side_by_side.per_second / library >= TARGET_RATIO)}")]
          if figures.side_by_side else []),
        ("timeline p50", f"{_percentile(figures.timeline.all, 50):.2f} ms",
         f"{len(figures.timeline.all)} calls, limit 50; the client has {figures.timeline.items:,} items "
         f"in {figures.timeline.pages} pages"),
        ("timeline p99", f"{large_p99:.2f} ms", f"target < {TARGET_P99_MS:.0f} ms: {_verdict(large_p99 < TARGET_P99_MS)}; "
         f"first pages {_percentile(figures.timeline.first_pages, 99):.2f}, "
         f"later pages {_percentile(figures.timeline.later_pages, 99):.2f}"),
        (f"small store: {small.events:,} events", _rate(figures.small_rebuild),
         f"rebuild of all; generated in {small.generation_seconds:.0f} s{' (cached)' if small.cached else ''}"),
        ("small store: timeline p99", f"{small_p99:.2f} ms",
         f"p50 {_percentile(figures.small_timeline.all, 50):.2f} ms; the client has "
         f"{figures.small_timeline.items:,} items"),
        ("timeline p99, large vs small", f"{large_p99:.2f} / {small_p99:.2f} ms",
         f"{large.events / small.events:.0f}x the events: x{large_p99 / small_p99:.2f} the p99"),
    ]
    print(machine)
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width[0]}}  {value:>{width[1]}}  {note}".rstrip())


def _rate(rate: Rate) -> str:
    return f"{rate.per_second:,.0f} events/s"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _percentile(values: list[float], q: float) -> float:
    """In milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


if __name__ == "__main__":
    main()
