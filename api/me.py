from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from marshmallow import Schema, fields

from api.accounts import AccountSchema
from api.blueprint import Blueprint
from api.extension import logbook
from api.guard import actor
from events.vocabulary import Channel, ProfileKind

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The account of the token")


class UsableProfileSchema(Schema):
    profile_id = fields.String()
    channel = fields.Enum(Channel, by_value=True)
    kind = fields.Enum(ProfileKind, by_value=True)


class MeSchema(AccountSchema):
    profiles = fields.List(fields.Nested(UsableProfileSchema))


@blp.route("", methods=["GET"])
@blp.response(200, MeSchema)
def me() -> Any:
    """Your account and the profiles you may log contacts through (any role)."""
    account = actor()
    return SimpleNamespace(**vars(account), profiles=logbook().usable_profiles(account))
