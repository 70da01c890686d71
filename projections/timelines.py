"""Client follow-up timelines: what happened with each client, and what is planned.

The projection keeps each client's contacts as corrected (a retracted one is
marked, never removed), its follow-ups, the teams that met it, and a summary
row: when it was last contacted, how, and what is still open. Nothing here
knows the time: a client's status is computed when it is read, by one SQL
expression, `CLIENT_STATUS`.

Times are stored as fixed-width ISO 8601 UTC text, so that text order is time
order; ids as 32 hex digits, as the event store keeps them. Free text (the
reasons of corrections, retractions and follow-ups) stays in the event store.
A contact's note is kept sealed, as its event holds it, and dropped from the view
when the client's notes are erased or expire.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from events import CORRECTABLE_FIELDS, Client, Contact, Policy, Review
from events.catalogue import DIRECTORY_EVENTS
from events.listings import LISTINGS
from events.vocabulary import REFERRALS
from projections.base import PagedProjection, View
from projections.sql import Cursor, Database
from projections.storage import (
    ID_PART,
    MOMENT_PART,
    decode_cursor,
    encode_cursor,
    moment_of,
    moment_text,
    optional_moment,
)

T = TypeVar("T")

IGNORED_EVENTS: tuple[type, ...] = (*DIRECTORY_EVENTS, Policy.Published, Review.Recorded, *LISTINGS)
"""The directory, the boundary policy and its reviews, the application's lists: nothing a timeline shows."""


class ClientStatus(StrEnum):
    """Where a client stands, the first that applies."""

    OVERDUE = "overdue"
    FOLLOW_UP_DUE = "follow_up_due"
    REFERRED = "referred"
    DORMANT = "dormant"
    ACTIVE = "active"


class FollowUpStatus(StrEnum):
    """A follow-up on a client's timeline."""

    COMPLETED = "completed"
    OVERDUE = "overdue"
    PLANNED = "planned"


class OpenFollowUpStatus(StrEnum):
    """An open follow-up on a team's list: past its due moment, or not yet."""

    OVERDUE = "overdue"
    DUE = "due"


# Cursors: the sort key of the last item of a page.

TIMELINE_CURSOR = (MOMENT_PART, ID_PART)
TEAM_CLIENTS_CURSOR = (ID_PART,)
TEAM_FOLLOW_UPS_CURSOR = (MOMENT_PART, ID_PART)


# What the view answers.


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class ContactItem:
    type: ClassVar[str] = "contact"
    contact_id: UUID
    occurred_at: datetime
    recorded_at: datetime
    team_id: str
    account_id: str
    profile_id: str
    profile_kind: str
    channel: str
    direction: str
    nature: str
    thread: str | None
    message_count: int
    duration_minutes: int | None
    topics: tuple[str, ...]
    corrected: bool
    retracted: bool
    note_key_id: UUID | None
    sealed_note: str | None
    """The note as its event holds it; only the application can open it, for the team that wrote it."""
    note_erased: bool


@dataclass(frozen=True)
class FollowUpItem:
    type: ClassVar[str] = "follow_up"
    follow_up_id: UUID
    occurred_at: datetime
    """The due moment: where the follow-up sits on the timeline."""
    due: datetime
    planned_at: datetime
    completed_at: datetime | None
    team_id: str
    account_id: str
    status: FollowUpStatus


@dataclass(frozen=True)
class Timeline:
    client_id: UUID
    status: ClientStatus
    last_contact_at: datetime | None
    items: tuple[ContactItem | FollowUpItem, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class TeamClient:
    client_id: UUID
    status: ClientStatus
    last_contact_at: datetime | None
    next_due: datetime | None
    open_follow_ups: int


@dataclass(frozen=True)
class TeamFollowUp:
    follow_up_id: UUID
    client_id: UUID
    due: datetime
    planned_at: datetime
    account_id: str
    status: OpenFollowUpStatus


# The view.

_REFERRALS_SQL = ", ".join(f"'{nature}'" for nature in sorted(REFERRALS))
CLIENT_STATUS = f"""CASE
    WHEN clients.next_due < :now THEN 'overdue'
    WHEN clients.open_follow_ups > 0 THEN 'follow_up_due'
    WHEN clients.last_nature IN ({_REFERRALS_SQL}) THEN 'referred'
    WHEN clients.last_contact_at IS NULL OR clients.last_contact_at < :dormant_before THEN 'dormant'
    ELSE 'active' END"""
"""A client's status as of ``:now``, the one expression both the timeline and the team's list use."""

_CONTACT_COLUMNS = (
    "team_id, account_id, profile_id, profile_kind, channel, direction, nature, thread, "
    "message_count, duration_minutes, topics, corrected, retracted, note_key_id, sealed_note, note_erased"
)
_NO_NUMBER = "CAST(NULL AS BIGINT)"
"""A follow-up's empty number columns: PostgreSQL types a bare NULL in a subquery as text, which no union matches."""
_TIMELINE = f"""
SELECT * FROM (
    SELECT 'contact' AS type, contact_id AS id, occurred_at, recorded_at, {_CONTACT_COLUMNS},
           NULL AS due, NULL AS planned_at, NULL AS completed_at, NULL AS status
    FROM contacts
    WHERE client_id = :client_id AND (occurred_at, contact_id) > (:after_at, :after_id)
    ORDER BY occurred_at, contact_id LIMIT :limit) AS contact_items
UNION ALL
SELECT * FROM (
    SELECT 'follow_up', follow_up_id, due, NULL, team_id, account_id, NULL, NULL, NULL, NULL, NULL, NULL,
           {_NO_NUMBER}, {_NO_NUMBER}, NULL, {_NO_NUMBER}, {_NO_NUMBER}, NULL, NULL, {_NO_NUMBER},
           due, planned_at, completed_at,
           CASE WHEN completed_at IS NOT NULL THEN 'completed' WHEN due < :now THEN 'overdue' ELSE 'planned' END
    FROM follow_ups
    WHERE client_id = :client_id AND (due, follow_up_id) > (:after_at, :after_id)
    ORDER BY due, follow_up_id LIMIT :limit) AS follow_up_items
ORDER BY occurred_at, id LIMIT :limit"""
_TEAM_CLIENTS = f"""
SELECT * FROM (
    SELECT client_teams.client_id AS client_id, last_contact_at, next_due, open_follow_ups,
           {CLIENT_STATUS} AS status
    FROM client_teams JOIN clients ON clients.client_id = client_teams.client_id
    WHERE client_teams.team_id = :team_id AND client_teams.client_id > :after_id) AS team_clients
WHERE CAST(:status AS TEXT) IS NULL OR status = :status
ORDER BY client_id LIMIT :limit"""
_TEAM_FOLLOW_UPS = """
SELECT follow_up_id, client_id, due, planned_at, account_id,
       CASE WHEN due < :now THEN 'overdue' ELSE 'due' END AS status
FROM follow_ups
WHERE team_id = :team_id AND completed_at IS NULL AND (due, follow_up_id) > (:after_at, :after_id)
  AND due < :before
ORDER BY due, follow_up_id LIMIT :limit"""
_END_OF_TIME = "~"
"""Sorts after every moment text."""


class TimelineView(View):
    """Each client's contacts and follow-ups, and the teams that met it."""

    schema_version = 2
    """2: contacts hold their sealed notes."""

    deferred_indexes = (
        "CREATE INDEX IF NOT EXISTS follow_ups_by_team ON follow_ups (team_id, completed_at, due)",
        "CREATE INDEX IF NOT EXISTS client_teams_by_client ON client_teams (client_id)",
    )
    """The indexes writing never reads through; the clients' summaries read contacts and follow-ups by client."""
    tables = (
        """CREATE TABLE IF NOT EXISTS contacts (
            contact_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, position INTEGER NOT NULL,
            occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, team_id TEXT NOT NULL,
            account_id TEXT NOT NULL, profile_id TEXT NOT NULL, profile_kind TEXT NOT NULL,
            channel TEXT NOT NULL, direction TEXT NOT NULL, nature TEXT NOT NULL, thread TEXT,
            message_count INTEGER NOT NULL, duration_minutes INTEGER, topics TEXT NOT NULL,
            corrected INTEGER NOT NULL, retracted INTEGER NOT NULL,
            note_key_id TEXT, sealed_note TEXT, note_erased INTEGER NOT NULL)""",
        # Contacts keep their rowid: their rows are wide and arrive in time order.
        "CREATE INDEX IF NOT EXISTS contacts_by_client ON contacts (client_id, occurred_at, contact_id)",
        """CREATE TABLE IF NOT EXISTS follow_ups (
            follow_up_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, team_id TEXT NOT NULL,
            account_id TEXT NOT NULL, due TEXT NOT NULL, planned_at TEXT NOT NULL, completed_at TEXT
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS follow_ups_by_client ON follow_ups (client_id, due)",
        """CREATE TABLE IF NOT EXISTS clients (
            client_id TEXT PRIMARY KEY, organisation TEXT, last_contact_at TEXT, last_nature TEXT,
            open_follow_ups INTEGER NOT NULL DEFAULT 0, next_due TEXT
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS client_teams (
            team_id TEXT NOT NULL, client_id TEXT NOT NULL, PRIMARY KEY (team_id, client_id)
        ) WITHOUT ROWID""",
        *deferred_indexes,
    )

    def timeline(
        self, client_id: UUID, *, now: datetime, dormant_after: timedelta, cursor: str | None, limit: int
    ) -> Timeline | None:
        """A client's contacts and follow-ups by the time they happen (are due); None for an unknown client."""
        after_at, after_id = decode_cursor(cursor, TIMELINE_CURSOR) if cursor else ("", "")
        params = {
            "client_id": client_id.hex, "after_at": after_at, "after_id": after_id, "limit": limit + 1,
            **_status_params(now, dormant_after),
        }
        with self.reading() as db:
            db.execute(f"SELECT last_contact_at, {CLIENT_STATUS} AS status FROM clients WHERE client_id = :client_id",
                       params)
            client = db.fetchone()
            if client is None:
                return None
            db.execute(_TIMELINE, params)
            page = _page(db.fetchall(), limit, _timeline_item, ("occurred_at", "id"))
        return Timeline(
            client_id, ClientStatus(client["status"]), optional_moment(client["last_contact_at"]),
            page.items, page.next_cursor,
        )

    def team_clients(
        self, team_id: str, *, status: str | None, now: datetime, dormant_after: timedelta,
        cursor: str | None, limit: int,
    ) -> Page[TeamClient]:
        """The clients a team met, by id, with their status; only those of ``status`` if given."""
        (after_id,) = decode_cursor(cursor, TEAM_CLIENTS_CURSOR) if cursor else ("",)
        params = {
            "team_id": team_id, "status": ClientStatus(status) if status else None, "after_id": after_id,
            "limit": limit + 1, **_status_params(now, dormant_after),
        }
        with self.reading() as db:
            db.execute(_TEAM_CLIENTS, params)
            return _page(db.fetchall(), limit, _team_client, ("client_id",))

    def team_follow_ups(
        self, team_id: str, *, status: str | None, now: datetime, cursor: str | None, limit: int
    ) -> Page[TeamFollowUp]:
        """The open follow-ups a team planned, by due moment; only overdue ones, or not yet due ones, if asked."""
        wanted = OpenFollowUpStatus(status) if status else None
        after = decode_cursor(cursor, TEAM_FOLLOW_UPS_CURSOR) if cursor else ("", "")
        now_text = moment_text(now)
        if wanted is OpenFollowUpStatus.DUE:  # due >= now, as a bound the index serves
            after = max(after, (now_text, ""))
        before = now_text if wanted is OpenFollowUpStatus.OVERDUE else _END_OF_TIME
        params = {
            "team_id": team_id, "now": now_text, "after_at": after[0], "after_id": after[1],
            "before": before, "limit": limit + 1,
        }
        with self.reading() as db:
            db.execute(_TEAM_FOLLOW_UPS, params)
            return _page(db.fetchall(), limit, _team_follow_up, ("due", "follow_up_id"))

    def knows_client(self, client_id: UUID) -> bool:
        with self.reading() as db:
            db.execute("SELECT 1 FROM clients WHERE client_id = ?", (client_id.hex,))
            return db.fetchone() is not None

    def clients_silent_since(self, cutoff: datetime) -> list[UUID]:
        """The clients whose every contact, retracted ones too, happened before ``cutoff``, by id."""
        with self.reading() as db:
            db.execute(
                "SELECT client_id FROM contacts GROUP BY client_id HAVING MAX(occurred_at) < ? ORDER BY client_id",
                (moment_text(cutoff),),
            )
            return [UUID(row["client_id"]) for row in db.fetchall()]

    def client_team_ids(self, client_id: UUID) -> set[str]:
        """The teams that met the client."""
        with self.reading() as db:
            db.execute("SELECT team_id FROM client_teams WHERE client_id = ?", (client_id.hex,))
            return {row["team_id"] for row in db.fetchall()}


def _status_params(now: datetime, dormant_after: timedelta) -> dict[str, str]:
    return {"now": moment_text(now), "dormant_before": moment_text(now - dormant_after)}


def _page(rows: list[Any], limit: int, item: Callable[[Any], T], key: tuple[str, ...]) -> Page[T]:
    """The first ``limit`` rows as items, and a cursor after the last of them if there are more."""
    next_cursor = encode_cursor(*(rows[limit - 1][column] for column in key)) if len(rows) > limit else None
    return Page(tuple(item(row) for row in rows[:limit]), next_cursor)


def _timeline_item(row: Any) -> ContactItem | FollowUpItem:
    if row["type"] == "follow_up":
        return FollowUpItem(
            UUID(row["id"]), moment_of(row["occurred_at"]), moment_of(row["due"]), moment_of(row["planned_at"]),
            optional_moment(row["completed_at"]), row["team_id"], row["account_id"], FollowUpStatus(row["status"]),
        )
    return ContactItem(
        UUID(row["id"]), moment_of(row["occurred_at"]), moment_of(row["recorded_at"]), row["team_id"],
        row["account_id"], row["profile_id"], row["profile_kind"], row["channel"], row["direction"], row["nature"],
        row["thread"], row["message_count"], row["duration_minutes"], tuple(json.loads(row["topics"])),
        bool(row["corrected"]), bool(row["retracted"]),
        UUID(row["note_key_id"]) if row["note_key_id"] else None, row["sealed_note"], bool(row["note_erased"]),
    )


def _team_client(row: Any) -> TeamClient:
    return TeamClient(
        UUID(row["client_id"]), ClientStatus(row["status"]), optional_moment(row["last_contact_at"]),
        optional_moment(row["next_due"]), row["open_follow_ups"],
    )


def _team_follow_up(row: Any) -> TeamFollowUp:
    return TeamFollowUp(
        UUID(row["follow_up_id"]), UUID(row["client_id"]), moment_of(row["due"]), moment_of(row["planned_at"]),
        row["account_id"], OpenFollowUpStatus(row["status"]),
    )


# The projection.

_INSERT_CLIENT = """INSERT INTO clients (client_id, organisation) VALUES (?, ?)
    ON CONFLICT (client_id) DO UPDATE SET organisation = COALESCE(excluded.organisation, clients.organisation)"""
_INSERTED_CONTACT_COLUMNS = ("contact_id", "client_id", "position", "occurred_at", "recorded_at",
                             *_CONTACT_COLUMNS.split(", "))
_INSERT_CONTACT = (
    f"INSERT INTO contacts ({', '.join(_INSERTED_CONTACT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_INSERTED_CONTACT_COLUMNS))})"
)
_COLUMN = {name: index for index, name in enumerate(_INSERTED_CONTACT_COLUMNS)}
"""Where each column is in a new contact's row, a list as `_INSERT_CONTACT` takes it: positional values bind
faster than named ones, and a list is made in a third of the time of a dict of its columns."""
_CLIENT_ID, _SEALED_NOTE, _NOTE_ERASED = _COLUMN["client_id"], _COLUMN["sealed_note"], _COLUMN["note_erased"]
_SHRED_NOTES = """UPDATE contacts SET sealed_note = NULL, note_erased = 1
    WHERE client_id = :client_id AND position < :position"""
_AMEND_CONTACT = (
    "UPDATE contacts SET "
    + ", ".join(f"{name} = CASE WHEN :set_{name} THEN :{name} ELSE {name} END" for name in sorted(CORRECTABLE_FIELDS))
    + ", corrected = CASE WHEN :corrected > corrected THEN :corrected ELSE corrected END"
    + ", retracted = CASE WHEN :retracted > retracted THEN :retracted ELSE retracted END WHERE contact_id = :contact_id"
)
_INSERT_FOLLOW_UP = """
INSERT INTO follow_ups (follow_up_id, client_id, team_id, account_id, due, planned_at, completed_at)
    VALUES (:follow_up_id, :client_id, :team_id, :account_id, :due, :planned_at, :completed_at)"""
_REFRESH_CLIENT = """UPDATE clients SET
    (last_contact_at, last_nature) = (
        SELECT occurred_at, nature FROM contacts WHERE client_id = :client_id AND retracted = 0
        ORDER BY occurred_at DESC, contact_id DESC LIMIT 1),
    (open_follow_ups, next_due) = (
        SELECT COUNT(*), MIN(due) FROM follow_ups WHERE client_id = :client_id AND completed_at IS NULL)
    WHERE client_id = :client_id"""


@dataclass
class _Changes:
    """What the events of one page changed, until it is written."""

    clients: dict[str, str | None] = field(default_factory=dict)
    """Client id to organisation, None while only a contact told of the client."""
    client_teams: set[tuple[str, str]] = field(default_factory=set)
    contacts: dict[str, list[Any]] = field(default_factory=dict)
    """New contacts' rows, by contact id, their columns in `_COLUMN`'s places."""
    amendments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Changed columns of contacts written by an earlier page."""
    follow_ups: dict[str, dict[str, Any]] = field(default_factory=dict)
    completions: dict[str, str] = field(default_factory=dict)
    """Completion moments of follow-ups written by an earlier page."""
    touched: set[str] = field(default_factory=set)
    """Clients whose summary must be computed again."""
    shreddings: list[dict[str, Any]] = field(default_factory=list)
    """Erasures and expiries of notes, with the position up to which they shred."""

    def meet(self, client_id: str, team_id: str, organisation: str | None = None) -> None:
        if organisation is not None or client_id not in self.clients:
            self.clients[client_id] = organisation
        self.client_teams.add((team_id, client_id))
        self.touched.add(client_id)


class Timelines(PagedProjection[TimelineView]):
    """Projects contacts, corrections, retractions and follow-ups onto each client's timeline."""

    name = "timelines"

    def __init__(self, view: TimelineView) -> None:
        super().__init__(view)
        self._changes = _Changes()
        self._written_clients: set[str] = set()
        self._written_client_teams: set[tuple[str, str]] = set()
        self._handlers: dict[type, Callable[[Any, int], None]] = {
            Contact.Logged: self._contact_logged,
            Contact.Corrected: self._contact_corrected,
            Contact.Retracted: self._contact_retracted,
            Client.Registered: self._client_registered,
            Client.MetByTeam: self._client_met_by_team,
            Client.FollowUpPlanned: self._follow_up_planned,
            Client.FollowUpCompleted: self._follow_up_completed,
            Client.Erased: self._notes_shredded,
            Client.NotesExpired: self._notes_shredded,
            **{event_class: _ignore for event_class in IGNORED_EVENTS},
        }

    def apply(self, domain_event: Any, position: int) -> None:
        self._handlers.get(type(domain_event), self._refuse)(domain_event, position)

    def _refuse(self, domain_event: Any, position: int) -> None:
        self._changes = _Changes()  # nothing of the page is applied
        raise self.unhandled(domain_event, position)

    def write(self, cursor: Cursor) -> None:
        changes, self._changes = self._changes, _Changes()
        # A client this projection wrote, met again with no organisation, or a team it met again, changes no row.
        written = self._written_clients
        cursor.executemany(_INSERT_CLIENT, [(client_id, organisation) for client_id, organisation
                                            in changes.clients.items() if organisation is not None
                                            or client_id not in written])
        written.update(changes.clients)
        cursor.executemany("INSERT INTO client_teams (team_id, client_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           sorted(changes.client_teams - self._written_client_teams))
        self._written_client_teams |= changes.client_teams
        cursor.executemany(_INSERT_CONTACT, changes.contacts.values())
        cursor.executemany(_INSERT_FOLLOW_UP, changes.follow_ups.values())
        cursor.executemany(_AMEND_CONTACT, [_amendment_params(i, c) for i, c in changes.amendments.items()])
        cursor.executemany("UPDATE follow_ups SET completed_at = ? WHERE follow_up_id = ?",
                           [(completed_at, i) for i, completed_at in changes.completions.items()])
        cursor.executemany(_SHRED_NOTES, changes.shreddings)
        touched = changes.touched | _clients_of(self.view.database, cursor, changes.amendments)
        cursor.executemany(_REFRESH_CLIENT, [{"client_id": client_id} for client_id in sorted(touched)])

    def _contact_logged(self, event: Contact.Logged, position: int) -> None:
        client_id, contact_id = event.client_id.hex, event.originator_id.hex
        self._changes.contacts[contact_id] = [  # in the order of _INSERTED_CONTACT_COLUMNS
            contact_id, client_id, position, moment_text(event.occurred_at), moment_text(event.timestamp),
            event.team_id, event.account_id, event.profile_id, str(event.profile_kind), str(event.channel),
            str(event.direction), str(event.nature), event.thread, event.message_count, event.duration_minutes,
            _topics_text(tuple(event.topics)), 0, 0, event.note_key_id.hex if event.note_key_id else None,
            event.sealed_note, 0,
        ]
        # The team that logs a contact has met the client, whichever page its Client events land in.
        self._changes.meet(client_id, event.team_id)

    def _contact_corrected(self, event: Contact.Corrected, position: int) -> None:
        if not set(event.changes) <= CORRECTABLE_FIELDS:
            self._refuse(event, position)
        changes = {key: _column_value(key, value) for key, value in event.changes.items()}
        self._amend(event.originator_id.hex, {**changes, "corrected": 1})

    def _contact_retracted(self, event: Contact.Retracted, position: int) -> None:
        self._amend(event.originator_id.hex, {"retracted": 1})

    def _amend(self, contact_id: str, columns: dict[str, Any]) -> None:
        row = self._changes.contacts.get(contact_id)
        if row is None:
            self._changes.amendments.setdefault(contact_id, {}).update(columns)
        else:
            for name, value in columns.items():
                row[_COLUMN[name]] = value
            self._changes.touched.add(row[_CLIENT_ID])

    def _client_registered(self, event: Client.Registered, position: int) -> None:
        self._changes.meet(event.originator_id.hex, event.team_id, event.organisation)

    def _client_met_by_team(self, event: Client.MetByTeam, position: int) -> None:
        self._changes.meet(event.originator_id.hex, event.team_id)

    def _follow_up_planned(self, event: Client.FollowUpPlanned, position: int) -> None:
        self._changes.follow_ups[event.follow_up_id.hex] = {
            "follow_up_id": event.follow_up_id.hex, "client_id": event.originator_id.hex,
            "team_id": event.team_id, "account_id": event.account_id, "due": moment_text(event.due),
            "planned_at": moment_text(event.timestamp), "completed_at": None,
        }
        self._changes.touched.add(event.originator_id.hex)

    def _notes_shredded(self, event: Client.Erased | Client.NotesExpired, position: int) -> None:
        """The client's key is gone: its sealed notes are dropped from the view, and marked erased."""
        client_id = event.originator_id.hex
        for row in self._changes.contacts.values():
            if row[_CLIENT_ID] == client_id:
                row[_SEALED_NOTE], row[_NOTE_ERASED] = None, 1
        self._changes.shreddings.append({"client_id": client_id, "position": position})

    def _follow_up_completed(self, event: Client.FollowUpCompleted, position: int) -> None:
        completed_at = moment_text(event.timestamp)
        row = self._changes.follow_ups.get(event.follow_up_id.hex)
        if row is None:
            self._changes.completions[event.follow_up_id.hex] = completed_at
        else:
            row["completed_at"] = completed_at
        self._changes.touched.add(event.originator_id.hex)


def _ignore(domain_event: Any, position: int) -> None:
    """An event that changes nothing on a timeline."""


def _column_value(key: str, value: Any) -> Any:
    """A corrected value as its column holds it (the stored JSON gives back times, and strings for words)."""
    if key == "occurred_at":
        return moment_text(value)
    if key == "topics":
        return _topics_text(tuple(value))
    if key in ("nature", "direction"):
        return str(value)
    return value


@lru_cache(maxsize=4096)
def _topics_text(topics: tuple[str, ...]) -> str:
    """Topics as their column holds them: a JSON array. Contacts share a few combinations of topics,
    so each is encoded once rather than once per contact (json.dumps is slow for small lists)."""
    return json.dumps(list(topics))


def _amendment_params(contact_id: str, columns: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"contact_id": contact_id, "corrected": 0, "retracted": 0}
    for name in CORRECTABLE_FIELDS:
        params[f"set_{name}"] = name in columns
        params[name] = columns.get(name)
    return params | {key: columns[key] for key in ("corrected", "retracted") if key in columns}


def _clients_of(database: Database, cursor: Cursor, contact_ids: Collection[str]) -> set[str]:
    """The clients of contacts written by earlier pages."""
    if not contact_ids:
        return set()
    cursor.execute(
        "SELECT DISTINCT client_id FROM contacts "
        f"WHERE contact_id IN (SELECT ids.value FROM {database.json_elements('?', 'ids')})",
        (json.dumps(list(contact_ids)),),
    )
    return {row["client_id"] for row in cursor.fetchall()}
