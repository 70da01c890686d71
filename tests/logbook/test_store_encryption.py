"""The whole event store encrypted at rest (``LOGBOOK_ENCRYPT_EVENTS=1``): payloads are unreadable in its files.

Each story opens a `Logbook` on a temporary SQLite file, logs one contact and
reads the store's files byte by byte, as someone who copied them would.
"""

from __future__ import annotations

import base64
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest

from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook import read_models
from logbook.application import ContactDraft, Logbook
from logbook.config import ConfigurationError, Settings
from logbook.store import SQLITE_FILE, library_env
from projections.timelines import ContactItem, TimelineView
from tests.stores import TestStore, stored_bytes

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
MASTER_KEY = bytes(range(32))
CONTACT_ID = UUID("3f6c1e2a-8b4d-4c5e-9a7f-1d2e3c4b5a60")

TEAM_NAME = "Jongerenaanspreekpunt Oostende"
PROFILE_ID = "ann-messenger-prive"
THREAD = "thread-about-the-exams"
PAYLOAD_VALUES = [TEAM_NAME, PROFILE_ID, THREAD]
"""Values that live only in event payloads: the profile's id in the store is a UUID made from it."""


def settings_in(data_dir: Path, *, encrypt: bool, master_key: bytes | None = MASTER_KEY) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, secret_key=b"x" * 40,
                    master_key=master_key, encrypt_events=encrypt)


def log_a_contact(settings: Settings) -> Logbook:
    """Opens a `Logbook`, registers Ann's team, account and profile, and logs one contact through it."""
    logbook = Logbook(settings, clock=lambda: NOW)
    logbook.register_team(team_id="jac-oostende", name=TEAM_NAME, organisation="caw-nwvl", site="Oostende",
                          service=Service.JAC)
    ann, _ = logbook.add_account(account_id="ann", name="Ann", role=Role.WORKER, team_id="jac-oostende",
                                 function=Function.COUNSELLOR)
    logbook.register_profile(profile_id=PROFILE_ID, channel=Channel.MESSENGER, kind=ProfileKind.PERSONAL,
                             team_id="jac-oostende", users=["ann"])
    logbook.log_contact(ann, ContactDraft(
        client_ref="jonas-k", profile_id=PROFILE_ID, direction=Direction.INBOUND, nature=Nature.KEEPING_IN_TOUCH,
        occurred_at=NOW - timedelta(hours=1), contact_id=CONTACT_ID, thread=THREAD,
    ))
    return logbook


def store_bytes(data_dir: Path) -> bytes:
    """Everything in the event store: the SQLite database, its write-ahead log and its shared memory, or the tables."""
    if TestStore.is_postgres():
        return b"".join(content for name, content in stored_bytes(data_dir).items() if name.startswith("postgres:"))
    files = sorted(data_dir.glob(f"{SQLITE_FILE}*"))
    assert data_dir / SQLITE_FILE in files
    return b"".join(path.read_bytes() for path in files if not path.name.endswith(".lock"))


def test_a_contact_in_an_encrypted_store_reads_back_and_is_projected(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, encrypt=True)
    with closing(log_a_contact(settings)) as logbook:
        ann = logbook.account("ann")

        # The application reads it back, in clear.
        record = logbook.contact_record(ann, CONTACT_ID)
        assert (record.contact.profile_id, record.contact.thread) == (PROFILE_ID, THREAD)

        # The projector, which opens the store on its own, projects it.
        with closing(read_models.projector(settings, lambda: NOW, ["timelines"])) as projector:
            projector.catch_up()
            view = projector.projections[0].view
            assert isinstance(view, TimelineView)
            timeline = view.timeline(record.contact.client_id, now=NOW, dormant_after=timedelta(days=60),
                                     cursor=None, limit=10)
    assert timeline is not None
    (item,) = timeline.items
    assert isinstance(item, ContactItem)
    assert (item.contact_id, item.profile_id, item.thread) == (CONTACT_ID, PROFILE_ID, THREAD)


def test_the_files_of_an_encrypted_store_hold_no_payload_value(tmp_path: Path) -> None:
    with closing(log_a_contact(settings_in(tmp_path, encrypt=True))):

        written = store_bytes(tmp_path)

    for value in PAYLOAD_VALUES:
        assert value.encode() not in written, value
    # What the cipher does not cover: ids and event type names stay in clear.
    assert any(form in written for form in (CONTACT_ID.hex.encode(), str(CONTACT_ID).encode(), CONTACT_ID.bytes))
    assert b"Contact.Logged" in written


def test_the_files_of_a_plain_store_hold_the_payload_values(tmp_path: Path) -> None:
    with closing(log_a_contact(settings_in(tmp_path, encrypt=False))):

        written = store_bytes(tmp_path)

    for value in PAYLOAD_VALUES:
        assert value.encode() in written, value


def test_a_plain_store_opened_with_encryption_on_is_refused(tmp_path: Path) -> None:
    log_a_contact(settings_in(tmp_path, encrypt=False)).close()

    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        Logbook(settings_in(tmp_path, encrypt=True))


def test_an_encrypted_store_opened_with_encryption_off_is_refused(tmp_path: Path) -> None:
    log_a_contact(settings_in(tmp_path, encrypt=True)).close()

    with pytest.raises(ConfigurationError, match="is encrypted: set LOGBOOK_ENCRYPT_EVENTS=1"):
        Logbook(settings_in(tmp_path, encrypt=False))
    with pytest.raises(ConfigurationError, match="is encrypted"):
        read_models.projector(settings_in(tmp_path, encrypt=False), lambda: NOW)


def test_an_encrypted_store_opened_with_another_master_key_is_refused(tmp_path: Path) -> None:
    log_a_contact(settings_in(tmp_path, encrypt=True)).close()

    with pytest.raises(ConfigurationError, match="another LOGBOOK_MASTER_KEY"):
        Logbook(settings_in(tmp_path, encrypt=True, master_key=bytes(32)))


def test_encryption_without_a_master_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LOGBOOK_MASTER_KEY is not set"):
        Logbook(settings_in(tmp_path, encrypt=True, master_key=None))


def test_the_store_key_is_derived_from_the_master_key_not_the_master_key_itself(tmp_path: Path) -> None:
    env = library_env(settings_in(tmp_path, encrypt=True))

    store_key = base64.b64decode(env["CIPHER_KEY"])

    assert env["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"
    assert len(store_key) == 32 and store_key != MASTER_KEY
    assert "CIPHER_KEY" not in library_env(settings_in(tmp_path, encrypt=False))
