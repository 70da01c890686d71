"""Entries of the application's ordered lists (teams, a team's profiles, policies).

They are events of `EventSourcedLog`s, not of aggregates; they live here so that
projections can recognise them. They were first defined in `logbook.application`,
so their old topics stay registered and the events stored under them still decode.
"""

from __future__ import annotations

from eventsourcing.domain import DomainEvent
from eventsourcing.utils import register_topic


class TeamListed(DomainEvent):
    """An entry of the log that lists the teams in the order they were registered."""

    team_id: str


class ProfileListed(DomainEvent):
    """An entry of the log that lists a team's profiles in the order they were registered."""

    profile_id: str


class PolicyListed(DomainEvent):
    """An entry of the log that lists the published policy versions in the order they were published."""

    version: str


LISTINGS = (TeamListed, ProfileListed, PolicyListed)

for _listing in (TeamListed, ProfileListed):
    register_topic(f"logbook.application:{_listing.__name__}", _listing)
