"""The choice of event store, and the one query the library does not offer.

Everything that knows which database holds the events lives here: the
library's settings for the store that ``DATABASE_URL`` names, and reading an
aggregate's events together with their positions in the store's total order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from logbook.config import ConfigurationError, Settings

if TYPE_CHECKING:
    from eventsourcing.application import Application

SQLITE_FILE = "logbook.sqlite3"


def library_env(settings: Settings) -> dict[str, str]:
    """The `eventsourcing` settings for the store the configuration names."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": sqlite_path(settings),
        "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout_seconds),
    }


def sqlite_path(settings: Settings) -> str:
    """The SQLite file: ``sqlite:///path`` in ``DATABASE_URL``, else one in the data directory."""
    url = settings.database_url
    if url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return str(settings.data_dir / SQLITE_FILE)
    scheme = urlsplit(url).scheme
    if scheme != "sqlite" or not url.startswith("sqlite:///"):
        # Only the scheme is named: the rest of a URL may hold a password.
        raise ConfigurationError(
            f"DATABASE_URL with scheme '{scheme}' is not supported; "
            "use sqlite:///path/to/file (PostgreSQL support is planned)."
        )
    return url[len("sqlite:///"):]


def events_with_positions(app: Application[UUID], originator_id: UUID) -> list[tuple[int, Any]]:
    """The aggregate's events, oldest first, each with its position in the store's total order."""
    recorder: Any = app.recorder
    statement = (
        f"SELECT rowid, originator_version, topic, state FROM {recorder.events_table_name} "
        "WHERE originator_id=? ORDER BY originator_version"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, (originator_id.hex,))
        rows = cursor.fetchall()
    return [
        (row["rowid"], app.mapper.to_domain_event(
            StoredEvent(originator_id, row["originator_version"], row["topic"], row["state"])
        ))
        for row in rows
    ]
