"""Workers' notes on contacts: sealed with the client's data key before they enter an event.

A sealed note is bound to its contact and its key (both are the cipher's
associated data), so it cannot be moved to another contact and opened there.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from logbook.keys import NONCE_BYTES, KeyStore


@dataclass(frozen=True)
class SealedNote:
    """A note as an event or a read model holds it, with what is needed to open it."""

    client_id: UUID
    contact_id: UUID
    key_id: UUID
    sealed: str


class Notes:
    """Seals and opens notes with the clients' keys in a key store."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def seal(self, client_id: UUID, contact_id: UUID, note: str) -> SealedNote:
        data_key = self.keys.key_for_sealing(client_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key.key).encrypt(nonce, note.encode(), _bound_to(contact_id, data_key.key_id))
        sealed = base64.urlsafe_b64encode(nonce + ciphertext).decode()
        return SealedNote(client_id, contact_id, data_key.key_id, sealed)

    def open(self, note: SealedNote) -> str | None:
        """The note in clear, or None once its key was destroyed."""
        key = self.keys.key(note.client_id, note.key_id)
        if key is None:
            return None
        raw = base64.urlsafe_b64decode(note.sealed.encode())
        # A note that does not open with its own key was tampered with: that raises, it is not "erased".
        clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound_to(note.contact_id, note.key_id))
        return clear.decode()

    def close(self) -> None:
        self.keys.close()


def _bound_to(contact_id: UUID, key_id: UUID) -> bytes:
    return contact_id.bytes + key_id.bytes
