"""Free text about clients, sealed with the client's data key before it enters an event.

Workers write it: a note on a contact, the reason of a correction, a retraction
or a follow-up, a team lead's comment on a crossing. Any of it may name or
describe the client, so none of it is stored in clear, and destroying the
client's key (an erasure, the end of retention) makes all of it unreadable.

Sealed text is bound to what it belongs to (a contact, a follow-up, a review)
and its key, and all but notes to their kind (all of these are the cipher's
associated data): it cannot be moved to another event, or from a reason into a
note, and opened there.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from enum import Enum
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


class TextKind(Enum):
    """What a sealed text other than a note is; its value is part of the cipher's associated data."""

    REASON = b"reason"
    COMMENT = b"comment"


@dataclass(frozen=True)
class SealedText:
    """A reason or a comment as an event or a read model holds it, with what is needed to open it."""

    client_id: UUID
    subject_id: UUID
    """The contact, follow-up or review the text belongs to."""
    kind: TextKind
    key_id: UUID
    sealed: str


class Notes:
    """Seals and opens notes, and the other free text about clients, with the clients' keys in a key store."""

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

    def seal_text(self, client_id: UUID, subject_id: UUID, kind: TextKind, text: str) -> SealedText:
        data_key = self.keys.key_for_sealing(client_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key.key).encrypt(
            nonce, text.encode(), _bound_to(subject_id, data_key.key_id, kind.value)
        )
        return SealedText(client_id, subject_id, kind, data_key.key_id,
                          base64.urlsafe_b64encode(nonce + ciphertext).decode())

    def open_text(self, text: SealedText) -> str | None:
        """The text in clear, or None once its key was destroyed."""
        key = self.keys.key(text.client_id, text.key_id)
        if key is None:
            return None
        raw = base64.urlsafe_b64decode(text.sealed.encode())
        clear = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound_to(text.subject_id, text.key_id, text.kind.value)
        )
        return clear.decode()

    def close(self) -> None:
        self.keys.close()


def _bound_to(subject_id: UUID, key_id: UUID, kind: bytes = b"") -> bytes:
    """The associated data: notes, sealed first, are bound to their contact and key alone."""
    return subject_id.bytes + key_id.bytes + kind
