"""Who may do what: the roles allowed for each action, in one table."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from enum import StrEnum

from events.account import Account
from events.errors import NotAccountHolderError, NotFoundError, RoleNotAllowedError
from events.vocabulary import TEAM_ROLES, Role


class Action(StrEnum):
    ADMINISTER = "administer"
    LOG_CONTACT = "log_contact"
    READ_CONTACT = "read_contact"
    AMEND_CONTACT = "amend_contact"
    FOLLOW_UP_CLIENT = "follow_up_client"
    LOOK_UP_CLIENT = "look_up_client"
    PUBLISH_POLICY = "publish_policy"
    READ_POLICIES = "read_policies"
    REVIEW_CROSSING = "review_crossing"
    READ_CROSSINGS = "read_crossings"
    READ_REPORTS = "read_reports"
    READ_TIMELINE = "read_timeline"
    READ_TEAM = "read_team"
    ERASE_CLIENT = "erase_client"
    READ_AUDIT = "read_audit"
    MANAGE_TOKENS = "manage_tokens"
    RESEARCH = "research"


ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.ADMINISTER: frozenset({Role.ADMIN}),
    Action.LOG_CONTACT: TEAM_ROLES,
    Action.READ_CONTACT: TEAM_ROLES,
    Action.AMEND_CONTACT: TEAM_ROLES,
    Action.FOLLOW_UP_CLIENT: TEAM_ROLES,
    Action.LOOK_UP_CLIENT: TEAM_ROLES,
    Action.PUBLISH_POLICY: frozenset({Role.ADMIN}),
    Action.READ_POLICIES: frozenset({Role.TEAM_LEAD, Role.ADMIN}),
    Action.REVIEW_CROSSING: frozenset({Role.TEAM_LEAD}),
    Action.READ_CROSSINGS: frozenset({Role.TEAM_LEAD, Role.ADMIN}),
    Action.READ_REPORTS: frozenset({Role.TEAM_LEAD, Role.ADMIN}),
    Action.READ_TIMELINE: TEAM_ROLES,
    Action.READ_TEAM: TEAM_ROLES,
    Action.ERASE_CLIENT: frozenset({Role.TEAM_LEAD, Role.ADMIN}),
    Action.READ_AUDIT: frozenset({Role.ADMIN}),
    Action.MANAGE_TOKENS: frozenset(Role),
    Action.RESEARCH: frozenset({Role.RESEARCHER}),
}


def require(actor: Account, action: Action) -> None:
    """Raises `RoleNotAllowedError` unless the actor's role may perform ``action``."""
    if actor.role not in ALLOWED_ROLES[action]:
        raise RoleNotAllowedError(f"The role '{actor.role}' may not {action.replace('_', ' ')}.")


def require_account_holder_or_admin(actor: Account, account_id: str) -> None:
    """Raises `NotAccountHolderError` unless the actor is the account ``account_id`` itself or an admin."""
    require(actor, Action.MANAGE_TOKENS)
    if actor.role is not Role.ADMIN and actor.account_id != account_id:
        raise NotAccountHolderError("Only the account itself or an admin may manage its tokens.")


def require_team(actor: Account, team_id: str) -> None:
    """Raises `NotFoundError` unless the actor belongs to the team or is an admin."""
    if actor.role is not Role.ADMIN and actor.team_id != team_id:
        raise NotFoundError("No such team.")


def require_client_met(actor: Account, team_ids_that_met: AbstractSet[str]) -> None:
    """Raises `NotFoundError` unless the actor's team met the client or the actor is an admin."""
    if actor.role is not Role.ADMIN and actor.team_id not in team_ids_that_met:
        raise NotFoundError("No such client.")


def may_read_note(actor: Account, writing_team_id: str) -> bool:
    """A note is for the workers and team leads of the team that wrote it; not even an admin reads it."""
    return actor.role in TEAM_ROLES and actor.team_id == writing_team_id


def crossing_scope(actor: Account) -> str | None:
    """The team whose crossings and report figures the actor may see; None for an admin, who sees all.

    Raises `RoleNotAllowedError` for any other role, so that no caller can mistake "no limit" for "allowed".
    """
    if actor.role is Role.ADMIN:
        return None
    if actor.role is Role.TEAM_LEAD and actor.team_id is not None:
        return actor.team_id
    raise RoleNotAllowedError(f"The role '{actor.role}' may not read boundary crossings.")


def require_crossing_in_scope(actor: Account, crossing_team_id: str | None) -> str:
    """The crossing's team; raises `NotFoundError` for an unknown crossing or one outside the actor's scope."""
    scope = crossing_scope(actor)
    if crossing_team_id is None or scope not in (None, crossing_team_id):
        raise NotFoundError("No such crossing.")
    return crossing_team_id
