"""A replay as of a moment, under one policy: what a store that stopped then shows, the same bytes every time.

Store A holds the demo, then a policy published after the moment T (effective
since August), and then contacts recorded before T, late in the store's order:
a client's first contact, and two help questions never referred, one whose
48 hours ran out before T and one whose hours had not.
Store B holds only the events of A recorded by T, as A stores them, and is
projected live with the clock reaching T.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from events import Client, Contact, Policy
from events.errors import InvalidInputError
from events.policy import SECTOR_AGREEMENT_2019
from events.vocabulary import Direction, Nature, Role
from logbook import read_models
from logbook.application import ContactDraft, Logbook
from logbook.config import Settings
from logbook.digest import EventsDigest
from logbook.replay import (
    MAX_RUNNING_REPLAYS,
    STOPPED,
    ReplayJobs,
    TooManyReplaysError,
    UnknownPolicyError,
    choose_policy,
    replay,
    report_bytes,
    research_crossings,
)
from logbook.research import ResearchView
from logbook.store import EventStore
from projections.boundaries import BoundaryView
from projections.boundary_report import boundaries_report
from projections.runner import SETTLE
from tests.stores import read_model_rows

T = datetime.fromisoformat("2026-08-20T15:30:00+02:00")
END = datetime(2026, 11, 2, tzinfo=timezone.utc)
RESEARCH_KEY = b"r" * 40
JUDGED = (Contact.Logged, Contact.Corrected, Contact.Retracted, Client.FollowUpPlanned, Policy.Published)
WITHOUT_DRIFT = {"version": "without-drift", "effective_from": "2019-01-01T00:00:00+01:00",
                 "rules": {"drift_into_help": {"enabled": False}}}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings_in(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, secret_key=b"s" * 40, master_key=b"m" * 32, research_key=RESEARCH_KEY)


@pytest.fixture(scope="module")
def store_a(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_in(tmp_path_factory.mktemp("a"))
    clock = Clock(datetime(2026, 4, 1, tzinfo=timezone.utc))
    with closing(Logbook(settings, clock=clock)) as app:
        admin, _ = app.add_account(account_id="admin", name="Admin", role=Role.ADMIN)
        load_demo(app)
        clock.now = END
        app.publish_policy(admin, {"version": "nwvl-2026-08", "effective_from": "2026-08-01T00:00:00+02:00",
                                   "rules": {"out_of_hours": {"enabled": True}}})
        # Writers that were slow to commit: late in the order, early in time.
        for client_ref, nature, hours_before in LATE:
            clock.now = T - timedelta(hours=hours_before)
            app.log_contact(app.account("oost-sara"), ContactDraft(
                client_ref=client_ref, profile_id="oost-sara-messenger", direction=Direction.INBOUND,
                nature=nature, occurred_at=clock.now - timedelta(hours=1),
            ))
    return settings


LATE = (("late-client", Nature.KEEPING_IN_TOUCH, 48), ("late-question-closed", Nature.HELP_QUESTION, 50),
        ("late-question-open", Nature.HELP_QUESTION, 30))


def pseudonym(client_ref: str) -> str:
    from logbook.pseudonyms import client_id_for

    return ResearchView(RESEARCH_KEY).pseudonyms.client(client_id_for(b"s" * 40, "caw-nwvl", client_ref))


def rules_of(body: dict[str, Any], client_ref: str) -> set[str]:
    return {crossing["rule"] for crossing in body["crossings"] if crossing["client"] == pseudonym(client_ref)}


def load_demo(app: Logbook) -> None:
    from logbook.demo import load_demo

    load_demo(app, seed=7, contact_count=400, echo=lambda message: None)


def copy_until(source: Settings, target: Settings, until: datetime) -> None:
    """Writes into a new store the events of ``source`` recorded by ``until``, as stored, in their order."""
    with closing(EventStore(source)) as a, closing(EventStore(target)) as b:
        for page in pages(a):
            kept = [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                    for n in page if a.mapper.to_domain_event(n).timestamp <= until]
            if kept:
                b.recorder.insert_events(kept)


def pages(store: EventStore) -> Iterator[Any]:
    after = 0
    while page := store.recorder.select_notifications(after, 100, inclusive_of_start=False):
        yield page
        after = page[-1].id


def project_live(settings: Settings, until: datetime) -> None:
    """As the live projector would: small pages, a tick after each while it waits, and the clock reaching ``until``."""
    clock = Clock(datetime(2026, 4, 1, tzinfo=timezone.utc))
    with closing(read_models.projector(settings, clock)) as live:
        live.feed.page_size = 40
        while page := live.feed.page_after(live.position()):
            live.apply_page(page)
            events = [live.mapper.to_domain_event(notification) for notification in page]
            clock.now = max([event.timestamp for event in events if isinstance(event, JUDGED)] + [clock.now - SETTLE])
            clock.now += SETTLE
            live.tick()
        clock.now = until + SETTLE
        live.tick()


def digest_until(settings: Settings, until: datetime) -> EventsDigest:
    digest = EventsDigest()
    with closing(EventStore(settings)) as store:
        for page in pages(store):
            for n in page:
                if store.mapper.to_domain_event(n).timestamp <= until:
                    digest.add(n.id, n.topic, n.state)
    return digest


def boundary_view(settings: Settings) -> BoundaryView:
    view = read_models.open_view(settings, "boundaries")
    assert isinstance(view, BoundaryView)
    return view


def written(report: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(report.path.read_bytes())
    return body


# The replay.


def test_a_replay_until_a_moment_equals_the_live_read_models_of_a_store_that_only_received_the_events_until_then(
    store_a: Settings, tmp_path: Path
) -> None:
    store_b = settings_in(tmp_path / "b")
    copy_until(store_a, store_b, T)
    project_live(store_b, until=T)

    report = replay(store_a, T, SECTOR_AGREEMENT_2019, tmp_path / "out")

    body = written(report)
    with closing(boundary_view(store_b)) as view:
        assert body["rows"] == json.loads(json.dumps(boundaries_report(view, by="site")))
        assert body["crossings"] == research_crossings(view, ResearchView(RESEARCH_KEY))
    rules = {crossing["rule"] for crossing in body["crossings"]}
    assert rules >= {"drift_into_help", "help_question_not_referred", "personal_profile_contact"}
    assert "out_of_hours" not in rules  # the version that enables it was published after T
    assert max(crossing["detected_at"] for crossing in body["crossings"]) <= "2026-08-20T13:00:00Z"
    assert {row["key"] for row in body["rows"]} == {"Brugge", "Oostende"}
    assert "help_question_not_referred" in rules_of(body, "late-question-closed")
    assert "help_question_not_referred" not in rules_of(body, "late-question-open")  # its 48 hours end after T


def test_a_replay_closes_the_time_windows_up_to_its_moment(store_a: Settings, tmp_path: Path) -> None:
    body = written(replay(store_a, T + timedelta(hours=18), SECTOR_AGREEMENT_2019, tmp_path))

    assert "help_question_not_referred" in rules_of(body, "late-question-open")


def test_a_replay_keeps_the_events_recorded_by_its_moment_that_come_after_later_ones_in_the_store(
    store_a: Settings, tmp_path: Path
) -> None:
    report = replay(store_a, T, SECTOR_AGREEMENT_2019, tmp_path)

    expected = digest_until(store_a, T)
    with closing(EventStore(store_a)) as store:
        head = store.recorder.max_notification_id()
    assert (report.position, report.events_digest, report.events) == (head, expected.hexdigest(), expected.count)
    assert report.read == head > report.events
    assert (written(report)["position"], written(report)["events_digest"]) == (head, expected.hexdigest())
    assert rules_of(written(report), "late-client") == {"personal_profile_contact"}


def test_a_replay_judges_every_contact_by_the_chosen_version_even_before_it_took_effect(
    store_a: Settings, tmp_path: Path
) -> None:
    with closing(Logbook(store_a)) as app:
        published = choose_policy(app.policies(), "nwvl-2026-08")

    body = written(replay(store_a, END, published, tmp_path))

    out_of_hours = [crossing for crossing in body["crossings"] if crossing["rule"] == "out_of_hours"]
    assert body["policy_version"] == "nwvl-2026-08"
    assert {crossing["policy_version"] for crossing in body["crossings"]} == {"nwvl-2026-08"}
    assert min(crossing["started_at"] for crossing in out_of_hours) < "2026-08-01"


def test_a_replay_under_a_policy_that_disables_a_rule_shows_none_of_its_crossings_and_is_otherwise_equal(
    store_a: Settings, tmp_path: Path
) -> None:
    full = written(replay(store_a, T, SECTOR_AGREEMENT_2019, tmp_path / "full"))
    variant = written(replay(store_a, T, choose_policy([], WITHOUT_DRIFT), tmp_path / "variant"))

    drift = [crossing for crossing in full["crossings"] if crossing["rule"] == "drift_into_help"]
    assert drift and not [crossing for crossing in variant["crossings"] if crossing["rule"] == "drift_into_help"]
    assert [unversioned(crossing) for crossing in variant["crossings"]] == [
        unversioned(crossing) for crossing in full["crossings"] if crossing["rule"] != "drift_into_help"
    ]
    assert variant["rows"] == rows_without(full["rows"], drift)
    assert (variant["position"], variant["events_digest"], variant["until"]) == (
        full["position"], full["events_digest"], full["until"])
    assert (full["policy_version"], variant["policy_version"]) == ("sector-agreement-2019", "without-drift")


def unversioned(crossing: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in crossing.items() if name != "policy_version"}


def rows_without(rows: list[dict[str, Any]], crossings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, less the given crossings in their sites' counts by severity."""
    rows = copy.deepcopy(rows)
    by_site = {row["key"]: row for row in rows}
    for crossing in crossings:
        by_site[crossing["site"]]["crossings"][crossing["severity"]] -= 1
    return rows


def test_two_replays_of_the_same_events_under_the_same_policy_write_the_same_bytes(
    store_a: Settings, tmp_path: Path
) -> None:
    first = replay(store_a, T, SECTOR_AGREEMENT_2019, tmp_path / "first")
    second = replay(store_a, T.astimezone(timezone.utc), SECTOR_AGREEMENT_2019, tmp_path / "second")

    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.read_bytes() == report_bytes(first.body)
    assert first.path.read_bytes().endswith(b"}\n")
    assert set(written(first)) == {"position", "policy_version", "events_digest", "until", "rows", "crossings"}
    assert written(first)["until"] == "2026-08-20T13:30:00+00:00"


def test_a_replay_leaves_the_live_read_models_untouched_and_no_scratch_behind(
    store_a: Settings, tmp_path: Path
) -> None:
    with closing(read_models.projector(store_a, Clock(END))) as live:
        live.catch_up()
    before = read_model_rows(store_a)
    positions = {name: position_of(store_a, name) for name in read_models.PROJECTIONS}

    replay(store_a, T, SECTOR_AGREEMENT_2019, tmp_path)

    assert read_model_rows(store_a) == before
    assert {name: position_of(store_a, name) for name in read_models.PROJECTIONS} == positions
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.json"]


def position_of(settings: Settings, name: str) -> int:
    with closing(read_models.open_view(settings, name)) as view:
        return view.position()


# Choosing the policy.


def test_a_policy_is_a_version_built_in_or_published() -> None:
    assert choose_policy([SECTOR_AGREEMENT_2019], "sector-agreement-2019") is SECTOR_AGREEMENT_2019
    with pytest.raises(UnknownPolicyError) as refused:
        choose_policy([SECTOR_AGREEMENT_2019], "nwvl-2030")
    assert refused.value.field == "policy"


@pytest.mark.parametrize(("body", "field"), [
    ({**WITHOUT_DRIFT, "rules": {"drift_into_help": {"enabled": "no"}}}, "rules.drift_into_help.enabled"),
    ({"version": "x"}, "effective_from"),
    ({**WITHOUT_DRIFT, "version": "sector-agreement-2019"}, "version"),
])
def test_a_policy_body_that_is_not_valid_is_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        choose_policy([SECTOR_AGREEMENT_2019], body)

    assert refused.value.field == field


def test_a_policy_body_may_not_take_the_name_of_a_published_version_with_other_terms() -> None:
    published = choose_policy([], WITHOUT_DRIFT)

    assert choose_policy([published], WITHOUT_DRIFT) == published
    with pytest.raises(InvalidInputError) as refused:
        choose_policy([published], {**WITHOUT_DRIFT, "rules": {}})
    assert refused.value.field == "version"


# Replays as jobs.


def test_a_job_whose_process_stopped_is_reported_failed(tmp_path: Path) -> None:
    jobs = ReplayJobs(settings_in(tmp_path))
    stopped = subprocess.Popen([sys.executable, "-c", "pass"])
    stopped.wait()
    dead = write_status(jobs, "0" * 31 + "1", pid=stopped.pid)
    elsewhere = write_status(jobs, "0" * 31 + "2", pid=stopped.pid, host="another-host")

    assert (jobs.get(dead).status, jobs.get(dead).error) == ("failed", STOPPED)
    assert (jobs.get(elsewhere).status, jobs.get(elsewhere).error) == ("running", None)


def test_at_most_two_replays_run_at_once_and_a_stopped_one_does_not_count(tmp_path: Path) -> None:
    jobs = ReplayJobs(settings_in(tmp_path))
    stopped = subprocess.Popen([sys.executable, "-c", "pass"])
    stopped.wait()
    write_status(jobs, "0" * 31 + "1", pid=stopped.pid)
    for n in range(MAX_RUNNING_REPLAYS):
        write_status(jobs, f"{n + 2:032x}", pid=os.getpid())

    with pytest.raises(TooManyReplaysError):
        jobs.start(T, SECTOR_AGREEMENT_2019)

    assert len([path for path in jobs.root.iterdir() if path.is_dir()]) == MAX_RUNNING_REPLAYS + 1


def write_status(jobs: ReplayJobs, replay_hex: str, pid: int, host: str | None = None) -> Any:
    from uuid import UUID

    from logbook.replay import _this_process

    job_dir = jobs.root / replay_hex
    job_dir.mkdir(parents=True)
    status = {"replay_id": str(UUID(replay_hex)), "status": "running", "until": "2026-08-20T13:30:00+00:00",
              "policy_version": "sector-agreement-2019", **_this_process(), "pid": pid,
              "host": host or socket.gethostname()}
    if pid != os.getpid():
        status["process_started"] = None
    (job_dir / "status.json").write_text(json.dumps(status))
    return UUID(replay_hex)
