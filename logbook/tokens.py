"""Bearer tokens: random, shown once, kept only as a digest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from uuid import UUID

from logbook.config import Settings

TOKEN_PREFIX = "lbk_"


def new_token() -> str:
    """A fresh token with 256 bits of randomness; the prefix makes leaked ones easy to scan for."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_id(token: str) -> UUID:
    """The id under which a token is recorded: part of its SHA-256 digest, never the token."""
    return UUID(bytes=hashlib.sha256(token.encode()).digest()[:16])


def token_digest(token: str) -> str:
    """The whole SHA-256 digest of a token, in hex: what its account records and compares."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_lifetime(settings: Settings) -> timedelta:
    """How long a token works after it was issued (`LOGBOOK_TOKEN_TTL_DAYS`), as the server configures it now."""
    return timedelta(days=settings.token_ttl_days)
