from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.errors import ErrorSchema
from api.extension import logbook
from api.fields import moment, slug, text
from api.guard import actor, allow
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


class AccountStatusSchema(AccountSchema):
    active = fields.Boolean()
    deactivated_at = moment(allow_none=True)


class NothingSchema(Schema):
    """Nothing to say: the request is the command."""


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "Shown once; only its digest is kept."})


class RevokedSchema(Schema):
    revoked = fields.Integer(metadata={"description": "How many of the account's tokens still worked"})


@blp.route("", methods=["POST"])
@allow(Action.ADMINISTER)
@blp.arguments(AccountSchema())
@blp.response(201, NewAccountSchema)
def add_account(body: dict[str, Any]) -> Any:
    """Add an account and issue its first token (admin)."""
    account, token = logbook().add_account(**body)
    return SimpleNamespace(**vars(account), token=token)


@blp.route("/<account_id>/tokens", methods=["POST"])
@allow(Action.MANAGE_TOKENS)
@blp.arguments(NothingSchema())
@blp.response(201, TokenSchema)
@blp.alt_response(403, schema=ErrorSchema, description="Neither the account itself nor an admin")
@blp.alt_response(409, schema=ErrorSchema, description="The account is deactivated")
def rotate_token(body: dict[str, Any], account_id: str) -> Any:
    """Issue a new token and revoke all the account's earlier ones, at once (the account itself, admin)."""
    return {"token": logbook().rotate_token(actor(), account_id)}


@blp.route("/<account_id>/tokens/revoke", methods=["POST"])
@allow(Action.MANAGE_TOKENS)
@blp.arguments(NothingSchema())
@blp.response(200, RevokedSchema)
@blp.alt_response(403, schema=ErrorSchema, description="Neither the account itself nor an admin")
def revoke_tokens(body: dict[str, Any], account_id: str) -> Any:
    """Revoke every token of the account (the account itself, admin)."""
    return {"revoked": logbook().revoke_tokens(actor(), account_id)}


@blp.route("/<account_id>/deactivation", methods=["POST"])
@allow(Action.ADMINISTER)
@blp.arguments(NothingSchema())
@blp.response(200, AccountStatusSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Already deactivated, or your own account")
def deactivate_account(body: dict[str, Any], account_id: str) -> Any:
    """Deactivate an account: its tokens stop working at once (admin)."""
    return logbook().deactivate_account(actor(), account_id)
