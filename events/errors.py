"""The domain's errors: one hierarchy, each class saying when it is raised.

Each error carries a machine-readable ``code`` and, where one input field is at
fault, the name of that ``field``. Messages never contain client refs, notes or
tokens: they are shown to people and may reach logs.
"""

from __future__ import annotations


class LogbookError(Exception):
    """Base class of every error the domain and the application raise on purpose."""

    code = "logbook_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInputError(LogbookError):
    """Raised when a value breaks a rule of the domain (answered as 422)."""

    code = "invalid"


class ContactInFutureError(InvalidInputError):
    """Raised when a contact would have occurred more than 5 minutes from now."""

    code = "contact_in_future"


class UnknownReferenceError(InvalidInputError):
    """Raised when an input names a team, profile or account that does not exist."""

    code = "unknown_reference"


class ProfileUsersError(InvalidInputError):
    """Raised when a profile's users do not fit its kind or its team."""

    code = "invalid_profile_users"


class InvalidCorrectionError(InvalidInputError):
    """Raised when a correction changes nothing or a field that cannot be corrected."""

    code = "invalid_correction"


class AccountShapeError(InvalidInputError):
    """Raised when an account's team, function or intern flag do not fit its role."""

    code = "invalid_account"


class NotAllowedError(LogbookError):
    """Base of the refusals of an identified actor (answered as 403)."""

    code = "forbidden"


class RoleNotAllowedError(NotAllowedError):
    """Raised when the actor's role may not perform the command at all."""

    code = "role_not_allowed"


class ProfileNotAllowedError(NotAllowedError):
    """Raised when an account logs through a profile it is not a user of."""

    code = "profile_not_allowed"


class NotAuthorError(NotAllowedError):
    """Raised when a worker amends a contact logged by someone else."""

    code = "not_author"


class NotAccountHolderError(NotAllowedError):
    """Raised when someone other than the account itself or an admin manages the account's tokens."""

    code = "not_account_holder"


class NotFoundError(LogbookError):
    """Base of the lookups that find nothing the actor may see (answered as 404)."""

    code = "not_found"


class ConflictError(LogbookError):
    """Base of the commands that clash with what is recorded (answered as 409)."""

    code = "conflict"


class AlreadyExistsError(ConflictError):
    """Raised when a team, account or profile id is taken."""

    code = "already_exists"


class ContactIdConflictError(ConflictError):
    """Raised when a contact id is reused with another body or by another account."""

    code = "contact_id_conflict"


class ContactRetractedError(ConflictError):
    """Raised when a retracted contact is corrected or retracted again."""

    code = "contact_retracted"


class FollowUpCompletedError(ConflictError):
    """Raised when a follow-up that is already completed is completed again."""

    code = "follow_up_completed"


class AccountDeactivatedError(ConflictError):
    """Raised when a deactivated account is deactivated again or given a new token."""

    code = "account_deactivated"


class SelfDeactivationError(ConflictError):
    """Raised when an admin deactivates their own account, which would leave it without a way back."""

    code = "self_deactivation"


class ClientErasedError(ConflictError):
    """Raised when a client is erased again with nothing recorded to erase since the last erasure."""

    code = "client_erased"
