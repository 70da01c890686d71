"""Backup and restore of the SQLite databases: the event store, the key store and the audit log, in one archive.

`back_up` copies each database with SQLite's online backup API, while the web
server and the projector go on writing: each copy is one consistent snapshot
of its database, taken in one read transaction. The event store is copied
first and the key store after it, so every note in the copied events finds its
key (a key is made before the note it seals is saved), unless the key was
destroyed since, which is what an erasure asks for. The read models are left
out (they are rebuilt from the events), the throttle too (it forgets after a
minute), and the key files unless asked: with the master key, a backup opens
every note.

`restore` checks the whole archive and the configured keys before it changes
anything, then moves the databases into place; the caller rebuilds the read
models. docs/backup.md says what to keep, where, and for how long.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from logbook import read_models
from logbook.audit import AUDIT_SQLITE_FILE
from logbook.config import MASTER_KEY_FILE, RESEARCH_KEY_FILE, SECRET_KEY_FILE, Settings, make_private_dir
from logbook.files import write_whole
from logbook.keys import KEYS_FILE
from logbook.store import SQLITE_FILE, is_postgres, sqlite_path

FORMAT = 1
"""The archive's layout; a restore refuses a format it does not know."""
MANIFEST = "manifest.json"
KEEP_DAYS = 30
"""Days a backup may be kept. An erasure is complete once every backup taken before it is deleted."""
KEY_FILES = {SECRET_KEY_FILE: "LOGBOOK_SECRET_KEY", MASTER_KEY_FILE: "LOGBOOK_MASTER_KEY",
             RESEARCH_KEY_FILE: "LOGBOOK_RESEARCH_KEY"}
"""Each key file of the data directory, by the setting that may hold the key instead."""
RESTORE_ORDER = (KEYS_FILE, AUDIT_SQLITE_FILE, *KEY_FILES, SQLITE_FILE)
"""The event store goes last: once it is in place, everything else is."""
SIDE_FILES = ("-wal", "-shm", "-journal")
"""SQLite's files beside a database: a log left beside another database would corrupt it."""
FINGERPRINT_CONTEXT = b"logbook backup: key fingerprint"
CHUNK = 1 << 20


class BackupError(Exception):
    """Raised when a backup cannot be written, or an archive cannot be restored; nothing was changed."""


@dataclass(frozen=True)
class Backup:
    """What an archive holds, as its manifest says."""

    created_at: datetime
    head_position: int
    """The position of the last event in the archive."""
    files: dict[str, str]
    """Each file in the archive by name, with its SHA-256."""
    counts: dict[str, int]
    key_fingerprints: dict[str, str | None]
    """An HMAC of each key configured when the backup was made, so that a restore can tell the right key."""
    events_encrypted: bool
    logbook_version: str = field(default_factory=lambda: _version())

    @property
    def delete_by(self) -> datetime:
        return self.created_at + timedelta(days=KEEP_DAYS)

    @property
    def keys_included(self) -> bool:
        return any(name in self.files for name in KEY_FILES)

    def to_json(self) -> bytes:
        return json.dumps({
            "format": FORMAT, "created_at": self.created_at.isoformat(), "delete_by": self.delete_by.isoformat(),
            "logbook_version": self.logbook_version, "sqlite_version": sqlite3.sqlite_version,
            "head_position": self.head_position, "events_encrypted": self.events_encrypted,
            "counts": self.counts, "key_fingerprints": self.key_fingerprints,
            "files": {name: {"sha256": digest} for name, digest in self.files.items()},
        }, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Backup:
        manifest = json.loads(raw)
        if manifest.get("format") != FORMAT:
            raise BackupError(f"The archive's format {manifest.get('format')!r} is not {FORMAT}: "
                              "restore it with the logbook version that made it.")
        files = {name: entry["sha256"] for name, entry in manifest["files"].items()}
        if SQLITE_FILE not in files or not set(files) <= set(RESTORE_ORDER):
            raise BackupError("The archive's manifest does not list an event store and known files alone.")
        return cls(
            created_at=datetime.fromisoformat(manifest["created_at"]), head_position=int(manifest["head_position"]),
            files=files, counts=manifest["counts"], key_fingerprints=manifest["key_fingerprints"],
            events_encrypted=bool(manifest["events_encrypted"]), logbook_version=manifest["logbook_version"],
        )


@dataclass(frozen=True)
class Restored:
    backup: Backup
    moved_aside: Path | None
    """Where the files the restore replaced were moved, if there were any."""
    warnings: list[str]


# Backup.

def back_up(settings: Settings, out: Path, *, include_keys: bool, now: datetime) -> Backup:
    """Writes one archive of the databases to ``out`` while others go on writing; returns its manifest."""
    _refuse_postgres(settings)
    sources = _sources(settings)
    if not sources[SQLITE_FILE].is_file():
        raise BackupError(f"There is no event store at {sources[SQLITE_FILE]}: nothing to back up.")
    out = out.absolute()
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))  # 0700, on the backup's disk
    try:
        copies = _copy_databases(sources, staging, settings.sqlite_lock_timeout_seconds)
        if include_keys:
            copies |= _write_key_files(settings, staging)
        backup = Backup(
            created_at=now, head_position=_scalar(copies[SQLITE_FILE], "SELECT MAX(rowid) FROM stored_events"),
            files={name: _sha256(path) for name, path in copies.items()}, counts=_counts(copies),
            key_fingerprints=_fingerprints(settings), events_encrypted=settings.encrypt_events,
        )
        _write_archive(backup, copies, out)
    except sqlite3.Error as error:
        raise BackupError(f"The backup failed: {error}. Nothing was written.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return backup


def _refuse_postgres(settings: Settings) -> None:
    if is_postgres(settings):
        raise BackupError("logbook backup and restore copy SQLite files; on PostgreSQL, dump the schema with "
                          "pg_dump and keep keys.sqlite3 and audit.sqlite3 as docs/deploy.md says.")


def _sources(settings: Settings) -> dict[str, Path]:
    return {SQLITE_FILE: Path(sqlite_path(settings)), KEYS_FILE: settings.data_dir / KEYS_FILE,
            AUDIT_SQLITE_FILE: settings.data_dir / AUDIT_SQLITE_FILE}


def _copy_databases(sources: dict[str, Path], staging: Path, timeout: float) -> dict[str, Path]:
    """Snapshots the events, then the keys, then the audit log; the ones that exist.

    The keys are kept in memory until the end, when the keys destroyed while the
    backup ran are dropped: an erasure saves its event, then destroys the key.
    """
    copies = {SQLITE_FILE: staging / SQLITE_FILE}
    with closing(sqlite3.connect(":memory:", uri=True)) as keys:  # uri: ATTACH reads the live file read-only
        _snapshot(sources[SQLITE_FILE], copies[SQLITE_FILE], timeout)
        if sources[KEYS_FILE].is_file():
            _snapshot(sources[KEYS_FILE], keys, timeout)
        if sources[AUDIT_SQLITE_FILE].is_file():
            copies[AUDIT_SQLITE_FILE] = staging / AUDIT_SQLITE_FILE
            _snapshot(sources[AUDIT_SQLITE_FILE], copies[AUDIT_SQLITE_FILE], timeout)
        if sources[KEYS_FILE].is_file():
            _drop_destroyed_keys(keys, sources[KEYS_FILE])
            copies[KEYS_FILE] = staging / KEYS_FILE
            _save(keys, copies[KEYS_FILE])
    return copies


def _snapshot(source: Path, target: Path | sqlite3.Connection, timeout: float) -> None:
    """Copies a live database in one step, hence in one read transaction; never writes to it."""
    with closing(sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True, timeout=timeout)) as live:
        if isinstance(target, sqlite3.Connection):
            live.backup(target)
        else:
            with closing(sqlite3.connect(target)) as copy:
                live.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no log beside it


def _drop_destroyed_keys(keys: sqlite3.Connection, live: Path) -> None:
    keys.execute("ATTACH DATABASE ? AS live", (f"{live.absolute().as_uri()}?mode=ro",))
    keys.execute("DELETE FROM main.data_keys WHERE NOT EXISTS (SELECT 1 FROM live.data_keys AS l "
                 "WHERE l.client_id = data_keys.client_id AND l.key_id = data_keys.key_id)")
    keys.commit()
    keys.execute("DETACH DATABASE live")


def _save(memory: sqlite3.Connection, target: Path) -> None:
    with closing(sqlite3.connect(target)) as copy:
        memory.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")


def _write_key_files(settings: Settings, staging: Path) -> dict[str, Path]:
    written = {}
    for name, text in _key_texts(settings).items():
        if text is not None:
            written[name] = staging / name
            written[name].write_text(text + "\n")
    return written


def _counts(copies: dict[str, Path]) -> dict[str, int]:
    counts = {"events": _scalar(copies[SQLITE_FILE], "SELECT COUNT(*) FROM stored_events")}
    if KEYS_FILE in copies:
        counts["data_keys"] = _scalar(copies[KEYS_FILE], "SELECT COUNT(*) FROM data_keys")
    if AUDIT_SQLITE_FILE in copies:
        counts["audit_entries"] = _scalar(copies[AUDIT_SQLITE_FILE], "SELECT COUNT(*) FROM audit_entries")
    return counts


def _write_archive(backup: Backup, copies: dict[str, Path], out: Path) -> None:
    """A gzipped tar, manifest first, written beside ``out`` (mode 0600) and renamed: whole or not at all."""
    def write(file: IO[bytes]) -> None:
        with tarfile.open(fileobj=file, mode="w:gz", compresslevel=6) as tar:
            manifest = backup.to_json()
            tar.addfile(_member(MANIFEST, len(manifest)), BytesIO(manifest))
            for name, path in copies.items():
                with open(path, "rb") as copy:
                    tar.addfile(_member(name, path.stat().st_size), copy)
    write_whole(out, write)


def _member(name: str, size: int) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size, member.mode = size, 0o600
    return member


# Restore.

def restore(settings: Settings, archive: Path, *, force: bool, now: datetime) -> Restored:
    """Checks the archive whole, then puts its databases into the data directory; the read models are not rebuilt.

    Refuses while a projector holds a read model or another process has a
    database open, and, without ``force``, when the data directory holds data.
    With ``force`` that data is moved aside into ``before-restore-<time>/``.
    """
    _refuse_postgres(settings)
    make_private_dir(settings.data_dir)
    staging = Path(tempfile.mkdtemp(dir=settings.data_dir, prefix=".restore-"))
    try:
        backup = _unpack(archive, staging)
        warnings = _check_settings(settings, backup)
        with read_models.locked(settings, list(read_models.PROJECTIONS)):  # the projector's own locks
            existing = _existing(settings)
            _check_unused(existing)
            if existing and not force:
                raise BackupError(
                    f"The data directory already holds data ({', '.join(_shown(settings, existing))}): nothing "
                    "was restored. Restore into an empty data directory, or add --force to move these aside."
                )
            moved_aside = _move_aside(settings, existing, now) if existing else None
            _put_in_place(settings, backup, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if now > backup.delete_by:
        warnings.append(f"this backup is older than {KEEP_DAYS} days (delete by {backup.delete_by:%Y-%m-%d}): "
                        "it may hold the keys of clients erased since; apply those erasures again")
    return Restored(backup, moved_aside, warnings)


def _unpack(archive: Path, staging: Path) -> Backup:
    """Extracts each file the manifest lists into ``staging``, checking its SHA-256; raises on any doubt."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = iter(tar)
            backup = Backup.from_json(_read_member(tar, next(members, None), MANIFEST))
            seen = set()
            for member in members:
                if member.name not in backup.files or member.name in seen:
                    raise BackupError(f"{archive} holds a file its manifest does not list: nothing was restored.")
                seen.add(member.name)
                if _copy_member(tar, member, staging / member.name) != backup.files[member.name]:
                    raise BackupError(f"{member.name} in {archive} does not match its SHA-256 in the manifest: "
                                      "the archive is damaged or was changed. Nothing was restored.")
    except (tarfile.TarError, zlib.error, EOFError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{archive} is not a readable logbook backup ({error}): nothing was restored.") from None
    missing = set(backup.files) - seen
    if missing:
        raise BackupError(f"{archive} lacks {', '.join(sorted(missing))}: nothing was restored.")
    return backup


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo | None, name: str) -> bytes:
    if member is None or member.name != name or not member.isfile():
        raise BackupError(f"The archive does not start with its {name}: nothing was restored.")
    with _opened(tar, member) as source:
        return source.read()


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> str:
    """Writes the member to ``target`` (mode 0600) and returns its SHA-256."""
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as out, _opened(tar, member) as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


@contextmanager
def _opened(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[IO[bytes]]:
    source = tar.extractfile(member) if member.isfile() else None
    if source is None:
        raise BackupError(f"{member.name} in the archive is not a file: nothing was restored.")
    with source:
        yield source


def _check_settings(settings: Settings, backup: Backup) -> list[str]:
    """Refuses when the configuration would not read the backup as it was written; returns what to tell."""
    if backup.events_encrypted != settings.encrypt_events:
        raise BackupError("The backup's events are encrypted: set LOGBOOK_ENCRYPT_EVENTS=1. Nothing was restored."
                          if backup.events_encrypted else
                          "The backup's events are not encrypted: unset LOGBOOK_ENCRYPT_EVENTS. Nothing was restored.")
    warnings = []
    for name, text in _key_texts(settings).items():
        expected, setting = backup.key_fingerprints.get(name), KEY_FILES[name]
        if expected is None:
            continue
        if text is None and name not in backup.files:
            warnings.append(f"{setting} is not set and the data directory holds no {name}: "
                            f"set the key the backup was made with (fingerprint {expected})")
        elif text is not None and _fingerprint(text) != expected:
            message = (f"{setting} (or the data directory's {name}) is not the key the backup was made with "
                       f"(fingerprint {_fingerprint(text)}, not {expected})")
            if name != RESEARCH_KEY_FILE:
                raise BackupError(f"{message}: {_WITHOUT[name]}. Nothing was restored.")
            warnings.append(f"{message}: research pseudonyms will not join with earlier exports")
    return warnings


_WITHOUT = {SECRET_KEY_FILE: "every client would be split in two", MASTER_KEY_FILE: "no note would open"}


def _existing(settings: Settings) -> list[Path]:
    """The files of the data directory a restore replaces or makes wrong, with SQLite's files beside them."""
    databases = [Path(sqlite_path(settings)), settings.data_dir / KEYS_FILE, settings.data_dir / AUDIT_SQLITE_FILE,
                 *sorted(read_models.projections_dir(settings).glob("*.sqlite3"))]
    return [each for path in databases for each in (path, *(Path(f"{path}{side}") for side in SIDE_FILES))
            if each.exists()]


def _check_unused(paths: list[Path]) -> None:
    """Refuses when another process has one of the files open (Linux; elsewhere nothing is found)."""
    wanted = {str(path.resolve()) for path in paths}
    for fd_dir in Path("/proc").glob("[0-9]*/fd") if wanted else ():
        if fd_dir.parent.name == str(os.getpid()):
            continue
        with suppress(OSError):
            held = wanted.intersection(os.readlink(fd) for fd in fd_dir.iterdir())
            if held:
                raise BackupError(f"Process {fd_dir.parent.name} has {min(held)} open: stop the web server and "
                                  "the projector first. Nothing was restored.")


def _move_aside(settings: Settings, existing: list[Path], now: datetime) -> Path:
    aside = settings.data_dir / f"before-restore-{now:%Y%m%dT%H%M%S%fZ}"
    aside.mkdir(mode=0o700)
    for path in existing:
        target = aside / _relative(settings, path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.move(path, target)
    return aside


def _put_in_place(settings: Settings, backup: Backup, staging: Path) -> None:
    configured = _key_texts(settings)
    for name in RESTORE_ORDER:
        if name not in backup.files or configured.get(name) is not None:
            continue  # a configured key is the one that was checked, and the one the logbook will use
        target = Path(sqlite_path(settings)) if name == SQLITE_FILE else settings.data_dir / name
        partial = target.with_name(f".{target.name}.restoring")
        shutil.move(staging / name, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)


def _shown(settings: Settings, paths: list[Path]) -> list[str]:
    return [str(_relative(settings, path)) for path in paths if not path.name.endswith(SIDE_FILES)]


def _relative(settings: Settings, path: Path) -> Path:
    return path.relative_to(settings.data_dir) if path.is_relative_to(settings.data_dir) else Path(path.name)


# Helpers.

def _key_texts(settings: Settings) -> dict[str, str | None]:
    """Each configured key as its file in the data directory holds it; None when it is not configured."""
    master = settings.master_key
    return {
        SECRET_KEY_FILE: None if settings.secret_key is None else settings.secret_key.decode(),
        MASTER_KEY_FILE: None if master is None else base64.urlsafe_b64encode(master).decode(),
        RESEARCH_KEY_FILE: None if settings.research_key is None else settings.research_key.decode(),
    }


def _fingerprints(settings: Settings) -> dict[str, str | None]:
    return {name: None if text is None else _fingerprint(text) for name, text in _key_texts(settings).items()}


def _fingerprint(key_text: str) -> str:
    """Tells keys apart without revealing them: an HMAC of a fixed text under the key."""
    return hmac.new(key_text.encode(), FINGERPRINT_CONTEXT, hashlib.sha256).hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _scalar(path: Path, statement: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        value: Any = db.execute(statement).fetchone()[0]
    return int(value or 0)


def _version() -> str:
    try:
        return metadata.version("logbook")
    except metadata.PackageNotFoundError:
        return "unknown"
