from __future__ import annotations

from typing import Any
from uuid import UUID

from marshmallow import Schema, fields

from api.audit import AuditAction, audit
from api.blueprint import Blueprint
from api.errors import ErrorSchema
from api.extension import logbook
from api.fields import moment, text
from api.guard import actor, allow
from logbook.access import Action

blp = Blueprint("clients", __name__, url_prefix="/api/v1/clients", description="Clients and their follow-ups")


class LookupSchema(Schema):
    client_ref = text(200, required=True, load_only=True)


class ClientIdSchema(Schema):
    client_id = fields.UUID()


class FollowUpSchema(Schema):
    due = moment(required=True)
    reason = text(1000, required=True)


class FollowUpReceiptSchema(Schema):
    follow_up_id = fields.UUID()
    position = fields.Integer()


class CompletionSchema(Schema):
    """Nothing to say: the completion is the event."""


class PositionSchema(Schema):
    position = fields.Integer()


class ErasureSchema(Schema):
    reason = text(1000, required=True, metadata={"description": "Why; say it without naming the person."})


class ErasureReceiptSchema(Schema):
    client_id = fields.UUID()
    position = fields.Integer()


@blp.route("/lookup", methods=["POST"])
@allow(Action.LOOK_UP_CLIENT)
@blp.arguments(LookupSchema())
@blp.response(200, ClientIdSchema)
def look_up_client(body: dict[str, Any]) -> Any:
    """The pseudonymous client id of a client ref in your organisation (worker, team lead)."""
    client_id = logbook().look_up_client(actor(), body["client_ref"])
    audit(AuditAction.LOOK_UP_CLIENT, client_id)
    return {"client_id": client_id}


@blp.route("/<uuid:client_id>/follow-ups", methods=["POST"])
@allow(Action.FOLLOW_UP_CLIENT)
@blp.arguments(FollowUpSchema())
@blp.response(201, FollowUpReceiptSchema)
def plan_follow_up(body: dict[str, Any], client_id: UUID) -> Any:
    """Plan a follow-up of a client your team has met (worker, team lead)."""
    follow_up_id, receipt = logbook().plan_follow_up(actor(), client_id, **body)
    return {"follow_up_id": follow_up_id, "position": receipt.position}


@blp.route("/<uuid:client_id>/follow-ups/<uuid:follow_up_id>/completion", methods=["POST"])
@allow(Action.FOLLOW_UP_CLIENT)
@blp.arguments(CompletionSchema())
@blp.response(201, PositionSchema)
def complete_follow_up(body: dict[str, Any], client_id: UUID, follow_up_id: UUID) -> Any:
    """Complete a follow-up (worker, team lead)."""
    return logbook().complete_follow_up(actor(), client_id, follow_up_id)


@blp.route("/<uuid:client_id>/erasure", methods=["POST"])
@allow(Action.ERASE_CLIENT)
@blp.arguments(ErasureSchema())
@blp.response(201, ErasureReceiptSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Already erased, and no note recorded since")
def erase_client(body: dict[str, Any], client_id: UUID) -> Any:
    """Erase a client (GDPR art. 17): its notes become unreadable everywhere; counts stay (team lead; admin)."""
    receipt = logbook().erase_client(actor(), client_id, body["reason"])
    return {"client_id": client_id, "position": receipt.position}
