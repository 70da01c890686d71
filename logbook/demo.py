"""A realistic, deterministic demo of the two practices the seed compares.

Ostend's JAC workers, interns too, each use their own personal profile and
contact young people who post worrying messages; Bruges' JAC shares one
profile; youth work 't Salon talks with young people on Messenger, where help
questions sometimes get a minimal answer before a referral; Ostend's street
workers use a professional profile, as the agreement allows them. Six months
of contacts, the same on every run with the same seed.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from events.account import Account
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook.application import ContactDraft, Logbook

BRUSSELS = ZoneInfo("Europe/Brussels")
START = datetime(2026, 5, 1, tzinfo=BRUSSELS)
END = datetime(2026, 11, 1, tzinfo=BRUSSELS)
ORGANISATION = "caw-nwvl"
FIRST_TEAM = "jac-oostende"


@dataclass(frozen=True)
class Worker:
    account_id: str
    name: str
    function: Function = Function.COUNSELLOR
    intern: bool = False
    role: Role = Role.WORKER


@dataclass(frozen=True)
class Practice:
    """How one team keeps in touch: its profiles, its clients and its mix of natures."""

    team_id: str
    name: str
    site: str
    service: Service
    workers: tuple[Worker, ...]
    profile_kind: ProfileKind
    clients: int
    share: float
    natures: dict[Nature, float]
    help_then_referral: float
    """Of the help conversations, the share followed by a referral in the same conversation."""
    worrying_posts: float = 0.0
    shares_clients_with: str | None = None
    """A team whose clients this team also meets: the timeline covers both."""


PRACTICES = (
    Practice(
        "jac-oostende", "JAC Oostende", "Oostende", Service.JAC,
        (Worker("oost-sara", "Sara"), Worker("oost-jens", "Jens"), Worker("oost-lotte", "Lotte"),
         Worker("oost-pieter", "Pieter", intern=True),
         Worker("oost-ann", "Ann", role=Role.TEAM_LEAD)),
        ProfileKind.PERSONAL, clients=90, share=0.38,
        natures={Nature.KEEPING_IN_TOUCH: 34, Nature.INFORMATION: 18, Nature.INVITATION: 10,
                 Nature.PRACTICAL_ARRANGEMENT: 10, Nature.LEISURE_OFFER: 3, Nature.HELP_QUESTION: 11,
                 Nature.HELP_CONVERSATION: 6, Nature.REFERRAL_SAFE_CHAT: 6, Nature.REFERRAL_IN_PERSON: 2},
        help_then_referral=0.45, worrying_posts=0.05,
    ),
    Practice(
        "jac-brugge", "JAC Brugge", "Brugge", Service.JAC,
        (Worker("brug-eline", "Eline"), Worker("brug-tom", "Tom"), Worker("brug-fien", "Fien"),
         Worker("brug-koen", "Koen", role=Role.TEAM_LEAD)),
        ProfileKind.SHARED, clients=70, share=0.27,
        natures={Nature.KEEPING_IN_TOUCH: 38, Nature.INFORMATION: 22, Nature.INVITATION: 12,
                 Nature.PRACTICAL_ARRANGEMENT: 9, Nature.HELP_QUESTION: 10, Nature.HELP_CONVERSATION: 2,
                 Nature.REFERRAL_SAFE_CHAT: 6, Nature.REFERRAL_IN_PERSON: 1},
        help_then_referral=0.8,
    ),
    Practice(
        "salon-brugge", "Jongerenwerking 't Salon", "Brugge", Service.YOUTH_WORK,
        (Worker("salon-noor", "Noor", Function.YOUTH_WORK), Worker("salon-bram", "Bram", Function.YOUTH_WORK),
         Worker("salon-lisa", "Lisa", Function.YOUTH_WORK, intern=True),
         Worker("salon-mo", "Mo", Function.YOUTH_WORK, role=Role.TEAM_LEAD)),
        ProfileKind.SHARED, clients=55, share=0.22,
        natures={Nature.KEEPING_IN_TOUCH: 30, Nature.LEISURE_OFFER: 22, Nature.INVITATION: 16,
                 Nature.INFORMATION: 8, Nature.PRACTICAL_ARRANGEMENT: 6, Nature.HELP_QUESTION: 9,
                 Nature.HELP_CONVERSATION: 7, Nature.REFERRAL_SAFE_CHAT: 1, Nature.REFERRAL_IN_PERSON: 1},
        help_then_referral=0.9, shares_clients_with="jac-brugge",
    ),
    Practice(
        "shw-oostende", "Straathoekwerk Oostende", "Oostende", Service.STREET_WORK,
        (Worker("shw-wout", "Wout", Function.STREET_WORK), Worker("shw-hanne", "Hanne", Function.STREET_WORK),
         Worker("shw-griet", "Griet", Function.STREET_WORK, role=Role.TEAM_LEAD)),
        ProfileKind.PROFESSIONAL, clients=40, share=0.13,
        natures={Nature.KEEPING_IN_TOUCH: 40, Nature.PRACTICAL_ARRANGEMENT: 20, Nature.INFORMATION: 14,
                 Nature.INVITATION: 8, Nature.HELP_QUESTION: 8, Nature.HELP_CONVERSATION: 3,
                 Nature.REFERRAL_IN_PERSON: 5, Nature.REFERRAL_SAFE_CHAT: 2},
        help_then_referral=0.6, worrying_posts=0.04, shares_clients_with="jac-oostende",
    ),
)

RESEARCHER = Worker("onderzoek-an", "An (onderzoek)", role=Role.RESEARCHER)
GROUP_PROFILE_USE = 0.03
"""How often an Ostend counsellor answers from the professional profile that manages the team's groups."""
SHARED_CLIENTS = 10
GROUPS = "groups"
TOPICS = ("school", "housing", "family", "money", "leisure", "work", "health", "relationships")


class DemoClock:
    """The clock the application reads while the demo writes: workers log a while after the contact."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def load_demo(app: Logbook, *, seed: int, contact_count: int, echo: Callable[[str], None]) -> None:
    """Writes the demo into ``app``'s store; does nothing if the demo's first team exists."""
    if any(team.team_id == FIRST_TEAM for team in app.list_teams()):
        echo("the demo is already loaded")
        return
    rng = random.Random(seed)
    clock, wall_clock = DemoClock(START - timedelta(days=14)), app.clock
    app.clock = clock
    try:
        profiles = _register_directory(app)
        contacts = sorted(_generate_contacts(rng, profiles, contact_count), key=lambda c: c.recorded_at)
        _log_contacts(app, clock, contacts, rng)
    finally:
        app.clock = wall_clock
    echo(f"loaded the demo: {len(PRACTICES)} teams, {len(contacts)} contacts from "
         f"{START:%Y-%m-%d} to {END:%Y-%m-%d}")


def _register_directory(app: Logbook) -> dict[str, dict[str, list[str]]]:
    """Teams, accounts and profiles; returns per team the profiles each worker may use."""
    usable: dict[str, dict[str, list[str]]] = {}
    for practice in PRACTICES:
        app.register_team(team_id=practice.team_id, name=practice.name, organisation=ORGANISATION,
                          site=practice.site, service=practice.service)
        for worker in practice.workers:
            app.add_account(account_id=worker.account_id, name=worker.name, role=worker.role,
                            team_id=practice.team_id, function=worker.function, intern=worker.intern)
        usable[practice.team_id] = _register_profiles(app, practice)
    app.add_account(account_id=RESEARCHER.account_id, name=RESEARCHER.name, role=Role.RESEARCHER)
    return usable


def _register_profiles(app: Logbook, practice: Practice) -> dict[str, list[str]]:
    ids = [w.account_id for w in practice.workers]
    usable: dict[str, list[str]] = {account_id: [] for account_id in [*ids, GROUPS]}
    if practice.profile_kind is ProfileKind.PERSONAL:
        for account_id in ids:
            for channel in Channel:
                profile_id = f"{account_id}-{channel}"
                app.register_profile(profile_id=profile_id, channel=channel, kind=ProfileKind.PERSONAL,
                                     team_id=practice.team_id, users=[account_id])
                usable[account_id].append(profile_id)
        group_profile = f"{practice.team_id}-groups"
        app.register_profile(profile_id=group_profile, channel=Channel.MESSENGER, kind=ProfileKind.PROFESSIONAL,
                             team_id=practice.team_id, users=ids)
        usable[GROUPS] = [group_profile]
        return usable
    for channel in (Channel.MESSENGER,) if practice.profile_kind is ProfileKind.SHARED else tuple(Channel):
        profile_id = f"{practice.team_id}-{practice.profile_kind}-{channel}"
        app.register_profile(profile_id=profile_id, channel=channel, kind=practice.profile_kind,
                             team_id=practice.team_id, users=ids)
        for account_id in ids:
            usable[account_id].append(profile_id)
    return usable


@dataclass(frozen=True)
class DemoContact:
    account_id: str
    draft: ContactDraft
    recorded_at: datetime


def _generate_contacts(
    rng: random.Random, profiles: dict[str, dict[str, list[str]]], contact_count: int
) -> list[DemoContact]:
    contacts: list[DemoContact] = []
    for practice in PRACTICES:
        quota = round(contact_count * practice.share)
        clients = _client_refs(practice)
        while quota > 0:
            conversation = _conversation(rng, practice, profiles[practice.team_id], rng.choice(clients))
            contacts.extend(conversation[:quota])
            quota -= len(conversation)
    return contacts


def _client_refs(practice: Practice) -> list[str]:
    refs = [f"{practice.team_id}-{n:03d}" for n in range(practice.clients)]
    if practice.shares_clients_with:
        refs[:SHARED_CLIENTS] = [f"{practice.shares_clients_with}-{n:03d}" for n in range(SHARED_CLIENTS)]
    return refs


def _conversation(
    rng: random.Random, practice: Practice, profiles: dict[str, list[str]], client_ref: str
) -> list[DemoContact]:
    """A short exchange in one thread: one nature, sometimes help followed by a referral."""
    worker = rng.choice(practice.workers)
    if profiles[GROUPS] and rng.random() < GROUP_PROFILE_USE:
        profile_id = profiles[GROUPS][0]
    else:
        profile_id = rng.choice(profiles[worker.account_id])
    start = START + timedelta(seconds=rng.randrange(int((END - START).total_seconds()) - 7 * 86400))
    start = start.replace(hour=rng.choice((9, 10, 11, 13, 14, 15, 16, 17, 19, 21)), minute=rng.randrange(60))
    thread = f"thread-{rng.getrandbits(40):010x}"
    natures = _natures(rng, practice)
    contacts = []
    moment = start
    for index, nature in enumerate(natures):
        outbound = nature not in (Nature.HELP_QUESTION,) and (index > 0 or rng.random() < 0.6)
        draft = ContactDraft(
            client_ref=client_ref, profile_id=profile_id,
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND, nature=nature,
            occurred_at=moment, contact_id=UUID(int=rng.getrandbits(128), version=4),
            thread=thread, message_count=rng.randint(1, 12),
            duration_minutes=rng.choice((None, rng.randint(1, 40))),
            topics=sorted(rng.sample(TOPICS, rng.randint(0, 2))),
        )
        contacts.append(DemoContact(worker.account_id, draft, moment + timedelta(minutes=rng.randint(2, 180))))
        moment += timedelta(minutes=rng.randint(5, 600))
    return contacts


def _natures(rng: random.Random, practice: Practice) -> list[Nature]:
    if rng.random() < practice.worrying_posts:
        follow = rng.choice((Nature.KEEPING_IN_TOUCH, Nature.INVITATION, Nature.REFERRAL_SAFE_CHAT))
        return [Nature.WORRYING_POST_OUTREACH, follow] if rng.random() < 0.7 else [Nature.WORRYING_POST_OUTREACH]
    nature = rng.choices(list(practice.natures), weights=list(practice.natures.values()))[0]
    if nature is Nature.HELP_QUESTION:
        return [nature, Nature.REFERRAL_SAFE_CHAT] if rng.random() < practice.help_then_referral else [nature]
    if nature is Nature.HELP_CONVERSATION:
        tail = [rng.choice((Nature.REFERRAL_SAFE_CHAT, Nature.REFERRAL_IN_PERSON))]
        return [Nature.HELP_QUESTION, nature, *(tail if rng.random() < practice.help_then_referral else [])]
    return [nature] * rng.choice((1, 1, 2))


def _log_contacts(app: Logbook, clock: DemoClock, contacts: list[DemoContact], rng: random.Random) -> None:
    """Logs each contact as its worker, in the order they were recorded; corrects, retracts
    and follows up a few, completing follow-ups when their time comes."""
    completions: list[tuple[datetime, str, UUID, UUID]] = []
    for contact in contacts:
        _complete_due(app, clock, completions, until=contact.recorded_at)
        clock.now = contact.recorded_at
        actor = app.account(contact.account_id)
        receipt = app.log_contact(actor, contact.draft)
        roll = rng.random()
        if roll < 0.01:
            app.correct_contact(actor, receipt.contact_id, {"message_count": contact.draft.message_count + 1},
                                "counted the messages again")
        elif roll < 0.015:
            app.retract_contact(actor, receipt.contact_id, "logged for the wrong client")
        elif roll < 0.06:
            _plan_follow_up(app, clock, actor, receipt.client_id, rng, completions)
    _complete_due(app, clock, completions, until=END)


def _plan_follow_up(
    app: Logbook, clock: DemoClock, actor: Account, client_id: UUID, rng: random.Random,
    completions: list[tuple[datetime, str, UUID, UUID]],
) -> None:
    """Plans a follow-up; most are completed around their due date, some become overdue."""
    due = clock.now + timedelta(days=rng.randint(2, 21))
    follow_up_id, _ = app.plan_follow_up(actor, client_id, due, "check how things are going",
                                         follow_up_id=UUID(int=rng.getrandbits(128), version=4))
    if rng.random() < 0.7:
        done_at = due + timedelta(hours=rng.randint(-24, 48))
        heapq.heappush(completions, (done_at, actor.account_id, client_id, follow_up_id))


def _complete_due(
    app: Logbook, clock: DemoClock, completions: list[tuple[datetime, str, UUID, UUID]], until: datetime
) -> None:
    while completions and completions[0][0] <= until:
        clock.now, account_id, client_id, follow_up_id = heapq.heappop(completions)
        app.complete_follow_up(app.account(account_id), client_id, follow_up_id)
