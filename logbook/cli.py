"""The ``logbook`` command line.

Results (tokens) go to standard output, alone, so scripts can capture them;
messages go to standard error.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, cast

import click
from tqdm import tqdm

from events.errors import LogbookError
from events.vocabulary import Function, Role
from logbook import read_models
from logbook.application import Logbook, utc_now
from logbook.config import (
    ConfigurationError,
    Settings,
    ensure_master_key,
    ensure_research_key,
    ensure_secret_key,
)
from logbook.files import write_bytes_whole
from logbook.store import EventStore
from projections.base import UnhandledEventError, View
from projections.timelines import TimelineView

GUNICORN_APP = "api:create_app()"


@click.group()
def main() -> None:
    """The contact logbook of CAW workers on Messenger and WhatsApp."""


@main.command()
@click.option("--admin-id", default="admin", show_default=True, help="Account id of the first admin.")
@click.option("--admin-name", default="Administrator", show_default=True)
def init(admin_id: str, admin_name: str) -> None:
    """Create the store and the first admin; print the admin's token.

    Safe to run again: what exists is kept, and nothing is printed on standard
    output when the admin already exists.
    """
    settings = _settings()
    if settings.secret_key is None and ensure_secret_key(settings.data_dir):
        click.echo(f"generated a development secret key in {settings.data_dir}", err=True)
    if settings.master_key is None and ensure_master_key(settings.data_dir):
        click.echo(f"generated a development master key in {settings.data_dir}", err=True)
    if settings.research_key is None and ensure_research_key(settings.data_dir):
        click.echo(f"generated a development research key in {settings.data_dir}", err=True)
    try:  # on PostgreSQL only this command creates tables; on SQLite they are made when opened
        with_keys = _settings()
        EventStore(with_keys, create_tables=True).close()
        read_models.create_tables(with_keys)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    with _logbook() as app:
        try:
            _, token = app.add_account(account_id=admin_id, name=admin_name, role=Role.ADMIN)
        except LogbookError as error:
            click.echo(f"kept the existing store: {error.message}", err=True)
            return
        click.echo(f"created the store and the admin account '{admin_id}'", err=True)
        click.echo(token)


@main.command()
@click.option("--bind", default=None, help="Address to listen on [default: 127.0.0.1:8000, or 0.0.0.0:$PORT].")
@click.option("--workers", type=int, default=None, help="gunicorn workers [default: $WEB_CONCURRENCY or 2].")
@click.option("--threads", type=int, default=None, help="threads of each worker [default: $WEB_THREADS or 4].")
def serve(bind: str | None, workers: int | None, threads: int | None) -> None:
    """Serve the HTTP API with gunicorn, as the Procfile's web: line does."""
    with _logbook():
        pass  # fail here, with a clear message, rather than in every worker
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    argv = [gunicorn, "--config", "python:logbook.gunicorn_config"]
    argv += ["--bind", bind] if bind else []
    argv += ["--workers", str(workers)] if workers else []
    argv += ["--threads", str(threads)] if threads else []
    os.execv(gunicorn, [*argv, GUNICORN_APP])


@main.group()
def accounts() -> None:
    """Manage accounts and their tokens."""


@accounts.command("add")
@click.argument("account_id")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--team", "team_id", default=None, help="Team id, for workers and team leads.")
@click.option("--function", type=click.Choice([f.value for f in Function]), default=None)
@click.option("--intern", is_flag=True, help="The account is an intern's.")
def add_account(
    account_id: str, name: str, role: str, team_id: str | None, function: str | None, intern: bool
) -> None:
    """Add an account and print its token."""
    with _logbook() as app:
        _, token = app.add_account(
            account_id=account_id, name=name, role=Role(role), team_id=team_id,
            function=Function(function) if function else None, intern=intern,
        )
    click.echo(token)


@accounts.command("token")
@click.argument("account_id")
def issue_token(account_id: str) -> None:
    """Issue another token for an account and print it."""
    with _logbook() as app:
        click.echo(app.issue_token(account_id))


@accounts.command("revoke")
@click.argument("account_id")
def revoke_tokens(account_id: str) -> None:
    """Revoke every token of an account; print how many still worked."""
    with _logbook() as app:
        revoked = app.revoke_tokens(None, account_id)
    click.echo(f"revoked the tokens of '{account_id}'", err=True)
    click.echo(revoked)


@accounts.command("deactivate")
@click.argument("account_id")
def deactivate_account(account_id: str) -> None:
    """Deactivate an account: its tokens stop working at once."""
    with _logbook() as app:
        app.deactivate_account(None, account_id)
    click.echo(f"deactivated the account '{account_id}'", err=True)


@main.command()
@click.option("--seed", default=2019, show_default=True, help="Seed of the generator.")
@click.option("--contacts", "contact_count", default=3000, show_default=True)
def demo(seed: int, contact_count: int) -> None:
    """Load the demo: Ostend and Bruges JAC teams and 't Salon, six months of contacts."""
    from logbook.demo import load_demo

    with _logbook() as app:
        load_demo(app, seed=seed, contact_count=contact_count, echo=lambda m: click.echo(m, err=True))


@main.group()
def retention() -> None:
    """Shred the notes of clients with no contact for the policy's `retention_years`."""


@retention.command("apply")
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the timelines to catch up.")
def apply_retention_command(wait: float) -> None:
    """Shred the notes of every client silent for the retention period; print how many.

    It reads who was silent from the timelines read model, so it first waits
    until that model reflects every recorded event, and refuses otherwise.
    """
    from logbook.retention import apply_retention

    settings = _settings()
    with _logbook() as app, closing(read_models.open_view(settings, "timelines")) as view:
        _wait_until_caught_up(app, view, "timelines", wait, "Nothing was shredded.")
        timelines = cast(TimelineView, view)
        with tqdm(desc="clients", unit=" clients", file=sys.stderr) as bar:
            run = apply_retention(app, timelines.clients_silent_since, bar.update)
    click.echo(
        f"retention {run.retention_years} years: shredded the notes of {run.shredded} of {run.candidates} "
        f"clients with no contact since {run.cutoff.date().isoformat()}", err=True,
    )
    click.echo(run.shredded)


# Operations: `logbook backup` and `logbook restore` are added below this line.


@main.command("backup")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The archive to write (a gzipped tar), replaced if it exists.")
@click.option("--include-keys", is_flag=True,
              help="Put the secret, master and research keys in the archive too: it then opens every note.")
def backup_command(out_path: str, include_keys: bool) -> None:
    """Back up the event store, the key store and the audit log into one archive, online; print its path.

    The web server and the projector may go on running. The read models are not
    in it (a restore rebuilds them), nor the keys unless --include-keys. Delete
    it within 30 days (docs/backup.md): only then is an erasure made since complete.
    """

    from logbook.backup import BackupError, back_up

    settings = _settings()
    if include_keys:
        click.echo("warning: the archive holds the master key: anyone who has it reads every note. "
                   "Keep it apart from the backups of the data.", err=True)
    try:
        backup = back_up(settings, Path(out_path), include_keys=include_keys, now=utc_now())
    except (BackupError, ConfigurationError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up {backup.counts['events']} events, up to position {backup.head_position}, "
               f"{'with' if backup.keys_included else 'without'} the keys, to {out_path}; "
               f"delete it by {backup.delete_by:%Y-%m-%d}", err=True)
    click.echo(out_path)


@main.command("restore")
@click.option("--from", "archive", type=click.Path(exists=True, dir_okay=False), required=True,
              help="An archive written by `logbook backup`.")
@click.option("--force", is_flag=True,
              help="Move the data directory's databases aside, into before-restore-<time>/, rather than refuse.")
def restore_command(archive: str, force: bool) -> None:
    """Restore a backup into the data directory and rebuild the read models; print the last position restored.

    Stop the web server and the projector first. Every file is checked against
    the archive's manifest, and the configured keys against the backup's, before
    anything changes. A data directory that holds data is refused unless --force.
    """

    from logbook.backup import BackupError, restore

    settings = _settings()
    try:
        restored = restore(settings, Path(archive), force=force, now=utc_now())
    except (BackupError, ConfigurationError, OSError) as error:
        raise click.ClickException(str(error)) from None
    backup = restored.backup
    for warning in restored.warnings:
        click.echo(f"warning: {warning}", err=True)
    if restored.moved_aside is not None:
        click.echo(f"moved the data it replaced to {restored.moved_aside}", err=True)
    click.echo(f"restored the backup of {backup.created_at.isoformat(timespec='seconds')} (logbook "
               f"{backup.logbook_version}): {backup.counts['events']} events up to position {backup.head_position}, "
               f"{backup.counts.get('data_keys', 0)} data keys, {backup.counts.get('audit_entries', 0)} audit entries",
               err=True)
    for name, count in _rebuild_restored(settings, backup.head_position).items():
        click.echo(f"rebuilt {name} from {count} events", err=True)
    click.echo("events recorded after the backup are not in it: apply again the erasures made since", err=True)
    click.echo(backup.head_position)


def _rebuild_restored(settings: Settings, head: int) -> dict[str, int]:
    bars = {name: tqdm(total=head, desc=name, unit=" events", file=sys.stderr, position=i)
            for i, name in enumerate(read_models.PROJECTIONS)}
    try:
        return read_models.rebuild_all(settings, utc_now, _progress(bars))
    except (ConfigurationError, UnhandledEventError, read_models.RebuildError) as error:
        raise click.ClickException(f"The backup was restored, but the read models were not rebuilt: {error} "
                                   "Run `logbook projections rebuild`.") from None
    finally:
        for bar in bars.values():
            bar.close()


# Research: `logbook export`, `logbook replay` and `logbook report compare` are added below this line.


class ComparePeriodBound(click.ParamType):
    """A date (midnight in Brussels) or an ISO 8601 date-time with its offset, as the API's ``from`` and ``to``."""

    name = "DATE|DATETIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from logbook.compare import moment_or_date

        try:
            return moment_or_date(value) if isinstance(value, str) else value
        except ValueError:
            self.fail("not a date (2026-05-01) or a date-time with its offset (2026-05-01T09:00:00+02:00).",
                      param, ctx)


@main.group()
def report() -> None:
    """Reports for researchers, in aggregates only."""


@report.command("compare")
@click.option("--by", required=True, type=click.Choice(["site", "team", "profile_kind"]),
              help="What to compare: sites, teams or profile kinds.")
@click.option("--from", "start", type=ComparePeriodBound(), default=None,
              help="Contacts from this date (midnight in Brussels) or date-time with offset, inclusive.")
@click.option("--to", "end", type=ComparePeriodBound(), default=None, help="Contacts before this, exclusive.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="The HTML file to write.")
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the read model to catch up.")
def compare_report(by: str, start: Any, end: Any, out: str, wait: float) -> None:
    """Write one self-contained HTML file comparing sites, teams or profile kinds.

    It reads the boundaries read model, so it first waits until that model
    reflects every recorded event, and refuses, writing nothing, otherwise.
    The same events give the same file, byte for byte.
    """
    from logbook.compare import compare
    from logbook.compare_html import render
    from projections.boundaries import BoundaryView

    if start is not None and end is not None and start >= end:
        raise click.BadParameter("must be later than --from.", param_hint="--to")
    settings = _settings()
    with _logbook() as app, closing(read_models.open_view(settings, "boundaries")) as view:
        _wait_until_caught_up(app, view, "boundaries", wait, "Nothing was written.")
        comparison = compare(app, cast(BoundaryView, view), by=by, start=start, end=end)
    try:
        write_bytes_whole(Path(out), render(comparison).encode("utf-8"))
    except OSError as error:
        raise click.ClickException(f"Cannot write {out}: {error.strerror}.") from None
    click.echo(f"wrote {out}: {len(comparison.groups)} groups, events up to position {comparison.position}, "
               f"{comparison.events_digest}", err=True)


@main.command("replay")
@click.option("--until", "until_text", required=True, metavar="DATETIME",
              help="Replay the events recorded at or before this ISO 8601 date-time, given with its offset.")
@click.option("--policy", "policy_spec", required=True, metavar="VERSION|FILE",
              help="The one policy that judges every contact: a version (sector-agreement-2019 or a published "
                   "one) or a JSON file holding a policy body, as POST /api/v1/policies takes it.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Where report.json goes.")
def replay_command(until_text: str, policy_spec: str, out_dir: str) -> None:
    """Replay the history as of a moment under one policy; write DIR/report.json and print its path.

    The read models are rebuilt in DIR/scratch, never over the live ones, and
    deleted once the report is written. The same events and policy give the same bytes.
    """

    from events.errors import InvalidInputError
    from logbook.replay import as_moment, policy_from_spec, replay

    try:
        until = as_moment(until_text)
    except ValueError:
        raise click.BadParameter("Must be an ISO 8601 date-time with its UTC offset, such as "
                                 "2026-08-20T15:30:00+02:00.", param_hint="'--until'") from None
    settings = _settings()
    with _logbook() as app:
        try:
            policy = policy_from_spec(app.policies(), policy_spec)
        except InvalidInputError as error:
            where = "" if error.field == "policy" else f"{error.field}: "
            raise click.BadParameter(f"{where}{error.message}", param_hint="'--policy'") from None
        total = app.head_position()
    with _projecting():
        settings.require_research_key()
        with tqdm(total=total, desc="replay", unit=" events", file=sys.stderr) as bar:
            report = replay(settings, until, policy, Path(out_dir), bar.update)
    click.echo(f"replayed {report.events} of {report.read} events, up to position {report.position}, "
               f"under {report.policy_version}: {report.events_digest}", err=True)
    click.echo(report.path)


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), required=True)
@click.option("--from", "start", default=None, metavar="DATE|DATETIME",
              help="Contacts that occurred from then on (a date is midnight in Brussels) [default: the first].")
@click.option("--to", "end", default=None, metavar="DATE|DATETIME",
              help="Contacts that occurred before then, exclusive [default: the last].")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), required=True)
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the read models to catch up.")
def export_command(fmt: str, start: str | None, end: str | None, out_path: str, wait: float) -> None:
    """Export the contacts of a period, pseudonymised for research; print how many.

    One row per contact, as corrected, retracted ones flagged (docs/data-dictionary.md).
    The export is recorded in the access audit as account 'operator', role admin,
    address 'cli'. It first waits until both read models reflect every recorded
    event, and refuses otherwise; a failed export leaves no file.
    """
    from logbook.audit import AuditAction, AuditEntry, AuditUnavailableError
    from logbook.export import ExportError, PeriodError, export_contacts, parse_period

    try:
        period = parse_period(start, end)
    except PeriodError as error:
        raise click.BadParameter(str(error), param_hint=error.option) from None
    entry = AuditEntry("operator", Role.ADMIN, AuditAction.EXPORT, None, None, utc_now(), "cli")
    bar: list[tqdm[Any]] = []

    def advance(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, desc="contacts", unit=" contacts", file=sys.stderr))
        bar[0].update(done - bar[0].n)
    try:
        count = export_contacts(_settings(), fmt, *period, out_path, advance, wait=wait, audit=entry)
    except (ExportError, ConfigurationError, AuditUnavailableError, OSError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        for each in bar:
            each.close()
    click.echo(f"exported {count} contacts that occurred in [{start or 'the first'}, {end or 'the last'}) "
               f"as {fmt} to {out_path}; recorded in the access audit", err=True)
    click.echo(count)


@main.group()
def projections() -> None:
    """Keep the read models (timelines, boundary crossings) up to date."""


@projections.command("run")
def run_projections() -> None:
    """Follow the store and keep every read model up to date, until stopped (SIGTERM or Ctrl-C)."""
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    click.echo("projector following the store; stop with Ctrl-C", err=True)
    with _projecting():
        read_models.run(_settings(), utc_now, stop, waiting=lambda names: click.echo(
            f"waiting for projection(s) {', '.join(names)}, run by another projector; taking over when it stops",
            err=True))


@projections.command("rebuild")
@click.argument("name", required=False, type=click.Choice(list(read_models.PROJECTIONS)))
def rebuild_projections(name: str | None) -> None:
    """Rebuild one read model (or all, side by side) from the first event to the last; never asks."""
    settings = _settings()
    names = [name] if name else list(read_models.PROJECTIONS)
    total = _head(settings)
    bars = {each: tqdm(total=total, desc=each, unit=" events", file=sys.stderr, position=i)
            for i, each in enumerate(names)}
    advance = _progress(bars)
    with _projecting():
        if name:
            counts = {name: read_models.rebuild(settings, name, utc_now, lambda count: advance(name, count))}
        else:
            counts = read_models.rebuild_all(settings, utc_now, advance)
    for each, bar in bars.items():
        bar.close()
        click.echo(f"rebuilt {each} from {counts[each]} events", err=True)


def _wait_until_caught_up(app: Logbook, view: View, name: str, wait: float, nothing_done: str) -> None:
    """Waits until the read model reflects every recorded event; refuses with a message otherwise."""
    head = app.head_position()
    if not view.wait_for(head, timeout=wait):
        raise click.ClickException(
            f"The {name} read model is at position {view.position()} of {head}: "
            f"run `logbook projections run` or `rebuild {name}` first. {nothing_done}"
        )


def _progress(bars: dict[str, tqdm[Any]]) -> Callable[[str, int], None]:
    def advance(name: str, count: int) -> None:
        bars[name].update(count)
    return advance


def _head(settings: Settings) -> int:
    store = EventStore(settings)
    try:
        return store.recorder.max_notification_id() or 0
    finally:
        store.close()


@contextmanager
def _projecting() -> Iterator[None]:
    """Errors of a projection become a message and exit code 1: it stopped, nothing was skipped."""
    try:
        yield
    except (ConfigurationError, UnhandledEventError, read_models.RebuildError, read_models.ProjectorLostError) as error:
        raise click.ClickException(str(error)) from None


@contextmanager
def _logbook() -> Iterator[Logbook]:
    """The application for a command, with errors turned into messages and exit codes."""
    try:
        app = Logbook(_settings())
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    try:
        yield app
    except LogbookError as error:
        raise click.ClickException(error.message) from None
    finally:
        app.close()


def _settings() -> Settings:
    try:
        return Settings.from_environ()
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
