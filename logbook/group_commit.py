"""Group commit: single-contact requests of one process that arrive together share one transaction.

A gunicorn worker with threads serves several requests at once. Each request
that logs one contact hands it to the process's `GroupCommit` and waits. The
first to arrive while nobody is committing leads: it waits for the commit
before it to end, and, when the process is busy, a few milliseconds more for
others, takes every contact queued by then and writes them with one save, then
wakes each request with its own outcome. A contact that is refused (a profile
it may not use, a reused contact id) is refused alone; a save that fails (the
store went away) fails every request of its group, none of which was answered.

Two requests with one contact id never share a group: the second waits for the
next one, whose save then finds the id taken and answers it as a repeat (200)
or a conflict (409), as it would have without group commit.

When the process is quiet (its last group held one contact), the leader does
not wait: a lone request is written at once, as it would be without this.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

MAX_GROUP = 500
"""The most contacts one group writes: the batch endpoint's limit, well under a save that stalls."""


@dataclass
class _Waiting(Generic[Item, Outcome]):
    """A request waiting for the group that writes its item."""

    item: Item
    key: UUID | None
    """Requests with the same key never share a group (the contact id, when the client chose one)."""
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Outcome]):
    """Writes the items that threads submit together with one call of ``commit``.

    ``commit`` takes a group of items and returns one outcome per item, in order;
    if it raises, every request of the group gets that error.
    """

    def __init__(
        self,
        commit: Callable[[Sequence[Item]], Sequence[Outcome]],
        wait_seconds: float,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._commit = commit
        self.wait_seconds = wait_seconds
        self.max_group = max_group
        self._queued = threading.Condition()
        self._queue: list[_Waiting[Item, Outcome]] = []
        self._leading = False
        self._committing = threading.Lock()
        self._busy = False
        """Whether the last group held more than one item: only then is waiting for more worth it."""
        self.groups = 0
        """How many groups were written; tests read it."""

    def submit(self, item: Item, key: UUID | None = None) -> Outcome:
        """Writes ``item`` with whatever else is submitted at the same time; returns its outcome."""
        waiting: _Waiting[Item, Outcome] = _Waiting(item, key)
        with self._queued:
            self._queue.append(waiting)
            lead = not self._leading
            self._leading = True
            self._queued.notify()
        if lead:
            self._lead()
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        return waiting.outcome  # type: ignore[return-value]  # set with `done` whenever `error` is not

    def _lead(self) -> None:
        """Writes groups until none is left to lead; the next arrival leads after that."""
        while True:
            with self._committing:
                group = self._gather()
                self._write(group)
            with self._queued:
                if self._leading or not self._queue:
                    return  # another request leads what is left, or nothing is
                self._leading = True  # requests held back from the last group by their key

    def _gather(self) -> list[_Waiting[Item, Outcome]]:
        """Takes the queued requests, after a short wait for more when the process is busy."""
        with self._queued:
            if self._busy:
                deadline = time.monotonic() + self.wait_seconds
                while len(self._queue) < self.max_group and (left := deadline - time.monotonic()) > 0:
                    self._queued.wait(left)
            group: list[_Waiting[Item, Outcome]] = []
            held: list[_Waiting[Item, Outcome]] = []
            keys: set[UUID | None] = set()
            for waiting in self._queue:
                if len(group) < self.max_group and (waiting.key is None or waiting.key not in keys):
                    group.append(waiting)
                    keys.add(waiting.key)
                else:
                    held.append(waiting)
            self._queue = held
            self._leading = False  # the next arrival leads the next group, once this one is written
            self._busy = len(group) > 1
            return group

    def _write(self, group: list[_Waiting[Item, Outcome]]) -> None:
        try:
            outcomes = self._commit([waiting.item for waiting in group])
        except BaseException as error:  # each request raises it in its own thread
            for waiting in group:
                waiting.error = error
        else:
            for waiting, outcome in zip(group, outcomes, strict=True):
                waiting.outcome = outcome
        finally:
            self.groups += 1
            for waiting in group:
                waiting.done.set()
