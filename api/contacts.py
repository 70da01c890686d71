from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from marshmallow import Schema, fields, validate

from api.audit import AuditAction, audit
from api.blueprint import Blueprint
from api.extension import logbook
from api.fields import Text, moment, slug, text
from api.guard import actor, allow
from events import Contact
from events.contact import MAX_NOTE_LENGTH
from events.vocabulary import Direction, Nature
from logbook.access import Action
from logbook.application import ContactDraft, ContactReceipt, Receipt

blp = Blueprint("contacts", __name__, url_prefix="/api/v1/contacts", description="Contacts with clients")

HISTORY_TYPES: dict[type, str] = {
    Contact.Logged: "logged", Contact.Corrected: "corrected", Contact.Retracted: "retracted",
}


class ContactFactsSchema(Schema):
    """The facts of a contact a worker states, and may later correct."""

    direction = fields.Enum(Direction, by_value=True)
    nature = fields.Enum(Nature, by_value=True)
    occurred_at = moment()
    thread = Text(allow_none=True, validate=validate.Length(max=100))
    message_count = fields.Integer(validate=validate.Range(min=1, max=100_000))
    duration_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=24 * 60))
    topics = fields.List(slug(), validate=validate.Length(max=10))


class NewContactSchema(ContactFactsSchema):
    client_ref = text(200, required=True, load_only=True,
                      metadata={"description": "The worker's code for the client; never stored."})
    profile_id = slug(required=True)
    direction = fields.Enum(Direction, by_value=True, required=True)
    nature = fields.Enum(Nature, by_value=True, required=True)
    occurred_at = moment(required=True)
    contact_id = fields.UUID(load_default=None, metadata={"description": "Makes a repeat idempotent."})
    thread = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    message_count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    duration_minutes = fields.Integer(load_default=None, allow_none=True,
                                      validate=validate.Range(min=0, max=24 * 60))
    topics = fields.List(slug(), load_default=list, validate=validate.Length(max=10))
    note = text(MAX_NOTE_LENGTH, load_default=None, allow_none=True, load_only=True, metadata={
        "description": "For your team's own follow-up; encrypted with the client's key, readable by your team alone."
    })


class ContactReceiptSchema(Schema):
    contact_id = fields.UUID()
    client_id = fields.UUID()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime(format="iso")


class AmendmentReceiptSchema(Schema):
    contact_id = fields.UUID()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime(format="iso")


class CorrectionSchema(Schema):
    changes = fields.Nested(ContactFactsSchema, required=True)
    reason = text(1000, required=True)


class RetractionSchema(Schema):
    reason = text(1000, required=True)


class HistoryEntrySchema(Schema):
    type = fields.String()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime(format="iso")
    account_id = fields.String()
    changes = fields.Dict(keys=fields.String())
    reason = fields.String()


class ContactSchema(ContactFactsSchema):
    contact_id = fields.UUID(attribute="id")
    client_id = fields.UUID()
    team_id = fields.String()
    profile_id = fields.String()
    account_id = fields.String()
    channel = fields.String()
    profile_kind = fields.String()
    retracted = fields.Boolean()
    note = fields.String(allow_none=True, metadata={"description": "In clear for the team that wrote it; else null."})
    note_erased = fields.Boolean(metadata={"description": "The client was erased after this contact: no note."})
    history = fields.List(fields.Nested(HistoryEntrySchema))


@blp.route("", methods=["POST"])
@allow(Action.LOG_CONTACT)
@blp.arguments(NewContactSchema())
@blp.response(201, ContactReceiptSchema)
@blp.alt_response(200, schema=ContactReceiptSchema, description="A repeat of an earlier request, answered again")
def log_contact(body: dict[str, Any]) -> Any:
    """Log a contact with a client (worker, team lead)."""
    receipt: ContactReceipt = logbook().log_contact(actor(), ContactDraft(**body))
    return receipt, 201 if receipt.created else 200


@blp.route("/<uuid:contact_id>", methods=["GET"])
@allow(Action.READ_CONTACT)
@blp.response(200, ContactSchema)
def get_contact(contact_id: UUID) -> Any:
    """A contact of your team, as corrected, with its history."""
    record = logbook().contact_record(actor(), contact_id)
    audit(AuditAction.READ_CONTACT, record.contact.client_id, contact_id,
          notes_read=[contact_id] if record.note is not None else [])
    history = [_history_entry(position, event) for position, event in record.history]
    return SimpleNamespace(**vars(record.contact), id=record.contact.id, history=history,
                           note=record.note, note_erased=record.note_erased)


@blp.route("/<uuid:contact_id>/corrections", methods=["POST"])
@allow(Action.AMEND_CONTACT)
@blp.arguments(CorrectionSchema())
@blp.response(201, AmendmentReceiptSchema)
def correct_contact(body: dict[str, Any], contact_id: UUID) -> Any:
    """Correct facts of a contact (its author, or a team lead of its team)."""
    return _amendment(contact_id, logbook().correct_contact(actor(), contact_id, **body))


@blp.route("/<uuid:contact_id>/retraction", methods=["POST"])
@allow(Action.AMEND_CONTACT)
@blp.arguments(RetractionSchema())
@blp.response(201, AmendmentReceiptSchema)
def retract_contact(body: dict[str, Any], contact_id: UUID) -> Any:
    """Retract a contact that should not have been logged (its author, or a team lead)."""
    return _amendment(contact_id, logbook().retract_contact(actor(), contact_id, **body))


def _amendment(contact_id: UUID, receipt: Receipt) -> dict[str, Any]:
    return {"contact_id": contact_id, "position": receipt.position, "recorded_at": receipt.recorded_at}


def _history_entry(position: int, event: Any) -> dict[str, Any]:
    entry = {
        "type": HISTORY_TYPES[type(event)],
        "position": position,
        "recorded_at": event.timestamp,
        "account_id": event.account_id,
    }
    if isinstance(event, Contact.Corrected):
        entry["changes"] = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in event.changes.items()}
    if isinstance(event, (Contact.Corrected, Contact.Retracted)):
        entry["reason"] = event.reason
    return entry
