"""Judging contact by contact finds what judging each client's contacts all at once finds.

The judge re-judges, after each event, only what that event can change: the
conversations it touches and the time windows it may answer. Here random,
dense histories (many contacts of a few clients within a few days, with
corrections, retractions and follow-ups) are judged both ways under the sector
agreement, and an out-of-hours variant of it: the crossings still found, and
what the report reads of each contact, must be the same.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from events.policy import SECTOR_AGREEMENT_2019, PolicyTerms, RuleSettings
from events.vocabulary import Nature, Rule
from projections.crossings import ClientFile, Fact, Judge

START = datetime(2025, 3, 3, 6, 0, tzinfo=timezone.utc)
END = START + timedelta(days=120)
"""Long after every window of every contact has closed."""
CLIENTS = [UUID(int=n) for n in range(1, 4)]
PROFILES = (("ann-personal", "personal"), ("team-shared", "shared"), ("cora-professional", "professional"))
NATURES = [nature.value for nature in Nature]


def out_of_hours_too() -> PolicyTerms:
    rules = dict(SECTOR_AGREEMENT_2019.rules)
    hours = rules[Rule.OUT_OF_HOURS]
    rules[Rule.OUT_OF_HOURS] = RuleSettings(True, hours.severity, hours.params)
    return replace(SECTOR_AGREEMENT_2019, version="with-out-of-hours", rules=rules)


class WalkingJudge(Judge):
    """The judge without its shortcuts: every contact walks its whole conversation, and every window around
    a change is judged again."""

    def _join(self, file: ClientFile, fact: Fact) -> bool:
        return False

    def _judge_windows_around(self, file: ClientFile, old: Fact | None, new: Fact) -> None:
        anchors = {new.contact_id: new}
        for fact in (old, new):
            if fact is not None:
                anchors.update((a.contact_id, a) for a in file.anchors_between(fact.occurred_at - self.window,
                                                                                fact.occurred_at))
        for anchor in anchors.values():
            self.judge_anchor(file, anchor)


class History:
    """A random history of a few clients, applied to a judge as the boundaries projection applies it."""

    def __init__(self, rng: random.Random, terms: PolicyTerms, judge: type[Judge] = Judge) -> None:
        self.rng, self.terms = rng, terms
        self.judge = judge([terms], START, only=terms)
        self.files = {client_id: ClientFile(client_id, "caw-zuid") for client_id in CLIENTS}
        self.recorded = START
        self.serial = 0

    def play(self, steps: int) -> None:
        for _ in range(steps):
            quiet = self.rng.random() < 0.08  # now and then days without a contact: windows close unanswered
            self.recorded += timedelta(hours=self.rng.uniform(24, 100)) if quiet else timedelta(minutes=self.rng.uniform(0, 90))
            self.judge.advance(self.recorded, self.files.__getitem__)
            file = self.files[self.rng.choice(CLIENTS)]
            live = [fact for fact in file.contacts.values() if not fact.retracted]
            roll = self.rng.random()
            if roll < 0.12 and live:
                self.judge.amend(file, self.rng.choice(live).contact_id, self._changes())
            elif roll < 0.17 and live:
                self.judge.amend(file, self.rng.choice(live).contact_id, {"retracted": True})
            elif roll < 0.22 and file.contacts:
                self.judge.plan_follow_up(file, self.recorded)
            else:
                self.judge.log(file, self._fact(file.client_id))
        self.judge.advance(END, self.files.__getitem__)

    def _fact(self, client_id: UUID) -> Fact:
        self.serial += 1
        profile_id, kind = self.rng.choice(PROFILES)
        return Fact(
            UUID(int=1_000 + self.serial), client_id, "jac-kortrijk", "ann", "counsellor", self.rng.random() < 0.3,
            profile_id, kind, self.rng.choice(NATURES), self._occurred_at(), self.recorded,
            self.rng.choice([None, None, "thread-a", "thread-b"]),
        )

    def _occurred_at(self) -> datetime:
        """Mostly a little before it was recorded; sometimes logged days late."""
        late = self.rng.choice([timedelta(minutes=self.rng.uniform(0, 120)), timedelta(hours=self.rng.uniform(0, 80))])
        return max(START - timedelta(days=3), self.recorded - late)

    def _changes(self) -> dict[str, Any]:
        name = self.rng.choice(["nature", "occurred_at", "thread"])
        value = {"nature": self.rng.choice(NATURES), "occurred_at": self._occurred_at(),
                 "thread": self.rng.choice([None, "thread-a", "thread-c"])}[name]
        return {name: value}


def found(files: dict[UUID, ClientFile]) -> set[tuple[Any, ...]]:
    return {
        (crossing.rule, crossing.severity, crossing.policy_version, crossing.contact_ids, crossing.started_at,
         crossing.ended_at)
        for file in files.values() for crossing in file.crossings.values() if crossing.found
    }


def report_facts(files: dict[UUID, ClientFile]) -> dict[UUID, tuple[Any, ...]]:
    """What the report counts of each live contact: its conversation, and for a help question the hours to referral."""
    return {
        fact.contact_id: (fact.conversation_id, fact.referred_hours)
        for file in files.values() for fact in file.contacts.values() if not fact.retracted
    }


def judged_at_once(history: History) -> dict[UUID, ClientFile]:
    """Each client's final contacts and plans, judged afresh in one go once every window has closed."""
    judge = Judge([history.terms], END, only=history.terms)
    files = {}
    for client_id, judged in history.files.items():
        file = ClientFile(client_id, judged.organisation, plans=list(judged.plans))
        for fact in judged.contacts.values():
            fresh = replace(fact, conversation_id=None, referred_hours=None)
            file.contacts[fresh.contact_id] = fresh
            if not fresh.retracted:
                file.live(fresh)
        judge.judge_everything(file)
        files[client_id] = file
    return files


@pytest.mark.parametrize("terms", [SECTOR_AGREEMENT_2019, out_of_hours_too()], ids=lambda terms: terms.version)
@pytest.mark.parametrize("seed", range(40))
def test_contact_by_contact_finds_what_judging_everything_at_once_finds(seed: int, terms: PolicyTerms) -> None:
    history = History(random.Random(seed), terms)
    history.play(steps=160)

    at_once = judged_at_once(history)

    assert found(history.files), "a history that crosses nothing proves nothing"
    assert found(history.files) == found(at_once)
    assert report_facts(history.files) == report_facts(at_once)


def every_crossing(files: dict[UUID, ClientFile]) -> dict[UUID, tuple[Any, ...]]:
    """Every crossing, resolved ones too, with when it was detected and how it was reviewed."""
    return {
        crossing.crossing_id: (
            crossing.rule, crossing.severity, crossing.policy_version, crossing.contact_ids, crossing.started_at,
            crossing.ended_at, crossing.detected_at, crossing.found,
        )
        for file in files.values() for crossing in file.crossings.values()
    }


@pytest.mark.parametrize("terms", [SECTOR_AGREEMENT_2019, out_of_hours_too()], ids=lambda terms: terms.version)
@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("steps", [160, 800])
def test_the_judges_shortcuts_find_what_walking_everything_finds(seed: int, steps: int, terms: PolicyTerms) -> None:
    """Contacts that continue a conversation grow its crossings in place, and windows answered before a change
    are left alone; the judge that walks every conversation and every window around each change must agree
    on every crossing (resolved ones and when each was detected too) and on what the report reads."""
    shortcuts = History(random.Random(seed), terms)
    walking = History(random.Random(seed), terms, WalkingJudge)

    shortcuts.play(steps)
    walking.play(steps)

    assert any(len(c.contact_ids) > 3 for f in walking.files.values() for c in f.crossings.values()), \
        "no long conversation: the shortcut of growing a crossing in place was not tried"
    assert every_crossing(shortcuts.files) == every_crossing(walking.files)
    assert report_facts(shortcuts.files) == report_facts(walking.files)
