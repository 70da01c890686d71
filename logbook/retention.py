"""Retention: a client's notes are shredded once it has had no contact for the policy's `retention_years`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from logbook.application import Logbook


@dataclass(frozen=True)
class RetentionRun:
    retention_years: int
    cutoff: datetime
    candidates: int
    """Clients silent since the cutoff."""
    shredded: int
    """Of those, the clients that still had notes, now shredded."""


def retention_cutoff(now: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` earlier (29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def apply_retention(
    app: Logbook,
    silent_since: Callable[[datetime], Iterable[UUID]],
    progress: Callable[[int], object] = lambda done: None,
) -> RetentionRun:
    """Shreds the notes of every client with no contact since the cutoff of the policy in force now.

    ``silent_since`` lists the clients whose last contact is before a moment;
    the timelines read model answers it, and must be up to date.
    """
    now = app.clock()
    years = app.policy_at(now).retention_years
    cutoff = retention_cutoff(now, years)
    candidates = list(silent_since(cutoff))
    shredded = 0
    for client_id in candidates:
        if app.expire_notes(client_id, years) is not None:
            shredded += 1
        progress(1)
    return RetentionRun(years, cutoff, len(candidates), shredded)
