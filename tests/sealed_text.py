"""Events compared as the application reads them: free text sealed with random nonces and keys, opened.

Sealing the same reason twice gives different bytes (a fresh nonce each time, a
fresh key for each store), so runs that should record the same events are
compared with each sealed text replaced by the text it opens to.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from events import Client, Contact
from logbook.application import Logbook
from logbook.notes import SealedText, TextKind

SEALED_FIELDS = ("reason_key_id", "sealed_reason")


def contact_and_client_events(app: Logbook) -> list[tuple[Any, ...]]:
    """Each contact and client event, in order: (position, originator, version, topic, state with text opened)."""
    kept = (f"{Contact.__module__}:", f"{Client.__module__}:")
    client_of: dict[UUID, UUID] = {}
    events = []
    for notification in app.recorder.select_notifications(start=1, limit=1_000_000):
        if not notification.topic.startswith(kept):
            continue
        event = app.mapper.to_domain_event(notification)
        if isinstance(event, Contact.Logged):
            client_of[event.originator_id] = event.client_id
        state = {name: value for name, value in vars(event).items() if name not in SEALED_FIELDS}
        if getattr(event, "sealed_reason", None) is not None:
            state["reason"] = _opened_reason(app, event, client_of)
        events.append((notification.id, notification.originator_id, notification.originator_version,
                       notification.topic, state))
    return events


def _opened_reason(app: Logbook, event: Any, client_of: dict[UUID, UUID]) -> str | None:
    if isinstance(event, Client.FollowUpPlanned):
        client_id, subject_id = event.originator_id, event.follow_up_id
    else:
        client_id, subject_id = client_of[event.originator_id], event.originator_id
    return app.notes.open_text(SealedText(client_id, subject_id, TextKind.REASON, event.reason_key_id,
                                          event.sealed_reason))
