"""Who may do what: the roles allowed for each action, in one table."""

from __future__ import annotations

from enum import StrEnum

from events.account import Account
from events.errors import RoleNotAllowedError
from events.vocabulary import TEAM_ROLES, Role


class Action(StrEnum):
    ADMINISTER = "administer"
    LOG_CONTACT = "log_contact"
    READ_CONTACT = "read_contact"
    AMEND_CONTACT = "amend_contact"
    FOLLOW_UP_CLIENT = "follow_up_client"
    LOOK_UP_CLIENT = "look_up_client"


ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.ADMINISTER: frozenset({Role.ADMIN}),
    Action.LOG_CONTACT: TEAM_ROLES,
    Action.READ_CONTACT: TEAM_ROLES,
    Action.AMEND_CONTACT: TEAM_ROLES,
    Action.FOLLOW_UP_CLIENT: TEAM_ROLES,
    Action.LOOK_UP_CLIENT: TEAM_ROLES,
}


def require(actor: Account, action: Action) -> None:
    """Raises `RoleNotAllowedError` unless the actor's role may perform ``action``."""
    if actor.role not in ALLOWED_ROLES[action]:
        raise RoleNotAllowedError(f"The role '{actor.role}' may not {action.replace('_', ' ')}.")
