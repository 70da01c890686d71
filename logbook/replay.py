"""Replaying the history as of a moment, under one version of the policy, for researchers.

A replay rebuilds the boundaries read model, the one its report is computed
from, into a scratch directory of its own (never the live ones under
``<data dir>/projections/``) from the events recorded at or before its moment
``until``. Later events are skipped, not a stopping
point: with several writer processes the recorded times are nearly, not
strictly, in the order of positions. One version of the policy judges every
contact, whatever was published (published versions are ignored), and the
projector's clock stands at ``until``, so the time windows close up to that
moment and no further.

Its report (``report.json``) holds the position of the last event it rests on,
the policy's version, a digest of exactly those events as the store holds
them, the boundaries report by site, and every crossing as researchers see it
(`logbook.research`: pseudonyms, truncated moments, no review comments). The
same events and the same policy give the same bytes: keys sorted, fixed
separators, no wall-clock value. The scratch read models hold operational ids;
they are deleted once the report is written.

Through the API a replay is a job (`ReplayJobs`) run in a background thread of
the web process; its state lives in files, so that every worker can answer.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import Notification

from events.errors import InvalidInputError
from events.policy import BUILT_IN_VERSION, PolicyTerms, terms_from_body
from logbook.config import ConfigurationError, Settings, make_private_dir
from logbook.digest import EventsDigest
from logbook.files import write_bytes_whole
from logbook.read_models import PROJECTIONS
from logbook.research import ResearchView
from logbook.store import EventStore
from projections.base import PagedProjection, UnhandledEventError
from projections.boundaries import Boundaries, BoundaryView
from projections.boundary_report import ReportKey, boundaries_report
from projections.runner import SETTLE, PollingFeed, Projector
from projections.storage import moment_of

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"
SCRATCH_DIR = "scratch"


class UnknownPolicyError(InvalidInputError):
    """Raised when a replay names a policy version that is neither built in nor published."""

    code = "unknown_policy"


# The replay.


@dataclass(frozen=True)
class ReplayReport:
    """What a replay wrote, and what its report says."""

    path: Path
    """The report file, ``<out_dir>/report.json``."""
    position: int
    """The position of the last event the report rests on; 0 when none was recorded by then."""
    policy_version: str
    events_digest: str
    events: int
    """How many events the report rests on."""
    read: int
    """How many events were read, those recorded after ``until`` too."""
    body: dict[str, Any]
    """The report as written."""


def replay(
    settings: Settings,
    until: datetime,
    policy: PolicyTerms,
    out_dir: Path,
    progress: Callable[[int], object] = lambda count: None,
) -> ReplayReport:
    """Rebuilds the read models in ``out_dir/scratch`` from the events recorded at or before ``until``, judged
    under ``policy`` alone with the clock at ``until``, and writes ``out_dir/report.json``.

    ``progress`` is called with the number of events read, page by page.
    """
    until = as_moment(until)
    research = ResearchView(settings.require_research_key(), settings.research_time_unit)
    scratch = out_dir / SCRATCH_DIR
    _remove_views(scratch)  # of a replay that was killed
    make_private_dir(scratch)
    digest = EventsDigest()

    def advance(count: int) -> None:
        progress(count)  # what it answers (tqdm's `update`: whether it redrew) does not matter

    try:
        with closing(_projector(settings, scratch, until, policy, digest)) as projector:
            read = projector.catch_up(advance)
            view = next(p.view for p in projector.projections if isinstance(p.view, BoundaryView))
            body = report_body(view, research, position=digest.position, policy_version=policy.version,
                               events_digest=digest.hexdigest(), until=until)
    finally:
        _remove_views(scratch)
    path = out_dir / REPORT_FILE
    write_bytes_whole(path, report_bytes(body))
    return ReplayReport(path, digest.position, policy.version, digest.hexdigest(), digest.count, read, body)


def _projector(
    settings: Settings, scratch: Path, until: datetime, policy: PolicyTerms, digest: EventsDigest
) -> Projector:
    """A projector from the first event into a fresh boundaries view in ``scratch``, over the events recorded
    by ``until``.

    The report rests on the boundaries alone, and the scratch views are deleted
    once it is written: the timelines are not built.
    """
    store = EventStore(settings)
    try:
        view = BoundaryView(str(scratch / "boundaries.sqlite3"), settings.sqlite_lock_timeout_seconds)
    except BaseException:
        store.close()
        raise
    projections: list[PagedProjection[Any]] = [Boundaries(view, policy=policy)]

    def admit(notification: Notification, event: Any) -> bool:
        if event.timestamp > until:
            return False
        digest.add(notification.id, notification.topic, notification.state)
        return True

    # The projector ticks at its clock less the settling delay: so it judges time as of `until` exactly.
    return Projector(PollingFeed(store.recorder), store.mapper, projections, lambda: until + SETTLE,
                     on_close=store.close, admit=admit)


def _remove_views(scratch: Path) -> None:
    """Deletes the scratch read models (with SQLite's side files); the directory goes too, once empty."""
    for name in PROJECTIONS:  # an earlier version built them all
        for suffix in ("", "-wal", "-shm", "-journal"):
            (scratch / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)
    if scratch.is_dir() and not any(scratch.iterdir()):
        scratch.rmdir()


# The report.


def report_body(
    view: BoundaryView, research: ResearchView, *, position: int, policy_version: str, events_digest: str,
    until: datetime,
) -> dict[str, Any]:
    """The report of a boundaries read model: its rows by site and its crossings as researchers see them."""
    return {
        "position": position,
        "policy_version": policy_version,
        "events_digest": events_digest,
        "until": moment_text(until),
        "rows": boundaries_report(view, by=ReportKey.SITE),
        "crossings": research_crossings(view, research),
    }


def report_bytes(body: Mapping[str, Any]) -> bytes:
    """The report as written: the same body gives the same bytes."""
    return (json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode()


def research_crossings(view: BoundaryView, research: ResearchView) -> list[dict[str, Any]]:
    """Every crossing, whatever its status, as researchers see it; ordered by truncated start, then pseudonym."""
    with view.reading() as sql:
        sql.execute(
            "SELECT c.crossing_id, c.rule, c.severity, c.status, c.policy_version, c.client_id, c.team_id, c.site, "
            "c.account_id, c.profile_kind, c.contact_ids, c.started_at, c.ended_at, c.detected_at, j.profile_id "
            "FROM crossings AS c LEFT JOIN judged_contacts AS j "
            f"ON j.contact_id = {view.database.json_first('c.contact_ids')}"
        )
        crossings = [_research_crossing(row, research) for row in sql.fetchall()]
    return sorted(crossings, key=lambda crossing: (crossing["started_at"], crossing["crossing"]))


def _research_crossing(row: Any, research: ResearchView) -> dict[str, Any]:
    pseudonyms, moment = research.pseudonyms, research.moment
    return {
        "crossing": pseudonyms.of("crossing", UUID(row["crossing_id"]).hex),
        "rule": row["rule"],
        "severity": row["severity"],
        "status": row["status"],
        "policy_version": row["policy_version"],
        "team_id": row["team_id"],
        "site": row["site"],
        "client": pseudonyms.client(UUID(row["client_id"])),
        "account": pseudonyms.account(row["account_id"]),
        "profile": None if row["profile_id"] is None else pseudonyms.profile(row["profile_id"]),
        "profile_kind": row["profile_kind"],
        "evidence": [pseudonyms.contact(UUID(contact_id)) for contact_id in json.loads(row["contact_ids"])],
        "started_at": moment(moment_of(row["started_at"])),
        "ended_at": moment(moment_of(row["ended_at"])),
        "detected_at": moment(moment_of(row["detected_at"])),
    }


# Choosing the policy and the moment.


def choose_policy(known: Sequence[PolicyTerms], policy: str | Mapping[str, Any]) -> PolicyTerms:
    """The policy a replay judges by: a version of ``known`` (`Logbook.policies()`), or a policy body
    as ``POST /api/v1/policies`` takes it. Raises `InvalidInputError` naming the field at fault."""
    if isinstance(policy, str):
        return _named(known, policy)
    terms = terms_from_body(policy)
    if terms.version == BUILT_IN_VERSION:
        raise InvalidInputError("The built-in version cannot be redefined: give the variant a version of its own.",
                                field="version")
    if any(published.version == terms.version and published != terms for published in known):
        raise InvalidInputError("A published version has this name with other terms: give the variant a version "
                                "of its own.", field="version")
    return terms


def policy_from_spec(known: Sequence[PolicyTerms], spec: str) -> PolicyTerms:
    """The command line's ``--policy``: the path of a JSON file holding a policy body, or a version."""
    path = Path(spec)
    if path.is_file():
        return choose_policy(known, _json_object(path))
    if os.sep in spec or spec.endswith(".json"):
        raise InvalidInputError("No such file.", field="policy")
    return choose_policy(known, spec)


def _named(known: Sequence[PolicyTerms], version: str) -> PolicyTerms:
    for terms in known:
        if terms.version == version:
            return terms
    versions = ", ".join(terms.version for terms in known)
    raise UnknownPolicyError(f"No such policy version; the versions are: {versions}.", field="policy")


def _json_object(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInputError("The file does not hold JSON.", field="policy") from None


def as_moment(value: datetime | str) -> datetime:
    """An aware datetime, from itself or from ISO 8601 text; raises `ValueError` without a UTC offset."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("A date-time needs its UTC offset, such as +02:00 or Z.")
    return moment


def moment_text(moment: datetime) -> str:
    """A moment as reports and jobs state it: ISO 8601 in UTC, so one moment has one text."""
    return moment.astimezone(timezone.utc).isoformat()


# Replays as jobs of the web process.

MAX_RUNNING_REPLAYS = 2
"""Replays running at once per data directory: each reads the whole store and holds its clients in memory."""
STATUS_FILE = "status.json"
STOPPED = "the process running it stopped"


class TooManyReplaysError(Exception):
    """Raised when `MAX_RUNNING_REPLAYS` replays are running already."""


@dataclass(frozen=True)
class ReplayJob:
    """A replay as its status file tells it."""

    replay_id: UUID
    status: str
    """``running``, ``done`` or ``failed``."""
    until: str
    policy_version: str
    report: dict[str, Any] | None = None
    """The report, once done."""
    error: str | None = None
    """Why it failed."""


class ReplayJobs:
    """Replays run in background threads, their state in ``<data dir>/research/replays/<replay_id>/``.

    Each job's ``status.json`` (written whole, by rename) and ``report.json``
    are files, so any process of the web server can answer for a job another
    one runs. At most `MAX_RUNNING_REPLAYS` run at once per data directory;
    another is refused with `TooManyReplaysError` (the API answers 429). A job
    whose process died would stay ``running`` forever: its status records the
    process id, its start and the host, and a job whose process is gone from
    this host is reported ``failed`` (a job of another host cannot be checked).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.data_dir / "research" / "replays"

    def start(self, until: datetime, policy: PolicyTerms) -> ReplayJob:
        """Starts a replay in a thread of this process; raises `TooManyReplaysError` when enough run."""
        self.settings.require_research_key()  # refused now, rather than failed later
        make_private_dir(self.root)
        with self._starting():
            if self._running() >= MAX_RUNNING_REPLAYS:
                raise TooManyReplaysError(
                    f"{MAX_RUNNING_REPLAYS} replays are running already; start this one when one is done."
                )
            replay_id = uuid4()
            job_dir = self.root / replay_id.hex
            make_private_dir(job_dir)
            status = {
                "replay_id": str(replay_id), "status": "running", "until": moment_text(until),
                "policy_version": policy.version, **_this_process(),
            }
            write_bytes_whole(job_dir / STATUS_FILE, _json(status))
        threading.Thread(target=self._run, args=(job_dir, status, until, policy), daemon=True,
                         name=f"replay-{replay_id.hex[:8]}").start()
        return _job(status)

    def get(self, replay_id: UUID) -> ReplayJob | None:
        """The job as it stands now; None for an unknown one."""
        status = self._status(self.root / replay_id.hex)
        if status is None:
            return None
        if status["status"] == "running" and _stopped(status):
            return _job({**status, "status": "failed", "error": STOPPED})
        report = None
        if status["status"] == "done":
            report = json.loads((self.root / replay_id.hex / REPORT_FILE).read_bytes())
        return _job(status, report)

    def _run(self, job_dir: Path, status: dict[str, Any], until: datetime, policy: PolicyTerms) -> None:
        try:
            replay(self.settings, until, policy, job_dir)
        except Exception as error:  # a job has no caller to raise to: its status tells
            _log_failure(error)
            write_bytes_whole(job_dir / STATUS_FILE, _json({**status, "status": "failed", "error": _reason(error)}))
        else:
            write_bytes_whole(job_dir / STATUS_FILE, _json({**status, "status": "done"}))

    def _running(self) -> int:
        statuses = (self._status(job_dir) for job_dir in self.root.iterdir() if job_dir.is_dir())
        return sum(1 for status in statuses if status and status["status"] == "running" and not _stopped(status))

    def _status(self, job_dir: Path) -> dict[str, Any] | None:
        try:
            status: dict[str, Any] = json.loads((job_dir / STATUS_FILE).read_bytes())
        except FileNotFoundError:
            return None
        return status

    @contextmanager
    def _starting(self) -> Iterator[None]:
        """One start at a time across the processes, so that two cannot both take the last free place."""
        with open(self.root / ".start.lock", "ab") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _job(status: Mapping[str, Any], report: dict[str, Any] | None = None) -> ReplayJob:
    return ReplayJob(UUID(status["replay_id"]), status["status"], status["until"], status["policy_version"],
                     report, status.get("error"))


def _json(status: Mapping[str, Any]) -> bytes:
    return json.dumps(status, sort_keys=True).encode()


def _this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"pid": pid, "process_started": _process_started(pid), "host": socket.gethostname()}


def _stopped(status: Mapping[str, Any]) -> bool:
    """True when the job's process is known to be gone: it ran on this host and its process id is free,
    or taken by a process that started later."""
    if status.get("host") != socket.gethostname():
        return False
    pid = int(status["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return True  # another user's process has the id: ours, the web server's, is gone
    started = status.get("process_started")
    return started is not None and _process_started(pid) not in (None, started)


def _process_started(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux); None where that is unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def _reason(error: Exception) -> str:
    """Why a job failed, for researchers: messages that may hold operational ids or input are not passed on."""
    if isinstance(error, UnhandledEventError | ConfigurationError):
        return str(error)
    return f"the replay stopped with an unexpected {type(error).__name__}; the server's log has where"


def _log_failure(error: Exception) -> None:
    # The class and the frames, never the text: it might quote an operational id.
    frames = traceback.extract_tb(error.__traceback__)[-8:]
    where = " <- ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames))
    log.error("replay failed with %s at %s", type(error).__name__, where)
