"""Pseudonymous client ids.

Workers know a client by a ref of their own (a nickname, a phone's contact
name). The server never keeps it: it derives a UUID from an HMAC of the
organisation and the normalised ref, so the same ref in two teams of one
organisation is one client, and the ref cannot be read back from the id.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from uuid import UUID

_VERSION_8 = 8
"""RFC 9562's version for custom UUIDs: this one is neither random nor name-based SHA-1."""


def normalise_ref(client_ref: str) -> str:
    """The ref as compared: stripped, NFKC-normalised and case-folded."""
    return unicodedata.normalize("NFKC", client_ref.strip()).casefold()


def client_id_for(secret_key: bytes, organisation: str, client_ref: str) -> UUID:
    """The client id of ``client_ref`` within ``organisation``."""
    message = organisation.encode() + b"\x00" + normalise_ref(client_ref).encode()
    digest = hmac.new(secret_key, message, hashlib.sha256).digest()
    value = int.from_bytes(digest[:16], "big")
    value = (value & ~(0xF << 76)) | (_VERSION_8 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return UUID(int=value)
