"""On PostgreSQL a view writes a page in one pipelined transaction: each statement answers with its own rows,
and a page that fails, at any statement or at its position, is rolled back whole, leaving the connection usable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
from eventsourcing.persistence import IntegrityError

from logbook import read_models
from logbook.config import Settings
from projections.base import View

pytestmark = pytest.mark.postgres_only

INSERT_CLIENT = "INSERT INTO clients (client_id, organisation) VALUES (?, ?)"


@pytest.fixture
def view(settings: Settings) -> Iterator[View]:
    with closing(read_models.open_view(settings, "timelines")) as opened:
        yield opened


def clients(view: View) -> list[str]:
    with view.reading() as cursor:
        cursor.execute("SELECT client_id FROM clients ORDER BY client_id")
        return [row["client_id"] for row in cursor.fetchall()]


def test_a_read_amid_a_page_of_pipelined_writes_answers_with_its_own_rows(view):
    for page in range(1, 31):
        with view.writing(page) as cursor:
            ids = [f"c{page:02}-{index:02}" for index in range(20)]
            cursor.executemany(INSERT_CLIENT, [(client_id, "caw") for client_id in ids])
            cursor.executemany("INSERT INTO client_teams (team_id, client_id) VALUES (?, ?)",
                               [("jac", client_id) for client_id in ids])
            cursor.executemany("UPDATE clients SET last_nature = ? WHERE client_id = ?", [])
            cursor.execute("SELECT COUNT(*) AS written FROM clients WHERE client_id LIKE ?", (f"c{page:02}-%",))
            assert cursor.fetchone()["written"] == 20
            assert view.position_in(cursor) == page - 1

    assert view.position() == 30
    assert len(clients(view)) == 600


def test_a_page_at_a_position_already_written_is_rolled_back_whole_and_the_next_page_is_written(view):
    with view.writing(5) as cursor:
        cursor.executemany(INSERT_CLIENT, [("first", "caw")])

    with pytest.raises(IntegrityError), view.writing(5) as cursor:
        cursor.executemany(INSERT_CLIENT, [("again", "caw")])
    with view.writing(6) as cursor:
        cursor.executemany(INSERT_CLIENT, [("next", "caw")])

    assert clients(view) == ["first", "next"]
    assert view.position() == 6


def test_a_page_whose_statement_fails_is_rolled_back_whole_and_the_connection_serves_again(view):
    with pytest.raises(IntegrityError), view.writing(1) as cursor:
        cursor.executemany(INSERT_CLIENT, [("twice", "caw"), ("twice", "caw")])
        cursor.executemany(INSERT_CLIENT, [("after", "caw")])

    assert (clients(view), view.position()) == ([], 0)
    with view.writing(1) as cursor:
        cursor.executemany(INSERT_CLIENT, [("once", "caw")])
    assert (clients(view), view.position()) == (["once"], 1)
