"""The comparison report shows the practices the seed compares, in aggregates that name no one.

Ostend's JAC workers, interns too, keep contact through personal profiles;
Bruges' JAC and 't Salon share one profile; 't Salon helps a little and then
mostly refers. One demo, loaded and projected once, serves every test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

import pytest

from logbook import read_models
from logbook.application import Logbook
from logbook.compare import BRUSSELS, CompareKey, Comparison, EventsDigests, Group, compare, moment_or_date, percentile
from logbook.compare_html import render
from logbook.config import Settings
from logbook.demo import PRACTICES, RESEARCHER, load_demo
from logbook.digest import EventsDigest
from projections.boundaries import BoundaryView
from projections.boundary_report import boundaries_report

SEED, CONTACTS = 2019, 3000
"""What `logbook demo` loads by default."""


@dataclass
class Demo:
    app: Logbook
    view: BoundaryView

    def compare(self, by: str, start: datetime | None = None, end: datetime | None = None) -> Comparison:
        return compare(self.app, self.view, by=by, start=start, end=end)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"), database_url=None, secret_key=b"s" * 40, master_key=b"m" * 32)
    with closing(Logbook(settings)) as app:
        load_demo(app, seed=SEED, contact_count=CONTACTS, echo=lambda message: None, bulk=True)
        with closing(read_models.projector(settings, lambda: datetime(2026, 12, 1, tzinfo=timezone.utc))) as projector:
            projector.catch_up()
        with closing(read_models.open_view(settings, "boundaries")) as view:
            assert isinstance(view, BoundaryView)
            yield Demo(app, view)


@pytest.fixture(scope="module")
def by_site(demo: Demo) -> Comparison:
    return demo.compare("site")


@pytest.fixture(scope="module")
def by_team(demo: Demo) -> Comparison:
    return demo.compare("team")


@pytest.fixture(scope="module")
def site_html(by_site: Comparison) -> str:
    return render(by_site)


def group(comparison: Comparison, key: str) -> Group:
    (found,) = [each for each in comparison.groups if each.key == key]
    return found


# The practices, in the figures.


def test_ostends_contacts_are_mostly_through_personal_profiles_interns_too(by_site: Comparison,
                                                                            by_team: Comparison) -> None:
    ostend, jac_ostend = group(by_site, "Oostende"), group(by_team, "jac-oostende")
    kinds = ostend.contacts.by_profile_kind

    assert kinds["personal"] > ostend.contacts.total / 2
    assert max(kinds, key=kinds.__getitem__) == "personal"
    assert jac_ostend.contacts.by_profile_kind["personal"] / jac_ostend.contacts.total > 0.9
    assert jac_ostend.contacts.by_interns > 0
    assert ostend.crossings.by_rule["intern_personal_profile"] > 50
    assert ostend.crossings.by_rule["personal_profile_contact"] > ostend.contacts.total / 3


def test_bruges_keeps_contact_through_the_shared_profile_never_a_personal_one(by_site: Comparison) -> None:
    bruges = group(by_site, "Brugge")

    assert bruges.contacts.total > 1000
    assert bruges.contacts.by_profile_kind["shared"] == bruges.contacts.total
    assert bruges.contacts.by_profile_kind["personal"] == 0
    assert bruges.crossings.by_rule["personal_profile_contact"] == 0
    assert bruges.crossings.by_rule["intern_personal_profile"] == 0


def test_salon_helps_a_little_then_mostly_refers(by_team: Comparison) -> None:
    salon, jac_bruges = group(by_team, "salon-brugge"), group(by_team, "jac-brugge")

    assert salon.label == "Jongerenwerking 't Salon"
    assert salon.drift.drifted > 10
    assert salon.drift.drifted_then_referred / salon.drift.drifted > 0.75
    assert salon.drift.share is not None and jac_bruges.drift.share is not None
    assert salon.drift.share > jac_bruges.drift.share
    assert salon.referral.rate is not None and salon.referral.rate > 0.8


def test_the_figures_agree_with_the_boundaries_report(demo: Demo, by_team: Comparison) -> None:
    report = {row["key"]: row for row in boundaries_report(demo.view, by="team")}

    for each in by_team.groups:
        row = report[each.key]
        assert (each.contacts.total, each.drift.conversations, each.drift.drifted, each.referral.help_questions) == (
            row["contacts"], row["conversations"], row["drifted_conversations"], row["help_questions"])
        assert (each.referral.rate, each.referral.median_hours) == (row["referral_rate"],
                                                                    row["median_hours_to_referral"])
        assert sum(month.contacts for month in each.contacts.by_month) == each.contacts.total
        assert sum(each.contacts.by_channel.values()) == sum(each.contacts.by_profile_kind.values()) == row["contacts"]


def test_every_group_has_the_same_months_in_order(by_team: Comparison) -> None:
    assert by_team.months == ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
    assert {tuple(m.month for m in each.contacts.by_month) for each in by_team.groups} == {by_team.months}


def test_a_period_counts_the_contacts_that_occurred_in_it(demo: Demo, by_site: Comparison) -> None:
    july = demo.compare("site", moment_or_date("2026-07-01"), moment_or_date("2026-08-01"))

    assert july.months == ("2026-07",)
    for each in july.groups:
        (whole_july,) = [m for m in group(by_site, each.key).contacts.by_month if m.month == "2026-07"]
        assert each.contacts.by_month[0] == whole_july


def test_the_comparison_states_what_it_rests_on(demo: Demo, by_site: Comparison) -> None:
    digest = EventsDigest()
    for notification in demo.app.recorder.select_notifications(1, 100_000):
        digest.add(notification.id, notification.topic, notification.state)

    assert by_site.position == demo.app.count_events() == demo.view.position()
    assert by_site.policy_versions == ("sector-agreement-2019",)
    assert by_site.events_digest == digest.hexdigest()


def test_a_digest_extended_from_an_earlier_one_equals_a_fresh_one(demo: Demo) -> None:
    digests = EventsDigests()
    earlier = digests.up_to(demo.app.recorder, 1500)

    assert digests.up_to(demo.app.recorder, 3000) == EventsDigests().up_to(demo.app.recorder, 3000) != earlier
    assert digests.up_to(demo.app.recorder, 1500) == earlier


def test_a_period_that_ends_before_it_starts_is_refused(demo: Demo) -> None:
    with pytest.raises(ValueError, match="later"):
        demo.compare("site", moment_or_date("2026-08-01"), moment_or_date("2026-07-01"))


# The HTML.


def test_the_html_shows_the_practices_in_its_tables(by_site: Comparison, site_html: str) -> None:
    tables = html_tables(site_html)
    kinds = row_of(tables["contacts-by-profile-kind"])
    crossings = row_of(tables["crossings-by-rule"])
    ostend = group(by_site, "Oostende")
    personal = ostend.contacts.by_profile_kind["personal"]

    assert kinds[0][:5] == ["Site", "personal profile", "shared profile", "professional profile",
                            "of which by interns"]
    assert kinds["Oostende"][0] == f"{personal:,} ({100 * personal / ostend.contacts.total:.1f}%)"
    assert kinds["Brugge"][:2] == ["0 (0.0%)", "1,462 (100.0%)"]
    assert crossings[0] == ["Rule", "Brugge", "Oostende"]
    assert crossings["Intern on a personal profile intern_personal_profile"] == [
        "0", f"{ostend.crossings.by_rule['intern_personal_profile']:,}"]
    assert "<svg" in site_html and "<title>How the sites compare" in site_html


def test_the_html_shows_salon_referring_after_drifting(by_team: Comparison) -> None:
    drift = row_of(html_tables(render(by_team))["drift"])
    salon = group(by_team, "salon-brugge")

    assert drift[0] == ["Team", "Conversations", "Drifted into help", "Share drifted", "Then referred",
                        "Share of drifted then referred"]
    assert drift["Jongerenwerking 't Salon (salon-brugge)"][1:] == [
        f"{salon.drift.drifted}", f"{100 * salon.drift.share:.1f}%", f"{salon.drift.drifted_then_referred}",
        f"{100 * salon.drift.referred_share:.1f}%"]


def test_the_html_states_the_position_policy_and_digest(by_site: Comparison, site_html: str) -> None:
    assert f"<dd>{by_site.position:,}</dd>" in site_html
    assert "<dd>sector-agreement-2019</dd>" in site_html
    assert by_site.events_digest in site_html


def test_the_html_holds_no_operational_id(demo: Demo, site_html: str) -> None:
    ids = operational_ids(demo.view) | {worker.account_id for p in PRACTICES for worker in p.workers}
    ids |= {RESEARCHER.account_id}

    assert len(ids) > 1000
    assert [each for each in ids if each in site_html] == []


def test_the_html_links_to_nothing_outside_itself(site_html: str) -> None:
    assert "http://" not in site_html and "https://" not in site_html
    assert not re.search(r"\b(src|href|xlink:href)\s*=\s*[\"'](?!#)", site_html)
    assert "<script" not in site_html and "<link" not in site_html and "@import" not in site_html
    assert set(re.findall(r"url\((.)", site_html)) <= {"#"}


def test_the_charts_ids_are_unique_in_the_document_and_every_reference_finds_its_target(site_html: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', site_html)
    references = set(re.findall(r"url\(#([^)]+)\)", site_html)) | set(re.findall(r'href="#([^"]+)"', site_html))

    assert len(ids) == len(set(ids)) > 100
    assert references and references <= set(ids)


def test_the_html_is_the_same_bytes_for_the_same_events(demo: Demo, site_html: str) -> None:
    assert render(demo.compare("site")).encode() == site_html.encode()


def test_a_period_is_stated_in_words() -> None:
    comparison = Comparison(CompareKey.SITE, moment_or_date("2026-05-01"),
                            datetime(2026, 7, 1, 9, 30, tzinfo=BRUSSELS), 0, (), "sha256:0", ())

    html = render(comparison)

    assert "Contacts from 1 May 2026 up to, not including, 1 July 2026, 09:30 (Brussels time)." in html
    assert "No contact was recorded in this period." in html


def test_percentiles_interpolate_between_the_nearest_values() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([], 0.5) is None


# Helpers.


def operational_ids(view: BoundaryView) -> set[str]:
    """Every client, account, profile, contact and thread the view knows, as the store and the API write them."""
    ids: set[str] = set()
    with view.reading() as cursor:
        cursor.execute("SELECT client_id, account_id, profile_id, contact_id, thread FROM judged_contacts")
        for client_id, account_id, profile_id, contact_id, thread in cursor.fetchall():
            ids |= {client_id, str(UUID(client_id)), account_id, profile_id, contact_id, str(UUID(contact_id))}
            ids |= {thread} if thread else set()
    return ids


class TableParser(HTMLParser):
    """The text of every cell of every table with an id, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> dict[str, list[list[str]]]:
    parser = TableParser()
    parser.feed(html)
    return parser.tables


class Rows(dict[Any, list[str]]):
    """A table's rows by their first cell; ``[0]`` is the header row, whole."""


def row_of(table: list[list[str]]) -> Rows:
    rows = Rows({row[0]: row[1:] for row in table[1:]})
    rows[0] = table[0]
    return rows
