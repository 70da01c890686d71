"""What leaves the logbook for research: the pseudonymised event stream, and exports of contacts.

Both take the research form of the data from `logbook.research.ResearchView`:
research pseudonyms, named teams and sites, moments truncated, no free text.

- `research_events` reads the store's notification log after a position and
  answers a page of research forms, with the position to pass next time.
- `export_contacts` writes one row per contact of a period, as corrected, to a
  JSON Lines, CSV or Parquet file. It reads the `timelines` and `boundaries`
  read models (waiting until both reflect every recorded event), streams them
  in chunks, and writes byte-identical files for the same events.

docs/data-dictionary.md describes every field.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from functools import lru_cache
from itertools import groupby, islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from eventsourcing.application import Application

from logbook import read_models
from logbook.audit import AuditEntry, audit_log
from logbook.config import Settings
from logbook.files import write_whole
from logbook.research import ResearchView
from logbook.store import EventStore
from projections.base import View
from projections.sql import UPSTREAM, Database, PostgresCursor, PostgresDatabase, SQLiteDatabase
from projections.storage import moment_text

LOCAL_ZONE = ZoneInfo("Europe/Brussels")
"""A bare date means midnight here, as the API's ``from`` and ``to`` do."""
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SCAN_PAGE = 500
"""Notifications read at a time while a page of research events fills up."""
FETCH_ROWS = 2_000
"""Rows fetched from the read models at a time."""
PARQUET_BATCH_ROWS = 10_000
"""Rows in each Parquet record batch (and row group): memory stays bounded by it."""
HOURS_DECIMALS = 2
"""``referred_hours`` is rounded to this many decimals (36 seconds), in every format."""
START_OF_TIME, END_OF_TIME = "", "~"
"""Sort before and after every stored moment."""


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


class ExportError(Exception):
    """Raised when an export cannot be made; nothing was written."""


class ViewsBehindError(ExportError):
    """Raised when a read model the export reads has not reached the store's head in time."""


# Dates and moments on the command line.


class PeriodError(ValueError):
    """Raised for a ``--from`` or ``--to`` that is not a date or a date-time with its offset, or an empty period."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def parse_period(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """The period [start, end) that ``--from`` and ``--to`` name; either end may be open (None)."""
    moments: list[datetime | None] = []
    for option, text in (("--from", start), ("--to", end)):
        try:
            moments.append(None if text is None else parse_moment(text))
        except ValueError:
            raise PeriodError(option, "Not a date or a date-time with its UTC offset.") from None
    first, last = moments
    if first is not None and last is not None and first >= last:
        raise PeriodError("--to", "Must be later than --from.")
    return first, last


def parse_moment(text: str, zone: ZoneInfo = LOCAL_ZONE) -> datetime:
    """A date (midnight in ``zone``) or an ISO 8601 date-time with its UTC offset; raises ValueError otherwise."""
    if DATE.fullmatch(text):
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError("A date-time needs its UTC offset, such as +02:00 or Z.")
    return moment


# The event stream.


@dataclass(frozen=True)
class ResearchPage:
    items: list[dict[str, Any]]
    """The research forms, each with its ``position``, in the store's order."""
    next_after: int
    """The position of the last event read (shown or not); ``after`` itself when none was left."""


def research_events(store: Application[UUID], research: ResearchView, after: int, limit: int) -> ResearchPage:
    """Up to ``limit`` research forms of the events after position ``after``, skipping those researchers never see.

    The page is filled while events are left, so an empty page means the end of the store: a
    client that passes ``next_after`` back until a page is empty reads every event exactly once.
    """
    items: list[dict[str, Any]] = []
    position = after
    while len(items) < limit:
        notifications = store.recorder.select_notifications(
            start=position, limit=max(limit - len(items), SCAN_PAGE), inclusive_of_start=False
        )
        if not notifications:
            break
        for notification in notifications:
            form = research.event(store.mapper.to_domain_event(notification))
            position = notification.id
            if form is not None:
                items.append({"position": position, **form})
                if len(items) == limit:
                    break
    return ResearchPage(items, position)


# The export of contacts.

COLUMNS: tuple[tuple[str, pa.DataType, bool], ...] = (
    ("contact", pa.string(), False),
    ("client", pa.string(), False),
    ("account", pa.string(), False),
    ("profile", pa.string(), False),
    ("thread", pa.string(), True),
    ("conversation", pa.string(), True),
    ("team_id", pa.string(), False),
    ("site", pa.string(), False),
    ("account_function", pa.string(), True),
    ("intern", pa.bool_(), False),
    ("channel", pa.string(), False),
    ("profile_kind", pa.string(), False),
    ("direction", pa.string(), False),
    ("nature", pa.string(), False),
    ("occurred_at", pa.timestamp("ms", tz="UTC"), False),
    ("recorded_at", pa.timestamp("ms", tz="UTC"), False),
    ("message_count", pa.int32(), False),
    ("duration_minutes", pa.int32(), True),
    ("topics", pa.list_(pa.string()), False),
    ("has_note", pa.bool_(), False),
    ("corrected", pa.bool_(), False),
    ("retracted", pa.bool_(), False),
    ("referred_hours", pa.float64(), True),
)
"""The export's columns, in order, with their Parquet types and whether they may be empty."""
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)
PARQUET_SCHEMA = pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in COLUMNS])
MOMENT_COLUMNS = frozenset({"occurred_at", "recorded_at"})

# Tables are named alone: on SQLite, the boundaries file is attached to the timelines one (`_snapshot`);
# on PostgreSQL, both read models are in the same schema.
_CONTACTS = """
    FROM judged_contacts AS judged JOIN contacts AS contact USING (contact_id)
    WHERE judged.occurred_at >= :start AND judged.occurred_at < :end AND contact.position <= :head"""
_SELECT_CONTACTS = f"""
    SELECT contact.contact_id, contact.client_id, contact.account_id, contact.profile_id, contact.thread,
           judged.conversation_id, contact.team_id, judged.site, judged.function, judged.intern, contact.channel,
           contact.profile_kind, contact.direction, contact.nature, contact.occurred_at, contact.recorded_at,
           contact.message_count, contact.duration_minutes, contact.topics, contact.note_key_id,
           contact.corrected, contact.retracted, judged.referred_hours
    {_CONTACTS}
    ORDER BY judged.occurred_at"""
"""Rows of one moment come in any order: `_research_rows` sorts them by pseudonym, which also spares
SQLite a sort of the whole period by contact id."""
_COUNT_JUDGED = "SELECT COUNT(*) FROM judged_contacts WHERE occurred_at >= :start AND occurred_at < :end"

Progress = Callable[[int, int], None]
"""Called with the rows written so far and the rows to write: first (0, total), then after every chunk."""


def export_contacts(
    settings: Settings,
    fmt: ExportFormat | str,
    start: datetime | None,
    end: datetime | None,
    out_path: Path | str,
    progress: Progress | None = None,
    *,
    wait: float = 30.0,
    audit: AuditEntry | None = None,
) -> int:
    """Writes the contacts that occurred in [start, end) to ``out_path``, pseudonymised; returns how many.

    Waits at most ``wait`` seconds for both read models to reach the store's head,
    else raises `ViewsBehindError`. Records ``audit`` (if given) before the first
    byte is written. Writes a temporary file beside ``out_path`` and renames it
    at the end, so a failed export leaves no file behind.
    """
    fmt = ExportFormat(fmt)
    research = ResearchView(settings.require_research_key(), settings.research_time_unit)
    with ExitStack() as stack:
        views = {name: stack.enter_context(closing(read_models.open_view(settings, name)))
                 for name in ("timelines", "boundaries")}
        head = _caught_up(settings, views, wait)
        if audit is not None:
            audit_log(settings).record(audit)
        sql = stack.enter_context(_snapshot(views["timelines"].database, views["boundaries"].database))
        params = {"start": _bound(start, START_OF_TIME), "end": _bound(end, END_OF_TIME), "head": head}
        total = _total(sql, params, _tracking_tables(views["timelines"].database))
        rows = _research_rows(_fetched(sql.execute(_SELECT_CONTACTS, params)), research, settings.research_time_unit)
        return write_whole(Path(out_path), lambda file: WRITERS[fmt](file, _counted(rows, total, progress)))


def _caught_up(settings: Settings, views: Mapping[str, View], wait: float) -> int:
    """The store's head, once every view reflects it; raises `ViewsBehindError` if one does not in time."""
    store = EventStore(settings)
    try:
        head = store.recorder.max_notification_id() or 0
    finally:
        store.close()
    for name, view in views.items():
        if not view.wait_for(head, timeout=wait):
            raise ViewsBehindError(
                f"The {name} read model is at position {view.position()} of {head}: run "
                "`logbook projections run` or `logbook projections rebuild` first. Nothing was exported."
            )
    return head


@contextmanager
def _snapshot(timelines: Database, boundaries: Database) -> Iterator[sqlite3.Cursor | PostgresCursor]:
    """One read-only snapshot of both read models, for the count and the rows, whose rows are fetched as read."""
    if isinstance(timelines, PostgresDatabase):  # the boundaries are in the same schema
        with timelines.reading(streamed=True) as cursor:
            yield cursor
        return
    assert isinstance(boundaries, SQLiteDatabase)
    with closing(sqlite3.connect(timelines.path, isolation_level=None)) as connection:
        connection.execute("PRAGMA query_only = 1")
        connection.execute("ATTACH DATABASE ? AS boundaries", (boundaries.path,))
        connection.execute("BEGIN")
        yield connection.cursor()


def _tracking_tables(timelines: Database) -> tuple[str, str]:
    """The tracking tables of the timelines and the boundaries, as the snapshot's cursor names them."""
    if isinstance(timelines, PostgresDatabase):
        return "timelines_tracking", "boundaries_tracking"
    return "main.tracking", "boundaries.tracking"


def _total(sql: sqlite3.Cursor | PostgresCursor, params: dict[str, Any], tracking: tuple[str, str]) -> int:
    """How many rows the export writes.

    Each contact has one row in each read model. Unless one of them went past the head
    (contacts logged since the export began), every judged contact of the period is
    exported, and counting those reads one index: a tenth of the time of counting the join.
    """
    positions = " UNION ALL ".join(
        f"SELECT MAX(notification_id) FROM {table} WHERE application_name = :upstream" for table in tracking
    )
    if all(row[0] == params["head"] for row in sql.execute(positions, {"upstream": UPSTREAM}).fetchall()):
        return int(sql.execute(_COUNT_JUDGED, params).fetchone()[0])
    return int(sql.execute(f"SELECT COUNT(*) {_CONTACTS}", params).fetchone()[0])


def _bound(moment: datetime | None, otherwise: str) -> str:
    return otherwise if moment is None else moment_text(moment)


def _fetched(cursor: sqlite3.Cursor | PostgresCursor) -> Iterator[tuple[Any, ...]]:
    while chunk := cursor.fetchmany(FETCH_ROWS):
        yield from chunk


Row = tuple[Any, ...]
"""A row of the export: its values in the order of `COLUMNS`."""
_CONTACT, _OCCURRED_AT = COLUMN_NAMES.index("contact"), COLUMN_NAMES.index("occurred_at")


def _research_rows(rows: Iterable[tuple[Any, ...]], research: ResearchView, unit: str) -> Iterator[Row]:
    """The research form of each row, by truncated moment, then by contact pseudonym.

    Within one truncated moment the rows are sorted by pseudonym, so that their
    order tells nothing finer than the unit; memory holds one moment's rows.
    """
    research_form = _research_form(research, unit)
    for _, same_moment in groupby(map(research_form, rows), key=itemgetter(_OCCURRED_AT)):
        yield from sorted(same_moment, key=itemgetter(_CONTACT))


def stored_moment_truncator(unit: str) -> Callable[[str], str]:
    """`ResearchView.moment` for a moment as the read models store it (fixed-width UTC text), without parsing it.

    An export truncates two moments a row: slicing the text takes a tenth of the time of
    parsing and formatting it. tests/logbook/test_export.py checks both agree for every unit.
    """
    kept = {"minute": 16, "hour": 13, "day": 10}[unit]
    rest = "0000-00-00T00:00:00"[kept:] + "Z"
    return lambda text: text[:kept] + rest


@lru_cache(maxsize=4096)
def _topics(stored: str) -> tuple[str, ...]:
    """The topics a row stores as a JSON array, sorted: contacts share a few combinations of them."""
    return tuple(sorted(json.loads(stored)))


def _research_form(research: ResearchView, unit: str) -> Callable[[tuple[Any, ...]], Row]:
    """The research form of a row of `_SELECT_CONTACTS`; ids are stored as the ``.hex`` the pseudonyms take."""
    pseudonym, once, thread_of = research.pseudonyms.of, research.pseudonyms.once, research.thread
    moment = stored_moment_truncator(unit)

    def form(row: tuple[Any, ...]) -> Row:
        (contact_id, client_id, account_id, profile_id, thread, conversation_id, team_id, site, function, intern,
         channel, profile_kind, direction, nature, occurred_at, recorded_at, message_count, duration_minutes,
         topics, note_key_id, corrected, retracted, referred_hours) = row
        return (
            once("contact", contact_id),
            pseudonym("client", client_id),
            pseudonym("account", account_id),
            pseudonym("profile", profile_id),
            thread_of(thread),
            None if conversation_id is None else once("conversation", conversation_id),
            team_id,
            site,
            function,
            bool(intern),
            channel,
            profile_kind,
            direction,
            nature,
            moment(occurred_at),
            moment(recorded_at),
            message_count,
            duration_minutes,
            _topics(topics),
            note_key_id is not None,
            bool(corrected),
            bool(retracted),
            None if referred_hours is None else round(referred_hours, HOURS_DECIMALS),
        )
    return form


def _counted(rows: Iterable[Row], total: int, progress: Progress | None) -> Iterator[Row]:
    if progress is None:
        yield from rows
        return
    done = 0
    progress(done, total)
    for row in rows:
        yield row
        done += 1
        if done % FETCH_ROWS == 0 or done == total:
            progress(done, total)


def _write_jsonl(file: IO[bytes], rows: Iterable[Row]) -> int:
    """One object a line, its keys in the order of the columns, compact, UTF-8 as it is (orjson's only form)."""
    count = 0
    for count, row in enumerate(rows, start=1):  # noqa: B007 - the count is the result
        file.write(orjson.dumps(dict(zip(COLUMN_NAMES, row, strict=True)), option=orjson.OPT_APPEND_NEWLINE))
    return count


def _write_csv(file: IO[bytes], rows: Iterable[Row]) -> int:
    """A header, then the columns in order: empty for none, ``true``/``false``, topics joined by ``;``."""
    text = io.TextIOWrapper(file, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")  # writes None as empty and ints as themselves
    writer.writerow(COLUMN_NAMES)
    count = 0
    for count, row in enumerate(rows, start=1):  # noqa: B007 - the count is the result
        values = list(row)
        for index in _CSV_FLAGS:
            values[index] = "true" if values[index] else "false"
        values[_CSV_TOPICS] = ";".join(values[_CSV_TOPICS])  # topics are slugs: no ';' in them
        if values[_CSV_HOURS] is not None:
            values[_CSV_HOURS] = f"{values[_CSV_HOURS]:.{HOURS_DECIMALS}f}"
        writer.writerow(values)
    text.flush()
    text.detach()
    return count


_CSV_FLAGS = tuple(index for index, (_, kind, _) in enumerate(COLUMNS) if kind == pa.bool_())
_CSV_TOPICS = COLUMN_NAMES.index("topics")
_CSV_HOURS = COLUMN_NAMES.index("referred_hours")


def _write_parquet(file: IO[bytes], rows: Iterable[Row]) -> int:
    """Record batches of `PARQUET_BATCH_ROWS` under the explicit schema; nothing in the file depends on the run."""
    count, rows = 0, iter(rows)
    with pq.ParquetWriter(file, PARQUET_SCHEMA, compression="zstd", compression_level=3, version="2.6") as writer, \
            ThreadPoolExecutor(1, thread_name_prefix="parquet") as encoder:
        # Encoding and compressing a batch lets go of the GIL: the next batch's rows are made meanwhile.
        written: Future[None] | None = None
        while batch := list(islice(rows, PARQUET_BATCH_ROWS)):
            record_batch = _record_batch(batch)
            if written is not None:
                written.result()
            written = encoder.submit(writer.write_batch, record_batch)
            count += len(batch)
        if written is not None:
            written.result()
    return count


def _record_batch(rows: list[Row]) -> pa.RecordBatch:
    arrays = []
    for (name, kind, _), values in zip(COLUMNS, zip(*rows, strict=True), strict=True):
        if name in MOMENT_COLUMNS:
            arrays.append(pa.array(values, pa.string()).cast(kind))
        else:
            arrays.append(pa.array(values, kind))
    return pa.RecordBatch.from_arrays(arrays, schema=PARQUET_SCHEMA)


WRITERS: dict[ExportFormat, Callable[[IO[bytes], Iterable[Row]], int]] = {
    ExportFormat.JSONL: _write_jsonl,
    ExportFormat.CSV: _write_csv,
    ExportFormat.PARQUET: _write_parquet,
}
