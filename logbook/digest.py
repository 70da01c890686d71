"""A digest of the events a report was computed from, so two reports can be shown to rest on the same events."""

from __future__ import annotations

import hashlib


class EventsDigest:
    """SHA-256 over each event's position, topic and stored state, in the store's order.

    The stored state is taken as the store holds it (before decryption, if the
    store is encrypted), so the digest names the events exactly, whatever reads them.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.position = 0
        """The position of the last event added; 0 before the first."""
        self.count = 0

    def add(self, position: int, topic: str, state: bytes) -> None:
        self._hash.update(f"{position}\0{topic}\0{len(state)}\0".encode())
        self._hash.update(state)
        self.position = position
        self.count += 1

    def hexdigest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
