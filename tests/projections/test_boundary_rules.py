"""Each rule of the sector agreement on a small scenario, with the crossings computed by hand.

The scenarios run through a real `Logbook` on SQLite and a real projector;
the projector's clock is moved by hand to judge time windows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from events import Account
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook.application import ContactDraft, Logbook
from logbook.config import Settings
from logbook.store import EventStore
from projections.base import UnhandledEventError
from projections.boundaries import Boundaries, BoundaryView
from projections.runner import SETTLE, PollingFeed, Projector

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=timezone.utc)
"""A Monday, 11:00 in Brussels."""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Scenario:
    """Two teams of CAW Zuid (not the agreement's experiment) and one of CAW NWVL (the experiment)."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(data_dir=data_dir, database_url=None, secret_key=b"k" * 40, master_key=b"m" * 32)
        self.clock = Clock(T0 - timedelta(days=10))
        self.logbook = Logbook(self.settings, clock=self.clock)
        self.view = BoundaryView(str(data_dir / "boundaries.sqlite3"))
        self.accounts: dict[str, Account] = {}
        for team_id, organisation, site in (
            ("jac-kortrijk", "caw-zuid", "Kortrijk"), ("shw-kortrijk", "caw-zuid", "Kortrijk"),
            ("jac-oostende", "caw-nwvl", "Oostende"),
        ):
            self.logbook.register_team(team_id=team_id, name=team_id, organisation=organisation, site=site,
                                       service=Service.JAC)
        self._account("ann", "jac-kortrijk", Function.COUNSELLOR, ProfileKind.PERSONAL)
        self._account("bob", "jac-kortrijk", Function.COUNSELLOR, ProfileKind.PERSONAL, intern=True)
        self._account("sam", "shw-kortrijk", Function.STREET_WORK, ProfileKind.PROFESSIONAL)
        self._account("cora", "shw-kortrijk", Function.COUNSELLOR, ProfileKind.PROFESSIONAL)
        self._account("olga", "jac-oostende", Function.COUNSELLOR, ProfileKind.PERSONAL)
        self._account("otto", "jac-oostende", Function.COUNSELLOR, ProfileKind.PROFESSIONAL, intern=True)
        self.logbook.register_profile(profile_id="jac-kortrijk-shared", channel=Channel.MESSENGER,
                                      kind=ProfileKind.SHARED, team_id="jac-kortrijk", users=["ann", "bob"])
        self.admin = self.logbook.add_account(account_id="admin", name="Admin", role=Role.ADMIN)[0]
        self.clock.now = T0

    def _account(self, who: str, team_id: str, function: Function, kind: ProfileKind, intern: bool = False) -> None:
        self.accounts[who], _ = self.logbook.add_account(
            account_id=who, name=who, role=Role.WORKER, team_id=team_id, function=function, intern=intern,
        )
        self.logbook.register_profile(profile_id=f"{who}-{kind}", channel=Channel.MESSENGER, kind=kind,
                                      team_id=team_id, users=[who])

    def log(self, who: str, nature: str, at: datetime, *, profile: str | None = None, client: str = "jonas",
            thread: str | None = None) -> UUID:
        """Logs a contact that occurred ``at``, recorded at the app's clock (moved up to ``at`` if behind)."""
        self.clock.now = max(self.clock.now, at)
        profile_id = profile or next(p.profile_id for p in self.logbook.usable_profiles(self.accounts[who]))
        receipt = self.logbook.log_contact(self.accounts[who], ContactDraft(
            client_ref=client, profile_id=profile_id, direction=Direction.OUTBOUND, nature=Nature(nature),
            occurred_at=at, thread=thread,
        ))
        return receipt.contact_id

    def project(self, at: datetime | None = None) -> None:
        """Runs a fresh projector (as after a restart) with its clock at ``at`` (the app's clock by default)."""
        clock = Clock((at or self.clock.now) + SETTLE)
        store = EventStore(self.settings)
        Projector(PollingFeed(store.recorder), store.mapper, [Boundaries(self.view)], clock).catch_up()
        store.close()

    def crossings(self, rule: str | None = None) -> list[dict[str, Any]]:
        with self.view.reading() as cursor:
            cursor.execute("SELECT * FROM crossings ORDER BY started_at, rule")
            rows = [dict(row) for row in cursor.fetchall()]
        return [row for row in rows if rule is None or row["rule"] == rule]

    def close(self) -> None:
        self.logbook.close()
        self.view.close()


@pytest.fixture
def scenario(tmp_path: Path) -> Any:
    opened = Scenario(tmp_path)
    yield opened
    opened.close()


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(row["rule"], row["severity"], row["status"]) for row in rows]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# drift_into_help


def test_help_in_a_conversation_is_a_high_drift_into_help(scenario):
    contact = scenario.log("ann", "help_conversation", T0, profile="jac-kortrijk-shared", thread="t1")

    scenario.project()

    [crossing] = scenario.crossings()
    assert summary([crossing]) == [("drift_into_help", "high", "open")]
    assert crossing["contact_ids"] == f'["{contact.hex}"]'
    assert crossing["site"] == "Kortrijk" and crossing["team_id"] == "jac-kortrijk"
    assert crossing["policy_version"] == "sector-agreement-2019"


def test_a_referral_later_in_the_same_conversation_lowers_the_drift_to_low(scenario):
    scenario.log("ann", "help_conversation", T0, profile="jac-kortrijk-shared", thread="t1")
    scenario.project()
    first = scenario.crossings()[0]["crossing_id"]

    scenario.log("ann", "referral_safe_chat", T0 + hours(1), profile="jac-kortrijk-shared", thread="t1")
    scenario.project()

    [crossing] = scenario.crossings()
    assert crossing["crossing_id"] == first
    assert summary([crossing]) == [("drift_into_help", "low", "open")]
    assert crossing["ended_at"].startswith("2025-03-03T11:00")


def test_a_referral_in_another_conversation_leaves_the_drift_high(scenario):
    scenario.log("ann", "help_conversation", T0, profile="jac-kortrijk-shared", thread="t1")
    scenario.log("ann", "referral_safe_chat", T0 + hours(1), profile="jac-kortrijk-shared", thread="t2")

    scenario.project()

    assert summary(scenario.crossings("drift_into_help")) == [("drift_into_help", "high", "open")]


def test_retracting_the_help_resolves_the_drift_and_keeps_it(scenario):
    contact = scenario.log("ann", "help_conversation", T0, profile="jac-kortrijk-shared")
    scenario.project()

    scenario.logbook.retract_contact(scenario.accounts["ann"], contact, "Wrong client.")
    scenario.project()

    assert summary(scenario.crossings()) == [("drift_into_help", "high", "resolved")]


def test_correcting_the_nature_judges_the_contact_again(scenario):
    contact = scenario.log("ann", "information", T0, profile="jac-kortrijk-shared")
    scenario.project()
    assert scenario.crossings() == []

    scenario.logbook.correct_contact(scenario.accounts["ann"], contact, {"nature": "help_conversation"}, "It was help.")
    scenario.project()

    assert summary(scenario.crossings()) == [("drift_into_help", "high", "open")]


# help_question_not_referred


def test_a_help_question_without_referral_is_a_crossing_once_48_hours_have_passed(scenario):
    scenario.log("ann", "help_question", T0, profile="jac-kortrijk-shared")

    scenario.project(at=T0 + hours(47))
    assert scenario.crossings() == []

    scenario.project(at=T0 + hours(49))
    [crossing] = scenario.crossings()
    assert summary([crossing]) == [("help_question_not_referred", "medium", "open")]
    assert crossing["detected_at"] == "2025-03-05T10:00:00.000000Z"


def test_a_referral_within_48_hours_by_another_team_of_the_organisation_answers_the_question(scenario):
    scenario.log("ann", "help_question", T0, profile="jac-kortrijk-shared")
    scenario.log("sam", "referral_in_person", T0 + hours(30))

    scenario.project(at=T0 + hours(100))

    assert scenario.crossings("help_question_not_referred") == []


def test_a_referral_logged_late_but_inside_the_window_resolves_the_crossing(scenario):
    scenario.log("ann", "help_question", T0, profile="jac-kortrijk-shared")
    scenario.project(at=T0 + hours(49))

    scenario.clock.now = T0 + hours(50)
    scenario.log("ann", "referral_safe_chat", T0 + hours(47), profile="jac-kortrijk-shared")
    scenario.project()

    assert summary(scenario.crossings()) == [("help_question_not_referred", "medium", "resolved")]


def test_a_referral_after_the_window_does_not_answer_the_question(scenario):
    scenario.log("ann", "help_question", T0, profile="jac-kortrijk-shared")
    scenario.log("ann", "referral_safe_chat", T0 + hours(49), profile="jac-kortrijk-shared")

    scenario.project()

    assert summary(scenario.crossings()) == [("help_question_not_referred", "medium", "open")]


# professional_profile_contact


def test_a_counsellor_contacting_from_a_professional_profile_is_a_medium_crossing(scenario):
    scenario.log("cora", "keeping_in_touch", T0)
    scenario.log("cora", "information", T0 + hours(2))

    scenario.project()

    [crossing] = scenario.crossings()
    assert summary([crossing]) == [("professional_profile_contact", "medium", "open")]
    assert len(json.loads(crossing["contact_ids"])) == 2  # both contacts of the one conversation


def test_street_work_may_contact_from_a_professional_profile(scenario):
    scenario.log("sam", "keeping_in_touch", T0)

    scenario.project()

    assert scenario.crossings() == []


def test_in_the_experiment_organisation_professional_and_personal_profiles_are_info(scenario):
    scenario.log("olga", "keeping_in_touch", T0)
    scenario.log("otto", "invitation", T0, client="lotte")

    scenario.project()

    assert sorted(summary(scenario.crossings())) == [
        ("personal_profile_contact", "info", "open"), ("professional_profile_contact", "info", "open"),
    ]


# personal_profile_contact and intern_personal_profile


def test_a_personal_profile_gives_one_low_crossing_per_conversation(scenario):
    scenario.log("ann", "keeping_in_touch", T0)
    scenario.log("ann", "information", T0 + hours(2))
    scenario.log("ann", "invitation", T0 + hours(30))  # more than 24 hours later: a new conversation

    scenario.project()

    assert summary(scenario.crossings()) == [("personal_profile_contact", "low", "open")] * 2


def test_a_contact_logged_late_between_two_conversations_joins_them(scenario):
    scenario.log("ann", "keeping_in_touch", T0)
    scenario.log("ann", "invitation", T0 + hours(30))
    scenario.project()

    scenario.log("ann", "information", T0 + hours(15))
    scenario.project()

    rows = scenario.crossings()
    assert sorted(summary(rows)) == [("personal_profile_contact", "low", "open"),
                                     ("personal_profile_contact", "low", "resolved")]
    assert len(json.loads(next(row for row in rows if row["status"] == "open")["contact_ids"])) == 3


def test_an_intern_on_a_personal_profile_is_medium_everywhere(scenario):
    scenario.log("bob", "keeping_in_touch", T0)

    scenario.project()

    assert sorted(summary(scenario.crossings())) == [
        ("intern_personal_profile", "medium", "open"), ("personal_profile_contact", "low", "open"),
    ]


# worrying_post_without_follow_up


def test_a_worrying_post_with_nothing_after_it_is_high_after_72_hours(scenario):
    scenario.log("ann", "worrying_post_outreach", T0, profile="jac-kortrijk-shared")

    scenario.project(at=T0 + hours(71))
    assert scenario.crossings() == []
    scenario.project(at=T0 + hours(73))

    assert summary(scenario.crossings()) == [("worrying_post_without_follow_up", "high", "open")]


def test_a_follow_up_planned_within_72_hours_answers_a_worrying_post(scenario):
    scenario.log("ann", "worrying_post_outreach", T0, profile="jac-kortrijk-shared")
    client_id = scenario.logbook.look_up_client(scenario.accounts["ann"], "jonas")
    scenario.clock.now = T0 + hours(5)
    scenario.logbook.plan_follow_up(scenario.accounts["ann"], client_id, T0 + hours(100), "Call back.")

    scenario.project(at=T0 + hours(200))

    assert scenario.crossings() == []


def test_another_contact_within_72_hours_answers_a_worrying_post(scenario):
    scenario.log("ann", "worrying_post_outreach", T0, profile="jac-kortrijk-shared")
    scenario.log("ann", "keeping_in_touch", T0 + hours(70), profile="jac-kortrijk-shared")

    scenario.project(at=T0 + hours(200))

    assert scenario.crossings() == []


# out_of_hours, and policies as versioned data


def test_out_of_hours_is_disabled_by_the_sector_agreement(scenario):
    scenario.log("ann", "keeping_in_touch", T0 + hours(12), profile="jac-kortrijk-shared")  # 23:00 in Brussels

    scenario.project()

    assert scenario.crossings() == []


def test_a_policy_enabling_out_of_hours_judges_contacts_from_its_date_on(scenario):
    before = scenario.log("ann", "keeping_in_touch", T0 - hours(24 * 7 - 12), profile="jac-kortrijk-shared")
    late = scenario.log("ann", "keeping_in_touch", T0 + hours(12), profile="jac-kortrijk-shared")
    scenario.log("ann", "keeping_in_touch", T0 + hours(2), profile="jac-kortrijk-shared", client="lotte")
    scenario.project()

    scenario.logbook.publish_policy(scenario.admin, {
        "version": "caw-zuid-2025", "effective_from": "2025-03-01T00:00:00+01:00",
        "rules": {"out_of_hours": {"enabled": True}},
    })
    scenario.project()

    [crossing] = scenario.crossings()
    assert summary([crossing]) == [("out_of_hours", "low", "open")]
    assert crossing["contact_ids"] == f'["{late.hex}"]' and crossing["policy_version"] == "caw-zuid-2025"
    assert before.hex not in crossing["contact_ids"]


def test_an_organisation_override_disables_a_rule_for_that_organisation_only(scenario):
    scenario.clock.now = T0 - hours(1)
    scenario.logbook.publish_policy(scenario.admin, {
        "version": "zuid-no-personal", "effective_from": "2025-01-01T00:00:00+01:00",
        "overrides": {"caw-zuid": {"personal_profile_contact": {"enabled": False}}},
    })
    scenario.log("ann", "keeping_in_touch", T0)
    scenario.log("olga", "keeping_in_touch", T0)

    scenario.project()

    assert summary(scenario.crossings()) == [("personal_profile_contact", "info", "open")]
    assert scenario.crossings()[0]["team_id"] == "jac-oostende"


def test_correcting_when_the_evidence_occurred_moves_the_crossing(scenario):
    contact = scenario.log("ann", "help_conversation", T0, profile="jac-kortrijk-shared")
    scenario.project()

    scenario.logbook.correct_contact(scenario.accounts["ann"], contact, {"occurred_at": T0 - hours(3)}, "Typo.")
    scenario.project()

    [crossing] = scenario.crossings()
    assert crossing["started_at"].startswith("2025-03-03T07:00") and crossing["ended_at"].startswith("2025-03-03T07:00")


def test_an_event_the_projection_does_not_know_stops_it_naming_the_position(scenario):
    class Unknown:
        pass

    projection = Boundaries(scenario.view)

    with pytest.raises(UnhandledEventError, match="position 4242"):
        projection.apply(Unknown(), 4242)
