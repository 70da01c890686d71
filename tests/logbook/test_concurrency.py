"""Writers racing on one aggregate: the library raises a conflict, the command retries, nothing is lost.

Each thread plays a gunicorn worker: a `Logbook` of its own on the same SQLite file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from events import Client
from events.vocabulary import Nature
from tests.logbook.conftest import reason_of

WORKERS = 6


def race(logbooks: list[Any], command: Callable[[Any, int], Any]) -> list[Any]:
    """Runs ``command(logbook, n)`` in one thread per logbook, all released at once."""
    start = threading.Barrier(len(logbooks))
    results: list[Any] = [None] * len(logbooks)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = command(logbooks[n], n)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(logbooks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_follow_ups_planned_at_once_from_several_processes_are_all_kept(world, open_logbook):
    met = world.logbook.log_contact(world.ann, world.draft())
    processes = [open_logbook() for _ in range(WORKERS)]
    due = world.clock.now + timedelta(days=3)

    # Every worker plans three follow-ups of the same client at the same moment.
    def plan_three(logbook: Any, n: int) -> list[Any]:
        actor = logbook.account("ann")
        return [logbook.plan_follow_up(actor, met.client_id, due, f"Follow-up {n}.{k}") for k in range(3)]

    planned = [receipt for results in race(processes, plan_three) for receipt in results]

    client = open_logbook().repository.get(met.client_id)
    assert isinstance(client, Client)
    assert set(client.follow_ups) == {follow_up_id for follow_up_id, _ in planned}
    assert len(client.follow_ups) == 3 * WORKERS
    assert sorted(reason_of(world.logbook, met.client_id, f) for f in client.follow_ups.values()) == sorted(
        f"Follow-up {n}.{k}" for n in range(WORKERS) for k in range(3))
    positions = [receipt.position for _, receipt in planned]
    assert len(set(positions)) == len(positions)


def test_corrections_made_at_once_are_all_kept(world, open_logbook):
    logged = world.logbook.log_contact(world.ann, world.draft())
    processes = [open_logbook() for _ in range(WORKERS)]

    def correct(logbook: Any, n: int) -> Any:
        return logbook.correct_contact(logbook.account("lena"), logged.contact_id, {"message_count": n + 1},
                                       f"Recount {n}.")

    receipts = race(processes, correct)

    history = open_logbook().contact_record(world.ann, logged.contact_id).history
    assert len(history) == 1 + WORKERS
    assert sorted(position for position, _ in history[1:]) == sorted(r.position for r in receipts)


def test_teams_meeting_a_new_client_at_once_all_log_their_contacts(world, open_logbook):
    processes = [open_logbook() for _ in range(WORKERS)]
    profiles = ["ann-messenger", "carl-messenger", "bob-messenger"]
    authors = ["ann", "carl", "bob"]

    # Ostend and Bruges meet the same new client at the same moment, several times over.
    def log(logbook: Any, n: int) -> tuple[str, Any]:
        author = authors[n % 3]
        draft = world.draft(profiles[n % 3], client_ref=f"new-client-{n // 3}", nature=Nature.INFORMATION)
        return author, logbook.log_contact(logbook.account(author), draft)

    logged = race(processes, log)

    reader = open_logbook()
    for author, receipt in logged:
        record = reader.contact_record(reader.account(author), receipt.contact_id)
        assert record.contact.client_id == receipt.client_id
    client_ids = {receipt.client_id for _, receipt in logged}
    assert len(client_ids) == WORKERS // 3
    for client_id in client_ids:
        client = reader.repository.get(client_id)
        assert client.was_met_by("jac-oostende") and client.was_met_by("jac-brugge")


def test_a_double_submit_racing_between_processes_is_stored_once(world, open_logbook):
    processes = [open_logbook() for _ in range(WORKERS)]
    draft = world.draft(contact_id=uuid4(), client_ref="brand-new-client")
    stored = world.logbook.count_events()

    # A flaky connection: the phone sends the same contact to every worker at once.
    receipts = race(processes, lambda logbook, n: logbook.log_contact(logbook.account("ann"), draft))

    assert [receipt.created for receipt in receipts].count(True) == 1
    assert {(r.contact_id, r.client_id, r.position, r.recorded_at) for r in receipts} == {
        (draft.contact_id, receipts[0].client_id, receipts[0].position, receipts[0].recorded_at)}
    # The contact and the client's registration, nothing more.
    assert world.logbook.count_events() == stored + 2
