"""The words of the domain, as the seed's glossary gives them."""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    """A team's service within its CAW."""

    JAC = "jac"
    ADULTS = "adults"
    STREET_WORK = "street_work"
    OUTREACH = "outreach"
    YOUTH_WORK = "youth_work"


class Role(StrEnum):
    """What an account may do."""

    WORKER = "worker"
    TEAM_LEAD = "team_lead"
    RESEARCHER = "researcher"
    ADMIN = "admin"


TEAM_ROLES = frozenset({Role.WORKER, Role.TEAM_LEAD})
"""Roles that belong to a team and log contacts."""


class Function(StrEnum):
    """The kind of work a worker or team lead does."""

    COUNSELLOR = "counsellor"
    STREET_WORK = "street_work"
    OUTREACH = "outreach"
    YOUTH_WORK = "youth_work"


class Channel(StrEnum):
    MESSENGER = "messenger"
    WHATSAPP = "whatsapp"


class ProfileKind(StrEnum):
    """Which Facebook or WhatsApp identity the worker used."""

    PERSONAL = "personal"
    SHARED = "shared"
    PROFESSIONAL = "professional"
    PAGE = "page"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Nature(StrEnum):
    """What a contact was about; the agreement allows some natures and not others."""

    KEEPING_IN_TOUCH = "keeping_in_touch"
    INFORMATION = "information"
    INVITATION = "invitation"
    PRACTICAL_ARRANGEMENT = "practical_arrangement"
    LEISURE_OFFER = "leisure_offer"
    WORRYING_POST_OUTREACH = "worrying_post_outreach"
    HELP_QUESTION = "help_question"
    HELP_CONVERSATION = "help_conversation"
    REFERRAL_SAFE_CHAT = "referral_safe_chat"
    REFERRAL_IN_PERSON = "referral_in_person"


REFERRALS = frozenset({Nature.REFERRAL_SAFE_CHAT, Nature.REFERRAL_IN_PERSON})


class Severity(StrEnum):
    """How serious a boundary crossing is, from a note to a matter for the team lead today."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH)
"""The severities from least to most serious, for sorting and thresholds."""


class Rule(StrEnum):
    """A rule of the boundary policy that a contact, or its absence, can cross."""

    DRIFT_INTO_HELP = "drift_into_help"
    HELP_QUESTION_NOT_REFERRED = "help_question_not_referred"
    PROFESSIONAL_PROFILE_CONTACT = "professional_profile_contact"
    PERSONAL_PROFILE_CONTACT = "personal_profile_contact"
    INTERN_PERSONAL_PROFILE = "intern_personal_profile"
    WORRYING_POST_WITHOUT_FOLLOW_UP = "worrying_post_without_follow_up"
    OUT_OF_HOURS = "out_of_hours"


class Verdict(StrEnum):
    """A team lead's judgement of a boundary crossing."""

    ACCEPTABLE = "acceptable"
    NOT_ACCEPTABLE = "not_acceptable"
    DISCUSS_IN_TEAM = "discuss_in_team"
