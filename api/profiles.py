from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.extension import logbook
from api.fields import slug
from api.guard import allow
from events.vocabulary import Channel, ProfileKind
from logbook.access import Action

blp = Blueprint(
    "profiles", __name__, url_prefix="/api/v1/profiles",
    description="Messenger and WhatsApp identities of a team",
)


class ProfileSchema(Schema):
    profile_id = slug(required=True)
    channel = fields.Enum(Channel, by_value=True, required=True)
    kind = fields.Enum(ProfileKind, by_value=True, required=True)
    team_id = slug(required=True)
    users = fields.List(slug(), required=True, validate=validate.Length(max=200))


@blp.route("", methods=["POST"])
@allow(Action.ADMINISTER)
@blp.arguments(ProfileSchema())
@blp.response(201, ProfileSchema)
def register_profile(body: dict[str, Any]) -> Any:
    """Register a profile and the accounts that may use it (admin)."""
    return logbook().register_profile(**body)
