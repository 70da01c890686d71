"""Every error answers ``{"error": {"code", "message", "fields"}}``.

One module maps the domain's errors and HTTP's to statuses, once.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import traceback
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from flask import Flask, Response, jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

from events.errors import (
    ConflictError,
    InvalidInputError,
    LogbookError,
    NotAllowedError,
    NotFoundError,
)
from logbook.audit import AuditUnavailableError
from logbook.config import ConfigurationError

log = logging.getLogger(__name__)

STATUS_OF_DOMAIN_ERROR: tuple[tuple[type[LogbookError], int], ...] = (
    (InvalidInputError, 422),
    (NotAllowedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
)

CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    507: "insufficient_storage",
}

OUT_OF_SPACE_RETRY_AFTER_SECONDS = 60
"""Space comes back when someone frees it, not in a second: clients need not hammer a full disk."""
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
UNAVAILABLE_SQLITE_CODES = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_READONLY,
})
"""SQLite's answers that mean a file beside the store cannot be used now, not that the code is wrong."""


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Machine-readable, such as contact_in_future"})
    message = fields.String(required=True, metadata={"description": "For people; never quotes input"})
    field_messages = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True, data_key="fields",
        metadata={"description": "For 422, each faulty field's messages; otherwise empty"},
    )


class ErrorSchema(Schema):
    """The one shape of every error answer, documented in the OpenAPI document."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class ApiError(HTTPException):
    """An HTTP error with our own code and message, raised where HTTP decides (auth, body)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.extra_headers = headers or {}


def error_response(
    status: int, code: str, message: str, fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(LogbookError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _domain_error(error: LogbookError) -> Response:
    status = next(s for cls, s in STATUS_OF_DOMAIN_ERROR if isinstance(error, cls))
    fields = {error.field: [error.message]} if error.field and status == 422 else {}
    return error_response(status, error.code, error.message, fields)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, ApiError):
        return error_response(status, error.error_code, error.description or "", None, error.extra_headers)
    messages = (getattr(error, "data", None) or {}).get("messages")
    if status == 422 and messages:
        return error_response(422, "validation_error", "Some fields are invalid.", _flatten(messages))
    headers = dict(error.get_headers()) if status == 405 else {}
    headers.pop("Content-Type", None)
    return error_response(status, CODE_OF_STATUS.get(status, "http_error"), error.description or "", None, headers)


def _unexpected_error(error: Exception) -> Response:
    if isinstance(error, ConfigurationError):
        log.error("configuration error: %s", error)
        return error_response(503, "unavailable", "The logbook is not configured.")
    full = _out_of_space(error)
    if full is not None:
        # The event store, the key store, the audit log, the throttle or the account signal:
        # which one is in the frames; SQLite's or the system's name of the fault, never a path or input.
        log.error("out of space (%s) while answering a request at %s", full, _where(error))
        return error_response(507, "insufficient_storage", "The store is out of space; try again later.",
                              headers={"Retry-After": str(OUT_OF_SPACE_RETRY_AFTER_SECONDS)})
    if isinstance(error, (OperationalError, InterfaceError)) or _sqlite_unavailable(error):
        # The database's own words ("database is locked", "disk I/O error", "connection refused") quote no input.
        log.error("store unavailable: %s", error)
        return error_response(503, "unavailable", "The store is unavailable; try again.",
                              headers={"Retry-After": "1"})
    if isinstance(error, AuditUnavailableError):
        # Never answer a read unaudited; its message holds SQLite's words, which quote no input.
        log.error("%s", error)
        return error_response(503, "unavailable", "The audit log is unavailable; try again.",
                              headers={"Retry-After": "1"})
    # The class and the frames are logged, never the text: it might quote input.
    log.error("unexpected %s while answering a request at %s", type(error).__name__, _where(error))
    return error_response(500, "internal_error", InternalServerError.description)


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)[-8:]
    return " <- ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames))


def _out_of_space(error: BaseException) -> str | None:
    """SQLite's or the system's name for a full disk (or quota) behind ``error``, or None.

    The event store's errors wrap SQLite's, and the audit log's wrap SQLite's or
    the system's, so the chain of causes is followed.
    """
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.errno in OUT_OF_SPACE_ERRNOS:
            return errno.errorcode[cause.errno]
        if isinstance(cause, sqlite3.Error) and _primary_code(cause) == sqlite3.SQLITE_FULL:
            return "SQLITE_FULL"
        if isinstance(cause, (sqlite3.OperationalError, OperationalError)) and "disk is full" in str(cause):
            return "SQLITE_FULL"
    return None


def _sqlite_unavailable(error: BaseException) -> bool:
    """True for SQLite's own error from a file beside the store (keys, throttle) that cannot be used now."""
    return isinstance(error, sqlite3.OperationalError) and _primary_code(error) in UNAVAILABLE_SQLITE_CODES


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF  # the extended code's low byte is the primary one


def _causes(error: BaseException, limit: int = 8) -> list[BaseException]:
    """The error and what it was raised from or while handling, nearest first, each once."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < limit and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _flatten(messages: dict[str, Any]) -> dict[str, list[str]]:
    """webargs' nested messages, per location, as one flat map of dotted field names."""
    flat: dict[str, list[str]] = {}
    for location_messages in messages.values():
        _flatten_into(flat, "", location_messages)
    return flat


def _flatten_into(flat: dict[str, list[str]], prefix: str, messages: Any) -> None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "body" if key == "_schema" and not prefix else str(key)
            _flatten_into(flat, f"{prefix}.{name}" if prefix else name, value)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat.setdefault(prefix, []).extend(messages)
    else:
        flat.setdefault(prefix, []).append(str(messages))
