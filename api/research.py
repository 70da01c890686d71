"""What researchers read: the pseudonymised event stream, in the store's total order."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import INCLUDE, RAISE, Schema, fields, post_dump, validate

from api.audit import AuditAction, audit
from api.blueprint import Blueprint
from api.extension import logbook
from api.guard import allow
from logbook.access import Action
from logbook.export import research_events
from logbook.research import ResearchView

MAX_EVENTS_PER_PAGE = 1000
MAX_POSITION = 2**63 - 1
"""A position is a 64-bit integer in the store; a larger `after` would overflow the store's query."""

blp = Blueprint(
    "research", __name__, url_prefix="/api/v1",
    description="Pseudonymised history for researchers: research pseudonyms, named teams, coarse times, no text",
)


class ResearchEventsQuerySchema(Schema):
    after = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "The position after which to read: 0 for the first page, then next_after."},
    )
    limit = fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=MAX_EVENTS_PER_PAGE),
        metadata={"description": "How many events a page holds at most."},
    )


class ResearchEventSchema(Schema):
    """An event's research form: `position`, `type`, `recorded_at` and the fields of its type.

    docs/data-dictionary.md lists the fields of each type.
    """

    class Meta:
        unknown = INCLUDE  # documents additionalProperties: the fields of each type pass through

    position = fields.Integer(required=True, metadata={"description": "The event's place in the store's order."})
    type = fields.String(required=True, metadata={"description": "`Aggregate.Event`, such as `Contact.Logged`."})
    recorded_at = fields.String(
        required=True, metadata={"description": "When it was recorded, UTC, truncated (hour by default)."}
    )

    @post_dump(pass_original=True)
    def keep_the_fields_of_its_type(self, data: dict[str, Any], original: dict[str, Any], **kwargs: Any) -> Any:
        return {**original, **data}


class ResearchEventPageSchema(Schema):
    items = fields.List(fields.Nested(ResearchEventSchema))
    next_after = fields.Integer(
        metadata={"description": "Pass it as `after` for the next page; a page with no items is the end, for now."}
    )


@blp.route("/research/events", methods=["GET"])
@allow(Action.RESEARCH)
@blp.arguments(ResearchEventsQuerySchema(), location="query", unknown=RAISE)
@blp.response(200, ResearchEventPageSchema)
def research_event_stream(args: dict[str, Any]) -> Any:
    """The pseudonymised events after a position, in the store's order (researchers)."""
    page = research_events(logbook(), research_view(), args["after"], args["limit"])
    audit(AuditAction.EXPORT)
    return page


def research_view() -> ResearchView:
    """This app's research view; its pseudonyms are cached across requests."""
    view = current_app.extensions.get("research")
    if view is None:
        settings = current_app.extensions["logbook"].settings
        view = ResearchView(settings.require_research_key(), settings.research_time_unit)
        current_app.extensions["research"] = view
    return view
