"""The events each aggregate can record, found from its class, so a list of them never goes stale."""

from __future__ import annotations

from eventsourcing.domain import DomainEvent

from events.access_token import AccessToken
from events.account import Account
from events.profile import Profile
from events.team import Team

LIBRARY_BASES = frozenset({"Event", "Created"})
"""The base classes the library adds to every aggregate; no event is recorded under them."""


def events_of(*aggregates: type) -> tuple[type[DomainEvent], ...]:
    """Every event class declared on the given aggregate classes."""
    return tuple(
        value
        for aggregate in aggregates
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, DomainEvent) and name not in LIBRARY_BASES
    )


DIRECTORY_EVENTS = events_of(Team, Account, AccessToken, Profile)
"""Teams, accounts, their tokens and profiles: who may do what, never what happened with a client."""
