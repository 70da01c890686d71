"""HTTP for the logbook: the app factory, one blueprint per resource."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from flask_smorest import Api

from api.errors import ErrorSchema, register_error_handlers
from api.extension import LogbookHolder
from api.guard import register_guard
from api.read_models import ViewHolder
from logbook.application import utc_now
from logbook.audit import audit_log
from logbook.config import Settings

OPENAPI_CONFIG = {
    "API_TITLE": "logbook",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
}


class LogbookApi(Api):
    ERROR_SCHEMA = ErrorSchema


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Builds the web application.

    ``config`` holds the same keys as the environment (``LOGBOOK_DATA_DIR``,
    ``DATABASE_URL``, ``LOGBOOK_SECRET_KEY``, ...); when it is given, the
    process environment is not read at all. A ``CLOCK`` callable may replace
    the wall clock, for tests.
    """
    app = Flask(__name__)
    app.config.update(OPENAPI_CONFIG)
    environ = os.environ if config is None else config
    clock: Callable[[], datetime] = (config or {}).get("CLOCK", utc_now)
    settings = Settings.from_environ(environ)
    app.extensions["logbook"] = LogbookHolder(settings, clock)
    app.extensions["views"] = ViewHolder(settings)
    app.extensions["audit"] = audit_log(settings)  # opens a connection per process, after the fork
    app.extensions["clock"] = clock
    register_guard(app)
    _register_blueprints(app)
    register_error_handlers(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from api import (
        accounts,
        audit,
        clients,
        compare,
        contacts,
        crossings,
        health,
        me,
        policies,
        profiles,
        replays,
        research,
        teams,
        timelines,
    )

    api = LogbookApi(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]
    for module in (
        health, me, teams, accounts, profiles, contacts, clients, policies, timelines, crossings, audit, research,
        replays, compare,
    ):
        api.register_blueprint(module.blp)
