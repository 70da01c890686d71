"""Boundary crossings, their reviews and the boundaries report over HTTP.

Ostend's JAC belongs to CAW Noord-West-Vlaanderen, the agreement's room for
experiment, so a contact through a personal profile there is only a note
(`info`); Kortrijk's JAC of CAW Zuid gets the agreement's `low`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

import api.read_models

CROSSINGS = "/api/v1/crossings"
REPORT = "/api/v1/reports/boundaries"
CROSSING_KEYS = {
    "crossing_id", "rule", "severity", "status", "policy_version", "client_id", "team_id", "site", "account_id",
    "contact_ids", "started_at", "ended_at", "detected_at",
}
T0 = datetime(2025, 2, 26, 12, 0, tzinfo=timezone.utc)
"""Three days before the app's clock: every 48-hour window of the scenario has closed."""
NO_CROSSINGS = {"info": 0, "low": 0, "medium": 0, "high": 0}


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def add_kortrijk(world: Any) -> Any:
    """Kortrijk's JAC of CAW Zuid: worker Dora with her own Messenger profile, team lead Kim."""
    world.add_team("jac-kortrijk", organisation="caw-zuid", site="Kortrijk")
    world.add_account("dora", team_id="jac-kortrijk")
    world.add_account("kim", role="team_lead", team_id="jac-kortrijk")
    world.add_profile("dora-messenger", "jac-kortrijk", ["dora"])
    return world


@pytest.fixture
def kortrijk(world):
    return add_kortrijk(world)


def drift_in_kortrijk(world: Any) -> dict[str, Any]:
    """Dora helps a client on Messenger through her own profile; the projector judges it."""
    contact = world.logged_contact("dora", client_ref="lotte-v", nature="help_conversation", occurred_at=at(3))
    world.project()
    return contact


def crossings_of(world: Any, who: str, query: str = "") -> list[dict[str, Any]]:
    response = world.get(f"{CROSSINGS}{query}", who=who)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def crossing_of_rule(world: Any, who: str, rule: str) -> dict[str, Any]:
    (crossing,) = [item for item in crossings_of(world, who) if item["rule"] == rule]
    return crossing


def review(world: Any, crossing_id: str, verdict: str = "acceptable", who: str = "kim", **more: Any) -> Any:
    body = {"verdict": verdict, "comment": "Talked it through with Dora.", **more}
    return world.post(f"{CROSSINGS}/{crossing_id}/reviews", body, who=who)


# Crossings.


def test_a_help_conversation_through_a_personal_profile_is_drift_and_a_personal_profile_contact(kortrijk):
    contact = drift_in_kortrijk(kortrijk)

    items = crossings_of(kortrijk, "kim")

    assert {(item["rule"], item["severity"]) for item in items} == {
        ("drift_into_help", "high"), ("personal_profile_contact", "low")}
    for item in items:
        assert set(item) == CROSSING_KEYS
        assert item["contact_ids"] == [contact["contact_id"]]
        assert item["client_id"] == contact["client_id"]
        assert (item["team_id"], item["site"], item["account_id"]) == ("jac-kortrijk", "Kortrijk", "dora")
        assert (item["status"], item["policy_version"]) == ("open", "sector-agreement-2019")
        assert datetime.fromisoformat(item["started_at"]) == datetime.fromisoformat(at(3))
        assert datetime.fromisoformat(item["ended_at"]) == datetime.fromisoformat(at(3))
        assert datetime.fromisoformat(item["detected_at"]).tzinfo is not None


def test_a_personal_profile_contact_in_the_experiment_organisation_is_only_a_note(world):
    world.logged_contact("ann", nature="keeping_in_touch")
    world.project()

    items = crossings_of(world, "lena")

    assert [(item["rule"], item["severity"]) for item in items] == [("personal_profile_contact", "info")]


@pytest.mark.parametrize("who", ["dora", "rita"])
@pytest.mark.parametrize("path", [CROSSINGS, f"{CROSSINGS}/{UUID(int=1)}", f"{REPORT}?by=site"])
def test_workers_and_researchers_may_not_read_crossings_or_the_report(kortrijk, who, path):
    response = kortrijk.get(path, who=who)

    assert response.status_code == 403
    assert kortrijk.error_of(response)["code"] == "role_not_allowed"


def test_crossings_need_a_token(world):
    assert world.get(CROSSINGS).status_code == 401


def test_a_team_lead_of_another_team_neither_sees_nor_opens_them(kortrijk):
    drift_in_kortrijk(kortrijk)
    crossing = crossing_of_rule(kortrijk, "kim", "drift_into_help")

    listed = crossings_of(kortrijk, "lena")
    detail = kortrijk.get(f"{CROSSINGS}/{crossing['crossing_id']}", who="lena")
    asked_for = kortrijk.get(f"{CROSSINGS}?team_id=jac-kortrijk", who="lena")

    assert listed == []
    assert detail.status_code == 404
    assert kortrijk.error_of(detail)["message"] == "No such crossing."
    assert asked_for.status_code == 404
    assert kortrijk.error_of(asked_for)["message"] == "No such team."


def test_an_admin_sees_every_team_and_may_narrow_to_one(kortrijk):
    drift_in_kortrijk(kortrijk)
    kortrijk.logged_contact("ann", occurred_at=at(1))
    kortrijk.project()

    everything = crossings_of(kortrijk, "admin")
    ostend = crossings_of(kortrijk, "admin", "?team_id=jac-oostende")
    by_site = crossings_of(kortrijk, "admin", "?site=Kortrijk")

    assert {item["team_id"] for item in everything} == {"jac-kortrijk", "jac-oostende"}
    assert {item["team_id"] for item in ostend} == {"jac-oostende"}
    assert {item["team_id"] for item in by_site} == {"jac-kortrijk"}


def test_the_detail_shows_the_evidence_in_time_order_and_the_reviews(kortrijk):
    first = kortrijk.logged_contact("dora", client_ref="lotte-v", nature="help_question", occurred_at=at(3))
    second = kortrijk.logged_contact("dora", client_ref="lotte-v", nature="help_conversation", occurred_at=at(4))
    third = kortrijk.logged_contact("dora", client_ref="lotte-v", nature="referral_safe_chat", occurred_at=at(5))
    kortrijk.project()
    personal = crossing_of_rule(kortrijk, "kim", "personal_profile_contact")
    position = review(kortrijk, personal["crossing_id"]).get_json()["position"]
    kortrijk.project()

    response = kortrijk.get(f"{CROSSINGS}/{personal['crossing_id']}?after={position}", who="kim")

    assert response.status_code == 200
    detail = response.get_json()
    assert set(detail) == CROSSING_KEYS | {"evidence", "reviews"}
    assert [contact["contact_id"] for contact in detail["evidence"]] == [
        first["contact_id"], second["contact_id"], third["contact_id"]]
    assert detail["evidence"][1] == {
        "contact_id": second["contact_id"], "occurred_at": detail["evidence"][1]["occurred_at"],
        "team_id": "jac-kortrijk", "account_id": "dora", "profile_kind": "personal",
        "nature": "help_conversation", "retracted": False,
    }
    assert datetime.fromisoformat(detail["evidence"][1]["occurred_at"]) == datetime.fromisoformat(at(4))
    (recorded,) = detail["reviews"]
    assert set(recorded) == {"review_id", "account_id", "verdict", "comment", "recorded_at", "position"}
    assert (recorded["account_id"], recorded["verdict"], recorded["position"]) == ("kim", "acceptable", position)
    assert recorded["comment"] == "Talked it through with Dora."


def test_drift_that_ends_in_a_referral_is_low_and_names_the_referral_as_evidence(kortrijk):
    kortrijk.logged_contact("dora", client_ref="lotte-v", nature="help_conversation", occurred_at=at(4))
    referral = kortrijk.logged_contact("dora", client_ref="lotte-v", nature="referral_safe_chat", occurred_at=at(5))
    kortrijk.project()

    drift = crossing_of_rule(kortrijk, "kim", "drift_into_help")

    assert drift["severity"] == "low"
    assert drift["contact_ids"][-1] == referral["contact_id"]


# Reviews.


def test_the_latest_review_sets_the_status_once_projected(kortrijk):
    drift_in_kortrijk(kortrijk)
    crossing_id = crossing_of_rule(kortrijk, "kim", "drift_into_help")["crossing_id"]

    accepted = review(kortrijk, crossing_id, "acceptable")
    kortrijk.project()
    after_accepting = crossing_of_rule(kortrijk, "kim", "drift_into_help")["status"]
    to_discuss = review(kortrijk, crossing_id, "discuss_in_team")
    kortrijk.project()
    after_discussing = crossing_of_rule(kortrijk, "kim", "drift_into_help")["status"]

    assert accepted.status_code == to_discuss.status_code == 201
    assert set(accepted.get_json()) == {"position"}
    assert after_accepting == "reviewed"
    assert after_discussing == "open"
    reviews = kortrijk.get(f"{CROSSINGS}/{crossing_id}", who="kim").get_json()["reviews"]
    assert [item["verdict"] for item in reviews] == ["acceptable", "discuss_in_team"]


def test_a_not_acceptable_verdict_also_marks_the_crossing_reviewed(kortrijk):
    drift_in_kortrijk(kortrijk)
    crossing_id = crossing_of_rule(kortrijk, "kim", "personal_profile_contact")["crossing_id"]

    review(kortrijk, crossing_id, "not_acceptable")
    kortrijk.project()

    assert crossings_of(kortrijk, "kim", "?status=reviewed")[0]["crossing_id"] == crossing_id
    assert [item["rule"] for item in crossings_of(kortrijk, "kim", "?status=open")] == ["drift_into_help"]


@pytest.mark.parametrize("body, field", [
    ({"verdict": "fine", "comment": "Ok."}, "verdict"),
    ({"comment": "Ok."}, "verdict"),
    ({"verdict": "acceptable"}, "comment"),
    ({"verdict": "acceptable", "comment": "   "}, "comment"),
    ({"verdict": "acceptable", "comment": "x" * 2001}, "comment"),
    ({"verdict": "acceptable", "comment": "Ok.", "status": "resolved"}, "status"),
])
def test_a_review_of_the_wrong_shape_is_refused_and_writes_nothing(kortrijk, body, field):
    drift_in_kortrijk(kortrijk)
    crossing_id = crossing_of_rule(kortrijk, "kim", "drift_into_help")["crossing_id"]
    before = kortrijk.events_in_store()

    response = kortrijk.post(f"{CROSSINGS}/{crossing_id}/reviews", body, who="kim")

    assert response.status_code == 422
    assert list(kortrijk.error_of(response)["fields"]) == [field]
    assert kortrijk.events_in_store() == before


@pytest.mark.parametrize("who, status", [("dora", 403), ("admin", 403), ("rita", 403), ("lena", 404)])
def test_only_a_team_lead_of_the_crossings_team_may_review_it(kortrijk, who, status):
    drift_in_kortrijk(kortrijk)
    crossing_id = crossing_of_rule(kortrijk, "kim", "drift_into_help")["crossing_id"]
    before = kortrijk.events_in_store()

    response = review(kortrijk, crossing_id, who=who)

    assert response.status_code == status
    assert kortrijk.events_in_store() == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_crossing_is_not_found(kortrijk, method):
    before = kortrijk.events_in_store()
    path = f"{CROSSINGS}/{UUID(int=7)}"

    response = kortrijk.get(path, who="kim") if method == "GET" else review(kortrijk, str(UUID(int=7)))

    assert response.status_code == 404
    assert kortrijk.error_of(response)["message"] == "No such crossing."
    assert kortrijk.events_in_store() == before


# Listing: order, pages, filters.


def test_crossings_come_newest_first_a_page_at_a_time(world):
    for hour in range(5):
        world.logged_contact("ann", client_ref=f"client-{hour}", occurred_at=at(hour))
    world.project()

    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = world.get(f"{CROSSINGS}{query}", who="lena").get_json()
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert [datetime.fromisoformat(item["started_at"]) for item in seen] == [
        datetime.fromisoformat(at(hour)) for hour in reversed(range(5))]
    assert len({item["crossing_id"] for item in seen}) == 5


def test_crossings_that_start_at_the_same_moment_are_paged_without_loss(kortrijk):
    drift_in_kortrijk(kortrijk)

    first = kortrijk.get(f"{CROSSINGS}?limit=1", who="kim").get_json()
    second = kortrijk.get(f"{CROSSINGS}?limit=1&cursor={first['next_cursor']}", who="kim").get_json()

    assert {first["items"][0]["rule"], second["items"][0]["rule"]} == {"drift_into_help", "personal_profile_contact"}
    assert second["next_cursor"] is None


def test_crossings_are_filtered_by_rule_severity_and_period(kortrijk):
    drift_in_kortrijk(kortrijk)
    kortrijk.logged_contact("dora", client_ref="noor-b", occurred_at=at(30))
    kortrijk.project()

    high = crossings_of(kortrijk, "kim", "?severity=high")
    personal = crossings_of(kortrijk, "kim", "?rule=personal_profile_contact")
    from_the_second_day = crossings_of(kortrijk, "kim", "?from=2025-02-27")
    the_first_day = crossings_of(kortrijk, "kim", f"?from={at(3).replace('+', '%2B')}&to=2025-02-27")

    assert [item["rule"] for item in high] == ["drift_into_help"]
    assert len(personal) == 2
    assert [item["started_at"][:10] for item in from_the_second_day] == ["2025-02-27"]
    assert {item["started_at"][:10] for item in the_first_day} == {"2025-02-26"} and len(the_first_day) == 2


@pytest.mark.parametrize("query, field", [
    ("?severity=critical", "severity"),
    ("?rule=rudeness", "rule"),
    ("?status=closed", "status"),
    ("?limit=0", "limit"),
    ("?limit=501", "limit"),
    ("?cursor=bm90LWEtY3Vyc29y", "cursor"),
    ("?from=2025-02-26T12:00:00", "from"),
    ("?from=yesterday", "from"),
    ("?from=2025-02-27&to=2025-02-27", "to"),
    ("?from=2025-02-28&to=2025-02-27T23:00:00Z", "to"),
    ("?colour=red", "colour"),
])
def test_a_query_of_the_wrong_shape_is_refused_naming_the_parameter(kortrijk, query, field):
    response = kortrijk.get(f"{CROSSINGS}{query}", who="kim")

    assert response.status_code == 422
    assert list(kortrijk.error_of(response)["fields"]) == [field]


def test_a_read_after_a_position_the_projection_has_not_reached_answers_503(kortrijk, monkeypatch):
    monkeypatch.setattr(api.read_models, "WAIT_SECONDS", 0.05)
    beyond = kortrijk.events_in_store() + 1

    responses = [kortrijk.get(f"{path}after={beyond}", who="kim") for path in (f"{CROSSINGS}?", f"{REPORT}?by=site&")]

    for response in responses:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert kortrijk.error_of(response)["code"] == "projection_behind"


def test_a_read_after_a_projected_position_answers_at_once(kortrijk):
    position = drift_in_kortrijk(kortrijk)["position"]

    response = kortrijk.get(f"{CROSSINGS}?after={position}", who="kim")

    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 2


# The report.


def report_scenario(world: Any) -> None:
    """Ostend (caw-nwvl, personal profiles are notes) and Kortrijk (caw-zuid), all in February but one.

    Ostend: a help question referred to the safe chat 5 hours later; another never
    referred; a help conversation; and a chat just after midnight on 1 March in
    Brussels (23:30 UTC on 28 February). Kortrijk: one help conversation.

    Logged three days late, the first help question is found unreferred until
    its referral is logged a moment later: that crossing is resolved, and the
    report counts it all the same, as it counts crossings whatever their status.
    """
    world.logged_contact("ann", client_ref="c1", nature="help_question", occurred_at=at(0))
    world.logged_contact("ann", client_ref="c1", nature="referral_safe_chat", occurred_at=at(5))
    world.logged_contact("ann", client_ref="c2", nature="help_question", occurred_at=at(0))
    world.logged_contact("ann", client_ref="c3", nature="help_conversation", occurred_at=at(2))
    world.logged_contact("ann", client_ref="c4", occurred_at="2025-02-28T23:30:00+00:00")
    drift_in_kortrijk(world)


def row(key: str, contacts: int, conversations: int, help_questions: int, help_conversations: int, referrals: int,
        referral_rate: float | None, median: float | None, drifted: int, drift_share: float | None,
        **crossings: int) -> dict[str, Any]:
    return {
        "key": key, "contacts": contacts, "conversations": conversations, "help_questions": help_questions,
        "help_conversations": help_conversations, "referrals": referrals, "referral_rate": referral_rate,
        "median_hours_to_referral": median, "drifted_conversations": drifted, "drift_share": drift_share,
        "crossings": {**NO_CROSSINGS, **crossings},
    }


OSTEND = dict(contacts=5, conversations=4, help_questions=2, help_conversations=1, referrals=1, referral_rate=0.5,
              median=5.0, drifted=1, drift_share=0.25, info=4, medium=2, high=1)
KORTRIJK = dict(contacts=1, conversations=1, help_questions=0, help_conversations=1, referrals=0, referral_rate=None,
                median=None, drifted=1, drift_share=1.0, low=1, high=1)


def report(world: Any, query: str, who: str = "admin") -> list[dict[str, Any]]:
    response = world.get(f"{REPORT}?{query}", who=who)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert set(response.get_json()) == {"rows"}
    return response.get_json()["rows"]


@pytest.fixture
def reported(kortrijk):
    report_scenario(kortrijk)
    return kortrijk


@pytest.mark.parametrize("by, ostend_key, kortrijk_key", [("site", "Oostende", "Kortrijk"),
                                                          ("team", "jac-oostende", "jac-kortrijk")])
def test_the_report_by_site_or_team_counts_each_teams_contacts_and_crossings(reported, by, ostend_key, kortrijk_key):
    rows = report(reported, f"by={by}")

    assert rows == sorted([row(ostend_key, **OSTEND), row(kortrijk_key, **KORTRIJK)], key=lambda r: r["key"])


def test_the_report_by_month_uses_the_month_in_brussels(reported):
    rows = report(reported, "by=month")

    assert rows == [
        row("2025-02", 5, 4, 2, 2, 1, 0.5, 5.0, 2, 0.5, info=3, low=1, medium=2, high=2),
        row("2025-03", 1, 1, 0, 0, 0, None, None, 0, 0.0, info=1),
    ]


def test_the_report_by_profile_kind(reported):
    rows = report(reported, "by=profile_kind")

    assert rows == [row("personal", 6, 5, 2, 2, 1, 0.5, 5.0, 2, 0.4, info=4, low=1, medium=2, high=2)]


def test_the_report_by_rule_counts_the_evidence_of_each_rules_crossings(reported):
    rows = report(reported, "by=rule")

    assert rows == [
        row("drift_into_help", 2, 2, 0, 2, 0, None, None, 2, 1.0, high=2),
        row("help_question_not_referred", 2, 2, 2, 0, 0, 0.5, 5.0, 0, 0.0, medium=2),
        row("personal_profile_contact", 6, 5, 2, 2, 1, 0.5, 5.0, 2, 0.4, info=4, low=1),
    ]


def test_a_team_lead_gets_the_figures_of_their_own_team_only(reported):
    assert report(reported, "by=site", who="kim") == [row("Kortrijk", **KORTRIJK)]
    assert report(reported, "by=site", who="lena") == [row("Oostende", **OSTEND)]


def test_the_period_includes_its_start_and_excludes_its_end(reported):
    start, end = at(2).replace("+", "%2B"), at(3).replace("+", "%2B")

    rows = report(reported, f"by=site&from={start}&to={end}")

    assert rows == [row("Oostende", 1, 1, 0, 1, 0, None, None, 1, 1.0, info=1, high=1)]


def test_a_date_as_a_bound_means_midnight_in_brussels(reported):
    before_march = report(reported, "by=month&to=2025-03-01")
    from_march = report(reported, "by=month&from=2025-03-01")

    assert [r["key"] for r in before_march] == ["2025-02"]
    assert from_march == [row("2025-03", 1, 1, 0, 0, 0, None, None, 0, 0.0, info=1)]


def test_a_retracted_contact_is_not_counted(reported):
    contact = reported.logged_contact("dora", client_ref="pieter-d", nature="help_question", occurred_at=at(6))
    reported.post(f"/api/v1/contacts/{contact['contact_id']}/retraction", {"reason": "Wrong client."}, who="dora")
    reported.project()

    assert report(reported, "by=site", who="kim")[0]["help_questions"] == 0


def test_a_key_with_crossings_but_no_contacts_still_has_a_row(kortrijk):
    contact = kortrijk.logged_contact("dora", client_ref="lotte-v", nature="help_conversation", occurred_at=at(3))
    kortrijk.post(f"/api/v1/contacts/{contact['contact_id']}/retraction", {"reason": "Wrong client."}, who="dora")
    kortrijk.project()

    by_site = report(kortrijk, "by=site", who="kim")
    by_rule = report(kortrijk, "by=rule", who="kim")

    resolved = crossings_of(kortrijk, "kim")
    assert {item["status"] for item in resolved} == {"resolved"}
    evidence = kortrijk.get(f"{CROSSINGS}/{resolved[0]['crossing_id']}", who="kim").get_json()["evidence"]
    assert [(item["contact_id"], item["retracted"]) for item in evidence] == [(contact["contact_id"], True)]
    assert by_site == [row("Kortrijk", 0, 0, 0, 0, 0, None, None, 0, None, low=1, high=1)]
    assert by_rule == [
        row("drift_into_help", 0, 0, 0, 0, 0, None, None, 0, None, high=1),
        row("personal_profile_contact", 0, 0, 0, 0, 0, None, None, 0, None, low=1),
    ]


def test_the_report_by_rule_in_a_period_counts_the_evidence_of_the_crossings_started_in_it(reported):
    # Only Kortrijk's drift, at 15:00, starts crossings between then and midnight in Brussels.
    rows = report(reported, f"by=rule&from={at(3).replace('+', '%2B')}&to=2025-02-27")

    assert rows == [
        row("drift_into_help", 1, 1, 0, 1, 0, None, None, 1, 1.0, high=1),
        row("personal_profile_contact", 1, 1, 0, 1, 0, None, None, 1, 1.0, low=1),
    ]


@pytest.mark.parametrize("query, field", [
    ("", "by"),
    ("by=colour", "by"),
    ("by=site&from=2025-03-01&to=2025-02-01", "to"),
    ("by=site&to=2025-03-01T00:00:00", "to"),
])
def test_a_report_query_of_the_wrong_shape_is_refused(reported, query, field):
    response = reported.get(f"{REPORT}?{query}", who="admin")

    assert response.status_code == 422
    assert list(reported.error_of(response)["fields"]) == [field]


def test_the_openapi_document_declares_the_enums_of_crossings(client):
    document = client.get("/api/v1/openapi.json").get_json()

    parameters = {p["name"]: p for p in document["paths"][CROSSINGS]["get"]["parameters"]}
    assert set(parameters["severity"]["schema"]["enum"]) == {"info", "low", "medium", "high"}
    assert set(parameters["status"]["schema"]["enum"]) == {"open", "reviewed", "resolved"}
    assert {"from", "to", "cursor", "limit", "after", "team_id", "site", "rule"} <= set(parameters)
    report_parameters = {p["name"]: p for p in document["paths"][REPORT]["get"]["parameters"]}
    assert report_parameters["by"]["required"] is True
    assert "201" in document["paths"][f"{CROSSINGS}/{{crossing_id}}/reviews"]["post"]["responses"]
