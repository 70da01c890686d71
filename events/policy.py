"""The boundary policy of the sector agreement, as versioned data.

A policy says which rules a contact (or a missing one) can cross, how serious
each crossing is, and the windows and exceptions each rule allows. The sector
agreement of 2019 is built in. Later versions are published as JSON bodies
that name only what they change, and may give an organisation its own
settings, as CAW Noord-West-Vlaanderen got room for experiment. Which version
governs a contact depends only on when the contact occurred.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import Aggregate

from events.errors import AlreadyExistsError, InvalidInputError
from events.identifiers import is_slug, slug_uuid
from events.vocabulary import Function, Rule, Severity

VERSION_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
BUILT_IN_VERSION = "sector-agreement-2019"
DEFAULT_GAP_HOURS = 24.0
"""How long a silence ends a conversation, unless a policy says otherwise."""
MAX_GAP_HOURS = 720
DEFAULT_RETENTION_YEARS = 5
"""How long a client's notes are kept after its last contact, unless a policy says otherwise."""
MAX_RETENTION_YEARS = 100
MAX_WINDOW_HOURS = 8760
"""A year: a window longer than that would never end a follow-up's wait in practice."""

_BODY_KEYS = ("version", "effective_from", "conversation_gap_hours", "retention_years", "rules", "overrides")
_RULE_KEYS = ("enabled", "severity", "params")
_RULE_NAMES = frozenset(rule.value for rule in Rule)
_FUNCTIONS = frozenset(function.value for function in Function)
_SEVERITIES = frozenset(severity.value for severity in Severity)
_WORKING_HOURS_KEYS = ("weekdays", "start", "end", "timezone")
_CLOCK_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True)
class RuleSettings:
    """Whether a rule applies, how serious crossing it is, and its parameters as JSON values."""

    enabled: bool
    severity: Severity
    params: Mapping[str, Any]

    def to_body(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "severity": self.severity.value, "params": copy.deepcopy(dict(self.params))}


@dataclass(frozen=True)
class PolicyTerms:
    """One version of the policy, complete: every rule is present, defaults merged in."""

    version: str
    effective_from: datetime
    conversation_gap_hours: float
    rules: Mapping[Rule, RuleSettings]
    overrides: Mapping[str, Mapping[Rule, RuleSettings]]
    """Per organisation, the complete settings of the rules it has its own settings for."""
    retention_years: int = DEFAULT_RETENTION_YEARS
    """A client's notes are shredded this long after its last contact."""

    def settings(self, rule: Rule, organisation: str) -> RuleSettings:
        """The settings of ``rule`` for contacts of ``organisation``: its override, if it has one."""
        override = self.overrides.get(organisation, {}).get(rule)
        return self.rules[rule] if override is None else override

    def hours(self, rule: Rule, organisation: str, name: str) -> float:
        """A window parameter of ``rule`` for ``organisation``, in hours."""
        return float(self.settings(rule, organisation).params[name])

    def to_body(self) -> dict[str, Any]:
        """The complete JSON form: what the API lists, what a policy file holds, what is stored."""
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "conversation_gap_hours": self.conversation_gap_hours,
            "retention_years": self.retention_years,
            "rules": _rules_body(self.rules),
            "overrides": {organisation: _rules_body(rules) for organisation, rules in self.overrides.items()},
        }


def _rules_body(rules: Mapping[Rule, RuleSettings]) -> dict[str, Any]:
    return {rule.value: settings.to_body() for rule, settings in rules.items()}


SECTOR_AGREEMENT_2019 = PolicyTerms(
    version=BUILT_IN_VERSION,
    effective_from=datetime.fromisoformat("2019-01-01T00:00:00+01:00"),
    conversation_gap_hours=DEFAULT_GAP_HOURS,
    rules={
        Rule.DRIFT_INTO_HELP: RuleSettings(True, Severity.HIGH, {"referred_severity": "low"}),
        Rule.HELP_QUESTION_NOT_REFERRED: RuleSettings(True, Severity.MEDIUM, {"referral_within_hours": 48}),
        Rule.PROFESSIONAL_PROFILE_CONTACT: RuleSettings(True, Severity.MEDIUM, {
            "allowed_functions": ["street_work", "outreach"], "experiment_organisations": ["caw-nwvl"]}),
        Rule.PERSONAL_PROFILE_CONTACT: RuleSettings(True, Severity.LOW, {"experiment_organisations": ["caw-nwvl"]}),
        Rule.INTERN_PERSONAL_PROFILE: RuleSettings(True, Severity.MEDIUM, {}),
        Rule.WORRYING_POST_WITHOUT_FOLLOW_UP: RuleSettings(True, Severity.HIGH, {"follow_up_within_hours": 72}),
        Rule.OUT_OF_HOURS: RuleSettings(False, Severity.LOW, {"working_hours": {
            "weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00", "timezone": "Europe/Brussels"}}),
    },
    overrides={},
)
"""The sector agreement on social media (CAW sector, with SAM), as the talk of 2019 describes it.

It is built in rather than published, and it also governs every contact before
its ``effective_from``: there was no other agreement then to judge them by.
"""


def terms_from_body(body: Mapping[str, Any]) -> PolicyTerms:
    """Validates a policy body (parsed JSON) and merges it with the built-in defaults.

    Raises `InvalidInputError` naming the dotted field at fault, such as
    ``rules.out_of_hours.params.working_hours.timezone``.
    """
    body = _object(body, "body")
    _check_known(body, _BODY_KEYS, "")
    _check_required(body, ("version", "effective_from"), "")
    version = _version(body["version"])
    effective_from = _moment(body["effective_from"], "effective_from")
    gap_hours = _hours(body.get("conversation_gap_hours", DEFAULT_GAP_HOURS), MAX_GAP_HOURS, "conversation_gap_hours")
    retention_years = _retention_years(body.get("retention_years", DEFAULT_RETENTION_YEARS))
    rules = _merged_rules(body.get("rules", {}), SECTOR_AGREEMENT_2019.rules, "rules")
    overrides = _merged_overrides(body.get("overrides", {}), rules)
    return PolicyTerms(version, effective_from, gap_hours, rules, overrides, retention_years)


def _retention_years(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETENTION_YEARS:
        raise InvalidInputError(f"Must be a whole number of years from 1 to {MAX_RETENTION_YEARS}.",
                                field="retention_years")
    return value


class PolicyHistory:
    """Every version of the policy, built-in first, then in the order they were published."""

    def __init__(self, published: Iterable[PolicyTerms] = ()) -> None:
        self.versions: list[PolicyTerms] = [SECTOR_AGREEMENT_2019, *published]
        self._by_start: list[PolicyTerms] = []
        self._starts: list[datetime] = []
        self._index()

    def add(self, terms: PolicyTerms) -> None:
        self.versions.append(terms)
        self._index()

    def at(self, moment: datetime) -> PolicyTerms:
        """The policy that governs a contact at ``moment``: the latest to take effect by then.

        Of two taking effect at the same moment, the later published wins. Before
        any of them, and before 2019, the built-in agreement governs.
        """
        index = bisect_right(self._starts, moment)
        return self._by_start[index - 1] if index else SECTOR_AGREEMENT_2019

    def _index(self) -> None:
        self._by_start = sorted(self.versions, key=lambda terms: terms.effective_from)  # stable: ties keep order
        self._starts = [terms.effective_from for terms in self._by_start]


def in_force(policies: Sequence[PolicyTerms], at: datetime) -> PolicyTerms:
    """The policy that governs a contact at ``at``, of the built-in and ``policies`` in publication order."""
    return PolicyHistory(policies).at(at)


def working_hours_contain(settings: RuleSettings, at: datetime) -> bool:
    """True when ``at`` falls in the working hours of the ``out_of_hours`` settings, in their local time.

    The start is inclusive and the end exclusive; the weekday is ISO's, Monday 1.
    """
    if at.tzinfo is None:
        raise ValueError("A time needs its UTC offset.")
    hours = settings.params["working_hours"]
    local = at.astimezone(ZoneInfo(hours["timezone"]))
    start, end = time.fromisoformat(hours["start"]), time.fromisoformat(hours["end"])
    return local.isoweekday() in hours["weekdays"] and start <= local.time() < end


class Policy(Aggregate):
    """A published version of the policy; it never changes, a new version replaces it from its date."""

    class Published(Aggregate.Created):
        version: str
        effective_from: datetime
        conversation_gap_hours: float
        rules: dict[str, Any]
        overrides: dict[str, Any]
        retention_years: int = DEFAULT_RETENTION_YEARS
        """Versions published before retention was a setting keep the default."""

    def __init__(
        self,
        version: str,
        effective_from: datetime,
        conversation_gap_hours: float,
        rules: dict[str, Any],
        overrides: dict[str, Any],
        retention_years: int = DEFAULT_RETENTION_YEARS,
    ) -> None:
        # What was stored was complete and valid when published: it is read, not judged again.
        self._terms = PolicyTerms(
            version, effective_from, float(conversation_gap_hours), _stored_rules(rules),
            {organisation: _stored_rules(settings, defaults={}) for organisation, settings in overrides.items()},
            int(retention_years),
        )

    @staticmethod
    def id_for(version: str) -> UUID:
        return slug_uuid("policy", version)

    @classmethod
    def publish(cls, *, body: Mapping[str, Any], now: datetime) -> Policy:
        """Publishes a version of the policy, stored complete so that later defaults never change it."""
        terms = terms_from_body(body)
        _check_not_built_in(terms.version)
        complete = terms.to_body()
        return cls._create(
            cls.Published,
            id=cls.id_for(terms.version),
            timestamp=now,
            version=terms.version,
            effective_from=terms.effective_from,
            conversation_gap_hours=terms.conversation_gap_hours,
            rules=complete["rules"],
            overrides=complete["overrides"],
            retention_years=terms.retention_years,
        )

    @property
    def terms(self) -> PolicyTerms:
        return self._terms


def _check_not_built_in(version: str) -> None:
    """Raises `AlreadyExistsError` for the built-in version, which exists without being published."""
    if version == BUILT_IN_VERSION:
        raise AlreadyExistsError(f"The version '{BUILT_IN_VERSION}' is built in.", field="version")


def _stored_rules(
    stored: Mapping[str, Any], defaults: Mapping[Rule, RuleSettings] = SECTOR_AGREEMENT_2019.rules
) -> dict[Rule, RuleSettings]:
    """Rule settings from their stored form; a rule added after publishing takes its default."""
    read = {
        Rule(name): RuleSettings(bool(settings["enabled"]), Severity(settings["severity"]),
                                 copy.deepcopy(dict(settings["params"])))
        for name, settings in stored.items()
    }
    return {**defaults, **read}


# Merging partial settings over complete ones.

def _merged_rules(
    partials: Any, base: Mapping[Rule, RuleSettings], field: str
) -> dict[Rule, RuleSettings]:
    """Every rule's settings: those ``partials`` name merged over ``base``, the others as in ``base``."""
    partials = _object(partials, field)
    _check_known(partials, _RULE_NAMES, field)
    return {
        rule: _merged(rule, partials[rule.value], base[rule], f"{field}.{rule.value}")
        if rule.value in partials else base[rule]
        for rule in Rule
    }


def _merged_overrides(overrides: Any, rules: Mapping[Rule, RuleSettings]) -> dict[str, dict[Rule, RuleSettings]]:
    """Per organisation, the complete settings of each rule it names, merged over the policy's own."""
    overrides = _object(overrides, "overrides")
    merged: dict[str, dict[Rule, RuleSettings]] = {}
    for organisation, partials in overrides.items():
        field = f"overrides.{organisation}"
        if not isinstance(organisation, str) or not is_slug(organisation):
            raise InvalidInputError("Must be an organisation's slug.", field=field)
        partials = _object(partials, field)
        _check_known(partials, _RULE_NAMES, field)
        merged[organisation] = {
            Rule(name): _merged(Rule(name), partial, rules[Rule(name)], f"{field}.{name}")
            for name, partial in partials.items()
        }
    return merged


def _merged(rule: Rule, partial: Any, base: RuleSettings, field: str) -> RuleSettings:
    """``base`` with what ``partial`` gives for ``enabled``, ``severity`` and each parameter."""
    partial = _object(partial, field)
    _check_known(partial, _RULE_KEYS, field)
    return RuleSettings(
        enabled=_enabled(partial.get("enabled", base.enabled), f"{field}.enabled"),
        severity=_severity(partial.get("severity", base.severity), f"{field}.severity"),
        params=_merged_params(rule, partial.get("params", {}), base.params, f"{field}.params"),
    )


def _merged_params(rule: Rule, partial: Any, base: Mapping[str, Any], field: str) -> dict[str, Any]:
    partial = _object(partial, field)
    checks = PARAMETERS[rule]
    _check_known(partial, checks, field)
    merged = copy.deepcopy(dict(base))
    for name, value in partial.items():
        merged[name] = checks[name](value, f"{field}.{name}")
    return merged


# The checks of single values; each returns the value as it is stored.

def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError("Must be an object.", field=field)
    return value


def _check_known(value: Mapping[str, Any], known: Collection[str], field: str) -> None:
    for key in value:
        if key not in known:
            raise InvalidInputError("Unknown field.", field=_dotted(field, key))


def _check_required(value: Mapping[str, Any], required: Sequence[str], field: str) -> None:
    for key in required:
        if key not in value:
            raise InvalidInputError("Missing data for required field.", field=_dotted(field, key))


def _dotted(field: str, key: Any) -> str:
    return f"{field}.{key}" if field else str(key)


def _version(value: Any) -> str:
    if not isinstance(value, str) or re.fullmatch(VERSION_PATTERN, value) is None:
        raise InvalidInputError(
            "Must be lower-case letters, digits, '.', '-' or '_', at most 64, starting with a letter or digit.",
            field="version",
        )
    return value


def _moment(value: Any, field: str) -> datetime:
    """A datetime with its UTC offset, given as such or as an ISO 8601 string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError("Must be an ISO 8601 date-time.", field=field) from None
    if not isinstance(value, datetime):
        raise InvalidInputError("Must be an ISO 8601 date-time.", field=field)
    if value.utcoffset() is None:
        raise InvalidInputError("A time needs its UTC offset.", field=field)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _hours(value: Any, maximum: int, field: str) -> float:
    return float(_number_of_hours(value, maximum, field))


def _number_of_hours(value: Any, maximum: int, field: str) -> int | float:
    if not _is_number(value) or not 0 < value <= maximum:
        raise InvalidInputError(f"Must be a number of hours above 0 and at most {maximum}.", field=field)
    return value


def _window_hours(value: Any, field: str) -> int | float:
    return _number_of_hours(value, MAX_WINDOW_HOURS, field)


def _enabled(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError("Must be true or false.", field=field)
    return value


def _severity(value: Any, field: str) -> Severity:
    if not isinstance(value, str) or value not in _SEVERITIES:
        raise InvalidInputError(f"Must be one of: {', '.join(Severity)}.", field=field)
    return Severity(value)


def _severity_param(value: Any, field: str) -> str:
    return _severity(value, field).value


def _slugs(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and is_slug(item) for item in value):
        raise InvalidInputError("Must be a list of organisations' slugs.", field=field)
    return list(value)


def _functions(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item in _FUNCTIONS for item in value):
        raise InvalidInputError(f"Must be a list of functions: {', '.join(sorted(_FUNCTIONS))}.", field=field)
    return list(value)


def _working_hours(value: Any, field: str) -> dict[str, Any]:
    """Weekdays (ISO, Monday 1), a start before the end as "HH:MM", and an IANA time zone."""
    value = _object(value, field)
    _check_known(value, _WORKING_HOURS_KEYS, field)
    _check_required(value, _WORKING_HOURS_KEYS, field)
    start = _clock_time(value["start"], f"{field}.start")
    end = _clock_time(value["end"], f"{field}.end")
    if end <= start:
        raise InvalidInputError("Must be later than the start.", field=f"{field}.end")
    return {"weekdays": _weekdays(value["weekdays"], f"{field}.weekdays"), "start": start, "end": end,
            "timezone": _time_zone(value["timezone"], f"{field}.timezone")}


def _weekdays(value: Any, field: str) -> list[int]:
    valid = isinstance(value, list) and bool(value) and all(
        isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= 7 for day in value
    )
    if not valid or len(set(value)) != len(value):
        raise InvalidInputError("Must be distinct weekdays from 1 (Monday) to 7 (Sunday), at least one.", field=field)
    return list(value)


def _clock_time(value: Any, field: str) -> str:
    if not isinstance(value, str) or _CLOCK_TIME.fullmatch(value) is None:
        raise InvalidInputError("Must be a time of day as HH:MM.", field=field)
    return value


def _time_zone(value: Any, field: str) -> str:
    refused = InvalidInputError("Must be an IANA time zone, such as Europe/Brussels.", field=field)
    if not isinstance(value, str):
        raise refused
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise refused from None
    return value


PARAMETERS: Mapping[Rule, Mapping[str, Callable[[Any, str], Any]]] = {
    Rule.DRIFT_INTO_HELP: {"referred_severity": _severity_param},
    Rule.HELP_QUESTION_NOT_REFERRED: {"referral_within_hours": _window_hours},
    Rule.PROFESSIONAL_PROFILE_CONTACT: {"allowed_functions": _functions, "experiment_organisations": _slugs},
    Rule.PERSONAL_PROFILE_CONTACT: {"experiment_organisations": _slugs},
    Rule.INTERN_PERSONAL_PROFILE: {},
    Rule.WORRYING_POST_WITHOUT_FOLLOW_UP: {"follow_up_within_hours": _window_hours},
    Rule.OUT_OF_HOURS: {"working_hours": _working_hours},
}
"""Each rule's parameters and the check of each: a parameter not named here is refused."""
