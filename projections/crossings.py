"""Judging contacts under the boundary policy, one event at a time.

The rules of `events.policy` say what a crossing is; this module keeps, per
client, what the rules need to know (live contacts, conversations, follow-up
plans) and after each event judges again only what that event can change:
the conversations it touches and the time windows it falls in. A contact that
joins the last conversation of its thread or chain is added to the evidence
kept of that conversation (`Evidence`), rather than the conversation walked
again.

Time is the log's own: before an event is applied, every window whose deadline
is at or before the event's recorded time expires, as the live projector's
periodic judging would have done. So a rebuild from zero, applying the same
events with the same clock, finds exactly the crossings the live projector
found, with the same `detected_at`.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any
from uuid import UUID, uuid5

from events.policy import PolicyHistory, PolicyTerms, working_hours_contain
from events.vocabulary import REFERRALS, Nature, ProfileKind, Rule, Severity, Verdict

NAMESPACE = UUID("5d0c7a4e-3f51-4b8e-a7c2-9e6b1d2f4a10")
"""Crossing and conversation ids are derived from it, so they stay the same across rebuilds."""

HELP_CONVERSATION = Nature.HELP_CONVERSATION.value
HELP_QUESTION = Nature.HELP_QUESTION.value
WORRYING_POST = Nature.WORRYING_POST_OUTREACH.value
PERSONAL = ProfileKind.PERSONAL.value
PROFESSIONAL = ProfileKind.PROFESSIONAL.value
REFERRAL_NATURES = frozenset(nature.value for nature in REFERRALS)
WINDOW_RULES = {
    HELP_QUESTION: (Rule.HELP_QUESTION_NOT_REFERRED, "referral_within_hours"),
    WORRYING_POST: (Rule.WORRYING_POST_WITHOUT_FOLLOW_UP, "follow_up_within_hours"),
}
CONVERSATION_RULES = (
    Rule.DRIFT_INTO_HELP, Rule.PROFESSIONAL_PROFILE_CONTACT, Rule.PERSONAL_PROFILE_CONTACT,
    Rule.INTERN_PERSONAL_PROFILE,
)
CONVERSATION_RULE_NAMES = frozenset(rule.value for rule in CONVERSATION_RULES)
ANCHOR_RULES = (Rule.HELP_QUESTION_NOT_REFERRED, Rule.WORRYING_POST_WITHOUT_FOLLOW_UP, Rule.OUT_OF_HOURS)
ANCHOR_RULE_NAMES = frozenset(rule.value for rule in ANCHOR_RULES)
EXPERIMENT_RULES = frozenset({Rule.PROFESSIONAL_PROFILE_CONTACT, Rule.PERSONAL_PROFILE_CONTACT})
FACT_KEY = attrgetter("key")
LAST_ID = UUID(int=(1 << 128) - 1)
"""Sorts after every contact id: with a time, it bounds the contacts at that time."""
REVIEWED = frozenset({Verdict.ACCEPTABLE.value, Verdict.NOT_ACCEPTABLE.value})


@dataclass(slots=True)
class Fact:
    """One contact, as the rules see it."""

    contact_id: UUID
    client_id: UUID
    team_id: str
    account_id: str
    function: str | None
    intern: bool
    profile_id: str
    profile_kind: str
    nature: str
    occurred_at: datetime
    recorded_at: datetime
    thread: str | None
    retracted: bool = False
    conversation_id: str | None = None
    referred_hours: float | None = None
    """For a help question: hours until the client's first referral within the window, if any."""
    answered_at: datetime | None = None
    """For a contact that opens a time window: when it was answered, as last judged; None if it was not (or not
    since the file was read back). A contact after that moment cannot change the answer."""

    @property
    def key(self) -> tuple[datetime, UUID]:
        return self.occurred_at, self.contact_id


@dataclass(slots=True)
class Crossing:
    """A boundary crossing: found by a rule, maybe reviewed, resolved when no longer found."""

    crossing_id: UUID
    rule: str
    severity: str
    policy_version: str
    client_id: UUID
    team_id: str
    account_id: str
    profile_kind: str
    contact_ids: tuple[UUID, ...]
    started_at: datetime
    ended_at: datetime
    detected_at: datetime
    found: bool = True
    verdict: str | None = None

    @property
    def status(self) -> str:
        if not self.found:
            return "resolved"
        return "reviewed" if self.verdict in REVIEWED else "open"


@dataclass(slots=True)
class Finding:
    """What a rule finds now; it becomes a new crossing or updates the one with its id."""

    rule: Rule
    severity: Severity
    policy_version: str
    evidence: list[Fact]


@dataclass(slots=True)
class Evidence:
    """One conversation as its rules see it, built contact by contact.

    The judge keeps it for the last conversation of each list (a thread, or a
    profile's chain of contacts): a contact logged into it, or after it, joins it
    and its crossings take that one contact more, without the conversation being
    walked again. A long WhatsApp thread with a youth, or a phone's contacts of a
    day synced at once, would otherwise cost each contact as much as all the
    earlier ones of its conversation.
    """

    conversation_id: str
    first: tuple[datetime, UUID]
    """The key of the conversation's first contact."""
    last: tuple[datetime, UUID]
    """The key of the conversation's last contact so far."""
    facts: dict[Rule, list[Fact]] = field(default_factory=dict)
    """For each conversation rule that some contact crosses, those contacts in time order. (The judge keeps
    one of these for each thread and chain of every client in memory: no empty lists.)"""
    referred: bool = False
    """Whether a referral followed the first help given (the drift's evidence holds it)."""
    allowed: tuple[str, ...] | None = None
    """The functions that may use a professional profile, by the policy in force at the conversation's first
    professional contact; None before that contact."""
    first_professional: tuple[datetime, UUID] | None = None
    """The key of that contact."""


@dataclass
class ClientFile:
    """What the rules need to know of one client."""

    client_id: UUID
    organisation: str
    contacts: dict[UUID, Fact] = field(default_factory=dict)
    by_time: list[tuple[datetime, UUID]] = field(default_factory=list)
    threads: dict[str, list[tuple[datetime, UUID]]] = field(default_factory=dict)
    chains: dict[str, list[tuple[datetime, UUID]]] = field(default_factory=dict)
    window_anchors: list[tuple[datetime, UUID]] = field(default_factory=list)
    """The live contacts that open a time window (`WINDOW_RULES`), by time: a few of all of them."""
    plans: list[datetime] = field(default_factory=list)
    crossings: dict[UUID, Crossing] = field(default_factory=dict)
    crossings_of_contact: dict[UUID, set[UUID]] = field(default_factory=dict)
    last_conversations: dict[tuple[bool, str], Evidence] = field(default_factory=dict)
    """The evidence of the last conversation of each list (`list_key`) that the judge has it for."""

    def add_crossing(self, crossing: Crossing) -> None:
        self.crossings[crossing.crossing_id] = crossing
        for contact_id in crossing.contact_ids:
            self.crossings_of_contact.setdefault(contact_id, set()).add(crossing.crossing_id)

    def rest_on(self, crossing: Crossing, contact_ids: tuple[UUID, ...]) -> None:
        """Makes ``contact_ids`` the evidence of a crossing of this file.

        A contact it no longer rests on forgets it: judging that contact's conversation
        again would otherwise take the crossing for one of its own, and resolve it.
        """
        for contact_id in set(crossing.contact_ids).difference(contact_ids):
            self.crossings_of_contact[contact_id].discard(crossing.crossing_id)
        crossing.contact_ids = contact_ids
        self.add_crossing(crossing)

    def live(self, fact: Fact) -> None:
        for keys in self._lists_of(fact):
            insort(keys, fact.key)

    def unlive(self, fact: Fact) -> None:
        for keys in self._lists_of(fact):
            del keys[bisect_left(keys, fact.key)]

    def _lists_of(self, fact: Fact) -> list[list[tuple[datetime, UUID]]]:
        """The sorted lists that hold a live contact."""
        lists = [self.by_time, self.conversation_keys(fact)]
        if fact.nature in WINDOW_RULES:
            lists.append(self.window_anchors)
        return lists

    def conversation_keys(self, fact: Fact) -> list[tuple[datetime, UUID]]:
        """The keys of the live contacts of the list a contact's conversation is found in, by time."""
        if fact.thread is not None:
            return self.threads.setdefault(fact.thread, [])
        return self.chains.setdefault(fact.profile_id, [])

    def between(self, start: datetime, end: datetime) -> Iterable[Fact]:
        """Live contacts with ``start <= occurred_at <= end``, in time order."""
        return self._facts_between(self.by_time, start, end)

    def anchors_between(self, start: datetime, end: datetime) -> Iterable[Fact]:
        """Live contacts that open a time window, with ``start <= occurred_at <= end``, in time order."""
        return self._facts_between(self.window_anchors, start, end)

    def _facts_between(self, keys: list[tuple[datetime, UUID]], start: datetime, end: datetime) -> Iterable[Fact]:
        low = bisect_left(keys, (start,))
        high = bisect_right(keys, (end, LAST_ID))
        return (self.contacts[contact_id] for _, contact_id in keys[low:high])


class OnePolicy(PolicyHistory):
    """One version that governs every moment, whatever else is published: a replay's "what if"."""

    def __init__(self, terms: PolicyTerms) -> None:
        super().__init__()
        self.versions = [terms]
        self._terms = terms

    def add(self, terms: PolicyTerms) -> None:
        """A published version changes nothing."""

    def at(self, moment: datetime) -> PolicyTerms:
        return self._terms


class Judge:
    """Applies contact events to client files and keeps their crossings as the policy says.

    With ``only``, that one version judges every contact and published versions are ignored.
    """

    def __init__(self, policies: Iterable[PolicyTerms], now: datetime, only: PolicyTerms | None = None) -> None:
        self.policies = PolicyHistory(policies) if only is None else OnePolicy(only)
        self.window = max(_longest_window(terms) for terms in self.policies.versions)
        self._sole = self._sole_version()
        self.now = now
        """The log's time: the latest recorded time of an event applied, or of a tick; it never goes back."""
        self.stamp = now
        """When what is judged now became known: the event's recorded time, or the deadline that passed."""
        self.deadlines: list[tuple[datetime, UUID, UUID]] = []
        self._scheduled: set[tuple[datetime, UUID]] = set()
        self.changed_crossings: dict[UUID, Crossing] = {}
        self.changed_facts: dict[UUID, Fact] = {}

    # Policies.

    def add_policy(self, terms: PolicyTerms) -> None:
        self.policies.add(terms)
        self.window = max(self.window, _longest_window(terms))
        self._sole = self._sole_version()

    def policy_at(self, at: datetime) -> PolicyTerms:
        # Asked several times for every contact: with one version, there is nothing to look up.
        return self.policies.at(at) if self._sole is None else self._sole

    def _sole_version(self) -> PolicyTerms | None:
        """The version that governs every moment, if there is one alone: the built-in, or a replay's."""
        return self.policies.versions[0] if len(self.policies.versions) == 1 else None

    # Time.

    def advance(self, to: datetime, files: Callable[[UUID], ClientFile]) -> None:
        """Lets the log's time pass up to ``to``: windows that closed by then are judged.

        Called before each event with its recorded time, and by the projector's ticks with the clock.
        """
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] <= to:
            deadline, client_id, contact_id = heapq.heappop(deadlines)
            self._scheduled.discard((deadline, contact_id))
            if deadline > self.now:
                self.now = deadline
            self.stamp = deadline
            file = files(client_id)
            anchor = file.contacts.get(contact_id)
            if anchor is not None:
                self.judge_anchor(file, anchor)
        if to > self.now:  # called for every event: a comparison is cheaper than max()
            self.now = to
        self.stamp = to

    # Events.

    def log(self, file: ClientFile, fact: Fact) -> None:
        file.contacts[fact.contact_id] = fact
        if not self._join(file, fact):
            self._change(file, None, fact)

    def amend(self, file: ClientFile, contact_id: UUID, changes: dict[str, Any]) -> None:
        """A correction or a retraction: the contact is judged again as it is now."""
        old = file.contacts[contact_id]
        if old.retracted:
            return
        new = replace(old, **changes)
        file.contacts[contact_id] = new
        self._change(file, old, new)

    def plan_follow_up(self, file: ClientFile, planned_at: datetime) -> None:
        insort(file.plans, planned_at)
        for anchor in list(file.anchors_between(planned_at - self.window, planned_at)):
            if anchor.nature == WORRYING_POST:
                self.judge_anchor(file, anchor)

    def review(self, file: ClientFile, crossing_id: UUID, verdict: str) -> None:
        crossing = file.crossings.get(crossing_id)
        if crossing is not None:
            crossing.verdict = verdict
            self.changed_crossings[crossing_id] = crossing

    def judge_everything(self, file: ClientFile) -> None:
        """Judges all of a client's contacts again, as after a new policy."""
        file.last_conversations.clear()
        conversations: dict[UUID, list[Fact]] = {}
        for _, contact_id in file.by_time:
            if contact_id not in conversations:
                members = self.conversation(file, file.contacts[contact_id])
                conversations.update((fact.contact_id, members) for fact in members)
        unique = {members[0].contact_id: members for members in conversations.values()}
        self._judge_conversations(file, set(file.contacts), list(unique.values()))
        for _, contact_id in list(file.by_time):
            self.judge_anchor(file, file.contacts[contact_id])

    # Conversations.

    def conversation(self, file: ClientFile, fact: Fact) -> list[Fact]:
        """The live contacts of the conversation ``fact`` belongs to, in time order."""
        if fact.retracted:
            return []
        if fact.thread is not None:
            return [file.contacts[contact_id] for _, contact_id in file.threads[fact.thread]]
        chain = file.chains[fact.profile_id]
        low = high = bisect_left(chain, fact.key)
        while low > 0 and self._continues(chain[low - 1][0], chain[low][0]):
            low -= 1
        while high + 1 < len(chain) and self._continues(chain[high][0], chain[high + 1][0]):
            high += 1
        return [file.contacts[contact_id] for _, contact_id in chain[low:high + 1]]

    def _continues(self, earlier: datetime, later: datetime) -> bool:
        gap = self.policy_at(later).conversation_gap_hours
        return (later - earlier).total_seconds() < gap * 3600

    # Judging.

    def _join(self, file: ClientFile, fact: Fact) -> bool:
        """Judges a new contact by the evidence kept of the last conversation of its list, which it joins or
        follows: its crossings take the one contact more. False, and nothing changed, if the contact falls
        outside that conversation, would change where the evidence of a rule begins, or the evidence is not
        kept: the conversations it touches are then judged afresh."""
        keys = file.conversation_keys(fact)
        if not keys or (fact.thread is None and keys[-1] < fact.key
                        and not self._continues(keys[-1][0], fact.occurred_at)):
            evidence = Evidence(_conversation_id(fact), fact.key, fact.key)
        else:
            kept = file.last_conversations.get(list_key(fact))
            if kept is None or kept.last != keys[-1] or not self._inside(keys, kept, fact):
                return False
            evidence = kept
        joined = self._joined(file, evidence, fact)
        if joined is None:
            return False
        file.last_conversations[list_key(fact)] = evidence
        file.live(fact)
        fact.conversation_id = evidence.conversation_id
        self.changed_facts[fact.contact_id] = fact
        self._add(file, evidence, fact, joined)
        for rule in joined:
            finding = self._finding(file, evidence, rule)
            if finding is not None:
                self._place(file, finding, fact)
        self._judge_windows_around(file, None, fact)
        return True

    def _inside(self, keys: list[tuple[datetime, UUID]], evidence: Evidence, fact: Fact) -> bool:
        """Whether a contact falls in the conversation of ``evidence``, the last of its list, without changing
        its first contact: a thread is one conversation; a chain, only where the contact continues from the
        contact before it and the one after it continues from it."""
        if fact.thread is not None:
            return True
        if fact.key < evidence.first:
            return False
        at = bisect_left(keys, fact.key)
        return self._continues(keys[at - 1][0], fact.occurred_at) and (
            at == len(keys) or self._continues(fact.occurred_at, keys[at][0])
        )

    def _change(self, file: ClientFile, old: Fact | None, new: Fact) -> None:
        for fact in (old, new):
            if fact is not None:
                file.last_conversations.pop(list_key(fact), None)
        before = self.conversation(file, old) if old is not None else []
        if old is not None and not old.retracted:
            file.unlive(old)
        if not new.retracted:
            file.live(new)
        self.changed_facts[new.contact_id] = new
        touched = {fact.contact_id for fact in before} | {new.contact_id}
        conversations: dict[UUID, list[Fact]] = {}
        for contact_id in touched:
            members = self.conversation(file, file.contacts[contact_id])
            if members:
                conversations[members[0].contact_id] = members
        touched |= {fact.contact_id for members in conversations.values() for fact in members}
        self._judge_conversations(file, touched, list(conversations.values()))
        self._judge_windows_around(file, old, new)

    def _judge_conversations(self, file: ClientFile, touched: set[UUID], conversations: list[list[Fact]]) -> None:
        for members in conversations:
            self._name_conversation(members)
        findings: dict[UUID, Finding] = {}
        for members in conversations:
            evidence = self._evidence(file, members)
            for rule in CONVERSATION_RULES:
                finding = self._finding(file, evidence, rule)
                if finding is not None:
                    findings[_crossing_id(rule, finding.evidence[0].contact_id)] = finding
        earlier = {
            crossing_id for contact_id in touched for crossing_id in file.crossings_of_contact.get(contact_id, ())
            if file.crossings[crossing_id].rule in CONVERSATION_RULE_NAMES
        }
        self._settle(file, earlier, findings)

    def _name_conversation(self, members: list[Fact]) -> None:
        conversation_id = _conversation_id(members[0])
        for fact in members:
            if fact.conversation_id != conversation_id:
                fact.conversation_id = conversation_id
                self.changed_facts[fact.contact_id] = fact

    def _evidence(self, file: ClientFile, members: list[Fact]) -> Evidence:
        """The evidence of a conversation; kept if it is the last of its list, for the contacts that join it."""
        first, last = members[0], members[-1]
        evidence = Evidence(_conversation_id(first), first.key, first.key)
        for fact in members:
            joined = self._joined(file, evidence, fact)
            assert joined is not None, "a contact after the others joins whatever evidence it crosses"
            self._add(file, evidence, fact, joined)
        if file.conversation_keys(last)[-1] == last.key:
            file.last_conversations[list_key(last)] = evidence
        return evidence

    def _joined(self, file: ClientFile, evidence: Evidence, fact: Fact) -> list[Rule] | None:
        """The rules whose evidence a contact of the conversation joins; None if it would change where the
        evidence of one begins (or, before a professional contact, which functions may use such a profile)."""
        facts, key, nature = evidence.facts, fact.key, fact.nature
        joined: list[Rule] = []
        drift = facts.get(Rule.DRIFT_INTO_HELP)
        # From the first help given on, help and referrals are the drift's evidence.
        if nature == HELP_CONVERSATION:
            if drift[0].key > key if drift else evidence.last > key:
                return None  # a first help given earlier: referrals after it would join too
            joined.append(Rule.DRIFT_INTO_HELP)
        elif nature in REFERRAL_NATURES and drift and drift[0].key < key:
            joined.append(Rule.DRIFT_INTO_HELP)
        if fact.profile_kind == PERSONAL:
            joined.append(Rule.PERSONAL_PROFILE_CONTACT)
            if fact.intern:
                joined.append(Rule.INTERN_PERSONAL_PROFILE)
        elif fact.profile_kind == PROFESSIONAL:
            if evidence.first_professional is not None and evidence.first_professional > key:
                return None
            allowed = evidence.allowed if evidence.allowed is not None else self._allowed(file, fact)
            if fact.function not in allowed:
                joined.append(Rule.PROFESSIONAL_PROFILE_CONTACT)
        for rule in joined:
            held = facts.get(rule)
            if held and held[0].key > key:
                return None
        return joined

    def _add(self, file: ClientFile, evidence: Evidence, fact: Fact, joined: list[Rule]) -> None:
        """Adds a contact to the evidence of its conversation, and to the rules' it joined."""
        key = fact.key
        if fact.profile_kind == PROFESSIONAL and evidence.allowed is None:
            evidence.allowed, evidence.first_professional = self._allowed(file, fact), key
        for rule in joined:
            facts = evidence.facts.setdefault(rule, [])
            if not facts or facts[-1].key < key:
                facts.append(fact)
            else:
                insort(facts, fact, key=FACT_KEY)
        if fact.nature in REFERRAL_NATURES and Rule.DRIFT_INTO_HELP in joined:
            evidence.referred = True
        if key > evidence.last:
            evidence.last = key
        elif key < evidence.first:  # a thread's new first contact: a chain's conversation keeps its first
            evidence.first = key

    def _allowed(self, file: ClientFile, first_professional: Fact) -> tuple[str, ...]:
        """The functions that may use a professional profile, by the policy in force at a conversation's first
        professional contact."""
        return tuple(self.policy_at(first_professional.occurred_at).settings(
            Rule.PROFESSIONAL_PROFILE_CONTACT, file.organisation
        ).params.get("allowed_functions", ()))

    def _finding(self, file: ClientFile, evidence: Evidence, rule: Rule) -> Finding | None:
        """What a conversation rule finds in the evidence, under the policy in force at its first contact."""
        facts = evidence.facts.get(rule)
        if not facts:
            return None
        terms = self.policy_at(facts[0].occurred_at)
        settings = terms.settings(rule, file.organisation)
        if not settings.enabled:
            return None
        severity = settings.severity
        if rule in EXPERIMENT_RULES and file.organisation in settings.params.get("experiment_organisations", ()):
            severity = Severity.INFO
        if rule is Rule.DRIFT_INTO_HELP and evidence.referred:
            severity = Severity(settings.params.get("referred_severity", severity))
        return Finding(rule, severity, terms.version, facts)

    def _judge_windows_around(self, file: ClientFile, old: Fact | None, new: Fact) -> None:
        """Judges the changed contact's own window, and the earlier windows it answered before or may answer now.

        Only those: judging again a window that the change cannot answer finds what
        was found (every deadline up to now has been judged), and a client with many
        contacts within a window would pay for all of its windows at every contact. A
        window answered before the changed contact occurred keeps its answer, whether
        the contact comes, goes or moves after it.
        """
        anchors = {new.contact_id: new}
        for fact in (old, new):
            if fact is None:
                continue
            for anchor in file.anchors_between(fact.occurred_at - self.window, fact.occurred_at):
                answered_at = anchor.answered_at
                if _may_answer(fact, anchor) and (answered_at is None or answered_at >= fact.occurred_at):
                    anchors[anchor.contact_id] = anchor
        for anchor in anchors.values():
            self.judge_anchor(file, anchor)

    def judge_anchor(self, file: ClientFile, anchor: Fact) -> None:
        """Judges the rules that look at one contact: its time window, and the hours it occurred in."""
        findings: dict[UUID, Finding] = {}
        if not anchor.retracted:
            terms = self.policy_at(anchor.occurred_at)
            window_finding = self._window_finding(file, anchor, terms)
            if window_finding is not None:
                findings[_crossing_id(window_finding.rule, anchor.contact_id)] = window_finding
            hours = terms.settings(Rule.OUT_OF_HOURS, file.organisation)
            if hours.enabled and not working_hours_contain(hours, anchor.occurred_at):
                findings[_crossing_id(Rule.OUT_OF_HOURS, anchor.contact_id)] = Finding(
                    Rule.OUT_OF_HOURS, hours.severity, terms.version, [anchor]
                )
        earlier = self._anchored_at(file, anchor)
        if earlier or findings:
            self._settle(file, earlier, findings)

    @staticmethod
    def _anchored_at(file: ClientFile, anchor: Fact) -> set[UUID]:
        """The crossings of the rules that look at one contact, found earlier at ``anchor``."""
        ids = file.crossings_of_contact.get(anchor.contact_id)
        if not ids:  # most contacts: every one is judged as an anchor when it is logged
            return set()
        crossings = (file.crossings[crossing_id] for crossing_id in ids)
        return {
            crossing.crossing_id for crossing in crossings
            if crossing.rule in ANCHOR_RULE_NAMES and crossing.contact_ids[0] == anchor.contact_id
        }

    def _window_finding(self, file: ClientFile, anchor: Fact, terms: PolicyTerms) -> Finding | None:
        if anchor.nature not in WINDOW_RULES:
            anchor.answered_at = None
            self._refer(anchor, None)  # no longer a help question (corrected): no hours to a referral
            return None
        rule, parameter = WINDOW_RULES[anchor.nature]
        settings = terms.settings(rule, file.organisation)
        deadline = anchor.occurred_at + timedelta(hours=terms.hours(rule, file.organisation, parameter))
        answered = anchor.answered_at = self._answer(file, anchor, deadline)
        hours = None if answered is None else (answered - anchor.occurred_at).total_seconds() / 3600
        self._refer(anchor, hours if rule is Rule.HELP_QUESTION_NOT_REFERRED else None)
        if answered is not None or not settings.enabled:
            return None
        if self.now < deadline:
            if (deadline, anchor.contact_id) not in self._scheduled:
                self._scheduled.add((deadline, anchor.contact_id))
                heapq.heappush(self.deadlines, (deadline, file.client_id, anchor.contact_id))
            return None
        return Finding(rule, settings.severity, terms.version, [anchor])

    def _refer(self, fact: Fact, hours: float | None) -> None:
        """Sets the hours from a help question to its referral (None for any other contact, or none in time)."""
        if fact.referred_hours != hours:
            fact.referred_hours = hours
            self.changed_facts[fact.contact_id] = fact

    def _answer(self, file: ClientFile, anchor: Fact, deadline: datetime) -> datetime | None:
        """When the window of ``anchor`` was answered: a referral, or for a worrying post any contact or plan."""
        for fact in file.between(anchor.occurred_at, deadline):
            if fact.contact_id != anchor.contact_id and _may_answer(fact, anchor):
                return fact.occurred_at
        if anchor.nature == WORRYING_POST:
            index = bisect_left(file.plans, anchor.occurred_at)
            if index < len(file.plans) and file.plans[index] <= deadline:
                return file.plans[index]
        return None

    def _settle(self, file: ClientFile, earlier: set[UUID], findings: dict[UUID, Finding]) -> None:
        """Turns findings into crossings: new ones open, changed ones updated, vanished ones resolved."""
        for crossing_id in earlier - findings.keys():
            crossing = file.crossings[crossing_id]
            if crossing.found:
                crossing.found = False
                self.changed_crossings[crossing_id] = crossing
        for crossing_id, finding in findings.items():
            self._record(file, crossing_id, finding)

    def _place(self, file: ClientFile, finding: Finding, fact: Fact) -> None:
        """Records a finding whose evidence took ``fact``: the crossing found before it takes that contact in
        the same place, unless it is new or is not what the evidence was without it."""
        evidence = finding.evidence
        crossing_id = _crossing_id(finding.rule, evidence[0].contact_id)
        crossing = file.crossings.get(crossing_id)
        at = bisect_left(evidence, fact.key, key=FACT_KEY)
        ids = crossing.contact_ids if crossing is not None else ()
        if (crossing is None or not crossing.found or at == 0 or len(ids) != len(evidence) - 1
                or ids[at - 1] != evidence[at - 1].contact_id
                or (at < len(ids) and ids[at] != evidence[at + 1].contact_id)):
            self._record(file, crossing_id, finding)
            return
        crossing.contact_ids = (*ids[:at], fact.contact_id, *ids[at:])
        file.crossings_of_contact.setdefault(fact.contact_id, set()).add(crossing_id)
        crossing.severity = finding.severity.value
        crossing.ended_at = evidence[-1].occurred_at
        self.changed_crossings[crossing_id] = crossing

    def _record(self, file: ClientFile, crossing_id: UUID, finding: Finding) -> None:
        first = finding.evidence[0]
        contact_ids = tuple([fact.contact_id for fact in finding.evidence])
        crossing = file.crossings.get(crossing_id)
        if crossing is None:
            crossing = Crossing(
                crossing_id, finding.rule.value, finding.severity.value, finding.policy_version, file.client_id,
                first.team_id, first.account_id, first.profile_kind, contact_ids, first.occurred_at,
                finding.evidence[-1].occurred_at, self.stamp,
            )
            file.add_crossing(crossing)
        elif crossing.found and crossing.contact_ids == contact_ids and (
            crossing.severity, crossing.policy_version, crossing.started_at, crossing.ended_at
        ) == (finding.severity.value, finding.policy_version, first.occurred_at, finding.evidence[-1].occurred_at):
            return
        else:
            crossing.found = True
            crossing.severity = finding.severity.value
            crossing.policy_version = finding.policy_version
            crossing.started_at = first.occurred_at
            crossing.ended_at = finding.evidence[-1].occurred_at
            file.rest_on(crossing, contact_ids)
        self.changed_crossings[crossing_id] = crossing


def _may_answer(fact: Fact, anchor: Fact) -> bool:
    """Whether ``fact`` answers the window of ``anchor`` when it falls in it: a referral answers a help
    question, any contact a worrying post."""
    return anchor.nature == WORRYING_POST or fact.nature in REFERRAL_NATURES


def list_key(fact: Fact) -> tuple[bool, str]:
    """Which list a contact's conversation is found in: its thread, or else its profile's chain."""
    return (True, fact.thread) if fact.thread is not None else (False, fact.profile_id)


def _conversation_id(first: Fact) -> str:
    """A conversation's id, from its first contact: any text unique to the conversation will do, the report
    only counts them."""
    return f"{first.client_id.hex}/{first.thread}" if first.thread is not None else first.contact_id.hex


@lru_cache(maxsize=1 << 16)
def _crossing_id(rule: Rule, anchor_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"{rule.value}/{anchor_id}")


def _longest_window(terms: PolicyTerms) -> timedelta:
    hours = [
        float(settings.params[parameter])
        for rule, parameter in WINDOW_RULES.values()
        for settings in (terms.rules[rule], *(terms.settings(rule, name) for name in terms.overrides))
    ]
    return timedelta(hours=max(hours))
