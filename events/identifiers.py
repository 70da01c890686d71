"""Aggregate ids for things people name with slugs.

Teams, accounts and profiles are named by slugs (``jac-oostende``); the store
keys aggregates by UUID, so each slug maps to a name-based UUID in a namespace
of its own kind. The mapping is fixed forever: changing it would orphan every
stored aggregate.
"""

from __future__ import annotations

import re
from functools import lru_cache
from uuid import UUID, uuid5

from events.errors import InvalidInputError

_NAMESPACE = UUID("5b7f4d0e-2c1a-4f43-9a55-6c0f6a1b1e70")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"
_SLUG = re.compile(SLUG_PATTERN.removeprefix("^").removesuffix("$"))


def is_slug(value: str) -> bool:
    """True for lower-case letters, digits, ``-`` and ``_``, 1 to 64 long, alphanumeric at both ends."""
    return _SLUG.fullmatch(value) is not None


def check_slug(value: str, field: str) -> None:
    """Raise `InvalidInputError` naming ``field`` unless ``value`` is a slug."""
    if not is_slug(value):
        raise InvalidInputError(
            "Must be a slug: lower-case letters, digits, '-' or '_', at most 64.",
            field=field,
        )


@lru_cache(maxsize=4096)
def slug_uuid(kind: str, slug: str) -> UUID:
    """The aggregate id of the ``kind`` (team, account, profile) named ``slug``.

    Remembered: every request derives its account's, profile's and team's ids, and the
    mapping never changes; the cache is bounded, since slugs come from requests.
    """
    return uuid5(_NAMESPACE, f"{kind}:{slug}")
