"""What every request passes before its view: size, token, role, and JSON body.

The order is the contract: 413 before anything is read, then 401 (or 429 for
an address that failed to authenticate too often), then 403 for a role the
action does not allow, then 415 and 400 for the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from flask import Flask, Request, current_app, g, request

from api.errors import ApiError
from api.extension import logbook
from events.account import Account
from logbook import access
from logbook.access import Action
from logbook.throttle import Throttle, throttle_path

MAX_BODY_BYTES = 65_536
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
PUBLIC_BLUEPRINTS = frozenset({"api-docs"})
"""flask-smorest's OpenAPI document and browsable docs answer without a token."""

F = TypeVar("F", bound=Callable[..., Any])


def allow(action: Action) -> Callable[[F], F]:
    """Marks a view with the action it performs; the guard checks the actor's role for it."""
    def mark(view: F) -> F:
        view.logbook_action = action  # type: ignore[attr-defined]
        return view
    return mark


def accepts_body_up_to(max_bytes: int) -> Callable[[F], F]:
    """Marks a view that accepts a body larger than `MAX_BODY_BYTES`, up to ``max_bytes``."""
    def mark(view: F) -> F:
        view.logbook_max_body_bytes = max_bytes  # type: ignore[attr-defined]
        return view
    return mark


def public(view: F) -> F:
    """Marks a view that answers without a token."""
    view.logbook_public = True  # type: ignore[attr-defined]
    return view


def register_guard(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    settings = app.extensions["logbook"].settings
    app.extensions["throttle"] = Throttle(throttle_path(settings), app.extensions["clock"])
    app.before_request(_guard)


def actor() -> Account:
    """The account whose token authenticated this request."""
    return g.actor


def _guard() -> None:
    # The request itself, not flask's proxy to it: every attribute read through the proxy costs a look-up.
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    view = current_app.view_functions.get(req.endpoint or "")
    _check_size(req, getattr(view, "logbook_max_body_bytes", MAX_BODY_BYTES))
    if view is None or req.blueprint in PUBLIC_BLUEPRINTS or getattr(view, "logbook_public", False):
        return
    g.actor = actor = _authenticated(req)
    action = getattr(view, "logbook_action", None)
    if action is not None:
        access.require(actor, action)
    if req.method in BODY_METHODS:
        _check_json_object(req)


def _check_size(req: Request, limit: int) -> None:
    """Refuses a body over the view's limit, by its declared length or, when chunked, by reading it."""
    req.max_content_length = limit + 1  # werkzeug reads no more: a chunked body stops one byte past ours
    length = req.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        return
    if req.method in BODY_METHODS and len(req.get_data(cache=True)) > limit:
        raise _too_large(limit)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The body exceeds {limit} bytes.")


def _authenticated(req: Request) -> Account:
    scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
    account = logbook().authenticate(token.strip()) if scheme.lower() == "bearer" and token else None
    if account is None:
        _refuse_unauthenticated()
    return account


def _refuse_unauthenticated() -> NoReturn:
    """401, counted against the address; 429 once the address failed too often (a valid token never gets here)."""
    throttle: Throttle = current_app.extensions["throttle"]
    wait = throttle.failed(request.remote_addr or "unknown")
    if wait is not None:
        raise ApiError(
            429, "too_many_requests", "Too many failed authentications from this address; try again later.",
            {"Retry-After": str(wait)},
        )
    raise ApiError(
        401, "unauthorized", "A valid bearer token is required.",
        {"WWW-Authenticate": 'Bearer realm="logbook"'},
    )


def _check_json_object(req: Request) -> None:
    if not req.is_json:
        raise ApiError(415, "unsupported_media_type", "The body must be JSON (Content-Type: application/json).")
    try:
        body = json.loads(req.get_data(cache=True))
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    g.json_body = body
