from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.extension import logbook
from api.fields import slug, text
from api.guard import allow
from events.vocabulary import Service
from logbook.access import Action

blp = Blueprint("teams", __name__, url_prefix="/api/v1/teams", description="Teams of a CAW")


class TeamSchema(Schema):
    team_id = slug(required=True)
    name = text(200, required=True)
    organisation = slug(required=True)
    site = text(100, required=True)
    service = fields.Enum(Service, by_value=True, required=True)


class TeamListSchema(Schema):
    items = fields.List(fields.Nested(TeamSchema))


@blp.route("", methods=["POST"])
@allow(Action.ADMINISTER)
@blp.arguments(TeamSchema())
@blp.response(201, TeamSchema)
def register_team(body: dict[str, Any]) -> Any:
    """Register a team (admin)."""
    return logbook().register_team(**body)


@blp.route("", methods=["GET"])
@allow(Action.ADMINISTER)
@blp.response(200, TeamListSchema)
def list_teams() -> Any:
    """List the teams in the order they were registered (admin)."""
    return {"items": logbook().list_teams()}
