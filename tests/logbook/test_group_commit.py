"""Group commit: single contacts logged at the same time by threads of one process share one transaction.

The first tests drive `GroupCommit` with a commit of their own that records the
groups it is given; the last ones log contacts through a `Logbook`, whose
groups are held back until every thread has queued its contact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from events.errors import ContactIdConflictError, ProfileNotAllowedError
from logbook.group_commit import GroupCommit
from tests.stores import count_stored_events

THREADS = 6


class HeldCommit:
    """A commit that records each group and holds the first one until released."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.groups: list[list[Any]] = []
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.fail_with = fail_with

    def __call__(self, items: Sequence[Any]) -> list[Any]:
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.first_arrived.set()
            assert self.release.wait(10)
        elif self.fail_with is not None and "bad" in items:
            raise self.fail_with
        return [f"stored {item}" for item in items]


def submit_all(
    group_commit: GroupCommit[Any, Any], items: Sequence[tuple[Any, Any]], release: threading.Event,
) -> list[Any]:
    """Submits each ``(item, key)`` from a thread of its own; returns once all are answered.

    The group before them is held, so they queue; once all are queued, ``release`` lets it go.
    """
    outcomes: list[Any] = [None] * len(items)

    def run(index: int) -> None:
        item, key = items[index]
        try:
            outcomes[index] = group_commit.submit(item, key)
        except Exception as error:  # noqa: BLE001 - the outcome the test looks at
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(items))]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(group_commit._queue) == len(items))
    release.set()
    join(threads)
    return outcomes


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


def held_first(commit: HeldCommit, wait_seconds: float = 0.0, max_group: int = 500) -> GroupCommit[Any, Any]:
    """A group commit whose first group, "first", is being written and held when it returns."""
    group_commit: GroupCommit[Any, Any] = GroupCommit(commit, wait_seconds, max_group)
    threading.Thread(target=group_commit.submit, args=("first",), daemon=True).start()
    assert commit.first_arrived.wait(10)
    return group_commit


def test_requests_that_arrive_while_a_group_is_written_are_written_together_each_with_its_outcome():
    commit = HeldCommit()
    group_commit = held_first(commit)

    outcomes = submit_all(group_commit, [(f"c{n}", None) for n in range(THREADS)], commit.release)

    assert commit.groups == [["first"], [f"c{n}" for n in range(THREADS)]]
    assert outcomes == [f"stored c{n}" for n in range(THREADS)]
    assert group_commit.groups == 2


def test_requests_with_one_contact_id_never_share_a_group():
    commit = HeldCommit()
    group_commit = held_first(commit)
    key = uuid4()

    outcomes = submit_all(group_commit, [("a", key), ("b", None), ("c", key)], commit.release)

    assert commit.groups[1:] == [["a", "b"], ["c"]]
    assert outcomes == ["stored a", "stored b", "stored c"]


def test_a_failed_write_fails_every_request_of_its_group_and_no_other():
    commit = HeldCommit(fail_with=OSError("the store went away"))
    group_commit = held_first(commit)

    outcomes = submit_all(group_commit, [("ok", None), ("bad", None)], commit.release)
    after = group_commit.submit("later")

    assert commit.groups[1] == ["ok", "bad"]
    assert [type(outcome) for outcome in outcomes] == [OSError, OSError]
    assert after == "stored later"


def test_a_lone_request_is_written_at_once_without_waiting_for_company():
    group_commit: GroupCommit[str, str] = GroupCommit(lambda items: [f"stored {item}" for item in items], 30.0)

    started = time.monotonic()
    outcomes = [group_commit.submit(f"c{n}") for n in range(3)]

    assert outcomes == ["stored c0", "stored c1", "stored c2"]
    assert time.monotonic() - started < 5  # each would wait 30 s if a quiet process waited


def test_a_busy_process_waits_for_more_until_its_group_is_full():
    commit = HeldCommit()
    group_commit = held_first(commit, wait_seconds=30.0, max_group=3)
    submit_all(group_commit, [("a", None), ("b", None)], commit.release)  # a group of two: the process is busy
    late = [threading.Timer(0.3, group_commit.submit, args=(item,)) for item in ("c1", "c2")]

    started = time.monotonic()
    for timer in late:
        timer.start()
    outcome = group_commit.submit("c0")
    waited = time.monotonic() - started
    join(late)

    assert outcome == "stored c0"
    assert commit.groups[-1][0] == "c0" and sorted(commit.groups[-1][1:]) == ["c1", "c2"]
    assert 0.3 <= waited < 20  # it waited for company, and wrote the group once full, not after 30 s


# Through the application.


class HeldGroups:
    """Holds the logbook's next group while it is being written, until released."""

    def __init__(self, logbook: Any) -> None:
        self.group_commit = logbook._group_commit
        self._write = self.group_commit._commit
        self.entered = threading.Event()
        self.release = threading.Event()
        self.group_commit._commit = self._held

    def _held(self, items: Sequence[Any]) -> Any:
        self.group_commit._commit = self._write
        self.entered.set()
        assert self.release.wait(10)
        return self._write(items)


def log_at_once(world: Any, drafts: Sequence[tuple[Any, Any]]) -> list[Any]:
    """Logs each ``(actor, draft)`` from a thread of its own: the first group is held until every other queued."""
    held = HeldGroups(world.logbook)
    outcomes: list[Any] = [None] * len(drafts)

    def run(index: int) -> None:
        actor, draft = drafts[index]
        try:
            outcomes[index] = world.logbook.log_contact(actor, draft)
        except Exception as error:  # noqa: BLE001 - the outcome the test looks at
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(drafts))]
    threads[0].start()
    assert held.entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: len(held.group_commit._queue) == len(drafts) - 1)
    held.release.set()
    join(threads)
    return outcomes


def test_contacts_logged_at_once_are_stored_in_one_group_and_each_answered(world):
    events_before = count_stored_events(world.logbook.settings)
    groups_before = world.logbook._group_commit.groups
    drafts = [(world.ann, world.draft(client_ref=f"client-{n}", contact_id=uuid4())) for n in range(THREADS)]

    receipts = log_at_once(world, drafts)

    assert world.logbook._group_commit.groups - groups_before == 2  # the held one, then every other together
    assert [receipt.contact_id for receipt in receipts] == [draft.contact_id for _, draft in drafts]
    assert all(receipt.created for receipt in receipts)
    assert len({receipt.position for receipt in receipts}) == THREADS
    assert len({receipt.client_id for receipt in receipts}) == THREADS  # each its own client_ref
    for receipt in receipts:
        assert world.logbook.contact_record(world.ann, receipt.contact_id).contact.client_id == receipt.client_id
    assert count_stored_events(world.logbook.settings) - events_before == 2 * THREADS  # each contact and its new client


def test_a_refused_contact_fails_alone_in_its_group(world):
    drafts = [(world.ann, world.draft(client_ref=f"client-{n}")) for n in range(3)]
    drafts.insert(2, (world.carl, world.draft(profile_id="ann-messenger")))  # Carl may not use Ann's profile

    outcomes = log_at_once(world, drafts)

    assert isinstance(outcomes[2], ProfileNotAllowedError)
    assert [outcome.created for n, outcome in enumerate(outcomes) if n != 2] == [True, True, True]


def test_requests_racing_with_one_contact_id_store_it_once_and_answer_the_others_as_repeats(world):
    contact_id = uuid4()
    same = world.draft(contact_id=contact_id)
    other = world.draft(contact_id=contact_id, message_count=7)

    outcomes = log_at_once(world, [(world.ann, same), (world.ann, same), (world.ann, same), (world.ann, other)])

    assert [outcome.created for outcome in outcomes[:3]].count(True) == 1
    assert len({outcome.position for outcome in outcomes[:3]}) == 1
    assert isinstance(outcomes[3], ContactIdConflictError)
    assert world.logbook.contact_record(world.ann, contact_id).contact.message_count == 1
