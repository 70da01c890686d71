"""The comparison report's figures as JSON, for researchers: the same figures as `logbook report compare`."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import RAISE, Schema, fields

from api.blueprint import Blueprint
from api.crossings import PeriodSchema
from api.extension import logbook
from api.fields import DateOrMoment
from api.guard import allow
from api.read_models import read_model
from logbook.access import Action
from logbook.compare import CompareKey, EventsDigests, compare

blp = Blueprint(
    "compare", __name__, url_prefix="/api/v1/research",
    description="How sites, teams or profile kinds compare, in aggregates only (researchers)",
)


class CompareQuerySchema(PeriodSchema):
    by = fields.Enum(CompareKey, by_value=True, required=True)


def counts(description: str) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": description})


class MonthSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM, in Brussels time."})
    contacts = fields.Integer()
    by_channel = counts("Contacts per channel: every channel, 0 when none.")
    by_profile_kind = counts("Contacts per profile kind: every kind, 0 when none.")


class ContactFiguresSchema(Schema):
    total = fields.Integer(metadata={"description": "Contacts (not retracted) that occurred in the period."})
    by_interns = fields.Integer(metadata={"description": "Of them, the contacts logged by interns."})
    by_channel = counts("Contacts per channel.")
    by_profile_kind = counts("Contacts per profile kind.")
    by_month = fields.List(fields.Nested(MonthSchema), metadata={
        "description": "Every month from the comparison's first to its last, the same months for every group."})


class DriftSchema(Schema):
    conversations = fields.Integer()
    drifted = fields.Integer(metadata={"description": "Conversations with a drift_into_help crossing."})
    share = fields.Float(allow_none=True, metadata={"description": "drifted ÷ conversations."})
    drifted_then_referred = fields.Integer(metadata={"description": "Drifted conversations where a referral followed."})
    referred_share = fields.Float(allow_none=True, metadata={"description": "drifted_then_referred ÷ drifted."})


class ReferralSchema(Schema):
    help_questions = fields.Integer()
    referred = fields.Integer(metadata={
        "description": "Help questions referred within the window of the policy in force when they were asked."})
    rate = fields.Float(allow_none=True, metadata={"description": "referred ÷ help_questions."})
    median_hours = fields.Float(allow_none=True, metadata={"description": "Hours from question to referral."})
    p90_hours = fields.Float(allow_none=True, metadata={"description": "90th percentile, interpolated."})


class CrossingFiguresSchema(Schema):
    total = fields.Integer(metadata={"description": "Crossings still found (not resolved) that started in the period."})
    by_rule = counts("Crossings per rule: every rule, 0 when none.")


class GroupSchema(Schema):
    key = fields.String(metadata={"description": "The site, the team id or the profile kind."})
    label = fields.String(metadata={"description": "The team's name; otherwise the key."})
    contacts = fields.Nested(ContactFiguresSchema)
    drift = fields.Nested(DriftSchema)
    referral = fields.Nested(ReferralSchema)
    crossings = fields.Nested(CrossingFiguresSchema)


class ComparisonSchema(Schema):
    by = fields.Enum(CompareKey, by_value=True)
    from_ = DateOrMoment(data_key="from", attribute="start", allow_none=True)
    to = DateOrMoment(attribute="end", allow_none=True)
    position = fields.Integer(metadata={"description": "The last event the figures reflect."})
    policy_versions = fields.List(fields.String(), metadata={
        "description": "The policy versions in force when the period's contacts occurred, in the order they took "
                       "effect."})
    events_digest = fields.String(metadata={
        "description": "sha256 over the stored events up to position (logbook.digest.EventsDigest)."})
    groups = fields.List(fields.Nested(GroupSchema), metadata={"description": "Sorted by key."})


@blp.route("/compare", methods=["GET"])
@allow(Action.RESEARCH)
@blp.arguments(CompareQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, ComparisonSchema)
def compare_groups(args: dict[str, Any]) -> Any:
    """Contacts, drift into help, referral and crossings per site, team or profile kind (researchers)."""
    view = read_model("boundaries", args.get("after"))
    return compare(logbook(), view, by=args["by"], start=args.get("from_"), end=args.get("to"), digests=_digests())


def _digests() -> EventsDigests:
    """This process's digests, each extending the last: the stored events before a position never change."""
    digests: EventsDigests = current_app.extensions.setdefault("compare_digests", EventsDigests())
    return digests
