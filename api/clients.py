from __future__ import annotations

from typing import Any
from uuid import UUID

from marshmallow import Schema, fields

from api.blueprint import Blueprint
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


@blp.route("/lookup", methods=["POST"])
@allow(Action.LOOK_UP_CLIENT)
@blp.arguments(LookupSchema())
@blp.response(200, ClientIdSchema)
def look_up_client(body: dict[str, Any]) -> Any:
    """The pseudonymous client id of a client ref in your organisation (worker, team lead)."""
    return {"client_id": logbook().look_up_client(actor(), body["client_ref"])}


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
