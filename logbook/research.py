"""What researchers see of an event: pseudonyms from a key of their own, named teams, coarse times, no text.

Clients, accounts, profiles (a personal profile names its worker), contacts,
follow-ups, crossings and threads appear under research pseudonyms: a keyed
hash (a MAC) with `LOGBOOK_RESEARCH_KEY` of the operational id, so a research export joins
with nothing operational, and the same key gives the same pseudonyms in every
export. Teams, sites and organisations stay named. Free text (notes, reasons,
review comments, names of people) is left out, and every moment is truncated
to the deployment's unit (the hour by default).

`research_event` is the one place that decides this; the event stream, the
export, the replay's report and the comparison report all take it from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from uuid import UUID

from events import AccessToken, Account, Client, Contact, Policy, Profile, Review, Team
from events.catalogue import events_of
from events.listings import LISTINGS

PSEUDONYM_BYTES = 10
"""Of the keyed hash, in hex: 80 bits, no collision among a sector's ids."""
CACHED_PSEUDONYMS = 65_536
"""Bounds the memory of a long export; a miss costs one keyed hash."""

NOT_FOR_RESEARCH: tuple[type, ...] = (
    *events_of(AccessToken), Account.TokenIssued, Account.TokensRevoked, Account.Deactivated, *LISTINGS,
)
"""Tokens, deactivations and the application's lists: how the logbook is run, not what happened with clients."""


class UnknownEventError(Exception):
    """Raised for an event whose research form is not decided: it is never passed on by default."""


class Pseudonyms:
    """Research pseudonyms: ``<kind>-<20 hex digits>``, a keyed BLAKE2b of the kind and the id.

    Keyed BLAKE2b is a MAC like HMAC, at a quarter of its cost in Python. Ids
    that recur (clients, accounts, profiles, threads) are remembered; ids that
    appear once (contacts, conversations) are not, so they never push the
    others out of the cache.
    """

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(key).digest()
        self._keyed: dict[str, Any] = {}
        """Per kind, the MAC keyed and fed the kind: each pseudonym copies it, rather than key a MAC again."""
        self.of = lru_cache(maxsize=CACHED_PSEUDONYMS)(self.once)

    def client(self, client_id: UUID) -> str:
        return self.of("client", client_id.hex)

    def account(self, account_id: str) -> str:
        return self.of("account", account_id)

    def profile(self, profile_id: str) -> str:
        return self.of("profile", profile_id)

    def contact(self, contact_id: UUID) -> str:
        return self.once("contact", contact_id.hex)

    def once(self, kind: str, operational_id: str) -> str:
        """The pseudonym, computed afresh: for an id that recurs seldom."""
        keyed = self._keyed.get(kind)
        if keyed is None:
            keyed = self._keyed[kind] = hashlib.blake2b(f"{kind}\0".encode(), key=self._key,
                                                        digest_size=PSEUDONYM_BYTES)
        digest = keyed.copy()
        digest.update(operational_id.encode())
        return f"{kind}-{digest.hexdigest()}"


def truncator(unit: str) -> Callable[[datetime], str]:
    """Turns a moment into UTC ISO 8601 text, truncated to ``unit`` (minute, hour or day)."""
    kept = {"minute": 16, "hour": 13, "day": 10}[unit]
    zeros = "0000-00-00T00:00:00"[kept:]

    def truncate(moment: datetime) -> str:
        utc = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{utc[:kept]}{zeros}Z"
    return truncate


class ResearchView:
    """Turns events into the dictionaries researchers see."""

    def __init__(self, key: bytes, time_unit: str = "hour") -> None:
        self.pseudonyms = Pseudonyms(key)
        self.moment = truncator(time_unit)
        self._forms: dict[type, Callable[[Any], dict[str, Any]]] = {
            Team.Registered: self._team_registered,
            Account.Registered: self._account_registered,
            Profile.Registered: self._profile_registered,
            Contact.Logged: self._contact_logged,
            Contact.Corrected: self._contact_corrected,
            Contact.Retracted: self._contact_retracted,
            Client.Registered: self._client_registered,
            Client.MetByTeam: self._client_met_by_team,
            Client.FollowUpPlanned: self._follow_up_planned,
            Client.FollowUpCompleted: self._follow_up_completed,
            Client.Erased: self._client_erased,
            Client.NotesExpired: self._client_erased,
            Policy.Published: self._policy_published,
            Review.Recorded: self._review_recorded,
        }

    def event(self, domain_event: Any) -> dict[str, Any] | None:
        """The research form of an event, None for one researchers never see; `type` is `Aggregate.Event`."""
        form = self._forms.get(type(domain_event))
        if form is None:
            if isinstance(domain_event, NOT_FOR_RESEARCH):
                return None
            raise UnknownEventError(f"No research form for {type(domain_event).__qualname__}.")
        return {"type": type(domain_event).__qualname__, "recorded_at": self.moment(domain_event.timestamp),
                **form(domain_event)}

    def thread(self, thread: str | None) -> str | None:
        """A thread's name can name a person; its pseudonym still groups the thread's contacts."""
        return None if thread is None else self.pseudonyms.of("thread", thread)

    def _team_registered(self, event: Team.Registered) -> dict[str, Any]:
        return {"team_id": event.team_id, "organisation": event.organisation, "site": event.site,
                "service": event.service}

    def _account_registered(self, event: Account.Registered) -> dict[str, Any]:
        return {"account": self.pseudonyms.account(event.account_id), "role": event.role,
                "team_id": event.team_id, "function": event.function, "intern": event.intern}

    def _profile_registered(self, event: Profile.Registered) -> dict[str, Any]:
        return {"profile": self.pseudonyms.profile(event.profile_id), "channel": event.channel, "kind": event.kind,
                "team_id": event.team_id, "users": [self.pseudonyms.account(user) for user in event.users]}

    def _contact_logged(self, event: Contact.Logged) -> dict[str, Any]:
        return {
            "contact": self.pseudonyms.contact(event.originator_id), "client": self.pseudonyms.client(event.client_id),
            "team_id": event.team_id, "account": self.pseudonyms.account(event.account_id),
            "account_function": event.account_function, "intern": event.intern,
            "profile": self.pseudonyms.profile(event.profile_id), "channel": event.channel,
            "profile_kind": event.profile_kind, "direction": event.direction, "nature": event.nature,
            "occurred_at": self.moment(event.occurred_at), "thread": self.thread(event.thread),
            "message_count": event.message_count, "duration_minutes": event.duration_minutes,
            "topics": list(event.topics), "has_note": event.sealed_note is not None,
        }

    def _contact_corrected(self, event: Contact.Corrected) -> dict[str, Any]:
        return {"contact": self.pseudonyms.contact(event.originator_id),
                "account": self.pseudonyms.account(event.account_id), "changes": self._changes(event.changes)}

    def _changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        research = dict(changes)
        if "occurred_at" in research:
            research["occurred_at"] = self.moment(_as_moment(research["occurred_at"]))
        if "thread" in research:
            research["thread"] = self.thread(research["thread"])
        return research

    def _contact_retracted(self, event: Contact.Retracted) -> dict[str, Any]:
        return {"contact": self.pseudonyms.contact(event.originator_id),
                "account": self.pseudonyms.account(event.account_id)}

    def _client_registered(self, event: Client.Registered) -> dict[str, Any]:
        return {"client": self.pseudonyms.client(event.originator_id), "organisation": event.organisation,
                "team_id": event.team_id}

    def _client_met_by_team(self, event: Client.MetByTeam) -> dict[str, Any]:
        return {"client": self.pseudonyms.client(event.originator_id), "team_id": event.team_id}

    def _follow_up_planned(self, event: Client.FollowUpPlanned) -> dict[str, Any]:
        return {"client": self.pseudonyms.client(event.originator_id),
                "follow_up": self.pseudonyms.of("follow_up", event.follow_up_id.hex), "team_id": event.team_id,
                "account": self.pseudonyms.account(event.account_id), "due": self.moment(event.due)}

    def _follow_up_completed(self, event: Client.FollowUpCompleted) -> dict[str, Any]:
        return {"client": self.pseudonyms.client(event.originator_id),
                "follow_up": self.pseudonyms.of("follow_up", event.follow_up_id.hex),
                "account": self.pseudonyms.account(event.account_id)}

    def _client_erased(self, event: Client.Erased | Client.NotesExpired) -> dict[str, Any]:
        return {"client": self.pseudonyms.client(event.originator_id)}

    def _policy_published(self, event: Policy.Published) -> dict[str, Any]:
        return {"version": event.version, "effective_from": event.effective_from.isoformat(),
                "conversation_gap_hours": event.conversation_gap_hours, "retention_years": event.retention_years,
                "rules": event.rules, "overrides": event.overrides}

    def _review_recorded(self, event: Review.Recorded) -> dict[str, Any]:
        return {"crossing": self.pseudonyms.of("crossing", event.crossing_id.hex), "team_id": event.team_id,
                "account": self.pseudonyms.account(event.account_id), "verdict": event.verdict}


def _as_moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
