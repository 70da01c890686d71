from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.identifiers import check_slug, slug_uuid
from events.vocabulary import Service


class Team(Aggregate):
    """A team of one service at one site of a CAW, such as the JAC in Oostende."""

    class Registered(Aggregate.Created):
        team_id: str
        name: str
        organisation: str
        site: str
        service: str

    def __init__(
        self, team_id: str, name: str, organisation: str, site: str, service: str
    ) -> None:
        self.team_id = team_id
        self.name = name
        self.organisation = organisation
        self.site = site
        self.service = Service(service)

    @staticmethod
    def id_for(team_id: str) -> UUID:
        return slug_uuid("team", team_id)

    @classmethod
    def register(
        cls,
        *,
        team_id: str,
        name: str,
        organisation: str,
        site: str,
        service: Service,
        now: datetime,
    ) -> Team:
        check_slug(team_id, "team_id")
        check_slug(organisation, "organisation")
        return cls._create(
            cls.Registered,
            id=cls.id_for(team_id),
            timestamp=now,
            team_id=team_id,
            name=name,
            organisation=organisation,
            site=site,
            service=Service(service),
        )
