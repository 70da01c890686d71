from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.extension import logbook
from api.fields import moment
from api.guard import actor, allow
from events.policy import MAX_GAP_HOURS, MAX_RETENTION_YEARS, VERSION_PATTERN, PolicyTerms
from logbook.access import Action

blp = Blueprint(
    "policies", __name__, url_prefix="/api/v1/policies",
    description="Versions of the boundary policy of the sector agreement",
)

RULES_DESCRIPTION = (
    "Per rule (drift_into_help, help_question_not_referred, professional_profile_contact, "
    "personal_profile_contact, intern_personal_profile, worrying_post_without_follow_up, out_of_hours): "
    "{enabled, severity, params}. A rule or setting not given takes the built-in agreement's."
)


class PolicyBodySchema(Schema):
    """A version of the policy; the shape of its rules is checked by the domain, which names the field at fault."""

    version = fields.String(required=True, validate=validate.Regexp(VERSION_PATTERN))
    effective_from = moment(required=True, metadata={"description": "Contacts from this moment on are judged by it."})
    conversation_gap_hours = fields.Float(
        validate=validate.Range(min=0, max=MAX_GAP_HOURS, min_inclusive=False),
        metadata={"description": "A silence this long ends a conversation; 24 when not given."},
    )
    retention_years = fields.Integer(
        strict=True,  # 5.5 is refused, not stored as 5
        validate=validate.Range(min=1, max=MAX_RETENTION_YEARS),
        metadata={"description": "Notes of a client are shredded this long after its last contact; 5 when not given."},
    )
    rules = fields.Dict(keys=fields.String(), metadata={"description": RULES_DESCRIPTION})
    overrides = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Per organisation slug, rule settings in the same shape, applied to its contacts."},
    )


class PublishedPolicySchema(PolicyBodySchema):
    position = fields.Integer(metadata={"description": "Where the publication landed in the store's order."})


class PolicyListSchema(Schema):
    items = fields.List(fields.Nested(PolicyBodySchema))


def _wire(terms: PolicyTerms) -> dict[str, Any]:
    """The complete body, with the moment as a datetime for the schema to format."""
    return {**terms.to_body(), "effective_from": terms.effective_from}


@blp.route("", methods=["POST"])
@allow(Action.PUBLISH_POLICY)
@blp.arguments(PolicyBodySchema())
@blp.response(201, PublishedPolicySchema)
def publish_policy(body: dict[str, Any]) -> Any:
    """Publish a version of the boundary policy, merged with the built-in agreement (admin)."""
    terms, receipt = logbook().publish_policy(actor(), body)
    return {**_wire(terms), "position": receipt.position}


@blp.route("", methods=["GET"])
@allow(Action.READ_POLICIES)
@blp.response(200, PolicyListSchema)
def list_policies() -> Any:
    """List the versions of the policy, the built-in agreement first (team lead, admin)."""
    return {"items": [_wire(terms) for terms in logbook().list_policies(actor())]}
