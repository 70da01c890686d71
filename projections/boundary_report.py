"""What team leads and the report ask of the `boundaries` read model.

Crossings are listed newest first, a page at a time, with an opaque cursor
holding the sort key of the last item. The report counts judged contacts and
crossings per site, team, rule, month or profile kind, in SQL over the time
indexes; only the medians are computed here, over the hours SQL fetched.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from events.policy import BUILT_IN_VERSION, PolicyHistory, terms_from_body
from events.vocabulary import REFERRALS, SEVERITY_ORDER, Nature, ProfileKind, Rule, Severity, Verdict
from projections.boundaries import BoundaryView
from projections.sql import Cursor, Database
from projections.storage import ID_PART, MOMENT_PART, decode_cursor, encode_cursor, key, moment_of, moment_text

CROSSING_COLUMNS = (
    "crossing_id", "rule", "severity", "status", "policy_version", "client_id", "team_id", "site", "account_id",
    "contact_ids", "started_at", "ended_at", "detected_at",
)
CROSSING_SELECT = ", ".join(f"c.{column}" for column in CROSSING_COLUMNS)
HELP_QUESTION = Nature.HELP_QUESTION.value
HELP_CONVERSATION = Nature.HELP_CONVERSATION.value
REFERRAL_LIST = ", ".join(f"'{nature.value}'" for nature in sorted(REFERRALS))


class CrossingStatus(StrEnum):
    """Where a crossing stands: not yet judged (or to discuss), judged, or no longer found."""

    OPEN = "open"
    REVIEWED = "reviewed"
    RESOLVED = "resolved"


class ReportKey(StrEnum):
    """What the report's rows are per."""

    SITE = "site"
    TEAM = "team"
    RULE = "rule"
    MONTH = "month"
    PROFILE_KIND = "profile_kind"


KEY_COLUMNS = {
    ReportKey.SITE: "site", ReportKey.TEAM: "team_id", ReportKey.RULE: "rule", ReportKey.MONTH: "month",
    ReportKey.PROFILE_KIND: "profile_kind",
}
"""The column that holds each key, in `crossings` and (but for the rule) in `judged_contacts`."""


# Cursors: the sort key of a page's last crossing, opaque to clients.

CROSSINGS_CURSOR = (MOMENT_PART, ID_PART)


# Crossings.


@dataclass(frozen=True)
class SealedComment:
    """A review's comment as the view holds it: only the application, with the client's key, opens it."""

    client_id: UUID
    key_id: UUID
    sealed: str


@dataclass(frozen=True)
class CrossingPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_crossings(
    view: BoundaryView,
    *,
    team_id: str | None = None,
    site: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> CrossingPage:
    """Crossings newest first (by ``started_at`` in [start, end)), a page of at most ``limit`` after ``cursor``."""
    where, params = _equal_to("c", team_id=team_id, site=site, rule=rule, severity=severity, status=status)
    _add_range(where, params, "c.started_at", start, end)
    if cursor is not None:
        where.append("(c.started_at, c.crossing_id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = decode_cursor(cursor, CROSSINGS_CURSOR)
    params["fetch"] = limit + 1
    with view.reading() as sql:
        sql.execute(
            f"SELECT {CROSSING_SELECT} FROM crossings AS c {_where(where)} "
            "ORDER BY c.started_at DESC, c.crossing_id DESC LIMIT :fetch",
            params,
        )
        rows = sql.fetchall()
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = None if last is None else encode_cursor(last["started_at"], last["crossing_id"])
    return CrossingPage([_crossing(row) for row in rows[:limit]], next_cursor)


def get_crossing(view: BoundaryView, crossing_id: UUID) -> dict[str, Any] | None:
    """A crossing with its evidence (the contacts, in time order) and its reviews (in order); None if unknown."""
    with view.reading() as sql:
        sql.execute(f"SELECT {CROSSING_SELECT} FROM crossings AS c WHERE c.crossing_id = ?", (key(crossing_id),))
        row = sql.fetchone()
        if row is None:
            return None
        sql.execute(
            "SELECT j.contact_id, j.occurred_at, j.team_id, j.account_id, j.profile_kind, j.nature, j.retracted "
            f"FROM {view.database.json_elements('?', 'e')} JOIN judged_contacts AS j ON j.contact_id = e.value "
            "ORDER BY j.occurred_at, j.contact_id",
            (row["contact_ids"],),
        )
        evidence = [_evidence(contact) for contact in sql.fetchall()]
        sql.execute(
            "SELECT review_id, account_id, verdict, client_id, comment_key_id, sealed_comment, comment, recorded_at, "
            "position FROM reviews "
            "WHERE crossing_id = ? ORDER BY position",
            (key(crossing_id),),
        )
        reviews = [_review(review) for review in sql.fetchall()]
    return {**_crossing(row), "evidence": evidence, "reviews": reviews}


@dataclass(frozen=True)
class CrossingOwner:
    """Whose a crossing is: the team, for the access check, and the client, whose key seals its reviews."""

    team_id: str
    client_id: UUID


def crossing_owner(view: BoundaryView, crossing_id: UUID) -> CrossingOwner | None:
    """None for an unknown crossing."""
    with view.reading() as sql:
        sql.execute("SELECT team_id, client_id FROM crossings WHERE crossing_id = ?", (key(crossing_id),))
        row = sql.fetchone()
    return None if row is None else CrossingOwner(str(row["team_id"]), UUID(row["client_id"]))


def _crossing(row: Any) -> dict[str, Any]:
    return {
        "crossing_id": UUID(row["crossing_id"]),
        "rule": Rule(row["rule"]),
        "severity": Severity(row["severity"]),
        "status": CrossingStatus(row["status"]),
        "policy_version": row["policy_version"],
        "client_id": UUID(row["client_id"]),
        "team_id": row["team_id"],
        "site": row["site"],
        "account_id": row["account_id"],
        "contact_ids": [UUID(contact_id) for contact_id in json.loads(row["contact_ids"])],
        "started_at": moment_of(row["started_at"]),
        "ended_at": moment_of(row["ended_at"]),
        "detected_at": moment_of(row["detected_at"]),
    }


def _evidence(row: Any) -> dict[str, Any]:
    return {
        "contact_id": UUID(row["contact_id"]),
        "occurred_at": moment_of(row["occurred_at"]),
        "team_id": row["team_id"],
        "account_id": row["account_id"],
        "profile_kind": ProfileKind(row["profile_kind"]),
        "nature": Nature(row["nature"]),
        "retracted": bool(row["retracted"]),
    }


def _review(row: Any) -> dict[str, Any]:
    return {
        "review_id": UUID(row["review_id"]),
        "account_id": row["account_id"],
        "verdict": Verdict(row["verdict"]),
        "comment": row["comment"],
        "sealed_comment": None if row["sealed_comment"] is None else SealedComment(
            UUID(row["client_id"]), UUID(row["comment_key_id"]), row["sealed_comment"]
        ),
        "recorded_at": moment_of(row["recorded_at"]),
        "position": row["position"],
    }


# The report.

CONTACT_FIGURES = (
    "COUNT(*) AS contacts, "
    "COUNT(DISTINCT j.conversation_id) AS conversations, "
    f"COUNT(*) FILTER (WHERE j.nature = '{HELP_QUESTION}') AS help_questions, "
    f"COUNT(*) FILTER (WHERE j.nature = '{HELP_CONVERSATION}') AS help_conversations, "
    f"COUNT(*) FILTER (WHERE j.nature IN ({REFERRAL_LIST})) AS referrals, "
    f"COUNT(*) FILTER (WHERE j.nature = '{HELP_QUESTION}' AND j.referred_hours IS NOT NULL) AS referred, "
    f"COUNT(DISTINCT CASE WHEN j.nature = '{HELP_CONVERSATION}' THEN j.conversation_id END) AS drifted"
)


def boundaries_report(
    view: BoundaryView,
    *,
    by: ReportKey | str,
    start: datetime | None = None,
    end: datetime | None = None,
    team_id: str | None = None,
) -> list[dict[str, Any]]:
    """Per key, what the non-retracted contacts with ``occurred_at`` in [start, end) were, and the crossings
    with ``started_at`` in [start, end) by severity; ordered by key.

    A help question counts as referred when the projection found a referral for
    the client within ``referral_within_hours`` of the policy in force when it was asked.
    """
    by = ReportKey(by)
    key, source, params = _contact_source(view.database, by, start, end, team_id)
    with view.reading() as sql:
        sql.execute(f"SELECT {key} AS key, {CONTACT_FIGURES} {source} GROUP BY {key}", params)
        figures = {row["key"]: row for row in sql.fetchall()}
        sql.execute(
            f"SELECT {key} AS key, j.referred_hours AS hours {source} "
            f"AND j.nature = '{HELP_QUESTION}' AND j.referred_hours IS NOT NULL",
            params,
        )
        hours: dict[str, list[float]] = defaultdict(list)
        for row in sql.fetchall():
            hours[row["key"]].append(row["hours"])
        crossings = _crossings_by_severity(sql, by, start, end, team_id)
    return [_report_row(key, figures.get(key), hours.get(key, []), crossings.get(key, {}))
            for key in sorted(figures.keys() | crossings.keys())]


def _contact_source(
    database: Database, by: ReportKey, start: datetime | None, end: datetime | None, team_id: str | None
) -> tuple[str, str, dict[str, Any]]:
    """The key's expression, and ``FROM ... WHERE ...`` over the contacts (``j``) the report counts."""
    where, params = _equal_to("j", team_id=team_id)
    where.insert(0, "j.retracted = 0")
    _add_range(where, params, "j.occurred_at", start, end)
    if by is not ReportKey.RULE:
        return f"j.{KEY_COLUMNS[by]}", f"FROM judged_contacts AS j {_where(where)}", params
    # A rule's figures are over the contacts that are evidence of its crossings in range, each counted once.
    crossing_where, _ = _equal_to("c", team_id=team_id)
    _add_range(crossing_where, params, "c.started_at", start, end)
    evidence = (
        "SELECT DISTINCT c.rule AS key, e.value AS contact_id "
        f"FROM crossings AS c, {database.json_elements('c.contact_ids', 'e')} {_where(crossing_where)}"
    )
    source = f"FROM ({evidence}) AS evidence JOIN judged_contacts AS j ON j.contact_id = evidence.contact_id"
    return "evidence.key", f"{source} {_where(where)}", params


def _crossings_by_severity(
    sql: Cursor, by: ReportKey, start: datetime | None, end: datetime | None, team_id: str | None
) -> dict[str, dict[str, int]]:
    where, params = _equal_to("c", team_id=team_id)
    _add_range(where, params, "c.started_at", start, end)
    sql.execute(
        f"SELECT c.{KEY_COLUMNS[by]} AS key, c.severity, COUNT(*) AS crossings FROM crossings AS c "
        f"{_where(where)} GROUP BY key, c.severity",
        params,
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in sql.fetchall():
        counts[row["key"]][row["severity"]] = row["crossings"]
    return counts


def _report_row(key: str, figures: Any, hours: list[float], crossings: dict[str, int]) -> dict[str, Any]:
    def figure(name: str) -> int:
        return int(figures[name] or 0) if figures is not None else 0

    help_questions, conversations, drifted = figure("help_questions"), figure("conversations"), figure("drifted")
    return {
        "key": key,
        "contacts": figure("contacts"),
        "conversations": conversations,
        "help_questions": help_questions,
        "help_conversations": figure("help_conversations"),
        "referrals": figure("referrals"),
        "referral_rate": figure("referred") / help_questions if help_questions else None,
        "median_hours_to_referral": float(statistics.median(hours)) if hours else None,
        "drifted_conversations": drifted,
        "drift_share": drifted / conversations if conversations else None,
        "crossings": {severity.value: crossings.get(severity.value, 0) for severity in SEVERITY_ORDER},
    }


# The comparison report: the counts of one snapshot of the view.

DRIFT_INTO_HELP = Rule.DRIFT_INTO_HELP.value


def _drifted_conversations(database: Database) -> str:
    """The conversations with a drift crossing still found, each with ``referred`` 1 if a referral followed.

    A drift crossing's first evidence is the conversation's first help conversation; the referrals
    that followed it are evidence too, which lowers its severity.
    """
    return (
        "SELECT j.conversation_id AS conversation_id, MAX(CASE WHEN EXISTS ("
        f"SELECT 1 FROM {database.json_elements('c.contact_ids', 'e')} "
        "JOIN judged_contacts AS r ON r.contact_id = e.value "
        f"WHERE r.nature IN ({REFERRAL_LIST}) AND r.retracted = 0) THEN 1 ELSE 0 END) AS referred "
        f"FROM crossings AS c JOIN judged_contacts AS j ON j.contact_id = {database.json_first('c.contact_ids')} "
        f"WHERE c.rule = '{DRIFT_INTO_HELP}' AND c.found = 1 GROUP BY j.conversation_id"
    )


@dataclass(frozen=True)
class ComparisonCounts:
    """What the comparison report counts, per key, as one snapshot of the view at ``position``.

    Contacts are the live ones with ``occurred_at`` in the period; crossings the
    ones still found (not resolved) that started in it.
    """

    position: int
    policy_versions: list[str]
    """The versions of the policy that governed the contacts, in the order they took effect."""
    contacts: list[tuple[str, str, str, str, int, int]]
    """(key, month, profile_id, profile_kind, contacts, contacts by interns), ordered."""
    conversations: dict[str, tuple[int, int, int]]
    """Per key: conversations, those with a drift crossing, and those of them followed by a referral."""
    help_questions: dict[str, int]
    referred_hours: dict[str, list[float]]
    """Per key, the hours to referral of the help questions referred within their window, ascending."""
    crossings: dict[str, dict[str, int]]
    """Per key, the crossings by rule."""


def comparison_counts(
    view: BoundaryView,
    *,
    by: ReportKey | str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ComparisonCounts:
    """The comparison report's counts per site, team or profile kind, all read in one transaction."""
    by = ReportKey(by)
    if by is ReportKey.RULE or by is ReportKey.MONTH:
        raise ValueError(f"The comparison is not per {by.value}.")
    column, source, params = _contact_source(view.database, by, start, end, None)
    with view.reading() as sql:
        position = view.position_in(sql)
        return ComparisonCounts(
            position, _governing_versions(sql, position, start, end), _contacts_by_month(sql, column, source, params),
            _conversations(view.database, sql, column, source, params), *_help_questions(sql, column, source, params),
            _crossings_by_rule(sql, by, start, end),
        )


def _governing_versions(sql: Cursor, position: int, start: datetime | None, end: datetime | None) -> list[str]:
    """The versions in force when the live contacts of [start, end) occurred, in the order they took effect."""
    sql.execute("SELECT body FROM policies WHERE position <= ? ORDER BY position", (position,))
    history = PolicyHistory(terms_from_body(json.loads(row["body"])) for row in sql.fetchall())
    changes = sorted({terms.effective_from for terms in history.versions})
    spans = zip([None, *changes], [*changes, None], strict=True)
    versions = [history.at(since).version if since else BUILT_IN_VERSION
                for since, until in spans if _any_contact(sql, since, until, start, end)]
    return list(dict.fromkeys(versions))


def _contacts_by_month(sql: Cursor, column: str, source: str, params: dict[str, Any]) -> list[Any]:
    sql.execute(
        f"SELECT {column} AS key, j.month, j.profile_id, j.profile_kind, COUNT(*) AS contacts, "
        f"COUNT(*) FILTER (WHERE j.intern = 1) AS interns {source} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        params,
    )
    return [(row["key"], row["month"], row["profile_id"], row["profile_kind"], row["contacts"], row["interns"])
            for row in sql.fetchall()]


def _conversations(
    database: Database, sql: Cursor, column: str, source: str, params: dict[str, Any]
) -> dict[str, tuple[int, int, int]]:
    source = source.replace(
        "FROM judged_contacts AS j", f"FROM judged_contacts AS j LEFT JOIN ({_drifted_conversations(database)}) AS d "
        "ON d.conversation_id = j.conversation_id", 1,
    )
    sql.execute(
        f"SELECT {column} AS key, COUNT(DISTINCT j.conversation_id) AS conversations, "
        "COUNT(DISTINCT CASE WHEN d.conversation_id IS NOT NULL THEN j.conversation_id END) AS drifted, "
        f"COUNT(DISTINCT CASE WHEN d.referred = 1 THEN j.conversation_id END) AS referred {source} GROUP BY 1",
        params,
    )
    return {row["key"]: (row["conversations"], row["drifted"], row["referred"]) for row in sql.fetchall()}


def _help_questions(
    sql: Cursor, column: str, source: str, params: dict[str, Any]
) -> tuple[dict[str, int], dict[str, list[float]]]:
    sql.execute(f"SELECT {column} AS key, COUNT(*) AS asked {source} AND j.nature = '{HELP_QUESTION}' GROUP BY 1",
                params)
    asked = {row["key"]: row["asked"] for row in sql.fetchall()}
    sql.execute(
        f"SELECT {column} AS key, j.referred_hours AS hours {source} AND j.nature = '{HELP_QUESTION}' "
        "AND j.referred_hours IS NOT NULL ORDER BY 1, 2",
        params,
    )
    hours: dict[str, list[float]] = defaultdict(list)
    for row in sql.fetchall():
        hours[row["key"]].append(float(row["hours"]))
    return asked, dict(hours)


def _crossings_by_rule(
    sql: Cursor, by: ReportKey, start: datetime | None, end: datetime | None
) -> dict[str, dict[str, int]]:
    where, params = ["c.found = 1"], dict[str, Any]()
    _add_range(where, params, "c.started_at", start, end)
    sql.execute(
        f"SELECT c.{KEY_COLUMNS[by]} AS key, c.rule, COUNT(*) AS crossings FROM crossings AS c {_where(where)} "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in sql.fetchall():
        counts[row["key"]][row["rule"]] = row["crossings"]
    return dict(counts)


def _any_contact(
    sql: Cursor, span_start: datetime | None, span_end: datetime | None,
    start: datetime | None, end: datetime | None,
) -> bool:
    """Whether a live contact occurred in the span and the period."""
    where, params = ["retracted = 0"], dict[str, Any]()
    _add_range(where, params, "occurred_at", _later(span_start, start), _earlier(span_end, end))
    sql.execute(f"SELECT 1 FROM judged_contacts {_where(where)} LIMIT 1", params)
    return sql.fetchone() is not None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


# SQL fragments.


def _equal_to(alias: str, **values: str | None) -> tuple[list[str], dict[str, Any]]:
    """Conditions ``alias.column = :column`` for the values given, and their parameters."""
    given = {column: str(value) for column, value in values.items() if value is not None}  # an enum as its value
    return [f"{alias}.{column} = :{column}" for column in given], given


def _add_range(
    where: list[str], params: dict[str, Any], column: str, start: datetime | None, end: datetime | None
) -> None:
    """Adds ``start <= column < end``, for the bounds given, as stored text."""
    if start is not None:
        where.append(f"{column} >= :start")
        params["start"] = moment_text(start)
    if end is not None:
        where.append(f"{column} < :end")
        params["end"] = moment_text(end)


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""
