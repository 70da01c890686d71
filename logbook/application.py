"""The logbook application: each method is one command or query."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import IntegrityError

from events import AccessToken, Account, Client, Contact, Policy, Profile, Review, Team
from events.contact import check_note
from events.errors import (
    AlreadyExistsError,
    ContactIdConflictError,
    LogbookError,
    NotFoundError,
    ProfileUsersError,
    UnknownReferenceError,
)
from events.identifiers import slug_uuid
from events.listings import PolicyListed, ProfileListed, TeamListed
from events.policy import SECTOR_AGREEMENT_2019, PolicyHistory, PolicyTerms
from events.vocabulary import Channel, Direction, Function, Nature, ProfileKind, Role, Service, Verdict
from logbook import access
from logbook.access import Action
from logbook.account_cache import SIGNAL_FILE, AccountCache, ChangeSignal
from logbook.config import Settings
from logbook.group_commit import GroupCommit
from logbook.keys import KeyStore, key_store_path
from logbook.notes import Notes, SealedNote, SealedText, TextKind
from logbook.pseudonyms import client_id_for
from logbook.store import EventStore, count_stored_events, events_with_positions
from logbook.tokens import new_token, token_digest, token_id, token_lifetime

T = TypeVar("T")
L = TypeVar("L", bound=DomainEvent)

MAX_ATTEMPTS = 20
"""How often a command is retried when another request changed the same aggregate first."""
MET_REMEMBERED = 100_000
"""How many (client, team) pairs a process remembers as met, sparing a read of the client at each contact.
Beyond it the memory starts afresh: a web worker of a sector-wide deployment lives on through hundreds of
thousands of clients, and forgetting costs one read of a client's events."""

TEAMS_LOG_ID = UUID("0c3f1a5e-8d6b-4b1e-9f0e-7a2d4c5b6e01")


POLICIES_LOG_ID = UUID("6e2d9b47-3f1c-4a8e-b5d0-9c7a1e4f2b03")


@dataclass(frozen=True)
class ContactDraft:
    """What a worker says about a contact, before the server adds what it knows."""

    client_ref: str
    profile_id: str
    direction: Direction
    nature: Nature
    occurred_at: datetime
    contact_id: UUID | None = None
    thread: str | None = None
    message_count: int = 1
    duration_minutes: int | None = None
    topics: list[str] = field(default_factory=list)
    note: str | None = None
    """For the worker's own follow-up; sealed with the client's key before it is recorded."""


@dataclass(frozen=True)
class Receipt:
    """Where a command's event landed: its position in the total order and when."""

    position: int
    recorded_at: datetime


@dataclass(frozen=True)
class ContactReceipt(Receipt):
    contact_id: UUID
    client_id: UUID
    created: bool
    """False when the request repeated an earlier one with the same contact id."""


@dataclass(frozen=True)
class ContactRecord:
    """A contact's current state and its history of events with their positions."""

    contact: Contact
    history: list[tuple[int, Any]]
    note: str | None
    """In clear only for the team that wrote it, and only while the client's key exists."""
    note_erased: bool
    """The client was erased, or its notes expired, after this contact was logged."""
    reasons: dict[int, str | None]
    """The reason of each correction and retraction, by position; None once the client's key is destroyed."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Logbook(EventStore):
    """Records contacts, corrections, retractions and follow-ups as immutable events."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self._secret_key = settings.require_secret_key()
        super().__init__(settings)
        self._teams_log = EventSourcedLog(self.events, TEAMS_LOG_ID, TeamListed)
        # Teams, profiles, policies and token-to-account links never change once
        # recorded, and the teams that met a client only grow: caching them can
        # never go stale. Accounts do change (tokens, deactivation): their cache
        # catches up with the store on every read.
        self._directory: dict[UUID, Any] = {}
        self._met: set[tuple[UUID, str]] = set()
        self._notes: Notes | None = None
        self._notes_lock = threading.Lock()
        self._group_commit = GroupCommit(self._log_contacts, settings.group_commit_wait_ms / 1000)
        self._account_changes  # noqa: B018 - made now, while there is room for the file: bumps overwrite it

    def close(self) -> None:
        if self._notes is not None:
            self._notes.close()
        super().close()

    # Directory: teams, accounts, profiles, tokens.

    def register_team(
        self, *, team_id: str, name: str, organisation: str, site: str, service: Service
    ) -> Team:
        """Registers a team of a CAW's service at one site."""
        def attempt() -> Team:
            team = Team.register(
                team_id=team_id, name=name, organisation=organisation, site=site,
                service=service, now=self.clock(),
            )
            listed = _listing(self._teams_log, team.created_on, team_id=team_id)
            self._save_new(team, listed, what=f"team '{team_id}'")
            return team
        return _retrying(attempt)

    def list_teams(self) -> list[Team]:
        """All teams, in the order they were registered."""
        return [self.team(entry.team_id) for entry in self._teams_log.get()]

    def team(self, team_id: str) -> Team:
        return self._directory_entry(Team, Team.id_for(team_id), "team_id", team_id)

    def add_account(
        self,
        *,
        account_id: str,
        name: str,
        role: Role,
        team_id: str | None = None,
        function: Function | None = None,
        intern: bool = False,
    ) -> tuple[Account, str]:
        """Registers an account and issues its first token, which is returned once."""
        if team_id is not None:
            self.team(team_id)
        account = Account.register(
            account_id=account_id, name=name, role=role, team_id=team_id,
            function=function, intern=intern, now=self.clock(),
        )
        token = new_token()
        issued = self._record_token(account, token)
        self._save_new(account, issued, what=f"account '{account_id}'")
        return account, token

    def account(self, account_id: str) -> Account:
        """The account as recorded now: another process may have revoked its tokens or deactivated it."""
        account = self._account_cache.latest(Account.id_for(account_id))
        if account is None:
            raise UnknownReferenceError(f"No account '{account_id}'.", field="account_id")
        return account

    def issue_token(self, account_id: str) -> str:
        """Issues another token for an active account, beside its others; the token is returned once."""
        def attempt() -> str:
            account = self._stored_account(account_id)
            token = new_token()
            self.save(account, self._record_token(account, token))
            return token
        return _retrying(attempt)

    def rotate_token(self, actor: Account, account_id: str) -> str:
        """Issues a new token for an account and revokes all its earlier ones, in one transaction.

        Rotating replaces rather than adds: whoever rotates because a token may have
        leaked wants the old ones dead the moment the new one exists, and there is no
        moment at which neither works. `issue_token` adds a token beside the others.
        """
        access.require_account_holder_or_admin(actor, account_id)

        def attempt() -> str:
            account, token, now = self._stored_account(account_id), new_token(), self.clock()
            account.rotate_token(token_id=token_id(token), digest=token_digest(token),
                                 lifetime=token_lifetime(self.settings), now=now)
            self.save(account, AccessToken.issue(token_id=token_id(token), account_id=account_id, now=now))
            return token
        token = _retrying(attempt)
        self._account_changes.bump()
        return token

    def revoke_tokens(self, actor: Account | None, account_id: str) -> int:
        """Revokes every token of an account; returns how many still worked. No actor: the command line."""
        if actor is not None:
            access.require_account_holder_or_admin(actor, account_id)

        def attempt() -> int:
            account = self._stored_account(account_id)
            revoked = account.revoke_tokens(lifetime=token_lifetime(self.settings), now=self.clock())
            self.save(account)
            return revoked
        revoked = _retrying(attempt)
        self._account_changes.bump()
        return revoked

    def deactivate_account(self, actor: Account | None, account_id: str) -> Account:
        """Deactivates an account (admin); its tokens stop working at once. No actor: the command line."""
        if actor is not None:
            access.require(actor, Action.ADMINISTER)

        def attempt() -> Account:
            account = self._stored_account(account_id)
            account.deactivate(deactivated_by=actor.account_id if actor is not None else None, now=self.clock())
            self.save(account)
            return account
        deactivated = _retrying(attempt)
        self._account_changes.bump()
        return deactivated

    def authenticate(self, token: str) -> Account | None:
        """The active account a live bearer token belongs to; None for a token unknown, revoked or expired."""
        digest = token_digest(token)
        try:
            issued = self._directory_entry(AccessToken, token_id(token), "token", "")
        except UnknownReferenceError:
            return None
        account = self._account_cache.latest(Account.id_for(issued.account_id))
        if account is not None and issued.id not in account.tokens:
            account = self._account_cache.latest(account.id, fresh=True)  # issued by another process
        live = account is not None and account.authenticates(
            token_id=issued.id, digest=digest, lifetime=token_lifetime(self.settings), now=self.clock(),
        )
        return account if live else None

    @cached_property
    def _account_changes(self) -> ChangeSignal:
        return ChangeSignal(self.settings.data_dir / SIGNAL_FILE)

    @cached_property
    def _account_cache(self) -> AccountCache:
        # Accounts change (tokens, deactivation), so they are not kept in `_directory`.
        return AccountCache(self, self._account_changes)

    def _stored_account(self, account_id: str) -> Account:
        """The account read afresh from the store, to record a change to it."""
        try:
            account: Any = self.repository.get(Account.id_for(account_id))
        except AggregateNotFoundError:
            raise NotFoundError("No such account.") from None
        if not isinstance(account, Account):
            raise NotFoundError("No such account.")
        return account

    def _record_token(self, account: Account, token: str) -> AccessToken:
        """Records a new token on its account; returns the token's entry, by which it is found."""
        now = self.clock()
        account.issue_token(token_id=token_id(token), digest=token_digest(token), now=now)
        return AccessToken.issue(token_id=token_id(token), account_id=account.account_id, now=now)

    def register_profile(
        self,
        *,
        profile_id: str,
        channel: Channel,
        kind: ProfileKind,
        team_id: str,
        users: list[str],
    ) -> Profile:
        """Registers a Messenger or WhatsApp identity of a team and the accounts that use it."""
        self.team(team_id)
        for account_id in users:
            self._check_profile_user(account_id, team_id)

        def attempt() -> Profile:
            profile = Profile.register(
                profile_id=profile_id, channel=channel, kind=kind, team_id=team_id,
                users=users, now=self.clock(),
            )
            listed = _listing(self._profiles_log(team_id), profile.created_on, profile_id=profile_id)
            self._save_new(profile, listed, what=f"profile '{profile_id}'")
            return profile
        return _retrying(attempt)

    def profile(self, profile_id: str) -> Profile:
        return self._directory_entry(Profile, Profile.id_for(profile_id), "profile_id", profile_id)

    def usable_profiles(self, actor: Account) -> list[Profile]:
        """The profiles the actor may log contacts through, in the order they were registered."""
        if actor.team_id is None:
            return []
        profiles = (self.profile(entry.profile_id) for entry in self._profiles_log(actor.team_id).get())
        return [profile for profile in profiles if actor.account_id in profile.users]

    # Contacts.

    def log_contact(self, actor: Account, draft: ContactDraft) -> ContactReceipt:
        """Records a contact; a repeat of an earlier request with its contact id is answered, not stored.

        Contacts that other threads of this process log at the same time are
        written in the same transaction (`GroupCommit`); each is answered alone.
        """
        access.require(actor, Action.LOG_CONTACT)
        outcome = self._group_commit.submit((actor, draft), key=draft.contact_id)
        if isinstance(outcome, LogbookError):
            raise outcome
        return outcome

    def log_contacts(self, actor: Account, drafts: Sequence[ContactDraft]) -> list[ContactReceipt | LogbookError]:
        """Records a batch of contacts in one transaction; each is answered as `log_contact` answers it, or refused.

        A contact id used by an earlier contact of the batch is a conflict.
        """
        access.require(actor, Action.LOG_CONTACT)
        return self._log_contacts([(actor, draft) for draft in drafts])

    def _log_contacts(self, requests: Sequence[tuple[Account, ContactDraft]]) -> list[ContactReceipt | LogbookError]:
        """Records contacts, each with the account that logs it, in one transaction; answers each.

        The save finds out whether a contact id (without a note) is taken: when
        it, or another request's client, was written first, every contact is
        checked again, repeats first.
        """
        contact_ids = [draft.contact_id or uuid4() for _, draft in requests]
        sealed: dict[int, SealedNote] = {}  # by index: sealed once, as `log_contact` seals before its attempts
        attempts = 0

        def attempt() -> list[ContactReceipt | LogbookError]:
            nonlocal attempts
            attempts += 1
            batch = _ContactBatch(self.clock(), ids_may_be_taken=attempts > 1)
            for index, ((actor, draft), contact_id) in enumerate(zip(requests, contact_ids, strict=True)):
                try:
                    batch.outcomes.append(self._batch_contact(actor, batch, draft, contact_id, index, sealed))
                except LogbookError as refusal:
                    batch.outcomes.append(refusal)
            return self._save_batch(batch)
        return _retrying(attempt)

    def contact_record(self, actor: Account, contact_id: UUID) -> ContactRecord:
        """A contact of the actor's team, as it is now, with its history."""
        access.require(actor, Action.READ_CONTACT)
        history = events_with_positions(self, contact_id)
        if not history or not isinstance(history[0][1], Contact.Logged):
            raise NotFoundError("No such contact.")
        contact: Contact | None = None
        for _, event in history:
            contact = event.mutate(contact)
        assert contact is not None
        self._check_contact_in_scope(actor, contact)
        note_erased = self._shredded_after(contact.client_id, history[0][0])
        note = None if note_erased else self._readable_note(actor, contact)
        reasons = {
            position: self._reason_of(contact, event) for position, event in history
            if isinstance(event, (Contact.Corrected, Contact.Retracted))
        }
        return ContactRecord(contact, history, note, note_erased, reasons)

    def correct_contact(
        self, actor: Account, contact_id: UUID, changes: dict[str, Any], reason: str
    ) -> Receipt:
        """Records a correction of a contact by its author or a team lead of its team."""
        access.require(actor, Action.AMEND_CONTACT)

        def correct(contact: Contact, now: datetime) -> None:
            contact.check_correctable(changes=changes, account=actor, now=now)
            sealed = self.notes.seal_text(contact.client_id, contact.id, TextKind.REASON, reason)
            contact.correct(changes=changes, reason_key_id=sealed.key_id, sealed_reason=sealed.sealed,
                            account=actor, now=now)
        return self._amend_contact(actor, contact_id, correct)

    def retract_contact(self, actor: Account, contact_id: UUID, reason: str) -> Receipt:
        """Records that a contact should not have been logged; it stays in the history."""
        access.require(actor, Action.AMEND_CONTACT)

        def retract(contact: Contact, now: datetime) -> None:
            contact.check_amendable(actor)
            sealed = self.notes.seal_text(contact.client_id, contact.id, TextKind.REASON, reason)
            contact.retract(reason_key_id=sealed.key_id, sealed_reason=sealed.sealed, account=actor, now=now)
        return self._amend_contact(actor, contact_id, retract)

    def _reason_of(self, contact: Contact, event: Contact.Corrected | Contact.Retracted) -> str | None:
        if event.sealed_reason is None or event.reason_key_id is None:
            return event.reason  # recorded before reasons were sealed
        return self.notes.open_text(
            SealedText(contact.client_id, contact.id, TextKind.REASON, event.reason_key_id, event.sealed_reason)
        )

    # Notes.

    @property
    def notes(self) -> Notes:
        """The sealer of notes; it needs the master key, so it is opened at the first note."""
        with self._notes_lock:  # threads of one process share it
            if self._notes is None:
                keys = KeyStore(key_store_path(self.settings), self.settings.require_master_key())
                self._notes = Notes(keys)
            return self._notes

    def read_notes(self, actor: Account, notes: Iterable[tuple[str, SealedNote]]) -> dict[UUID, str]:
        """The notes the actor may read, by contact id, of (writing team, sealed note) pairs.

        A note missing from the answer is hidden from the actor or was erased.
        """
        readable = {}
        for team_id, sealed in notes:
            if access.may_read_note(actor, team_id):
                clear = self.notes.open(sealed)
                if clear is not None:
                    readable[sealed.contact_id] = clear
        return readable

    def _readable_note(self, actor: Account, contact: Contact) -> str | None:
        if contact.sealed_note is None or contact.note_key_id is None:
            return None
        sealed = SealedNote(contact.client_id, contact.id, contact.note_key_id, contact.sealed_note)
        return self.read_notes(actor, [(contact.team_id, sealed)]).get(contact.id)

    def _shredded_after(self, client_id: UUID, position: int) -> bool:
        """True when the client's notes were erased or expired after the event at ``position``."""
        return any(
            isinstance(event, (Client.Erased, Client.NotesExpired)) and shredded_at > position
            for shredded_at, event in events_with_positions(self, client_id)
        )

    # Clients.

    def erase_client(self, actor: Account, client_id: UUID, reason: str) -> Receipt:
        """Erases a client (GDPR art. 17) by destroying the key of its notes; its contacts stay counted.

        The event is saved before the key is destroyed: if destroying fails, the
        erasure can be asked again, since the key is still there to destroy.
        """
        access.require(actor, Action.ERASE_CLIENT)

        def attempt() -> Receipt:
            client = self._client_in_scope(actor, client_id)
            now = self.clock()
            client.erase(account_id=actor.account_id, reason=reason,
                         holds_notes=self.notes.keys.holds_key(client_id), now=now)
            return Receipt(self.save(client)[-1].notification.id, now)
        receipt = _retrying(attempt)
        self.notes.keys.destroy(client_id)
        return receipt

    def expire_notes(self, client_id: UUID, retention_years: int) -> Receipt | None:
        """Shreds the notes of a client after the retention period; None when it holds none."""
        if not self.notes.keys.holds_key(client_id):
            return None

        def attempt() -> Receipt:
            client: Client = self.repository.get(client_id)
            now = self.clock()
            client.expire_notes(retention_years=retention_years, now=now)
            return Receipt(self.save(client)[-1].notification.id, now)
        receipt = _retrying(attempt)
        self.notes.keys.destroy(client_id)
        return receipt


    def look_up_client(self, actor: Account, client_ref: str) -> UUID:
        """The pseudonymous id of a client ref within the actor's organisation."""
        access.require(actor, Action.LOOK_UP_CLIENT)
        assert actor.team_id is not None
        organisation = self.team(actor.team_id).organisation
        return client_id_for(self._secret_key, organisation, client_ref)

    def plan_follow_up(
        self, actor: Account, client_id: UUID, due: datetime, reason: str,
        follow_up_id: UUID | None = None,
    ) -> tuple[UUID, Receipt]:
        """Plans a follow-up of a client the actor's team has met."""
        access.require(actor, Action.FOLLOW_UP_CLIENT)
        follow_up_id = follow_up_id or uuid4()

        def attempt() -> Receipt:
            client = self._client_in_scope(actor, client_id)
            now = self.clock()
            client.check_plannable(due)
            sealed = self.notes.seal_text(client_id, follow_up_id, TextKind.REASON, reason)
            client.plan_follow_up(
                follow_up_id=follow_up_id, due=due, reason_key_id=sealed.key_id, sealed_reason=sealed.sealed,
                team_id=actor.team_id or "", account_id=actor.account_id, now=now,
            )
            return Receipt(self.save(client)[-1].notification.id, now)
        return follow_up_id, _retrying(attempt)

    def complete_follow_up(self, actor: Account, client_id: UUID, follow_up_id: UUID) -> Receipt:
        """Marks a follow-up of a client the actor's team has met as completed."""
        access.require(actor, Action.FOLLOW_UP_CLIENT)

        def attempt() -> Receipt:
            client = self._client_in_scope(actor, client_id)
            now = self.clock()
            client.complete_follow_up(follow_up_id=follow_up_id, account_id=actor.account_id, now=now)
            return Receipt(self.save(client)[-1].notification.id, now)
        return _retrying(attempt)

    def head_position(self) -> int:
        """The position of the last event recorded; 0 before the first."""
        return self.recorder.max_notification_id() or 0

    def count_events(self) -> int:
        """How many events the store holds (fewer than the head's position on PostgreSQL, whose positions have gaps)."""
        return count_stored_events(self.recorder)

    # Helpers.

    def _directory_entry(self, kind: type[T], aggregate_id: UUID, field_name: str, name: str) -> T:
        entry = self._directory.get(aggregate_id)
        if entry is None:
            try:
                entry = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise UnknownReferenceError(f"No {field_name.replace('_id', '')} '{name}'.", field=field_name) from None
            if not isinstance(entry, kind):
                raise UnknownReferenceError(f"No {field_name.replace('_id', '')} '{name}'.", field=field_name)
            self._directory[aggregate_id] = entry
        return entry

    def _save_new(self, *aggregates: Any, what: str) -> None:
        """Saves newly created aggregates; an id already taken raises `AlreadyExistsError`."""
        try:
            self.save(*aggregates)
        except IntegrityError:
            if self._exists(aggregates[0].id):
                raise AlreadyExistsError(f"There is already a {what}.") from None
            raise

    def _profiles_log(self, team_id: str) -> EventSourcedLog[ProfileListed]:
        return EventSourcedLog(self.events, slug_uuid("profiles-of-team", team_id), ProfileListed)

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _check_profile_user(self, account_id: str, team_id: str) -> None:
        try:
            account = self.account(account_id)
        except UnknownReferenceError:
            raise ProfileUsersError(f"No account '{account_id}'.", field="users") from None
        if not account.belongs_to_a_team or account.team_id != team_id:
            raise ProfileUsersError(
                f"Account '{account_id}' is not a worker or team lead of team '{team_id}'.",
                field="users",
            )

    def _client_meeting(self, client_id: UUID, organisation: str, team_id: str, now: datetime) -> Client | None:
        """The client with a pending record that the team met it, or None when nothing is new."""
        if (client_id, team_id) in self._met:
            return None
        try:
            client: Client = self.repository.get(client_id)
        except AggregateNotFoundError:
            return Client.register(client_id=client_id, organisation=organisation, team_id=team_id, now=now)
        client.meet(team_id=team_id, now=now)
        if not client.pending_events:
            self._remember_met(client_id, team_id)
            return None
        return client

    def _remember_met(self, client_id: UUID, team_id: str) -> None:
        if len(self._met) >= MET_REMEMBERED:
            self._met.clear()
        self._met.add((client_id, team_id))

    def _repeat_of(self, attempted: Contact.Logged, actor: Account, note: str | None) -> ContactReceipt | None:
        """The receipt of an earlier, equal request with this contact id; None if the id is free."""
        history = events_with_positions(self, attempted.originator_id)
        if not history:
            return None
        position, logged = history[0]
        if (
            not isinstance(logged, Contact.Logged)
            or not _same_contact(logged, attempted, actor)
            or self._note_of(logged) != note
        ):
            raise ContactIdConflictError("That contact id was used for another contact.", field="contact_id")
        return ContactReceipt(position, logged.timestamp, logged.originator_id, logged.client_id, created=False)

    def _batch_contact(
        self, actor: Account, batch: _ContactBatch, draft: ContactDraft, contact_id: UUID, index: int,
        sealed: dict[int, SealedNote],
    ) -> Contact | ContactReceipt:
        """A contact of a batch checked in the order `log_contact` checks it: pending, or a repeat's receipt."""
        profile = self.profile(draft.profile_id)
        organisation = self.team(profile.team_id).organisation
        client_id = client_id_for(self._secret_key, organisation, draft.client_ref)
        if draft.note is not None:
            check_note(draft.note)
        Contact.check_loggable(account=actor, profile=profile, occurred_at=draft.occurred_at, now=batch.now)
        batch.claim(contact_id)
        contact = _draft_contact(draft, contact_id, client_id, actor, profile, None, batch.now)
        if draft.contact_id is not None and (draft.note is not None or batch.ids_may_be_taken):
            repeat = self._repeat_of(cast(Contact.Logged, contact.pending_events[0]), actor, draft.note)
            if repeat is not None:
                return repeat
        if draft.note is not None:
            if index not in sealed:
                sealed[index] = self.notes.seal(client_id, contact_id, draft.note)
            contact = _draft_contact(draft, contact_id, client_id, actor, profile, sealed[index], batch.now)
        batch.add(contact, self._batch_client_meeting(batch, client_id, organisation, profile.team_id))
        return contact

    def _batch_client_meeting(
        self, batch: _ContactBatch, client_id: UUID, organisation: str, team_id: str
    ) -> Client | None:
        """As `_client_meeting`, for a client that an earlier contact of the batch may have registered or met."""
        client = batch.clients.get(client_id)
        if client is not None:
            client.meet(team_id=team_id, now=batch.now)  # saved with the client, where it was first pending
            return None
        client = self._client_meeting(client_id, organisation, team_id, batch.now)
        if client is not None:
            batch.clients[client_id] = client
        return client

    def _save_batch(self, batch: _ContactBatch) -> list[ContactReceipt | LogbookError]:
        """Saves the batch's pending contacts and clients with one `save`, and answers each contact."""
        recordings = self.save(*batch.aggregates) if batch.aggregates else []
        positions = {r.domain_event.originator_id: r.notification.id for r in recordings}
        answers: list[ContactReceipt | LogbookError] = []
        for outcome in batch.outcomes:
            if isinstance(outcome, Contact):
                self._remember_met(outcome.client_id, outcome.team_id)
                outcome = ContactReceipt(positions[outcome.id], batch.now, outcome.id, outcome.client_id, created=True)
            answers.append(outcome)
        return answers

    def _note_of(self, logged: Contact.Logged) -> str | None:
        """The note of a recorded contact in clear, to compare a repeated request with; never shown."""
        if logged.sealed_note is None or logged.note_key_id is None:
            return None
        return self.notes.open(SealedNote(logged.client_id, logged.originator_id, logged.note_key_id,
                                          logged.sealed_note))

    def _amend_contact(
        self, actor: Account, contact_id: UUID, amend: Callable[[Contact, datetime], None]
    ) -> Receipt:
        def attempt() -> Receipt:
            contact = self.contact_record(actor, contact_id).contact
            now = self.clock()
            amend(contact, now)
            return Receipt(self.save(contact)[-1].notification.id, now)
        return _retrying(attempt)

    def _check_contact_in_scope(self, actor: Account, contact: Contact) -> None:
        if contact.team_id != actor.team_id:
            raise NotFoundError("No such contact.")

    def _client_in_scope(self, actor: Account, client_id: UUID) -> Client:
        """The client, if the actor's team met it (any client, for an admin); else `NotFoundError`."""
        try:
            client: Client = self.repository.get(client_id)
        except AggregateNotFoundError:
            raise NotFoundError("No such client.") from None
        if not isinstance(client, Client):
            raise NotFoundError("No such client.")
        access.require_client_met(actor, client.teams)
        return client

    # Policies and reviews.

    def publish_policy(self, actor: Account, body: Mapping[str, Any]) -> tuple[PolicyTerms, Receipt]:
        """Publishes a version of the boundary policy; a version is published once and never changes."""
        access.require(actor, Action.PUBLISH_POLICY)

        def attempt() -> tuple[PolicyTerms, Receipt]:
            now = self.clock()
            policy = Policy.publish(body=body, now=now)
            version = policy.terms.version
            listed = _listing(self._policies_log(), now, version=version)
            position = self._save_new_at(policy, listed, what=f"policy version '{version}'")
            return policy.terms, Receipt(position, now)
        return _retrying(attempt)

    def policies(self) -> list[PolicyTerms]:
        """The built-in agreement, then the published versions in the order they were published."""
        return [SECTOR_AGREEMENT_2019, *self._published_policies()]

    def policy_at(self, moment: datetime) -> PolicyTerms:
        """The version of the policy in force at ``moment``."""
        return PolicyHistory(self._published_policies()).at(moment)

    def _published_policies(self) -> list[PolicyTerms]:
        return [self._policy(entry.version).terms for entry in self._policies_log().get()]

    def list_policies(self, actor: Account) -> list[PolicyTerms]:
        """Every version of the policy, the built-in agreement first."""
        access.require(actor, Action.READ_POLICIES)
        return self.policies()

    def record_review(
        self, actor: Account, *, crossing_id: UUID, crossing_team_id: str, crossing_client_id: UUID,
        verdict: Verdict, comment: str,
    ) -> Receipt:
        """Records a team lead's verdict on a boundary crossing of their own team; the comment is sealed
        with the crossing's client's key."""
        access.require(actor, Action.REVIEW_CROSSING)
        Review.check_may_review(actor, crossing_team_id)
        review_id = uuid4()
        sealed = self.notes.seal_text(crossing_client_id, review_id, TextKind.COMMENT, comment)
        now = self.clock()
        review = Review.record(
            review_id=review_id, crossing_id=crossing_id, team_id=crossing_team_id, account=actor,
            verdict=verdict, client_id=crossing_client_id, comment_key_id=sealed.key_id,
            sealed_comment=sealed.sealed, now=now,
        )
        return Receipt(self.save(review)[-1].notification.id, now)

    def read_comments(self, comments: Iterable[SealedText]) -> dict[UUID, str | None]:
        """The comments of reviews in clear, by review id; None once the client's key is destroyed."""
        return {comment.subject_id: self.notes.open_text(comment) for comment in comments}

    def with_comments_opened(self, reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A crossing's reviews as the boundaries view gives them, each sealed comment opened (or null)."""
        opened = self.read_comments(
            SealedText(sealed.client_id, review["review_id"], TextKind.COMMENT, sealed.key_id, sealed.sealed)
            for review in reviews if (sealed := review["sealed_comment"]) is not None
        )
        return [{**review, "comment": opened.get(review["review_id"], review["comment"])} for review in reviews]

    def _policies_log(self) -> EventSourcedLog[PolicyListed]:
        return EventSourcedLog(self.events, POLICIES_LOG_ID, PolicyListed)

    def _policy(self, version: str) -> Policy:
        # Published versions never change: the directory's cache can hold them.
        return self._directory_entry(Policy, Policy.id_for(version), "version", version)

    def _save_new_at(self, aggregate: Any, *others: Any, what: str) -> int:
        """Saves a new aggregate with others and returns its position; a taken id raises `AlreadyExistsError`."""
        try:
            recordings = self.save(aggregate, *others)
        except IntegrityError:
            if self._exists(aggregate.id):
                raise AlreadyExistsError(f"There is already a {what}.") from None
            raise
        return next(r.notification.id for r in recordings if r.domain_event.originator_id == aggregate.id)


_COMPARED_FIELDS = (
    "client_id", "profile_id", "direction", "nature", "occurred_at",
    "thread", "message_count", "duration_minutes", "topics",
)


@dataclass
class _ContactBatch:
    """One attempt at saving a batch of contacts: what each contact came to, and what to save."""

    now: datetime
    ids_may_be_taken: bool
    """False on the first attempt: its save finds out, as `log_contact`'s does (a note's id is looked up first)."""
    outcomes: list[Contact | ContactReceipt | LogbookError] = field(default_factory=list)
    aggregates: list[Contact | Client] = field(default_factory=list)
    """In the order single requests would save them: each contact, then its client if that changed."""
    clients: dict[UUID, Client] = field(default_factory=dict)
    """The clients the batch registers or meets, by id."""
    claimed: set[UUID] = field(default_factory=set)

    def claim(self, contact_id: UUID) -> None:
        """Raises `ContactIdConflictError` when an earlier contact of the batch has that contact id."""
        if contact_id in self.claimed:
            raise ContactIdConflictError("An earlier contact of this batch has that contact id.", field="contact_id")
        self.claimed.add(contact_id)

    def add(self, contact: Contact, client: Client | None) -> None:
        self.aggregates.append(contact)
        if client is not None:
            self.aggregates.append(client)


def _listing(log: EventSourcedLog[L], now: datetime, **entry: Any) -> L:
    """The log's next entry, stamped with the application's clock like every other event.

    The library stamps log entries with the wall clock; a store written with
    another clock (the demo, a test, a replay's store) would then hold entries
    out of its own time.
    """
    return dataclasses.replace(log.trigger_event(**entry), timestamp=now)


def _draft_contact(
    draft: ContactDraft, contact_id: UUID, client_id: UUID, actor: Account, profile: Profile,
    sealed: SealedNote | None, now: datetime,
) -> Contact:
    return Contact.log(
        contact_id=contact_id, client_id=client_id, account=actor, profile=profile,
        direction=draft.direction, nature=draft.nature, occurred_at=draft.occurred_at,
        thread=draft.thread, message_count=draft.message_count,
        duration_minutes=draft.duration_minutes, topics=draft.topics,
        note_key_id=sealed.key_id if sealed else None, sealed_note=sealed.sealed if sealed else None,
        now=now,
    )


def _same_contact(logged: Contact.Logged, attempted: Contact.Logged, actor: Account) -> bool:
    """True when a repeat says exactly what the recorded contact says, from the same account."""
    if logged.account_id != actor.account_id:
        return False
    return all(getattr(logged, name) == getattr(attempted, name) for name in _COMPARED_FIELDS)


def _retrying(attempt: Callable[[], T]) -> T:
    """Runs ``attempt`` again while another writer changed the same aggregate first."""
    for number in range(1, MAX_ATTEMPTS + 1):
        try:
            return attempt()
        except IntegrityError:
            if number == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.002 * number))
    raise AssertionError("unreachable")
