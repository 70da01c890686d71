"""A realistic, deterministic demo of the two practices the seed compares.

Ostend's JAC workers, interns too, each use their own personal profile and
contact young people who post worrying messages; Bruges' JAC shares one
profile; youth work 't Salon talks with young people on Messenger, where help
questions sometimes get a minimal answer before a referral; Ostend's street
workers use a professional profile, as the agreement allows them. Six months
of contacts, the same on every run with the same seed.

The demo grows for benchmarks: more contacts bring more clients (each keeps a
few conversations), over as many months as asked, and one client can be far
busier than the rest. ``bulk=True`` writes the very events the commands would,
in the same order, many per save: a million contacts in minutes, not hours.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from events import Client, Contact
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook.application import ContactDraft, Logbook
from logbook.notes import TextKind
from logbook.pseudonyms import client_id_for

BRUSSELS = ZoneInfo("Europe/Brussels")
END = datetime(2026, 11, 1, tzinfo=BRUSSELS)
MONTHS = 6
"""The demo's months before `END`: May to October 2026."""
ORGANISATION = "caw-nwvl"
FIRST_TEAM = "jac-oostende"
DEMO_CONTACTS = 3000
"""The size the practices' client numbers are set for; a larger demo has proportionally more clients."""
BUSIEST_CLIENT_REF = f"{FIRST_TEAM}-000"
"""The Ostend client that ``busiest_client_contacts`` go to (street workers meet it too)."""
EVENTS_PER_SAVE = 2000
"""How many events the bulk path gathers before it saves them at once."""


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
    question_referral: float
    """Of the help questions answered without help, the share referred in the same conversation."""
    help_then_referral: float
    """Of the help conversations, the share followed by a referral in the same conversation."""
    worrying_posts: float = 0.0
    referrals: tuple[Nature, ...] = (Nature.REFERRAL_SAFE_CHAT,)
    """How the team refers a help question."""
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
        # A complex help question: the worker invites the client in, or refers to the safe chat;
        # but the line between keeping contact and helping blurs.
        question_referral=0.85, help_then_referral=0.45, worrying_posts=0.05,
        referrals=(Nature.REFERRAL_SAFE_CHAT, Nature.REFERRAL_IN_PERSON),
    ),
    Practice(
        "jac-brugge", "JAC Brugge", "Brugge", Service.JAC,
        (Worker("brug-eline", "Eline"), Worker("brug-tom", "Tom"), Worker("brug-fien", "Fien"),
         Worker("brug-koen", "Koen", role=Role.TEAM_LEAD)),
        ProfileKind.SHARED, clients=70, share=0.27,
        natures={Nature.KEEPING_IN_TOUCH: 38, Nature.INFORMATION: 22, Nature.INVITATION: 12,
                 Nature.PRACTICAL_ARRANGEMENT: 9, Nature.HELP_QUESTION: 10, Nature.HELP_CONVERSATION: 2,
                 Nature.REFERRAL_SAFE_CHAT: 6, Nature.REFERRAL_IN_PERSON: 1},
        question_referral=0.8, help_then_referral=0.8,
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
        question_referral=0.9, help_then_referral=0.9, shares_clients_with="jac-brugge",
    ),
    Practice(
        "shw-oostende", "Straathoekwerk Oostende", "Oostende", Service.STREET_WORK,
        (Worker("shw-wout", "Wout", Function.STREET_WORK), Worker("shw-hanne", "Hanne", Function.STREET_WORK),
         Worker("shw-griet", "Griet", Function.STREET_WORK, role=Role.TEAM_LEAD)),
        ProfileKind.PROFESSIONAL, clients=40, share=0.13,
        natures={Nature.KEEPING_IN_TOUCH: 40, Nature.PRACTICAL_ARRANGEMENT: 20, Nature.INFORMATION: 14,
                 Nature.INVITATION: 8, Nature.HELP_QUESTION: 8, Nature.HELP_CONVERSATION: 3,
                 Nature.REFERRAL_IN_PERSON: 5, Nature.REFERRAL_SAFE_CHAT: 2},
        question_referral=0.6, help_then_referral=0.6, worrying_posts=0.04, shares_clients_with="jac-oostende",
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


def load_demo(
    app: Logbook, *, seed: int, contact_count: int, echo: Callable[[str], None],
    months: int = MONTHS, busiest_client_contacts: int = 0, bulk: bool = False,
) -> None:
    """Writes the demo into ``app``'s store; does nothing if the demo's first team exists.

    The contacts span the ``months`` before `END`; ``busiest_client_contacts`` of
    them go to `BUSIEST_CLIENT_REF`. With ``bulk`` the events are saved many at a
    time rather than by one command each: the same events, in the same order.
    """
    if any(team.team_id == FIRST_TEAM for team in app.list_teams()):
        echo("the demo is already loaded")
        return
    rng = random.Random(seed)
    start = _months_before(END, months)
    clock, wall_clock = DemoClock(start - timedelta(days=14)), app.clock
    app.clock = clock
    try:
        profiles = _register_directory(app)
        contacts = _generate_contacts(rng, profiles, contact_count, start, busiest_client_contacts)
        contacts.sort(key=lambda c: c.recorded_at)
        _log_contacts(ManyPerSave(app) if bulk else OneCommandAtATime(app, clock), contacts, rng)
    finally:
        app.clock = wall_clock
    echo(f"loaded the demo: {len(PRACTICES)} teams, {len(contacts)} contacts from "
         f"{start:%Y-%m-%d} to {END:%Y-%m-%d}")


def _months_before(moment: datetime, months: int) -> datetime:
    years, month = divmod(moment.month - 1 - months, 12)
    return moment.replace(year=moment.year + years, month=month + 1)


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
    rng: random.Random, profiles: dict[str, dict[str, list[str]]], contact_count: int, start: datetime,
    busiest_client_contacts: int,
) -> list[DemoContact]:
    contacts: list[DemoContact] = []
    for practice in PRACTICES:
        quota = round(contact_count * practice.share)
        busiest = min(quota, busiest_client_contacts) if practice.team_id == FIRST_TEAM else 0
        usable = profiles[practice.team_id]
        contacts += _conversations(rng, practice, usable, [BUSIEST_CLIENT_REF], busiest, start)
        contacts += _conversations(rng, practice, usable, _client_refs(practice, contact_count), quota - busiest, start)
    return contacts


def _conversations(
    rng: random.Random, practice: Practice, profiles: dict[str, list[str]], clients: list[str], count: int,
    start: datetime,
) -> list[DemoContact]:
    """Conversations with clients drawn from ``clients``, cut to ``count`` contacts in all."""
    contacts: list[DemoContact] = []
    while len(contacts) < count:
        conversation = _conversation(rng, practice, profiles, rng.choice(clients), start)
        contacts.extend(conversation[:count - len(contacts)])
    return contacts


def _client_refs(practice: Practice, contact_count: int) -> list[str]:
    """The practice's clients: more of them in a larger demo, so that each keeps a few conversations."""
    count = max(practice.clients, round(practice.clients * contact_count / DEMO_CONTACTS))
    refs = [f"{practice.team_id}-{n:03d}" for n in range(count)]
    if practice.shares_clients_with:
        refs[:SHARED_CLIENTS] = [f"{practice.shares_clients_with}-{n:03d}" for n in range(SHARED_CLIENTS)]
    return refs


def _conversation(
    rng: random.Random, practice: Practice, profiles: dict[str, list[str]], client_ref: str, since: datetime
) -> list[DemoContact]:
    """A short exchange in one thread: one nature, sometimes help followed by a referral."""
    worker = rng.choice(practice.workers)
    if profiles[GROUPS] and rng.random() < GROUP_PROFILE_USE:
        profile_id = profiles[GROUPS][0]
    else:
        profile_id = rng.choice(profiles[worker.account_id])
    start = since + timedelta(seconds=rng.randrange(int((END - since).total_seconds()) - 7 * 86400))
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
        return [nature, rng.choice(practice.referrals)] if rng.random() < practice.question_referral else [nature]
    if nature is Nature.HELP_CONVERSATION:
        tail = [rng.choice((Nature.REFERRAL_SAFE_CHAT, Nature.REFERRAL_IN_PERSON))]
        return [Nature.HELP_QUESTION, nature, *(tail if rng.random() < practice.help_then_referral else [])]
    return [nature] * rng.choice((1, 1, 2))


# Writing: the steps of the story, and two ways for them to reach the store.

FOLLOW_UP_REASON = "check how things are going"
Completion = tuple[datetime, str, UUID, UUID]
"""When a follow-up is completed, by which account, of which client, which follow-up."""


def _log_contacts(writer: Writer, contacts: list[DemoContact], rng: random.Random) -> None:
    """Logs each contact as its worker, in the order they were recorded; corrects, retracts
    and follows up a few, completing follow-ups when their time comes."""
    completions: list[Completion] = []
    for contact in contacts:
        _complete_due(writer, completions, until=contact.recorded_at)
        at, account_id = contact.recorded_at, contact.account_id
        contact_id, client_id = writer.log(account_id, contact.draft, at)
        roll = rng.random()
        if roll < 0.01:
            writer.correct(account_id, contact_id, {"message_count": contact.draft.message_count + 1},
                           "counted the messages again", at)
        elif roll < 0.015:
            writer.retract(account_id, contact_id, "logged for the wrong client", at)
        elif roll < 0.06:
            _plan_follow_up(writer, account_id, client_id, at, rng, completions)
    _complete_due(writer, completions, until=END)
    writer.finish()


def _plan_follow_up(
    writer: Writer, account_id: str, client_id: UUID, at: datetime, rng: random.Random,
    completions: list[Completion],
) -> None:
    """Plans a follow-up; most are completed around their due date, some become overdue."""
    due = at + timedelta(days=rng.randint(2, 21))
    follow_up_id = UUID(int=rng.getrandbits(128), version=4)
    writer.plan_follow_up(account_id, client_id, due, follow_up_id, at)
    if rng.random() < 0.7:
        done_at = due + timedelta(hours=rng.randint(-24, 48))
        heapq.heappush(completions, (done_at, account_id, client_id, follow_up_id))


def _complete_due(writer: Writer, completions: list[Completion], until: datetime) -> None:
    while completions and completions[0][0] <= until:
        done_at, account_id, client_id, follow_up_id = heapq.heappop(completions)
        writer.complete_follow_up(account_id, client_id, follow_up_id, done_at)


class Writer(Protocol):
    """How the demo's steps, each as its account at its moment, reach the store."""

    def log(self, account_id: str, draft: ContactDraft, at: datetime) -> tuple[UUID, UUID]:
        """Logs a contact; returns its id and its client's."""

    def correct(self, account_id: str, contact_id: UUID, changes: dict[str, Any], reason: str, at: datetime) -> None:
        """Corrects a contact logged just before."""

    def retract(self, account_id: str, contact_id: UUID, reason: str, at: datetime) -> None:
        """Retracts a contact logged just before."""

    def plan_follow_up(self, account_id: str, client_id: UUID, due: datetime, follow_up_id: UUID, at: datetime) -> None:
        """Plans a follow-up of a client the account's team met."""

    def complete_follow_up(self, account_id: str, client_id: UUID, follow_up_id: UUID, at: datetime) -> None:
        """Completes a planned follow-up."""

    def finish(self) -> None:
        """Makes sure every step so far is in the store."""


class OneCommandAtATime:
    """Each step as a worker's request makes it: one command of the application, one save."""

    def __init__(self, app: Logbook, clock: DemoClock) -> None:
        self.app = app
        self.clock = clock

    def log(self, account_id: str, draft: ContactDraft, at: datetime) -> tuple[UUID, UUID]:
        self.clock.now = at
        receipt = self.app.log_contact(self.app.account(account_id), draft)
        return receipt.contact_id, receipt.client_id

    def correct(self, account_id: str, contact_id: UUID, changes: dict[str, Any], reason: str, at: datetime) -> None:
        self.clock.now = at
        self.app.correct_contact(self.app.account(account_id), contact_id, changes, reason)

    def retract(self, account_id: str, contact_id: UUID, reason: str, at: datetime) -> None:
        self.clock.now = at
        self.app.retract_contact(self.app.account(account_id), contact_id, reason)

    def plan_follow_up(self, account_id: str, client_id: UUID, due: datetime, follow_up_id: UUID, at: datetime) -> None:
        self.clock.now = at
        self.app.plan_follow_up(self.app.account(account_id), client_id, due, FOLLOW_UP_REASON,
                                follow_up_id=follow_up_id)

    def complete_follow_up(self, account_id: str, client_id: UUID, follow_up_id: UUID, at: datetime) -> None:
        self.clock.now = at
        self.app.complete_follow_up(self.app.account(account_id), client_id, follow_up_id)

    def finish(self) -> None:
        """Nothing waits: every command saved its events."""


class ManyPerSave:
    """The aggregates the commands would build, their events saved in the commands' order, many at a time.

    Nothing is read back from the store: it keeps the clients it made, and the
    contacts since the last save, which are the only ones the demo amends.
    """

    def __init__(self, app: Logbook, events_per_save: int = EVENTS_PER_SAVE) -> None:
        self.app = app
        self.events_per_save = events_per_save
        self._secret_key = app.settings.require_secret_key()
        self._clients: dict[UUID, Client] = {}
        self._unsaved_contacts: dict[UUID, Contact] = {}
        self._events: list[Any] = []

    def log(self, account_id: str, draft: ContactDraft, at: datetime) -> tuple[UUID, UUID]:
        if len(self._events) >= self.events_per_save:
            self.finish()
        profile = self.app.profile(draft.profile_id)
        organisation = self.app.team(profile.team_id).organisation
        client_id = client_id_for(self._secret_key, organisation, draft.client_ref)
        contact = Contact.log(
            contact_id=draft.contact_id or uuid4(), client_id=client_id, account=self.app.account(account_id),
            profile=profile, direction=draft.direction, nature=draft.nature, occurred_at=draft.occurred_at,
            thread=draft.thread, message_count=draft.message_count, duration_minutes=draft.duration_minutes,
            topics=draft.topics, now=at,
        )
        client = self._clients.get(client_id)
        if client is None:
            client = Client.register(client_id=client_id, organisation=organisation, team_id=profile.team_id, now=at)
            self._clients[client_id] = client
        else:
            client.meet(team_id=profile.team_id, now=at)
        self._unsaved_contacts[contact.id] = contact
        self._collect(contact, client)
        return contact.id, client_id

    def correct(self, account_id: str, contact_id: UUID, changes: dict[str, Any], reason: str, at: datetime) -> None:
        contact = self._unsaved_contacts[contact_id]
        sealed = self.app.notes.seal_text(contact.client_id, contact_id, TextKind.REASON, reason)
        contact.correct(changes=changes, reason_key_id=sealed.key_id, sealed_reason=sealed.sealed,
                        account=self.app.account(account_id), now=at)
        self._collect(contact)

    def retract(self, account_id: str, contact_id: UUID, reason: str, at: datetime) -> None:
        contact = self._unsaved_contacts[contact_id]
        sealed = self.app.notes.seal_text(contact.client_id, contact_id, TextKind.REASON, reason)
        contact.retract(reason_key_id=sealed.key_id, sealed_reason=sealed.sealed,
                        account=self.app.account(account_id), now=at)
        self._collect(contact)

    def plan_follow_up(self, account_id: str, client_id: UUID, due: datetime, follow_up_id: UUID, at: datetime) -> None:
        account, client = self.app.account(account_id), self._clients[client_id]
        sealed = self.app.notes.seal_text(client_id, follow_up_id, TextKind.REASON, FOLLOW_UP_REASON)
        client.plan_follow_up(follow_up_id=follow_up_id, due=due, reason_key_id=sealed.key_id,
                              sealed_reason=sealed.sealed, team_id=account.team_id or "", account_id=account_id,
                              now=at)
        self._collect(client)

    def complete_follow_up(self, account_id: str, client_id: UUID, follow_up_id: UUID, at: datetime) -> None:
        self._clients[client_id].complete_follow_up(follow_up_id=follow_up_id, account_id=account_id, now=at)
        self._collect(self._clients[client_id])

    def finish(self) -> None:
        if self._events:
            self.app.save(*self._events)
        self._events = []
        self._unsaved_contacts.clear()

    def _collect(self, *aggregates: Contact | Client) -> None:
        """Takes the aggregates' new events in the order a save of them would record them."""
        for aggregate in aggregates:
            self._events.extend(aggregate.collect_events())
