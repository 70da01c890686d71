"""Bearer tokens: random, shown once, kept only as a digest."""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

TOKEN_PREFIX = "lbk_"


def new_token() -> str:
    """A fresh token with 256 bits of randomness; the prefix makes leaked ones easy to scan for."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_id(token: str) -> UUID:
    """The id under which a token is recorded: part of its SHA-256 digest, never the token."""
    return UUID(bytes=hashlib.sha256(token.encode()).digest()[:16])
