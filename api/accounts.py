from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.extension import logbook
from api.fields import slug, text
from api.guard import allow
from events.vocabulary import Function, Role
from logbook.access import Action

blp = Blueprint("accounts", __name__, url_prefix="/api/v1/accounts", description="Accounts and their tokens")


class AccountSchema(Schema):
    account_id = slug(required=True)
    name = text(200, required=True)
    role = fields.Enum(Role, by_value=True, required=True)
    team_id = slug(load_default=None, allow_none=True)
    function = fields.Enum(Function, by_value=True, load_default=None, allow_none=True)
    intern = fields.Boolean(load_default=False)


class NewAccountSchema(AccountSchema):
    token = fields.String(metadata={"description": "Shown once; only its digest is kept."})


@blp.route("", methods=["POST"])
@allow(Action.ADMINISTER)
@blp.arguments(AccountSchema())
@blp.response(201, NewAccountSchema)
def add_account(body: dict[str, Any]) -> Any:
    """Add an account and issue its first token (admin)."""
    account, token = logbook().add_account(**body)
    return SimpleNamespace(**vars(account), token=token)
