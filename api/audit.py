"""The access audit over HTTP: recording who reads a client's data, and the admin's search of the log.

A view that answers with a client's timeline, contact or note, a look-up or an
export calls `audit` before it returns: the entry is committed first, and if
it cannot be, the request fails with 503 instead of answering unaudited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from flask import current_app, request
from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema

from api.blueprint import Blueprint
from api.fields import DateOrMoment, slug
from api.guard import actor, allow
from api.read_models import cursor_field, limit_field
from events.vocabulary import Role
from logbook.access import Action
from logbook.audit import AUDIT_CURSOR, AuditAction, AuditEntry, AuditLog

__all__ = ["AuditAction", "audit", "blp"]

blp = Blueprint(
    "audit", __name__, url_prefix="/api/v1",
    description="Who read which client's timeline, contact or note, looked a client up or exported",
)


class AuditQuerySchema(Schema):
    client_id = fields.UUID()
    account_id = slug()
    from_ = DateOrMoment(data_key="from", metadata={"description": "Inclusive."})
    to = DateOrMoment(metadata={"description": "Exclusive."})
    cursor = cursor_field(AUDIT_CURSOR)
    limit = limit_field()

    @validates_schema
    def check_period(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("Must be later than from.", field_name="to")


class AuditEntrySchema(Schema):
    account_id = fields.String()
    role = fields.Enum(Role, by_value=True)
    action = fields.Enum(AuditAction, by_value=True)
    client_id = fields.UUID(allow_none=True)
    contact_id = fields.UUID(allow_none=True)
    at = fields.AwareDateTime(format="iso")
    address = fields.String(allow_none=True, metadata={"description": "The address the request came from."})


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/audit", methods=["GET"])
@allow(Action.READ_AUDIT)
@blp.arguments(AuditQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, AuditPageSchema)
def search_audit(args: dict[str, Any]) -> Any:
    """Who read which client's timeline, contact or note, looked a client up or exported; newest first (admin)."""
    return audit_log().search(
        client_id=args.get("client_id"), account_id=args.get("account_id"), since=args.get("from_"),
        until=args.get("to"), cursor=args.get("cursor"), limit=args["limit"],
    )


def audit(
    action: AuditAction, client_id: UUID | None = None, contact_id: UUID | None = None,
    *, notes_read: Iterable[UUID] = (),
) -> None:
    """Records that this request's actor does ``action``, and reads the notes of ``notes_read`` in clear.

    One entry for the action and one `read_note` entry per contact in ``notes_read``, all in one
    transaction, committed before this returns; if they cannot be, `AuditUnavailableError` (503).
    """
    who, at, address = actor(), current_app.extensions["clock"](), request.remote_addr
    entries = [AuditEntry(who.account_id, who.role, action, client_id, contact_id, at, address)]
    entries += [
        AuditEntry(who.account_id, who.role, AuditAction.READ_NOTE, client_id, note_of, at, address)
        for note_of in notes_read
    ]
    audit_log().record(*entries)


def audit_log() -> AuditLog:
    """The audit log; it opens a connection per process."""
    log: AuditLog = current_app.extensions["audit"]
    return log
