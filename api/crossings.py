"""Boundary crossings, their reviews, and the boundaries report, read from the `boundaries` read model."""

from __future__ import annotations

from typing import Any, NoReturn
from uuid import UUID

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.blueprint import Blueprint
from api.extension import logbook
from api.fields import DateOrMoment, Text, slug, text
from api.guard import actor, allow
from api.read_models import ReadSchema, cursor_field, limit_field, read_model
from events.errors import NotFoundError
from events.vocabulary import Nature, ProfileKind, Rule, Severity, Verdict
from logbook import access
from logbook.access import Action
from projections.boundaries import BoundaryView
from projections.boundary_report import (
    CROSSINGS_CURSOR,
    CrossingStatus,
    ReportKey,
    boundaries_report,
    crossing_owner,
    get_crossing,
    list_crossings,
)

blp = Blueprint(
    "crossings", __name__, url_prefix="/api/v1",
    description="Boundary crossings of the sector agreement, their reviews, and the boundaries report",
)


class PeriodSchema(ReadSchema):
    """A period [from, to): from inclusive, to exclusive."""

    from_ = DateOrMoment(data_key="from")
    to = DateOrMoment()

    @validates_schema
    def check_period(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("Must be later than from.", field_name="to")


class CrossingQuerySchema(PeriodSchema):
    team_id = slug()
    site = Text(validate=validate.Length(min=1, max=100))
    rule = fields.Enum(Rule, by_value=True)
    severity = fields.Enum(Severity, by_value=True)
    status = fields.Enum(CrossingStatus, by_value=True)
    cursor = cursor_field(CROSSINGS_CURSOR)
    limit = limit_field()


class ReportQuerySchema(PeriodSchema):
    by = fields.Enum(ReportKey, by_value=True, required=True)


class ReviewBodySchema(Schema):
    verdict = fields.Enum(Verdict, by_value=True, required=True)
    comment = text(2000, required=True)


class ReviewReceiptSchema(Schema):
    position = fields.Integer(metadata={"description": "Where the review landed; pass it as ?after= to read it."})


class CrossingSchema(Schema):
    crossing_id = fields.UUID()
    rule = fields.Enum(Rule, by_value=True)
    severity = fields.Enum(Severity, by_value=True)
    status = fields.Enum(CrossingStatus, by_value=True)
    policy_version = fields.String()
    client_id = fields.UUID()
    team_id = fields.String()
    site = fields.String()
    account_id = fields.String()
    contact_ids = fields.List(fields.UUID())
    started_at = fields.AwareDateTime(format="iso")
    ended_at = fields.AwareDateTime(format="iso")
    detected_at = fields.AwareDateTime(format="iso")


class EvidenceSchema(Schema):
    contact_id = fields.UUID()
    occurred_at = fields.AwareDateTime(format="iso")
    team_id = fields.String()
    account_id = fields.String()
    profile_kind = fields.Enum(ProfileKind, by_value=True)
    nature = fields.Enum(Nature, by_value=True)
    retracted = fields.Boolean()


class ReviewSchema(Schema):
    review_id = fields.UUID()
    account_id = fields.String()
    verdict = fields.Enum(Verdict, by_value=True)
    comment = fields.String(allow_none=True, metadata={
        "description": "Null once the client was erased, or its notes expired, after the review."
    })
    recorded_at = fields.AwareDateTime(format="iso")
    position = fields.Integer()


class CrossingDetailSchema(CrossingSchema):
    evidence = fields.List(fields.Nested(EvidenceSchema))
    reviews = fields.List(fields.Nested(ReviewSchema))


class CrossingPageSchema(Schema):
    items = fields.List(fields.Nested(CrossingSchema))
    next_cursor = fields.String(allow_none=True)


class SeverityCountsSchema(Schema):
    info = fields.Integer()
    low = fields.Integer()
    medium = fields.Integer()
    high = fields.Integer()


class ReportRowSchema(Schema):
    key = fields.String()
    contacts = fields.Integer()
    conversations = fields.Integer()
    help_questions = fields.Integer()
    help_conversations = fields.Integer()
    referrals = fields.Integer()
    referral_rate = fields.Float(allow_none=True, metadata={"description": "Referred help questions ÷ help questions."})
    median_hours_to_referral = fields.Float(allow_none=True)
    drifted_conversations = fields.Integer()
    drift_share = fields.Float(allow_none=True, metadata={"description": "Drifted conversations ÷ conversations."})
    crossings = fields.Nested(SeverityCountsSchema, metadata={"description": "Crossings started in the period."})


class ReportSchema(Schema):
    rows = fields.List(fields.Nested(ReportRowSchema))


@blp.route("/crossings", methods=["GET"])
@allow(Action.READ_CROSSINGS)
@blp.arguments(CrossingQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, CrossingPageSchema)
def list_boundary_crossings(args: dict[str, Any]) -> Any:
    """Boundary crossings, newest first (team lead: your team's; admin)."""
    if "team_id" in args:
        access.require_team(actor(), args["team_id"])
    team_id = access.crossing_scope(actor()) or args.get("team_id")
    return list_crossings(
        boundaries(args), team_id=team_id, site=args.get("site"), rule=args.get("rule"),
        severity=args.get("severity"), status=args.get("status"), start=args.get("from_"), end=args.get("to"),
        cursor=args.get("cursor"), limit=args["limit"],
    )


@blp.route("/crossings/<uuid:crossing_id>", methods=["GET"])
@allow(Action.READ_CROSSINGS)
@blp.arguments(ReadSchema(), location="query", unknown=RAISE)
@blp.response(200, CrossingDetailSchema)
def get_boundary_crossing(args: dict[str, Any], crossing_id: UUID) -> Any:
    """A crossing with its evidence and reviews (team lead of its team; admin)."""
    view = boundaries(args)
    owner = crossing_owner(view, crossing_id)
    access.require_crossing_in_scope(actor(), None if owner is None else owner.team_id)
    crossing = get_crossing(view, crossing_id) or _no_such_crossing()
    return {**crossing, "reviews": logbook().with_comments_opened(crossing["reviews"])}


@blp.route("/crossings/<uuid:crossing_id>/reviews", methods=["POST"])
@allow(Action.REVIEW_CROSSING)
@blp.arguments(ReviewBodySchema())
@blp.response(201, ReviewReceiptSchema)
def review_crossing(body: dict[str, Any], crossing_id: UUID) -> Any:
    """Record your verdict on a crossing of your team (team lead); the latest verdict sets its status."""
    owner = crossing_owner(boundaries({}), crossing_id) or _no_such_crossing()
    receipt = logbook().record_review(
        actor(), crossing_id=crossing_id, crossing_team_id=owner.team_id, crossing_client_id=owner.client_id, **body
    )
    return {"position": receipt.position}


@blp.route("/reports/boundaries", methods=["GET"])
@allow(Action.READ_REPORTS)
@blp.arguments(ReportQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, ReportSchema)
def boundaries_report_view(args: dict[str, Any]) -> Any:
    """Contacts, help questions, referrals, drift and crossings per key (team lead: your team's; admin)."""
    rows = boundaries_report(
        boundaries(args), by=args["by"], start=args.get("from_"), end=args.get("to"),
        team_id=access.crossing_scope(actor()),
    )
    return {"rows": rows}


def boundaries(args: dict[str, Any]) -> BoundaryView:
    view: BoundaryView = read_model("boundaries", args.get("after"))
    return view


def _no_such_crossing() -> NoReturn:
    raise NotFoundError("No such crossing.")
