"""Exports of contacts for research: pseudonymised, as corrected, in a period, and the same bytes every time."""

from __future__ import annotations

import csv
import io
import json
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow.parquet as pq
import pytest

from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service, Verdict
from logbook import export, read_models
from logbook.application import ContactDraft, Logbook
from logbook.config import Settings
from logbook.export import (
    COLUMN_NAMES,
    ExportFormat,
    PeriodError,
    ViewsBehindError,
    export_contacts,
    parse_moment,
    parse_period,
)
from logbook.research import ResearchView

FORMATS = list(ExportFormat)
RESEARCH_KEY = b"r" * 40
UTC = timezone.utc
T0 = datetime(2025, 2, 10, 9, 17, 23, tzinfo=UTC)
"""A Monday morning, some weeks before the clock: the world's contacts happen after it."""


def research_settings(logbook: Logbook) -> Settings:
    return replace(logbook.settings, research_key=RESEARCH_KEY)


def project(logbook: Logbook, clock: Any) -> None:
    with closing(read_models.projector(logbook.settings, clock)) as projector:
        projector.catch_up()


def exported(logbook: Logbook, out_dir: Path, fmt: str, start: datetime | None = None,
             end: datetime | None = None, name: str = "export") -> bytes:
    out = out_dir / f"{name}.{fmt}"
    export_contacts(research_settings(logbook), fmt, start, end, out, wait=0)
    return out.read_bytes()


def rows_of(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """The rows of an export, as JSON Lines would give them."""
    if fmt == "jsonl":
        return [json.loads(line) for line in data.decode().splitlines()]
    if fmt == "csv":
        return [_from_csv(row) for row in csv.DictReader(io.StringIO(data.decode()))]
    table = pq.read_table(io.BytesIO(data))
    return [_from_parquet(row) for row in table.to_pylist()]


def _from_csv(row: dict[str, str]) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for name, text in row.items():
        if name in ("intern", "has_note", "corrected", "retracted"):
            typed[name] = text == "true"
        elif name == "topics":
            typed[name] = text.split(";") if text else []
        elif name in ("message_count", "duration_minutes"):
            typed[name] = int(text) if text else None
        elif name == "referred_hours":
            typed[name] = float(text) if text else None
        else:
            typed[name] = text or None
    return typed


def _from_parquet(row: dict[str, Any]) -> dict[str, Any]:
    for name in ("occurred_at", "recorded_at"):
        row[name] = row[name].strftime("%Y-%m-%dT%H:%M:%SZ")
    return row


# A world whose every id is distinctive, so that a search of the bytes finds it wherever it leaked.


class Operational:
    """Ostend's JAC with worker, intern and team lead, Kortrijk's with a worker; ids that appear nowhere else."""

    REFS = ("jonas-ref-17", "mila-ref-23", "yusuf-ref-31")
    THREADS = ("thread-jonas-private", "thread-mila-private")
    TEXTS = ("Note-Secret-Text", "Reason-Secret-Text", "Comment-Secret-Text", "Ann Operational-Name")

    def __init__(self, logbook: Logbook, clock: Any) -> None:
        self.logbook, self.clock = logbook, clock
        for team_id, organisation, site in (("jac-oost", "caw-nwvl", "Oostende"), ("jac-kort", "caw-zuid", "Kortrijk")):
            logbook.register_team(team_id=team_id, name=f"JAC {site}", organisation=organisation, site=site,
                                  service=Service.JAC)
        self.ann = self._account("ann-operational", "jac-oost", name="Ann Operational-Name")
        self.bob = self._account("bob-operational", "jac-oost", intern=True)
        self.lena = self._account("lena-operational", "jac-oost", role=Role.TEAM_LEAD)
        self.dora = self._account("dora-operational", "jac-kort")
        self.kim = self._account("kim-operational", "jac-kort", role=Role.TEAM_LEAD)
        logbook.add_account(account_id="rita-operational", name="Rita Operational-Name", role=Role.RESEARCHER)
        for who, team_id in (("ann", "jac-oost"), ("bob", "jac-oost"), ("dora", "jac-kort")):
            logbook.register_profile(profile_id=f"{who}-op-messenger", channel=Channel.MESSENGER,
                                     kind=ProfileKind.PERSONAL, team_id=team_id, users=[f"{who}-operational"])
        logbook.register_profile(profile_id="oost-op-whatsapp", channel=Channel.WHATSAPP, kind=ProfileKind.SHARED,
                                 team_id="jac-oost", users=["ann-operational", "bob-operational"])

    def _account(self, account_id: str, team_id: str, role: Role = Role.WORKER, name: str | None = None,
                 intern: bool = False) -> Any:
        account, _ = self.logbook.add_account(account_id=account_id, name=name or account_id.title(), role=role,
                                              team_id=team_id, function=Function.COUNSELLOR, intern=intern)
        return account

    def log(self, who: Any, profile_id: str, ref: str, at: datetime, **facts: Any) -> Any:
        draft = ContactDraft(client_ref=ref, profile_id=profile_id, direction=facts.pop("direction", Direction.INBOUND),
                             nature=facts.pop("nature", Nature.KEEPING_IN_TOUCH), occurred_at=at, **facts)
        return self.logbook.log_contact(who, draft)

    def live(self) -> None:
        """Contacts with threads, notes, topics, corrections, a retraction, follow-ups, an erasure and a review."""
        jonas = self.log(self.ann, "ann-op-messenger", "jonas-ref-17", T0, thread="thread-jonas-private",
                         topics=["school", "home"], note="Note-Secret-Text", duration_minutes=12)
        self.log(self.bob, "oost-op-whatsapp", "jonas-ref-17", T0 + timedelta(hours=2),
                 nature=Nature.HELP_QUESTION, thread="thread-jonas-private")
        self.log(self.ann, "oost-op-whatsapp", "jonas-ref-17", T0 + timedelta(hours=3),
                 nature=Nature.REFERRAL_SAFE_CHAT, thread="thread-jonas-private", direction=Direction.OUTBOUND)
        mila = self.log(self.bob, "bob-op-messenger", "mila-ref-23", T0 + timedelta(days=1),
                        thread="thread-mila-private", note="Note-Secret-Text")
        wrong = self.log(self.ann, "ann-op-messenger", "mila-ref-23", T0 + timedelta(days=1, hours=1))
        self.logbook.correct_contact(self.lena, jonas.contact_id, {"nature": Nature.HELP_QUESTION,
                                                                   "topics": ["school"]}, "Reason-Secret-Text")
        self.logbook.retract_contact(self.ann, wrong.contact_id, "Reason-Secret-Text")
        follow_up_id, _ = self.logbook.plan_follow_up(self.ann, jonas.client_id, self.clock.now + timedelta(days=3),
                                                      "Reason-Secret-Text")
        self.logbook.complete_follow_up(self.ann, jonas.client_id, follow_up_id)
        self.logbook.erase_client(self.lena, mila.client_id, "Reason-Secret-Text")
        self.log(self.dora, "dora-op-messenger", "yusuf-ref-31", T0 + timedelta(days=2),
                 nature=Nature.HELP_CONVERSATION, thread="thread-mila-private")
        project(self.logbook, self.clock)
        for crossing_id, client_id in self._crossings():
            self.logbook.record_review(self.kim, crossing_id=crossing_id, crossing_team_id="jac-kort",
                                       crossing_client_id=client_id, verdict=Verdict.ACCEPTABLE,
                                       comment="Comment-Secret-Text")
        project(self.logbook, self.clock)

    def _crossings(self) -> list[tuple[UUID, UUID]]:
        with closing(read_models.open_view(self.logbook.settings, "boundaries")) as view, view.reading() as cursor:
            cursor.execute("SELECT crossing_id, client_id FROM crossings ORDER BY crossing_id")
            return [(UUID(row[0]), UUID(row[1])) for row in cursor.fetchall()]

    def secrets(self) -> set[str]:
        """Every operational id in the store (hex and dashed), every account, profile and thread name, ref and text."""
        found: set[str] = {*self.REFS, *self.THREADS, *self.TEXTS}
        for notification in self.logbook.recorder.select_notifications(start=1, limit=1_000_000):
            event = self.logbook.mapper.to_domain_event(notification)
            for name, value in vars(event).items():
                found |= _secrets_in(name, value)
        return found


def _secrets_in(name: str, value: Any) -> set[str]:
    if isinstance(value, UUID):
        return {value.hex, str(value)}
    if name in ("account_id", "profile_id", "thread", "name", "reason", "comment") and isinstance(value, str):
        return {value}
    if name == "users":
        return set(value)
    return set()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """Where exports go: beside the store, not in its data directory."""
    path = tmp_path / "exports"
    path.mkdir()
    return path


@pytest.fixture
def operational(logbook: Logbook, clock: Any) -> Operational:
    world = Operational(logbook, clock)
    world.live()
    return world


# The rows.


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_exports_of_the_same_range_are_byte_identical(operational, out_dir, fmt):
    first = exported(operational.logbook, out_dir, fmt, name="first")
    second = exported(operational.logbook, out_dir, fmt, name="second")

    assert first == second
    assert len(rows_of(first, fmt)) == 6


@pytest.mark.parametrize("fmt", FORMATS)
def test_rebuilt_read_models_export_the_same_bytes(operational, out_dir, fmt, clock):
    before = exported(operational.logbook, out_dir, fmt, name="before")
    settings = operational.logbook.settings
    for name in read_models.PROJECTIONS:
        read_models.rebuild(settings, name, clock, lambda count: None)

    assert exported(operational.logbook, out_dir, fmt, name="after") == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_holds_no_operational_id_ref_name_or_text(operational, out_dir, fmt):
    data = exported(operational.logbook, out_dir, fmt)
    secrets = operational.secrets()

    assert len(secrets) > 40
    leaked = {secret for secret in secrets if secret.encode().lower() in data.lower()}
    assert leaked == set()


def test_every_format_holds_the_same_rows(operational, out_dir):
    jsonl, csv_rows, parquet = (rows_of(exported(operational.logbook, out_dir, fmt), fmt) for fmt in FORMATS)

    assert jsonl == csv_rows == parquet
    assert list(jsonl[0]) == list(COLUMN_NAMES)


def test_a_row_is_the_contact_as_corrected_in_its_research_form(operational, out_dir):
    research = ResearchView(RESEARCH_KEY)
    rows = rows_of(exported(operational.logbook, out_dir, "jsonl"), "jsonl")
    pseudonyms = research.pseudonyms
    client = pseudonyms.client(operational.logbook.look_up_client(operational.ann, "jonas-ref-17"))

    first = rows[0]
    assert first == first | {
        "client": client, "account": pseudonyms.account("ann-operational"),
        "profile": pseudonyms.profile("ann-op-messenger"), "thread": research.thread("thread-jonas-private"),
        "team_id": "jac-oost", "site": "Oostende", "account_function": "counsellor", "intern": False,
        "channel": "messenger", "profile_kind": "personal", "direction": "inbound",
        "nature": "help_question", "occurred_at": "2025-02-10T09:00:00Z", "recorded_at": "2025-03-01T12:00:00Z",
        "message_count": 1, "duration_minutes": 12, "topics": ["school"], "has_note": True, "corrected": True,
        "retracted": False,
    }
    assert first["conversation"].startswith("conversation-")
    assert first["referred_hours"] == 3.0  # referred to the safe chat three hours after the help question


def test_a_retracted_contact_stays_flagged_and_the_intern_is_named_as_such(operational, out_dir):
    rows = rows_of(exported(operational.logbook, out_dir, "jsonl"), "jsonl")

    assert [row["retracted"] for row in rows] == [False, False, False, False, True, False]
    assert [row["intern"] for row in rows] == [False, True, False, True, False, False]
    assert rows[3]["has_note"] and rows[3]["client"] == rows[4]["client"]  # Mila's notes are erased, not unsaid


def test_the_period_takes_contacts_from_its_start_inclusive_to_its_end_exclusive(operational, out_dir):
    def occurred(start: datetime | None, end: datetime | None) -> list[str]:
        return [row["occurred_at"] for row in rows_of(exported(operational.logbook, out_dir, "jsonl", start, end),
                                                       "jsonl")]

    assert occurred(T0, T0 + timedelta(hours=3)) == ["2025-02-10T09:00:00Z", "2025-02-10T11:00:00Z"]
    assert occurred(T0 + timedelta(microseconds=1), None)[0] == "2025-02-10T11:00:00Z"
    assert occurred(None, T0) == []
    assert len(occurred(parse_moment("2025-02-11"), parse_moment("2025-02-12"))) == 2  # midnight in Brussels


def test_a_date_means_midnight_in_brussels(operational, out_dir):
    late = operational.log(operational.dora, "dora-op-messenger", "yusuf-ref-31",
                           datetime(2025, 2, 14, 23, 30, tzinfo=UTC))  # 00:30 on the 15th in Brussels
    project(operational.logbook, operational.clock)

    def contacts_on(day: str, next_day: str) -> list[str]:
        rows = rows_of(exported(operational.logbook, out_dir, "jsonl", parse_moment(day), parse_moment(next_day)),
                       "jsonl")
        return [row["contact"] for row in rows]

    assert contacts_on("2025-02-15", "2025-02-16") == [ResearchView(RESEARCH_KEY).pseudonyms.contact(late.contact_id)]
    assert contacts_on("2025-02-14", "2025-02-15") == []


def test_a_correction_moves_a_contact_in_or_out_of_the_period(operational, out_dir, clock):
    moved = operational.log(operational.ann, "ann-op-messenger", "jonas-ref-17", T0 + timedelta(days=5))
    operational.logbook.correct_contact(operational.ann, moved.contact_id,
                                        {"occurred_at": T0 - timedelta(days=1)}, "Reason-Secret-Text")
    project(operational.logbook, clock)

    earlier = rows_of(exported(operational.logbook, out_dir, "jsonl", None, T0), "jsonl")
    later = rows_of(exported(operational.logbook, out_dir, "jsonl", T0 + timedelta(days=4), None), "jsonl")

    assert [(row["occurred_at"], row["corrected"]) for row in earlier] == [("2025-02-09T09:00:00Z", True)]
    assert later == []


def test_rows_of_one_truncated_moment_are_ordered_by_pseudonym_not_by_their_minutes(operational, out_dir, clock):
    for minute in range(1, 40, 3):
        operational.log(operational.dora, "dora-op-messenger", "yusuf-ref-31",
                        T0 + timedelta(days=3, minutes=minute))
    project(operational.logbook, clock)

    rows = rows_of(exported(operational.logbook, out_dir, "jsonl", T0 + timedelta(days=3), None), "jsonl")

    assert len(rows) == 13 and {row["occurred_at"] for row in rows} == {"2025-02-13T09:00:00Z"}
    assert [row["contact"] for row in rows] == sorted(row["contact"] for row in rows)


def test_the_parquet_file_has_the_documented_schema_and_no_metadata_of_the_run(operational, out_dir):
    data = exported(operational.logbook, out_dir, "parquet")

    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.schema_arrow == export.PARQUET_SCHEMA
    assert parquet.metadata.created_by.startswith("parquet-cpp-arrow")
    assert set(parquet.metadata.metadata) == {b"ARROW:schema"}  # no key-value metadata of the run
    assert str(parquet.schema_arrow.field("occurred_at").type) == "timestamp[ms, tz=UTC]"


def test_an_empty_period_gives_an_empty_file_of_each_format(operational, out_dir):
    empty = {fmt: exported(operational.logbook, out_dir, fmt, None, T0 - timedelta(days=365)) for fmt in FORMATS}

    assert empty["jsonl"] == b""
    assert empty["csv"] == (",".join(COLUMN_NAMES) + "\n").encode()
    assert pq.read_table(io.BytesIO(empty["parquet"])).num_rows == 0


def test_progress_counts_up_to_the_total(operational, out_dir):
    calls: list[tuple[int, int]] = []

    count = export_contacts(research_settings(operational.logbook), "csv", None, None, out_dir / "out.csv",
                            lambda done, total: calls.append((done, total)), wait=0)

    assert count == 6
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)


def test_contacts_the_read_models_hold_beyond_the_head_are_neither_counted_nor_exported(
        operational, out_dir, clock, monkeypatch):
    head = operational.logbook.recorder.max_notification_id()
    operational.log(operational.ann, "ann-op-messenger", "jonas-ref-17", T0 + timedelta(days=6))
    project(operational.logbook, clock)
    monkeypatch.setattr(export, "_caught_up", lambda settings, views, wait: head)  # as if logged mid-export
    calls: list[tuple[int, int]] = []

    count = export_contacts(research_settings(operational.logbook), "jsonl", None, None, out_dir / "out.jsonl",
                            lambda done, total: calls.append((done, total)), wait=0)

    assert count == 6
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)
    assert len((out_dir / "out.jsonl").read_bytes().splitlines()) == 6


# Refusals and failures.


def test_an_export_refuses_while_a_read_model_is_behind_and_writes_nothing(operational, out_dir):
    operational.log(operational.ann, "ann-op-messenger", "jonas-ref-17", T0 + timedelta(days=6))
    out = out_dir / "out.jsonl"

    with pytest.raises(ViewsBehindError, match="Nothing was exported"):
        export_contacts(research_settings(operational.logbook), "jsonl", None, None, out, wait=0)

    assert list(out_dir.iterdir()) == []


def test_a_failed_export_leaves_neither_the_file_nor_a_half_of_it(operational, out_dir, monkeypatch):
    def failing(file: Any, rows: Any) -> int:
        file.write(b'{"half": ')
        raise OSError("disk full")
    monkeypatch.setitem(export.WRITERS, ExportFormat.JSONL, failing)
    out = out_dir / "out.jsonl"
    out.write_bytes(b"an earlier export\n")

    with pytest.raises(OSError, match="disk full"):
        export_contacts(research_settings(operational.logbook), "jsonl", None, None, out, wait=0)

    assert [path.name for path in out_dir.iterdir()] == ["out.jsonl"]
    assert out.read_bytes() == b"an earlier export\n"


def test_an_export_without_a_research_key_is_refused(operational, out_dir):
    from logbook.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="LOGBOOK_RESEARCH_KEY"):
        export_contacts(operational.logbook.settings, "jsonl", None, None, out_dir / "out.jsonl", wait=0)


# The period on the command line.


def test_a_period_takes_dates_in_brussels_and_moments_with_their_offset():
    start, end = parse_period("2025-07-01", "2025-07-02T12:00:00+02:00")

    assert start == datetime(2025, 6, 30, 22, 0, tzinfo=UTC)
    assert end == datetime(2025, 7, 2, 10, 0, tzinfo=UTC)
    assert parse_period(None, None) == (None, None)


@pytest.mark.parametrize(("start", "end", "option"), [
    ("2025-07-01T12:00:00", None, "--from"),
    ("yesterday", None, "--from"),
    (None, "20250701", "--to"),
    ("2025-07-02", "2025-07-01", "--to"),
    ("2025-07-01", "2025-07-01", "--to"),
])
def test_a_period_without_offset_or_backwards_is_refused_naming_its_option(start, end, option):
    with pytest.raises(PeriodError) as refused:
        parse_period(start, end)

    assert refused.value.option == option


@pytest.mark.parametrize("unit", ["minute", "hour", "day"])
def test_the_export_truncates_stored_moments_exactly_as_the_research_view_does(unit):
    from logbook.export import stored_moment_truncator
    from projections.storage import moment_text

    research, truncate = ResearchView(RESEARCH_KEY, unit), stored_moment_truncator(unit)
    brussels = parse_moment("2025-03-30")  # the night the clocks go forward
    moments = [brussels + timedelta(minutes=37 * step, seconds=step, microseconds=step) for step in range(200)]

    assert [truncate(moment_text(moment)) for moment in moments] == [research.moment(moment) for moment in moments]
