"""The comparison report: how sites, teams or profile kinds compare, in aggregates only.

One function, `compare`, makes the figures that both the HTML report
(`logbook report compare`, rendered by logbook/compare_html.py) and the JSON
of ``GET /api/v1/research/compare`` show: contacts per month by channel and
profile kind, the share of conversations that drifted into help, referral
after help questions, and crossings by rule. Groups are named by site, team
or profile kind; no client, account, profile or contact id appears in them.

Each comparison states the position of the events it rests on, the policy
versions that judged them, and a digest of those events, so that the same
events give the same figures and the same file, byte for byte.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from eventsourcing.persistence import ApplicationRecorder

from events.vocabulary import Channel, ProfileKind, Rule
from logbook.application import Logbook
from logbook.digest import EventsDigest
from projections.boundaries import BoundaryView
from projections.boundary_report import ComparisonCounts, ReportKey, comparison_counts

BRUSSELS = ZoneInfo("Europe/Brussels")
DIGEST_PAGE = 1000
CHANNELS = tuple(channel.value for channel in Channel)
PROFILE_KINDS = tuple(kind.value for kind in ProfileKind)
RULES = tuple(rule.value for rule in Rule)


class CompareKey(StrEnum):
    """What the comparison's groups are."""

    SITE = "site"
    TEAM = "team"
    PROFILE_KIND = "profile_kind"


@dataclass(frozen=True)
class MonthFigures:
    month: str
    """``YYYY-MM``, in Brussels time."""
    contacts: int
    by_channel: dict[str, int]
    by_profile_kind: dict[str, int]


@dataclass(frozen=True)
class ContactFigures:
    total: int
    by_interns: int
    by_channel: dict[str, int]
    by_profile_kind: dict[str, int]
    by_month: tuple[MonthFigures, ...]
    """Every month from the comparison's first to its last, the same for every group."""


@dataclass(frozen=True)
class DriftFigures:
    conversations: int
    drifted: int
    """Conversations with a ``drift_into_help`` crossing."""
    share: float | None
    """drifted ÷ conversations."""
    drifted_then_referred: int
    """Drifted conversations in which a referral followed the help."""
    referred_share: float | None
    """drifted_then_referred ÷ drifted."""


@dataclass(frozen=True)
class ReferralFigures:
    help_questions: int
    referred: int
    """Help questions referred within the window of the policy in force when they were asked."""
    rate: float | None
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class CrossingFigures:
    total: int
    by_rule: dict[str, int]


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    """What a reader calls the group: the team's name, the site, the profile kind."""
    contacts: ContactFigures
    drift: DriftFigures
    referral: ReferralFigures
    crossings: CrossingFigures


@dataclass(frozen=True)
class Comparison:
    by: CompareKey
    start: datetime | None
    end: datetime | None
    position: int
    """The last event the figures reflect."""
    policy_versions: tuple[str, ...]
    events_digest: str
    """`EventsDigest` of the events up to ``position``."""
    groups: tuple[Group, ...]
    """Sorted by key."""

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(month.month for month in self.groups[0].contacts.by_month) if self.groups else ()


def compare(
    app: Logbook,
    view: BoundaryView,
    *,
    by: CompareKey | str,
    start: datetime | None = None,
    end: datetime | None = None,
    digests: EventsDigests | None = None,
) -> Comparison:
    """The figures per site, team or profile kind of the contacts that occurred in [start, end)."""
    by = CompareKey(by)
    if start is not None and end is not None and start >= end:
        raise ValueError("The period's end must be later than its start.")
    counts = comparison_counts(view, by=ReportKey(by.value), start=start, end=end)
    channels = _channels(app, {row[2] for row in counts.contacts})
    labels = _labels(app, by)
    months = _months(row[1] for row in counts.contacts)
    keys = sorted({row[0] for row in counts.contacts} | counts.crossings.keys())
    groups = tuple(
        Group(key, labels.get(key, key), _contact_figures(counts, key, channels, months), _drift(counts, key),
              _referral(counts, key), _crossings(counts, key))
        for key in keys
    )
    digest = (digests or EventsDigests()).up_to(app.recorder, counts.position)
    return Comparison(by, start, end, counts.position, tuple(counts.policy_versions), digest, groups)


def moment_or_date(text: str, zone: ZoneInfo = BRUSSELS) -> datetime:
    """A date (midnight there in Brussels) or an ISO 8601 date-time with its offset, as the API takes them.

    Raises `ValueError` for anything else, and for a date-time without an offset.
    """
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError("A date-time needs its UTC offset, such as +02:00 or Z.")
    return moment


# The figures of one group.


def _contact_figures(
    counts: ComparisonCounts, key: str, channels: Mapping[str, str], months: Sequence[str]
) -> ContactFigures:
    by_month: dict[str, tuple[Counter[str], Counter[str]]] = {month: (Counter(), Counter()) for month in months}
    interns = 0
    for row_key, month, profile_id, profile_kind, contacts, by_interns in counts.contacts:
        if row_key == key:
            by_month[month][0][channels[profile_id]] += contacts
            by_month[month][1][profile_kind] += contacts
            interns += by_interns
    figures = tuple(
        MonthFigures(month, sum(channel.values()), _every(CHANNELS, channel), _every(PROFILE_KINDS, kind))
        for month, (channel, kind) in by_month.items()
    )
    return ContactFigures(
        sum(month.contacts for month in figures), interns,
        _every(CHANNELS, sum((Counter(month.by_channel) for month in figures), Counter())),
        _every(PROFILE_KINDS, sum((Counter(month.by_profile_kind) for month in figures), Counter())),
        figures,
    )


def _drift(counts: ComparisonCounts, key: str) -> DriftFigures:
    conversations, drifted, referred = counts.conversations.get(key, (0, 0, 0))
    return DriftFigures(conversations, drifted, _share(drifted, conversations), referred, _share(referred, drifted))


def _referral(counts: ComparisonCounts, key: str) -> ReferralFigures:
    asked, hours = counts.help_questions.get(key, 0), counts.referred_hours.get(key, [])
    return ReferralFigures(asked, len(hours), _share(len(hours), asked), percentile(hours, 0.5),
                           percentile(hours, 0.9))


def _crossings(counts: ComparisonCounts, key: str) -> CrossingFigures:
    by_rule = _every(RULES, counts.crossings.get(key, {}))
    return CrossingFigures(sum(by_rule.values()), by_rule)


def percentile(ascending: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values, interpolated between the nearest two; None for no values."""
    if not ascending:
        return None
    place = (len(ascending) - 1) * q
    low = int(place)
    high = min(low + 1, len(ascending) - 1)
    return ascending[low] + (ascending[high] - ascending[low]) * (place - low)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _every(names: Iterable[str], counts: Mapping[str, int]) -> dict[str, int]:
    """Every name, in the vocabulary's order, with its count (0 when absent)."""
    return {name: int(counts.get(name, 0)) for name in names}


def _months(months: Iterable[str]) -> tuple[str, ...]:
    """Every month from the first to the last given, so that empty months show as empty."""
    present = sorted(set(months))
    if not present:
        return ()
    year, month = map(int, present[0].split("-"))
    every = []
    while (text := f"{year:04d}-{month:02d}") <= present[-1]:
        every.append(text)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(every)


# What the directory adds: channels and names.


def _channels(app: Logbook, profile_ids: Iterable[str]) -> dict[str, str]:
    """The channel of each profile: a profile keeps the channel it was registered with."""
    return {profile_id: app.profile(profile_id).channel.value for profile_id in sorted(profile_ids)}


def _labels(app: Logbook, by: CompareKey) -> dict[str, str]:
    return {team.team_id: team.name for team in app.list_teams()} if by is CompareKey.TEAM else {}


# The digest of the events the figures rest on.


class EventsDigests:
    """Digests of the events up to a position; each extends the last one made, as stored events never change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digest = EventsDigest()

    def up_to(self, recorder: ApplicationRecorder, position: int) -> str:
        with self._lock:
            if position < self._digest.position:
                self._digest = EventsDigest()
            _add_events(self._digest, recorder, position)
            return self._digest.hexdigest()


def _add_events(digest: EventsDigest, recorder: ApplicationRecorder, position: int) -> None:
    """Adds the stored events after the digest's position, up to and including ``position``."""
    while digest.position < position:
        page = recorder.select_notifications(digest.position + 1, DIGEST_PAGE, stop=position)
        if not page:
            return
        for notification in page:
            digest.add(notification.id, notification.topic, notification.state)
