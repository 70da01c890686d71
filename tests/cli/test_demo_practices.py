"""The demo shows the practices the seed compares, as the boundaries read model reports them.

Ostend's JAC workers, interns too, use personal profiles, reach out after
worrying posts and refer help questions; Bruges' JAC shares one profile;
't Salon helps a little, then refers. The demo is loaded as `logbook demo`
loads it (its seed and size), in bulk, which writes the same events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from logbook import read_models
from logbook.application import Logbook
from logbook.config import Settings
from logbook.demo import load_demo
from projections.boundaries import BoundaryView
from projections.boundary_report import boundaries_report
from tests.sealed_text import contact_and_client_events

SEED, CONTACTS = 2019, 3000
"""What `logbook demo` loads by default."""


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, secret_key=b"s" * 40, master_key=b"m" * 32)


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoundaryView]:
    settings = settings_for(tmp_path_factory.mktemp("demo"))
    with closing(Logbook(settings)) as app:
        load_demo(app, seed=SEED, contact_count=CONTACTS, echo=lambda message: None, bulk=True)
    with closing(read_models.projector(settings, lambda: datetime(2026, 12, 1, tzinfo=timezone.utc))) as projector:
        projector.catch_up()
    with closing(read_models.open_view(settings, "boundaries")) as boundaries:
        assert isinstance(boundaries, BoundaryView)
        yield boundaries


def scalar(view: BoundaryView, statement: str, *params: Any) -> Any:
    with view.reading() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def live_contacts(view: BoundaryView, where: str, *params: Any) -> int:
    return int(scalar(view, f"SELECT COUNT(*) FROM judged_contacts WHERE retracted = 0 AND {where}", *params))


def crossings(view: BoundaryView, where: str, *params: Any) -> int:
    return int(scalar(view, f"SELECT COUNT(*) FROM crossings WHERE status != 'resolved' AND {where}", *params))


def test_ostends_jac_workers_use_their_personal_profiles(view: BoundaryView) -> None:
    personal = live_contacts(view, "team_id = 'jac-oostende' AND profile_kind = 'personal'")
    everything = live_contacts(view, "team_id = 'jac-oostende'")

    assert personal / everything > 0.9
    assert crossings(view, "team_id = 'jac-oostende' AND rule = 'personal_profile_contact'") > 0.5 * everything


def test_ostends_intern_uses_a_personal_profile_too(view: BoundaryView) -> None:
    intern_crossings = crossings(view, "rule = 'intern_personal_profile'")
    with view.reading() as cursor:
        cursor.execute("SELECT DISTINCT account_id FROM crossings WHERE rule = 'intern_personal_profile'")
        by_whom = [row[0] for row in cursor.fetchall()]

    assert intern_crossings > 50
    assert by_whom == ["oost-pieter"]


def test_bruges_jac_shares_one_profile_and_never_uses_a_personal_one(view: BoundaryView) -> None:
    profiles = scalar(view, "SELECT COUNT(DISTINCT profile_id) FROM judged_contacts WHERE team_id = 'jac-brugge'")
    shared = live_contacts(view, "team_id = 'jac-brugge' AND profile_kind = 'shared'")

    assert profiles == 1
    assert shared == live_contacts(view, "team_id = 'jac-brugge'") > 0
    assert live_contacts(view, "site = 'Brugge' AND profile_kind = 'personal'") == 0
    assert crossings(view, "site = 'Brugge' AND rule IN ('personal_profile_contact', 'intern_personal_profile')") == 0


def test_only_ostend_reaches_out_after_worrying_posts(view: BoundaryView) -> None:
    assert live_contacts(view, "team_id = 'jac-oostende' AND nature = 'worrying_post_outreach'") > 10
    assert live_contacts(view, "site = 'Brugge' AND nature = 'worrying_post_outreach'") == 0


def test_ostend_mostly_refers_help_questions_though_the_line_blurs(view: BoundaryView) -> None:
    ostend = next(row for row in boundaries_report(view, by="team") if row["key"] == "jac-oostende")
    drifted_high = crossings(view, "team_id = 'jac-oostende' AND rule = 'drift_into_help' AND severity = 'high'")

    assert ostend["help_questions"] > 50
    assert ostend["referral_rate"] > 0.6
    assert drifted_high > 0


def test_salon_helps_a_little_then_mostly_refers(view: BoundaryView) -> None:
    drift = "team_id = 'salon-brugge' AND rule = 'drift_into_help'"
    low, everything = crossings(view, f"{drift} AND severity = 'low'"), crossings(view, drift)
    salon = next(row for row in boundaries_report(view, by="team") if row["key"] == "salon-brugge")

    assert everything > 10
    assert low / everything > 0.75
    assert salon["drift_share"] > next(row for row in boundaries_report(view, by="team")
                                       if row["key"] == "jac-brugge")["drift_share"]


def test_the_bulk_demo_writes_the_events_the_commands_write(tmp_path: Path) -> None:
    stores = {}
    for bulk in (False, True):
        with closing(Logbook(settings_for(tmp_path / str(bulk)))) as app:
            load_demo(app, seed=5, contact_count=400, echo=lambda message: None,
                      months=12, busiest_client_contacts=40, bulk=bulk)
            stores[bulk] = contact_and_client_events(app)

    assert len(stores[False]) > 400
    assert stores[True] == stores[False]
