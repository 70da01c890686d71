from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from api.audit import AuditAction, audit
from api.blueprint import Blueprint
from api.errors import STATUS_OF_DOMAIN_ERROR, ErrorDetailSchema, ErrorSchema, _flatten
from api.extension import logbook
from api.fields import Text, moment, slug, text
from api.guard import accepts_body_up_to, actor, allow
from events import Contact
from events.contact import MAX_NOTE_LENGTH
from events.errors import LogbookError
from events.vocabulary import Direction, Nature
from logbook.access import Action
from logbook.application import ContactDraft, ContactReceipt, Receipt

blp = Blueprint("contacts", __name__, url_prefix="/api/v1/contacts", description="Contacts with clients")

HISTORY_TYPES: dict[type, str] = {
    Contact.Logged: "logged", Contact.Corrected: "corrected", Contact.Retracted: "retracted",
}
MAX_BATCH_CONTACTS = 500
MAX_BATCH_BODY_BYTES = 1_048_576
"""The batch alone accepts bodies over the guard's 64 KiB: 500 contacts with notes."""
BATCH_SIZE_ERROR = f"A batch holds 1 to {MAX_BATCH_CONTACTS} contacts."


class ContactFactsSchema(Schema):
    """The facts of a contact a worker states, and may later correct."""

    direction = fields.Enum(Direction, by_value=True)
    nature = fields.Enum(Nature, by_value=True)
    occurred_at = moment()
    thread = Text(allow_none=True, validate=validate.Length(max=100))
    message_count = fields.Integer(strict=True, validate=validate.Range(min=1, max=100_000))
    duration_minutes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=24 * 60))
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
    message_count = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=100_000))
    duration_minutes = fields.Integer(strict=True, load_default=None, allow_none=True,
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


@dataclass(frozen=True)
class Refusal:
    """A contact of a batch refused before the application sees it, with the status it alone would have had."""

    status: int
    code: str
    message: str
    field_messages: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, error: LogbookError) -> Refusal:
        """The refusal as the error handlers answer ``error`` for a single contact."""
        status = next(s for kind, s in STATUS_OF_DOMAIN_ERROR if isinstance(error, kind))
        field_messages = {error.field: [error.message]} if error.field and status == 422 else {}
        return cls(status, error.code, error.message, field_messages)

    def result(self) -> dict[str, Any]:
        return {"status": self.status, "error": self}


class BatchContact(fields.Nested):
    """A contact of a batch, loaded on its own: an invalid one loads as its `Refusal`, and the others still load."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            return Refusal(400, "bad_request", "The body must be a JSON object.")  # as POST /contacts says
        try:
            return super().deserialize(value, attr, data, **kwargs)
        except ValidationError as error:
            return Refusal(422, "validation_error", "Some fields are invalid.", _flatten({"json": error.messages}))


class ContactBatchSchema(Schema):
    contacts = fields.List(
        BatchContact(NewContactSchema), required=True,
        validate=validate.Length(min=1, max=MAX_BATCH_CONTACTS, error=BATCH_SIZE_ERROR),
        metadata={"description": f"1 to {MAX_BATCH_CONTACTS} contacts, each the body of POST /api/v1/contacts."},
    )

    @pre_load
    def _refuse_too_many_before_loading_any(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("contacts"), list):
            if len(data["contacts"]) > MAX_BATCH_CONTACTS:
                raise ValidationError(BATCH_SIZE_ERROR, field_name="contacts")
        return data


class ContactBatchResultSchema(Schema):
    status = fields.Integer(required=True, metadata={
        "description": "201 logged, 200 a repeat, else the status POST /api/v1/contacts would have answered",
    })
    body = fields.Nested(ContactReceiptSchema, metadata={"description": "With 201 and 200: the contact's receipt"})
    error = fields.Nested(ErrorDetailSchema, metadata={"description": "Otherwise: why the contact was refused"})


class ContactBatchResultsSchema(Schema):
    results = fields.List(fields.Nested(ContactBatchResultSchema), required=True,
                          metadata={"description": "One per contact of the batch, in its order"})


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
    reason = fields.String(allow_none=True, metadata={
        "description": "Null once the client was erased, or its notes expired, after it was given."
    })


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


@blp.route("/batch", methods=["POST"])
@allow(Action.LOG_CONTACT)
@accepts_body_up_to(MAX_BATCH_BODY_BYTES)
@blp.arguments(ContactBatchSchema())
@blp.response(200, ContactBatchResultsSchema)
@blp.alt_response(413, schema=ErrorSchema, description=f"The body exceeds {MAX_BATCH_BODY_BYTES} bytes")
def log_contacts(body: dict[str, Any]) -> Any:
    """Log up to 500 contacts in one transaction, each answered as POST /contacts answers it (worker, team lead)."""
    items = body["contacts"]
    drafts = [ContactDraft(**item) for item in items if not isinstance(item, Refusal)]
    outcomes = iter(logbook().log_contacts(actor(), drafts))
    return {"results": [_result(item if isinstance(item, Refusal) else next(outcomes)) for item in items]}


@blp.route("/<uuid:contact_id>", methods=["GET"])
@allow(Action.READ_CONTACT)
@blp.response(200, ContactSchema)
def get_contact(contact_id: UUID) -> Any:
    """A contact of your team, as corrected, with its history."""
    record = logbook().contact_record(actor(), contact_id)
    audit(AuditAction.READ_CONTACT, record.contact.client_id, contact_id,
          notes_read=[contact_id] if record.note is not None else [])
    history = [_history_entry(position, event, record.reasons) for position, event in record.history]
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


def _result(outcome: Refusal | ContactReceipt | LogbookError) -> dict[str, Any]:
    if isinstance(outcome, LogbookError):
        outcome = Refusal.of(outcome)
    if isinstance(outcome, Refusal):
        return outcome.result()
    return {"status": 201 if outcome.created else 200, "body": outcome}


def _amendment(contact_id: UUID, receipt: Receipt) -> dict[str, Any]:
    return {"contact_id": contact_id, "position": receipt.position, "recorded_at": receipt.recorded_at}


def _history_entry(position: int, event: Any, reasons: dict[int, str | None]) -> dict[str, Any]:
    entry = {
        "type": HISTORY_TYPES[type(event)],
        "position": position,
        "recorded_at": event.timestamp,
        "account_id": event.account_id,
    }
    if isinstance(event, Contact.Corrected):
        entry["changes"] = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in event.changes.items()}
    if isinstance(event, (Contact.Corrected, Contact.Retracted)):
        entry["reason"] = reasons[position]
    return entry
