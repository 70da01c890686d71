"""`logbook backup` and `logbook restore`: one archive of the databases, taken online, restored and rebuilt.

The original store is the demo plus two clients with notes, one of them
erased, and an audit entry; it is backed up once for the module. Every
restore goes into a directory of its own, with the same keys set in the
environment, as an operator restoring on a new machine would.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from events import Account, Contact
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service
from logbook import backup as backup_module
from logbook import read_models
from logbook.application import ContactDraft, ContactReceipt, Logbook, utc_now
from logbook.audit import AuditAction, AuditEntry, audit_log
from logbook.cli import main
from logbook.config import Settings
from logbook.demo import load_demo
from logbook.keys import KeyStore, key_store_path
from logbook.notes import Notes, SealedNote
from logbook.store import EventStore

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
MASTER = base64.urlsafe_b64encode(b"m" * 32).decode()
DATABASES = {"logbook.sqlite3", "keys.sqlite3", "audit.sqlite3"}

pytestmark = pytest.mark.sqlite_only("backup and restore copy SQLite files")


def environment(data_dir: Path, **overrides: str | None) -> dict[str, str | None]:
    return {
        "LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": "s" * 40, "LOGBOOK_MASTER_KEY": MASTER,
        "LOGBOOK_RESEARCH_KEY": "r" * 40, "DATABASE_URL": None, "LOGBOOK_ENCRYPT_EVENTS": None, **overrides,
    }


def settings_of(data_dir: Path, **overrides: str | None) -> Settings:
    return Settings.from_environ({k: v for k, v in environment(data_dir, **overrides).items() if v is not None})


def run(data_dir: Path, *args: str, **env: str | None) -> Result:
    return CliRunner().invoke(main, list(args), env=environment(data_dir, **env))


@dataclass
class Original:
    settings: Settings
    archive: Path
    backup: Result
    kept: ContactReceipt
    erased: ContactReceipt
    head: int


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Original]:
    """The demo, Sara's notes on two clients, the erasure of one by team lead Ann, and a backup after it."""
    settings = settings_of(tmp_path_factory.mktemp("original"))
    with closing(Logbook(settings, clock=lambda: NOW)) as app:
        load_demo(app, seed=2019, contact_count=300, echo=lambda _: None, bulk=True)
        sara, ann = app.account("oost-sara"), app.account("oost-ann")
        kept = app.log_contact(sara, note_draft("backup-kept", "Komt morgen langs na school."))
        erased = app.log_contact(sara, note_draft("backup-erased", "Wil niet meer gevolgd worden."))
        app.erase_client(ann, erased.client_id, "asked to be forgotten")
        head = app.count_events()
    with closing(audit_log(settings)) as audit:
        audit.record(AuditEntry("oost-sara", Role.WORKER, AuditAction.READ_NOTE, kept.client_id, kept.contact_id,
                                NOW, "127.0.0.1"))
    archive = tmp_path_factory.mktemp("backups") / "logbook.tar.gz"
    backup = run(settings.data_dir, "backup", "--out", str(archive))
    assert backup.exit_code == 0, backup.stderr
    yield Original(settings, archive, backup, kept, erased, head)


@pytest.fixture(scope="module")
def restored(original: Original, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Settings]:
    """The backup restored into an empty directory, as on a new machine."""
    data_dir = tmp_path_factory.mktemp("restored") / "var"
    return run(data_dir, "restore", "--from", str(original.archive)), settings_of(data_dir)


def note_draft(client_ref: str, note: str, when: datetime = NOW) -> ContactDraft:
    return ContactDraft(client_ref=client_ref, profile_id="oost-sara-messenger", direction=Direction.INBOUND,
                        nature=Nature.KEEPING_IN_TOUCH, occurred_at=when - timedelta(hours=1), note=note)


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def write_archive(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))


def stored_events(data_dir: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(data_dir / "logbook.sqlite3")) as db:
        return db.execute("SELECT rowid, * FROM stored_events ORDER BY rowid").fetchall()


def read_model_rows(data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read model's table; the rebuild's clock is left out."""
    rows = {}
    for path in sorted((data_dir / "projections").glob("*.sqlite3")):
        with closing(sqlite3.connect(path)) as db:
            tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in set(tables) - {"judge_clock"}:
                rows[f"{path.stem}.{table}"] = sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
    return rows


# Backup.

def test_a_backup_is_one_private_archive_of_the_three_databases_and_its_manifest(original):
    files = members(original.archive)
    manifest = json.loads(files.pop("manifest.json"))

    assert original.backup.stdout == f"{original.archive}\n"
    assert f"up to position {original.head}" in original.backup.stderr
    assert original.archive.stat().st_mode & 0o777 == 0o600
    assert set(files) == DATABASES
    assert {name: hashlib.sha256(data).hexdigest() for name, data in files.items()} == {
        name: entry["sha256"] for name, entry in manifest["files"].items()}
    assert manifest["head_position"] == original.head
    assert manifest["logbook_version"] and manifest["created_at"]
    assert not list(original.archive.parent.glob(".*")), "no staging or partial file is left behind"


def test_the_keys_go_into_a_backup_only_when_asked_and_with_a_warning(original, tmp_path):
    archive = tmp_path / "with-keys.tar.gz"

    result = run(original.settings.data_dir, "backup", "--out", str(archive), "--include-keys")

    assert result.exit_code == 0, result.stderr
    assert "warning" in result.stderr and "master key" in result.stderr
    assert set(members(archive)) == {"manifest.json", *DATABASES, "secret.key", "master.key", "research.key"}
    assert members(archive)["master.key"].decode().strip() == MASTER


def test_a_backup_without_an_event_store_fails_with_a_message(tmp_path):
    result = run(tmp_path / "empty", "backup", "--out", str(tmp_path / "b.tar.gz"))

    assert result.exit_code == 1
    assert "no event store" in result.stderr
    assert not (tmp_path / "b.tar.gz").exists()


def test_a_backup_taken_while_contacts_are_logged_restores_a_prefix_of_the_store(tmp_path, monkeypatch):
    # A worker logs a contact with a note for a new client, again and again, each with a new key.
    source = settings_of(tmp_path / "live")
    writer = Writer(source)
    writer.start()
    writer.wait_for(20)

    # The backup is taken while the worker goes on, who logs at least three more
    # contacts (and makes their keys) between the copies of the events and of the keys.
    snapshot, copied = backup_module._snapshot, []

    def while_the_worker_goes_on(source: Path, target: Any, timeout: float) -> None:
        snapshot(source, target, timeout)
        copied.append(source.name)
        if {"logbook.sqlite3", "keys.sqlite3"} & set(copied) == {source.name}:  # the first of the two
            writer.wait_for(writer.count + 3)
    monkeypatch.setattr(backup_module, "_snapshot", while_the_worker_goes_on)
    archive = tmp_path / "live.tar.gz"
    before = writer.count
    backup = run(source.data_dir, "backup", "--out", str(archive))
    writer.stop()
    head = json.loads(members(archive)["manifest.json"])["head_position"]

    restore = run(tmp_path / "restored", "restore", "--from", str(archive))

    assert backup.exit_code == 0 and restore.exit_code == 0, (backup.stderr, restore.stderr)
    assert restore.stdout == f"{head}\n"
    original, copy = stored_events(source.data_dir), stored_events(tmp_path / "restored")
    assert len(original) > head > 0 and writer.logged_before(head) >= before
    assert copy == original[:head], "the restored store is exactly a prefix of the original, by position"
    assert [row[0] for row in copy] == list(range(1, head + 1))
    assert all_notes_open(settings_of(tmp_path / "restored")) == writer.logged_before(head)


def jac_oostende(app: Logbook) -> Account:
    """JAC Oostende with worker Sara and her Messenger profile; returns Sara."""
    app.register_team(team_id="jac-oostende", name="JAC Oostende", organisation="caw-nwvl", site="Oostende",
                      service=Service.JAC)
    sara, _ = app.add_account(account_id="oost-sara", name="Sara", role=Role.WORKER, team_id="jac-oostende",
                              function=Function.COUNSELLOR)
    app.register_profile(profile_id="oost-sara-messenger", channel=Channel.MESSENGER, kind=ProfileKind.PERSONAL,
                         team_id="jac-oostende", users=["oost-sara"])
    return sara


class Writer(threading.Thread):
    """A worker of JAC Oostende logging one contact after another until stopped."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings, self.count, self.positions = settings, 0, [0]
        self._halt, self._progress = threading.Event(), threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with closing(Logbook(self.settings, clock=lambda: NOW)) as app:
                worker = jac_oostende(app)
                while not self._halt.is_set():
                    receipt = app.log_contact(worker, note_draft(f"client-{self.count}", f"Note {self.count}"))
                    with self._progress:
                        self.count += 1
                        self.positions.append(receipt.position)
                        self._progress.notify_all()
        except BaseException as error:  # the test fails on it below
            self.error = error

    def wait_for(self, count: int) -> None:
        with self._progress:
            assert self._progress.wait_for(lambda: self.count >= count or self.error is not None, timeout=20)
        assert self.error is None, self.error

    def logged_before(self, position: int) -> int:
        return sum(1 for p in self.positions[1:] if p <= position)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=20)
        assert self.error is None, self.error


def all_notes_open(settings: Settings) -> int:
    """Decodes every stored event and opens every note; returns how many notes opened."""
    store = EventStore(settings)
    notes = Notes(KeyStore(key_store_path(settings), settings.require_master_key()))
    opened = 0
    try:
        for stored in store.recorder.select_notifications(start=1, limit=1_000_000):
            event = store.mapper.to_domain_event(stored)
            if isinstance(event, Contact.Logged) and event.sealed_note is not None:
                assert event.note_key_id is not None
                sealed = SealedNote(event.client_id, event.originator_id, event.note_key_id, event.sealed_note)
                assert notes.open(sealed) is not None, f"the note at position {stored.id} has no key"
                opened += 1
    finally:
        notes.close()
        store.close()
    return opened


def test_a_key_destroyed_while_the_backup_runs_is_left_out_of_it(tmp_path, monkeypatch):
    settings = settings_of(tmp_path / "var")
    with closing(Logbook(settings, clock=lambda: NOW)) as app:
        logged = app.log_contact(jac_oostende(app), note_draft("jonas", "Examens."))
    snapshot = backup_module._snapshot

    def then_destroy_the_key(source: Path, target: Any, timeout: float) -> None:
        snapshot(source, target, timeout)
        if source.name == "keys.sqlite3":  # as an erasure would, right after the key store was copied
            with closing(KeyStore(key_store_path(settings), settings.require_master_key())) as keys:
                keys.destroy(logged.client_id)
    monkeypatch.setattr(backup_module, "_snapshot", then_destroy_the_key)

    result = run(settings.data_dir, "backup", "--out", str(tmp_path / "b.tar.gz"))

    assert result.exit_code == 0, result.stderr
    (tmp_path / "keys.sqlite3").write_bytes(members(tmp_path / "b.tar.gz")["keys.sqlite3"])
    with closing(sqlite3.connect(tmp_path / "keys.sqlite3")) as keys:
        assert keys.execute("SELECT COUNT(*) FROM data_keys").fetchone() == (0,)


# Restore.

def test_a_restore_into_an_empty_directory_rebuilds_read_models_equal_to_the_originals(original, restored):
    result, settings = restored
    read_models.rebuild_all(original.settings, utc_now, lambda name, count: None)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{original.head}\n"
    assert "rebuilt timelines" in result.stderr and "rebuilt boundaries" in result.stderr
    assert stored_events(settings.data_dir) == stored_events(original.settings.data_dir)
    rows = read_model_rows(settings.data_dir)
    assert rows["timelines.contacts"] and rows["boundaries.crossings"]
    assert rows == read_model_rows(original.settings.data_dir)


def test_notes_open_after_a_restore_with_the_same_master_key(original, restored):
    _, settings = restored

    with closing(Logbook(settings, clock=lambda: NOW)) as app:
        record = app.contact_record(app.account("oost-sara"), original.kept.contact_id)

    assert record.note == "Komt morgen langs na school."


def test_an_erased_clients_notes_stay_unreadable_after_restoring_a_backup_taken_after_the_erasure(original, restored):
    _, settings = restored

    with closing(Logbook(settings, clock=lambda: NOW)) as app:
        record = app.contact_record(app.account("oost-sara"), original.erased.contact_id)
        holds_key = app.notes.keys.holds_key(original.erased.client_id)

    assert (record.note, record.note_erased, holds_key) == (None, True, False)


def test_the_audit_log_is_restored(original, restored):
    _, settings = restored

    with closing(audit_log(settings)) as audit:
        entries = audit.search(client_id=original.kept.client_id).items

    assert [(e.account_id, e.action) for e in entries] == [("oost-sara", AuditAction.READ_NOTE)]


def test_a_restore_refuses_a_data_directory_that_holds_a_store_without_force(original, tmp_path):
    data_dir = tmp_path / "var"
    Logbook(settings_of(data_dir)).close()
    before = (data_dir / "logbook.sqlite3").read_bytes()

    result = run(data_dir, "restore", "--from", str(original.archive))

    assert result.exit_code == 1
    assert "already holds data (logbook.sqlite3)" in result.stderr and "--force" in result.stderr
    assert (data_dir / "logbook.sqlite3").read_bytes() == before


def test_a_forced_restore_moves_the_existing_data_aside_rather_than_deleting_it(original, tmp_path):
    data_dir = tmp_path / "var"
    Logbook(settings_of(data_dir)).close()
    before = (data_dir / "logbook.sqlite3").read_bytes()

    result = run(data_dir, "restore", "--from", str(original.archive), "--force")

    assert result.exit_code == 0, result.stderr
    [aside] = data_dir.glob("before-restore-*")
    assert (aside / "logbook.sqlite3").read_bytes() == before
    assert str(aside) in result.stderr
    assert len(stored_events(data_dir)) == original.head


def corrupted(files: dict[str, bytes]) -> dict[str, bytes]:
    """One byte of the event store changed, the manifest left as it was."""
    store = bytearray(files["logbook.sqlite3"])
    store[len(store) // 2] ^= 0x01
    return files | {"logbook.sqlite3": bytes(store)}


def with_an_extra_file(files: dict[str, bytes]) -> dict[str, bytes]:
    return files | {"../elsewhere": b"x"}


@pytest.mark.parametrize("tamper", [corrupted, with_an_extra_file], ids=["changed byte", "unlisted file"])
def test_a_tampered_archive_is_refused_and_nothing_is_restored(original, tmp_path, tamper: Callable[..., Any]):
    archive = tmp_path / "tampered.tar.gz"
    write_archive(archive, tamper(members(original.archive)))

    result = run(tmp_path / "var", "restore", "--from", str(archive))

    assert result.exit_code == 1
    assert "nothing was restored" in result.stderr.lower()
    assert not (tmp_path / "var" / "logbook.sqlite3").exists()
    assert not list((tmp_path / "var").glob(".restore-*"))
    assert not (tmp_path / "elsewhere").exists()


def test_a_truncated_archive_is_refused(original, tmp_path):
    archive = tmp_path / "truncated.tar.gz"
    archive.write_bytes(original.archive.read_bytes()[:-4096])

    result = run(tmp_path / "var", "restore", "--from", str(archive))

    assert result.exit_code == 1
    assert "nothing was restored" in result.stderr.lower()
    assert not (tmp_path / "var" / "logbook.sqlite3").exists()


def test_a_restore_with_another_master_key_is_refused_before_anything_changes(original, tmp_path):
    other = base64.urlsafe_b64encode(b"o" * 32).decode()

    result = run(tmp_path / "var", "restore", "--from", str(original.archive), LOGBOOK_MASTER_KEY=other)

    assert result.exit_code == 1
    assert "LOGBOOK_MASTER_KEY" in result.stderr and "no note would open" in result.stderr
    assert not (tmp_path / "var" / "logbook.sqlite3").exists()


def test_a_backup_of_an_encrypted_store_is_refused_without_the_encryption_setting(tmp_path):
    source = tmp_path / "encrypted"
    with closing(Logbook(settings_of(source, LOGBOOK_ENCRYPT_EVENTS="1"))) as app:
        jac_oostende(app)
    assert run(source, "backup", "--out", str(tmp_path / "b.tar.gz"), LOGBOOK_ENCRYPT_EVENTS="1").exit_code == 0

    result = run(tmp_path / "var", "restore", "--from", str(tmp_path / "b.tar.gz"))

    assert result.exit_code == 1
    assert "set LOGBOOK_ENCRYPT_EVENTS=1" in result.stderr
    assert not (tmp_path / "var" / "logbook.sqlite3").exists()


def test_a_restore_refuses_while_a_projector_runs(original, tmp_path):
    settings = settings_of(tmp_path / "var")

    with read_models.locked(settings, list(read_models.PROJECTIONS)):  # as `logbook projections run` holds them
        result = run(settings.data_dir, "restore", "--from", str(original.archive))

    assert result.exit_code == 1
    assert "stop the projector" in result.stderr
    assert not (settings.data_dir / "logbook.sqlite3").exists()


def test_a_restore_refuses_while_another_process_has_the_store_open(original, tmp_path):
    data_dir = tmp_path / "var"
    Logbook(settings_of(data_dir)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1]); "
         "db.execute('SELECT * FROM sqlite_master').fetchall(); print('open', flush=True); time.sleep(60)",
         str(data_dir / "logbook.sqlite3")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"

        result = run(data_dir, "restore", "--from", str(original.archive), "--force")
    finally:
        holder.kill()
        holder.wait()

    assert result.exit_code == 1
    assert f"Process {holder.pid}" in result.stderr and "stop the web server" in result.stderr
    assert not list(data_dir.glob("before-restore-*"))
