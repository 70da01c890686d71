"""The boundary policy: the built-in agreement, published versions, and which one governs when."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

from events import Policy
from events.errors import AlreadyExistsError, InvalidInputError
from events.policy import (
    SECTOR_AGREEMENT_2019,
    PolicyTerms,
    RuleSettings,
    in_force,
    terms_from_body,
    working_hours_contain,
)
from events.vocabulary import Rule, Severity

NOW = datetime(2027, 1, 1, 12, 0, tzinfo=timezone.utc)
BRUSSELS_WINTER = timezone(timedelta(hours=1))
BRUSSELS_SUMMER = timezone(timedelta(hours=2))


def body(**more: Any) -> dict[str, Any]:
    return {"version": "caw-2027", "effective_from": "2027-01-01T00:00:00+01:00", **more}


def published(version: str, effective_from: datetime) -> PolicyTerms:
    return terms_from_body({"version": version, "effective_from": effective_from})


def office_hours(weekdays: list[int] | None = None, start: str = "09:00", end: str = "17:00") -> RuleSettings:
    hours = {"weekdays": weekdays or [1, 2, 3, 4, 5], "start": start, "end": end, "timezone": "Europe/Brussels"}
    return RuleSettings(True, Severity.LOW, {"working_hours": hours})


def the_stores_mapper() -> Mapper:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


# The built-in agreement.

def test_the_built_in_agreement_has_every_rule_with_the_severity_the_table_gives():
    severities = {rule: settings.severity for rule, settings in SECTOR_AGREEMENT_2019.rules.items()}

    assert severities == {
        Rule.DRIFT_INTO_HELP: Severity.HIGH,
        Rule.HELP_QUESTION_NOT_REFERRED: Severity.MEDIUM,
        Rule.PROFESSIONAL_PROFILE_CONTACT: Severity.MEDIUM,
        Rule.PERSONAL_PROFILE_CONTACT: Severity.LOW,
        Rule.INTERN_PERSONAL_PROFILE: Severity.MEDIUM,
        Rule.WORRYING_POST_WITHOUT_FOLLOW_UP: Severity.HIGH,
        Rule.OUT_OF_HOURS: Severity.LOW,
    }


def test_the_built_in_agreement_leaves_out_of_hours_off_and_every_other_rule_on():
    enabled = {rule for rule, settings in SECTOR_AGREEMENT_2019.rules.items() if settings.enabled}

    assert enabled == set(Rule) - {Rule.OUT_OF_HOURS}


def test_the_built_in_agreement_has_the_windows_and_exceptions_of_the_table():
    params = {rule.value: dict(settings.params) for rule, settings in SECTOR_AGREEMENT_2019.rules.items()}

    assert params == {
        "drift_into_help": {"referred_severity": "low"},
        "help_question_not_referred": {"referral_within_hours": 48},
        "professional_profile_contact": {"allowed_functions": ["street_work", "outreach"],
                                         "experiment_organisations": ["caw-nwvl"]},
        "personal_profile_contact": {"experiment_organisations": ["caw-nwvl"]},
        "intern_personal_profile": {},
        "worrying_post_without_follow_up": {"follow_up_within_hours": 72},
        "out_of_hours": {"working_hours": {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00",
                                           "timezone": "Europe/Brussels"}},
    }


def test_the_built_in_agreement_takes_effect_in_2019_with_a_day_between_conversations_and_no_overrides():
    assert SECTOR_AGREEMENT_2019.version == "sector-agreement-2019"
    assert SECTOR_AGREEMENT_2019.effective_from == datetime(2019, 1, 1, tzinfo=BRUSSELS_WINTER)
    assert SECTOR_AGREEMENT_2019.conversation_gap_hours == 24
    assert SECTOR_AGREEMENT_2019.overrides == {}


def test_the_built_in_agreements_body_reads_back_as_the_same_terms():
    assert terms_from_body(SECTOR_AGREEMENT_2019.to_body()) == SECTOR_AGREEMENT_2019


# Merging a body with the defaults.

def test_a_body_naming_no_rules_takes_every_rule_of_the_built_in_agreement():
    terms = terms_from_body(body())

    assert terms.rules == SECTOR_AGREEMENT_2019.rules
    assert (terms.version, terms.effective_from) == ("caw-2027", datetime(2027, 1, 1, tzinfo=BRUSSELS_WINTER))


def test_a_rule_named_in_part_keeps_the_defaults_of_what_it_does_not_name():
    terms = terms_from_body(body(rules={
        "out_of_hours": {"enabled": True},
        "help_question_not_referred": {"severity": "high"},
        "professional_profile_contact": {"params": {"experiment_organisations": []}},
    }))

    assert terms.rules[Rule.OUT_OF_HOURS] == RuleSettings(
        True, Severity.LOW, SECTOR_AGREEMENT_2019.rules[Rule.OUT_OF_HOURS].params)
    assert terms.rules[Rule.HELP_QUESTION_NOT_REFERRED] == RuleSettings(
        True, Severity.HIGH, {"referral_within_hours": 48})
    assert terms.rules[Rule.PROFESSIONAL_PROFILE_CONTACT].params == {
        "allowed_functions": ["street_work", "outreach"], "experiment_organisations": []}
    assert terms.rules[Rule.DRIFT_INTO_HELP] == SECTOR_AGREEMENT_2019.rules[Rule.DRIFT_INTO_HELP]


def test_a_body_may_set_the_gap_that_ends_a_conversation():
    assert terms_from_body(body(conversation_gap_hours=12)).conversation_gap_hours == 12.0


def test_an_effective_from_may_be_given_as_a_datetime():
    moment = datetime(2027, 6, 1, tzinfo=BRUSSELS_SUMMER)

    assert terms_from_body(body(effective_from=moment)).effective_from == moment


def test_merging_never_changes_the_built_in_agreement():
    terms_from_body(body(rules={"professional_profile_contact": {"params": {"allowed_functions": ["outreach"]}}}))

    assert SECTOR_AGREEMENT_2019.rules[Rule.PROFESSIONAL_PROFILE_CONTACT].params["allowed_functions"] == [
        "street_work", "outreach"]


def test_a_complete_body_reads_back_as_the_same_terms():
    terms = terms_from_body(body(
        rules={"drift_into_help": {"severity": "medium"}},
        overrides={"caw-zuid": {"personal_profile_contact": {"enabled": False}}},
    ))

    assert terms_from_body(terms.to_body()) == terms


# Overrides per organisation.

def test_an_override_applies_to_its_organisation_only():
    terms = terms_from_body(body(overrides={"caw-zuid": {
        "personal_profile_contact": {"enabled": False},
        "help_question_not_referred": {"severity": "high", "params": {"referral_within_hours": 24}},
    }}))

    assert not terms.settings(Rule.PERSONAL_PROFILE_CONTACT, "caw-zuid").enabled
    assert terms.settings(Rule.PERSONAL_PROFILE_CONTACT, "caw-nwvl").enabled
    assert terms.settings(Rule.HELP_QUESTION_NOT_REFERRED, "caw-zuid").severity is Severity.HIGH
    assert terms.hours(Rule.HELP_QUESTION_NOT_REFERRED, "caw-zuid", "referral_within_hours") == 24.0
    assert terms.hours(Rule.HELP_QUESTION_NOT_REFERRED, "caw-nwvl", "referral_within_hours") == 48.0


def test_an_override_is_merged_over_the_policys_own_rules_not_the_defaults():
    terms = terms_from_body(body(
        rules={"help_question_not_referred": {"params": {"referral_within_hours": 36}}},
        overrides={"caw-zuid": {"help_question_not_referred": {"severity": "high"}}},
    ))

    assert terms.overrides["caw-zuid"][Rule.HELP_QUESTION_NOT_REFERRED] == RuleSettings(
        True, Severity.HIGH, {"referral_within_hours": 36})


def test_an_organisation_without_overrides_gets_the_policys_rules_for_every_rule():
    terms = terms_from_body(body(overrides={"caw-zuid": {"out_of_hours": {"enabled": True}}}))

    assert all(terms.settings(rule, "caw-nwvl") == terms.rules[rule] for rule in Rule)
    assert terms.settings(Rule.DRIFT_INTO_HELP, "caw-zuid") == terms.rules[Rule.DRIFT_INTO_HELP]


# What a body may not say.

HOURS = "rules.out_of_hours.params.working_hours"


@pytest.mark.parametrize("changes, field", [
    ({"version": "CAW 2027"}, "version"),
    ({"version": "-caw"}, "version"),
    ({"version": "caw-2027\n"}, "version"),
    ({"version": "v" * 65}, "version"),
    ({"version": 2027}, "version"),
    ({"effective_from": "2027-01-01T00:00:00"}, "effective_from"),
    ({"effective_from": datetime(2027, 1, 1)}, "effective_from"),
    ({"effective_from": "next year"}, "effective_from"),
    ({"effective_from": 2027}, "effective_from"),
    ({"conversation_gap_hours": 0}, "conversation_gap_hours"),
    ({"conversation_gap_hours": 721}, "conversation_gap_hours"),
    ({"conversation_gap_hours": "24"}, "conversation_gap_hours"),
    ({"conversation_gap_hours": True}, "conversation_gap_hours"),
    ({"conversation_gap_hours": float("nan")}, "conversation_gap_hours"),
    ({"colour": "red"}, "colour"),
    ({"rules": []}, "rules"),
    ({"rules": {"bogus": {}}}, "rules.bogus"),
    ({"rules": {"drift_into_help": None}}, "rules.drift_into_help"),
    ({"rules": {"drift_into_help": {"weight": 3}}}, "rules.drift_into_help.weight"),
    ({"rules": {"drift_into_help": {"severity": "critical"}}}, "rules.drift_into_help.severity"),
    ({"rules": {"drift_into_help": {"severity": "HIGH"}}}, "rules.drift_into_help.severity"),
    ({"rules": {"drift_into_help": {"enabled": "yes"}}}, "rules.drift_into_help.enabled"),
    ({"rules": {"drift_into_help": {"enabled": 1}}}, "rules.drift_into_help.enabled"),
    ({"rules": {"drift_into_help": {"params": []}}}, "rules.drift_into_help.params"),
    ({"rules": {"drift_into_help": {"params": {"referred_severity": "none"}}}},
     "rules.drift_into_help.params.referred_severity"),
    ({"rules": {"intern_personal_profile": {"params": {"referral_within_hours": 4}}}},
     "rules.intern_personal_profile.params.referral_within_hours"),
    ({"rules": {"help_question_not_referred": {"params": {"referral_within_hours": 0}}}},
     "rules.help_question_not_referred.params.referral_within_hours"),
    ({"rules": {"help_question_not_referred": {"params": {"referral_within_hours": 8761}}}},
     "rules.help_question_not_referred.params.referral_within_hours"),
    ({"rules": {"worrying_post_without_follow_up": {"params": {"follow_up_within_hours": "72"}}}},
     "rules.worrying_post_without_follow_up.params.follow_up_within_hours"),
    ({"rules": {"professional_profile_contact": {"params": {"allowed_functions": ["street_work", "chat"]}}}},
     "rules.professional_profile_contact.params.allowed_functions"),
    ({"rules": {"professional_profile_contact": {"params": {"allowed_functions": "outreach"}}}},
     "rules.professional_profile_contact.params.allowed_functions"),
    ({"rules": {"personal_profile_contact": {"params": {"experiment_organisations": ["CAW NWVL"]}}}},
     "rules.personal_profile_contact.params.experiment_organisations"),
    ({"rules": {"personal_profile_contact": {"params": {"experiment_organisations": "caw-nwvl"}}}},
     "rules.personal_profile_contact.params.experiment_organisations"),
    ({"rules": {"out_of_hours": {"params": {"working_hours": "9-17"}}}}, HOURS),
    ({"rules": {"out_of_hours": {"params": {"working_hours": {"start": "09:00"}}}}}, f"{HOURS}.weekdays"),
    ({"rules": {"out_of_hours": {"params": {"working_hours": {
        "weekdays": [1], "start": "09:00", "end": "17:00", "timezone": "Europe/Brussels", "lunch": "12:00"}}}}},
     f"{HOURS}.lunch"),
])
def test_a_body_that_breaks_a_rule_is_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidInputError) as refused:
        terms_from_body(body(**changes))

    assert refused.value.field == field


@pytest.mark.parametrize("hours, field", [
    ({"weekdays": []}, "weekdays"),
    ({"weekdays": [1, 1]}, "weekdays"),
    ({"weekdays": [0]}, "weekdays"),
    ({"weekdays": [8]}, "weekdays"),
    ({"weekdays": ["monday"]}, "weekdays"),
    ({"weekdays": [True]}, "weekdays"),
    ({"weekdays": 1}, "weekdays"),
    ({"start": "9:00"}, "start"),
    ({"start": "24:00"}, "start"),
    ({"end": "17:60"}, "end"),
    ({"end": 17}, "end"),
    ({"start": "17:00", "end": "09:00"}, "end"),
    ({"start": "09:00", "end": "09:00"}, "end"),
    ({"timezone": "Europe/Gent"}, "timezone"),
    ({"timezone": "../etc/passwd"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"timezone": None}, "timezone"),
])
def test_working_hours_that_do_not_make_sense_are_refused_naming_their_part(hours, field):
    working_hours = {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00", "timezone": "Europe/Brussels",
                     **hours}

    with pytest.raises(InvalidInputError) as refused:
        terms_from_body(body(rules={"out_of_hours": {"params": {"working_hours": working_hours}}}))

    assert refused.value.field == f"{HOURS}.{field}"


@pytest.mark.parametrize("overrides, field", [
    ([], "overrides"),
    ({"CAW Zuid": {}}, "overrides.CAW Zuid"),
    ({"caw-zuid": []}, "overrides.caw-zuid"),
    ({"caw-zuid": {"bogus": {}}}, "overrides.caw-zuid.bogus"),
    ({"caw-zuid": {"drift_into_help": {"severity": "extreme"}}}, "overrides.caw-zuid.drift_into_help.severity"),
    ({"caw-zuid": {"drift_into_help": {"params": {"x": 1}}}}, "overrides.caw-zuid.drift_into_help.params.x"),
])
def test_overrides_that_break_a_rule_are_refused_naming_the_field(overrides, field):
    with pytest.raises(InvalidInputError) as refused:
        terms_from_body(body(overrides=overrides))

    assert refused.value.field == field


@pytest.mark.parametrize("missing", ["version", "effective_from"])
def test_a_body_needs_a_version_and_a_moment_it_takes_effect(missing):
    incomplete = body()
    del incomplete[missing]

    with pytest.raises(InvalidInputError) as refused:
        terms_from_body(incomplete)

    assert refused.value.field == missing


# Which version governs when.

def test_before_any_published_version_takes_effect_the_built_in_agreement_governs():
    policies = [published("caw-2027", datetime(2027, 1, 1, tzinfo=timezone.utc))]

    assert in_force(policies, datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc)) is SECTOR_AGREEMENT_2019


def test_the_latest_version_to_have_taken_effect_governs():
    v2027 = published("caw-2027", datetime(2027, 1, 1, tzinfo=timezone.utc))
    v2028 = published("caw-2028", datetime(2028, 1, 1, tzinfo=timezone.utc))

    assert in_force([v2028, v2027], datetime(2027, 1, 1, tzinfo=timezone.utc)) is v2027
    assert in_force([v2028, v2027], datetime(2027, 6, 1, tzinfo=timezone.utc)) is v2027
    assert in_force([v2028, v2027], datetime(2030, 1, 1, tzinfo=timezone.utc)) is v2028


def test_of_two_versions_taking_effect_at_once_the_later_published_governs():
    first = published("caw-2027", datetime(2027, 1, 1, tzinfo=timezone.utc))
    second = published("caw-2027b", datetime(2027, 1, 1, tzinfo=timezone.utc))

    assert in_force([first, second], datetime(2027, 2, 1, tzinfo=timezone.utc)) is second


def test_before_2019_the_built_in_agreement_governs():
    assert in_force([], datetime(2018, 5, 1, tzinfo=timezone.utc)) is SECTOR_AGREEMENT_2019


def test_a_version_dated_before_2019_governs_the_contacts_after_its_date():
    early = published("pilot-2018", datetime(2018, 1, 1, tzinfo=timezone.utc))

    assert in_force([early], datetime(2018, 5, 1, tzinfo=timezone.utc)) is early
    assert in_force([early], datetime(2017, 5, 1, tzinfo=timezone.utc)) is SECTOR_AGREEMENT_2019
    assert in_force([early], datetime(2020, 5, 1, tzinfo=timezone.utc)) is SECTOR_AGREEMENT_2019


# Working hours, in Brussels' local time.

@pytest.mark.parametrize("at, inside", [
    (datetime(2026, 3, 27, 8, 0, tzinfo=timezone.utc), True),  # Friday 09:00 CET
    (datetime(2026, 3, 27, 7, 59, tzinfo=timezone.utc), False),  # Friday 08:59 CET
    (datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc), True),  # Monday 09:00 CEST, after the clocks went forward
    (datetime(2026, 3, 30, 6, 59, tzinfo=timezone.utc), False),  # Monday 08:59 CEST
    (datetime(2026, 3, 30, 14, 59, tzinfo=timezone.utc), True),  # Monday 16:59 CEST
    (datetime(2026, 3, 30, 15, 0, tzinfo=timezone.utc), False),  # Monday 17:00 CEST: the end is outside
    (datetime(2026, 10, 23, 7, 0, tzinfo=timezone.utc), True),  # Friday 09:00 CEST
    (datetime(2026, 10, 26, 7, 0, tzinfo=timezone.utc), False),  # Monday 08:00 CET, after the clocks went back
    (datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc), True),  # Monday 09:00 CET
    (datetime(2026, 10, 26, 15, 59, tzinfo=timezone.utc), True),  # Monday 16:59 CET
    (datetime(2026, 10, 26, 16, 0, tzinfo=timezone.utc), False),  # Monday 17:00 CET
])
def test_working_hours_follow_brussels_local_time_across_the_clock_changes(at, inside):
    assert working_hours_contain(office_hours(), at) is inside


@pytest.mark.parametrize("at", [
    datetime(2026, 3, 29, 10, 0, tzinfo=timezone.utc),  # Sunday of the change to summer time
    datetime(2026, 10, 25, 10, 0, tzinfo=timezone.utc),  # Sunday of the change to winter time
    datetime(2026, 10, 24, 10, 0, tzinfo=timezone.utc),  # Saturday
])
def test_the_weekend_is_outside_weekday_working_hours(at):
    assert not working_hours_contain(office_hours(), at)


def test_the_change_to_summer_time_on_a_working_sunday_is_counted_in_local_time():
    sunday = office_hours(weekdays=[7], start="01:00", end="04:00")

    assert working_hours_contain(sunday, datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc))  # 01:59 CET
    assert working_hours_contain(sunday, datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc))  # 03:00 CEST
    assert not working_hours_contain(sunday, datetime(2026, 3, 29, 2, 0, tzinfo=timezone.utc))  # 04:00 CEST


def test_the_weekday_is_brusselss_not_utcs():
    # Sunday 23:30 UTC is already Monday 00:30 in Brussels.
    night = office_hours(weekdays=[1], start="00:00", end="01:00")

    assert working_hours_contain(night, datetime(2026, 1, 4, 23, 30, tzinfo=timezone.utc))


# Publishing.

def test_a_published_policy_is_stored_complete_and_read_back_as_the_same_terms():
    policy = Policy.publish(body=body(
        conversation_gap_hours=12,
        rules={"out_of_hours": {"enabled": True}},
        overrides={"caw-zuid": {"personal_profile_contact": {"enabled": False}}},
    ), now=NOW)
    mapper = the_stores_mapper()

    stored = [mapper.to_stored_event(event) for event in policy.collect_events()]
    events = [mapper.to_domain_event(record) for record in stored]
    copy: Policy | None = None
    for event in events:
        copy = event.mutate(copy)

    assert isinstance(events[0], Policy.Published)
    assert events[0].rules == terms_from_body(body()).to_body()["rules"] | {
        "out_of_hours": {**SECTOR_AGREEMENT_2019.rules[Rule.OUT_OF_HOURS].to_body(), "enabled": True}}
    assert isinstance(copy, Policy)
    assert copy.terms == policy.terms
    assert copy.terms.rules[Rule.OUT_OF_HOURS].enabled
    assert copy.terms.conversation_gap_hours == 12.0
    assert copy.id == Policy.id_for("caw-2027")
    assert copy.created_on == NOW


def test_a_published_policy_stores_its_rules_as_plain_json():
    policy = Policy.publish(body=body(), now=NOW)

    published_event = policy.collect_events()[0]

    assert all(type(settings["severity"]) is str for settings in published_event.rules.values())


def test_publishing_the_built_in_version_is_refused_as_existing():
    with pytest.raises(AlreadyExistsError):
        Policy.publish(body=body(version="sector-agreement-2019"), now=NOW)


def test_publishing_an_invalid_body_is_refused_before_anything_is_created():
    with pytest.raises(InvalidInputError) as refused:
        Policy.publish(body=body(rules={"bogus": {}}), now=NOW)

    assert refused.value.field == "rules.bogus"


def test_ids_of_policies_never_change():
    # Stored policies are keyed by these: another mapping would orphan them all.
    assert str(Policy.id_for("caw-2027")) == "e3da6b56-3a71-5fe1-ba1b-752c91304084"
    assert Policy.id_for("caw-2027") != Policy.id_for("caw-2028")
