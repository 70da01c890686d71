"""Client timelines and a team's lists of clients and follow-ups, read from the `timelines` read model."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from flask import current_app
from marshmallow import RAISE, Schema, fields

from api.audit import AuditAction, audit
from api.blueprint import Blueprint
from api.extension import logbook
from api.guard import actor, allow
from api.read_models import ReadSchema, cursor_field, limit_field, read_model
from events.errors import NotFoundError
from logbook import access
from logbook.access import Action
from logbook.notes import SealedNote
from projections.timelines import (
    TEAM_CLIENTS_CURSOR,
    TEAM_FOLLOW_UPS_CURSOR,
    TIMELINE_CURSOR,
    ClientStatus,
    ContactItem,
    FollowUpStatus,
    OpenFollowUpStatus,
    Timeline,
    TimelineView,
)

blp = Blueprint("timelines", __name__, url_prefix="/api/v1", description="Client timelines and team follow-up lists")


class TimelineQuerySchema(ReadSchema):
    cursor = cursor_field(TIMELINE_CURSOR)
    limit = limit_field()


class TeamClientsQuerySchema(ReadSchema):
    status = fields.Enum(ClientStatus, by_value=True)
    cursor = cursor_field(TEAM_CLIENTS_CURSOR)
    limit = limit_field()


class TeamFollowUpsQuerySchema(ReadSchema):
    status = fields.Enum(OpenFollowUpStatus, by_value=True,
                         metadata={"description": "overdue: due before now; due: not yet overdue."})
    cursor = cursor_field(TEAM_FOLLOW_UPS_CURSOR)
    limit = limit_field()


class TimelineItemSchema(Schema):
    """A contact (type `contact`) or a follow-up (type `follow_up`); each has only its own fields."""

    type = fields.String(metadata={"enum": ["contact", "follow_up"]})
    contact_id = fields.UUID()
    follow_up_id = fields.UUID()
    occurred_at = fields.AwareDateTime(format="iso", metadata={"description": "For a follow-up, its due moment."})
    recorded_at = fields.AwareDateTime(format="iso")
    team_id = fields.String()
    account_id = fields.String()
    profile_id = fields.String()
    profile_kind = fields.String()
    channel = fields.String()
    direction = fields.String()
    nature = fields.String()
    thread = fields.String(allow_none=True)
    message_count = fields.Integer()
    duration_minutes = fields.Integer(allow_none=True)
    topics = fields.List(fields.String())
    corrected = fields.Boolean()
    retracted = fields.Boolean()
    note = fields.String(allow_none=True, metadata={"description": "In clear for the team that wrote it; else null."})
    note_erased = fields.Boolean(metadata={"description": "The client was erased after this contact: no note."})
    due = fields.AwareDateTime(format="iso")
    planned_at = fields.AwareDateTime(format="iso")
    completed_at = fields.AwareDateTime(format="iso", allow_none=True)
    status = fields.Enum(FollowUpStatus, by_value=True)


class TimelineSchema(Schema):
    client_id = fields.UUID()
    status = fields.Enum(ClientStatus, by_value=True)
    last_contact_at = fields.AwareDateTime(format="iso", allow_none=True)
    items = fields.List(fields.Nested(TimelineItemSchema))
    next_cursor = fields.String(allow_none=True)


class TeamClientSchema(Schema):
    client_id = fields.UUID()
    status = fields.Enum(ClientStatus, by_value=True)
    last_contact_at = fields.AwareDateTime(format="iso", allow_none=True)
    next_due = fields.AwareDateTime(format="iso", allow_none=True)
    open_follow_ups = fields.Integer()


class TeamClientPageSchema(Schema):
    items = fields.List(fields.Nested(TeamClientSchema))
    next_cursor = fields.String(allow_none=True)


class TeamFollowUpSchema(Schema):
    follow_up_id = fields.UUID()
    client_id = fields.UUID()
    due = fields.AwareDateTime(format="iso")
    planned_at = fields.AwareDateTime(format="iso")
    account_id = fields.String()
    status = fields.Enum(OpenFollowUpStatus, by_value=True)


class TeamFollowUpPageSchema(Schema):
    items = fields.List(fields.Nested(TeamFollowUpSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/clients/<uuid:client_id>/timeline", methods=["GET"])
@allow(Action.READ_TIMELINE)
@blp.arguments(TimelineQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, TimelineSchema)
def get_timeline(args: dict[str, Any], client_id: UUID) -> Any:
    """A client's contacts and follow-ups in time order, and its status (a team that met it; admin)."""
    view = timelines(args)
    access.require_client_met(actor(), view.client_team_ids(client_id))
    timeline = view.timeline(client_id, now=now(), dormant_after=dormant_after(),
                             cursor=args.get("cursor"), limit=args["limit"])
    if timeline is None:
        raise NotFoundError("No such client.")
    notes = logbook().read_notes(actor(), sealed_notes(timeline))
    audit(AuditAction.READ_TIMELINE, client_id, notes_read=notes)
    return with_notes(timeline, notes)


@blp.route("/teams/<team_id>/clients", methods=["GET"])
@allow(Action.READ_TEAM)
@blp.arguments(TeamClientsQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, TeamClientPageSchema)
def list_team_clients(args: dict[str, Any], team_id: str) -> Any:
    """The clients your team met, by id, with their status (worker, team lead; admin)."""
    access.require_team(actor(), team_id)
    return timelines(args).team_clients(team_id, status=args.get("status"), now=now(),
                                        dormant_after=dormant_after(), cursor=args.get("cursor"),
                                        limit=args["limit"])


@blp.route("/teams/<team_id>/follow-ups", methods=["GET"])
@allow(Action.READ_TEAM)
@blp.arguments(TeamFollowUpsQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, TeamFollowUpPageSchema)
def list_team_follow_ups(args: dict[str, Any], team_id: str) -> Any:
    """The open follow-ups your team planned, by due moment (worker, team lead; admin)."""
    access.require_team(actor(), team_id)
    return timelines(args).team_follow_ups(team_id, status=args.get("status"), now=now(),
                                           cursor=args.get("cursor"), limit=args["limit"])


def sealed_notes(timeline: Timeline) -> list[tuple[str, SealedNote]]:
    """The timeline's notes that are still sealed, with the team that wrote each."""
    return [
        (item.team_id, SealedNote(timeline.client_id, item.contact_id, item.note_key_id, item.sealed_note))
        for item in timeline.items
        if isinstance(item, ContactItem) and item.sealed_note and item.note_key_id
    ]


def with_notes(timeline: Timeline, notes: dict[UUID, str]) -> SimpleNamespace:
    """The timeline with each contact's note in clear where the reader may read it, else null."""
    items = [
        SimpleNamespace(**asdict(item), type=item.type, note=notes.get(item.contact_id))
        if isinstance(item, ContactItem) else item
        for item in timeline.items
    ]
    return SimpleNamespace(
        client_id=timeline.client_id, status=timeline.status, last_contact_at=timeline.last_contact_at,
        items=items, next_cursor=timeline.next_cursor,
    )


def timelines(args: dict[str, Any]) -> TimelineView:
    view: TimelineView = read_model("timelines", args.get("after"))
    return view


def now() -> datetime:
    clock = current_app.extensions["clock"]
    result: datetime = clock()
    return result


def dormant_after() -> timedelta:
    return timedelta(days=current_app.extensions["logbook"].settings.dormant_after_days)
