"""Configuration, read from the environment in one place.

Every setting is one line of `Settings.from_environ`. Tests build `Settings`
from a dictionary of their own, so a developer's shell never leaks into them.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SECRET_KEY_FILE = "secret.key"
MASTER_KEY_FILE = "master.key"
RESEARCH_KEY_FILE = "research.key"
RESEARCH_TIME_UNITS = ("minute", "hour", "day")
MIN_SECRET_KEY_LENGTH = 32
MASTER_KEY_BYTES = 32
MAX_GROUP_COMMIT_WAIT_MS = 50
"""A request waits this long at most for others to share its transaction: the wait must stay short."""
MAX_PROJECTOR_BACKLOG_MS = 5000
"""A projector with a backlog writes at least this often: what it applied shows in the read models."""
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ConfigurationError(Exception):
    """Raised when the environment does not describe a runnable logbook."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    secret_key: bytes | None
    sqlite_lock_timeout_seconds: int = 30
    dormant_after_days: int = 60
    """A client with no contact for this long is `dormant` on its timeline."""
    master_key: bytes | None = None
    """Wraps the per-client keys of notes; 32 bytes."""
    token_ttl_days: int = 90
    """A token stops working this long after it was issued."""
    encrypt_events: bool = False
    """Encrypts every event's payload in the store with a key derived from the master key."""
    research_key: bytes | None = None
    """Derives the pseudonyms researchers see; apart from the secret key, so research data joins nothing."""
    research_time_unit: str = "hour"
    """Researchers see every moment truncated to this unit: minute, hour or day."""
    database_schema: str = "public"
    """On PostgreSQL, the schema that holds the events, the read models and their tracking."""
    postgres_pool_size: int = 2
    """On PostgreSQL, the connections each process keeps open, and as many more when busy."""
    group_commit_wait_ms: float = 2.0
    """How long a busy process waits for more single contacts to write in one transaction."""
    projector_backlog_ms: float = 500.0
    """How long a following projector with a backlog applies pages before it writes them (0: every page)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the settings from ``environ`` (the process environment by default)."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LOGBOOK_DATA_DIR") or "./var")
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or None,
            database_schema=_database_schema(env.get("LOGBOOK_DATABASE_SCHEMA") or "public"),
            postgres_pool_size=int(env.get("LOGBOOK_POSTGRES_POOL_SIZE") or 2),
            group_commit_wait_ms=_milliseconds(env, "LOGBOOK_GROUP_COMMIT_WAIT_MS", 2, MAX_GROUP_COMMIT_WAIT_MS),
            projector_backlog_ms=_milliseconds(env, "LOGBOOK_PROJECTOR_BACKLOG_MS", 500, MAX_PROJECTOR_BACKLOG_MS),
            secret_key=_secret_key(env.get("LOGBOOK_SECRET_KEY"), data_dir),
            sqlite_lock_timeout_seconds=int(env.get("LOGBOOK_SQLITE_LOCK_TIMEOUT") or 30),
            dormant_after_days=int(env.get("LOGBOOK_DORMANT_AFTER_DAYS") or 60),
            master_key=_master_key(env.get("LOGBOOK_MASTER_KEY"), data_dir),
            token_ttl_days=int(env.get("LOGBOOK_TOKEN_TTL_DAYS") or 90),
            encrypt_events=_flag(env.get("LOGBOOK_ENCRYPT_EVENTS")),
            research_key=_research_key(env.get("LOGBOOK_RESEARCH_KEY"), data_dir),
            research_time_unit=_research_time_unit(env.get("LOGBOOK_RESEARCH_TIME_UNIT") or "hour"),
        )

    def require_secret_key(self) -> bytes:
        """The key that pseudonymises client refs; without it nothing may be logged."""
        if self.secret_key is None:
            raise ConfigurationError(
                "LOGBOOK_SECRET_KEY is not set and the data directory holds no "
                f"{SECRET_KEY_FILE}: run `logbook init` or set LOGBOOK_SECRET_KEY."
            )
        return self.secret_key

    def require_research_key(self) -> bytes:
        """The key of the research pseudonyms; without it nothing is shown to researchers."""
        if self.research_key is None:
            raise ConfigurationError(
                "LOGBOOK_RESEARCH_KEY is not set and the data directory holds no "
                f"{RESEARCH_KEY_FILE}: run `logbook init` or set LOGBOOK_RESEARCH_KEY."
            )
        return self.research_key

    def require_master_key(self) -> bytes:
        """The key that wraps the keys of notes (and of the store, when it is encrypted)."""
        if self.master_key is None:
            raise ConfigurationError(
                "LOGBOOK_MASTER_KEY is not set and the data directory holds no "
                f"{MASTER_KEY_FILE}: run `logbook init` or set LOGBOOK_MASTER_KEY."
            )
        return self.master_key


def _secret_key(value: str | None, data_dir: Path) -> bytes | None:
    if value:
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"LOGBOOK_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters."
            )
        return value.encode()
    key_file = data_dir / SECRET_KEY_FILE
    if key_file.exists():
        return key_file.read_text().strip().encode()
    return None


def _master_key(value: str | None, data_dir: Path) -> bytes | None:
    if not value:
        key_file = data_dir / MASTER_KEY_FILE
        if not key_file.exists():
            return None
        value = key_file.read_text().strip()
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != MASTER_KEY_BYTES:
        # The value itself is never quoted: it is a key.
        raise ConfigurationError(f"LOGBOOK_MASTER_KEY must be {MASTER_KEY_BYTES} bytes in URL-safe base64.")
    return key


def _research_key(value: str | None, data_dir: Path) -> bytes | None:
    if value:
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(f"LOGBOOK_RESEARCH_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters.")
        return value.encode()
    key_file = data_dir / RESEARCH_KEY_FILE
    return key_file.read_text().strip().encode() if key_file.exists() else None


def _research_time_unit(value: str) -> str:
    if value not in RESEARCH_TIME_UNITS:
        raise ConfigurationError(f"LOGBOOK_RESEARCH_TIME_UNIT must be one of {', '.join(RESEARCH_TIME_UNITS)}.")
    return value


def _database_schema(value: str) -> str:
    if not SCHEMA_NAME.fullmatch(value):
        raise ConfigurationError("LOGBOOK_DATABASE_SCHEMA must be a lower-case SQL name: letters, digits and '_'.")
    return value


def _milliseconds(env: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        value = -1.0
    if not 0 <= value <= maximum:
        raise ConfigurationError(f"{name} must be a number of milliseconds from 0 to {maximum}.")
    return value


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def make_private_dir(path: Path) -> None:
    """Creates the data directory readable by its owner alone: it holds the store and the keys."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def ensure_secret_key(data_dir: Path) -> bool:
    """Generates a development secret key into ``data_dir`` unless one is there; True if it did."""
    return _ensure_key_file(data_dir / SECRET_KEY_FILE, secrets.token_urlsafe(48))


def ensure_research_key(data_dir: Path) -> bool:
    """Generates a development research key into ``data_dir`` unless one is there; True if it did."""
    return _ensure_key_file(data_dir / RESEARCH_KEY_FILE, secrets.token_urlsafe(48))


def ensure_master_key(data_dir: Path) -> bool:
    """Generates a development master key into ``data_dir`` unless one is there; True if it did."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
    return _ensure_key_file(data_dir / MASTER_KEY_FILE, key)


def _ensure_key_file(key_file: Path, key: str) -> bool:
    if key_file.exists():
        return False
    make_private_dir(key_file.parent)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return True
