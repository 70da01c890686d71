"""Framework-only stand-ins for the logbook's ``POST /api/v1/contacts``: the most any app could reach on this stack.

``bench/group_commit.py`` serves these with gunicorn in the same configuration
as the logbook (workers, threads, worker class, access log) and posts to them
with the same load generator, in the same turns. They read the JSON body and
answer 201 with a receipt shaped like the logbook's, and do nothing else: no
authentication (the bearer token is ignored), no validation, no store. Their
rate is what gunicorn, Flask and the load generator, sharing the machine's
CPUs, leave for an app that costs nothing; if it is near or below the library's
own append rate, no app on this stack can reach that rate here.

- ``app``: Flask alone;
- ``smorest_app``: the same behind flask-smorest's ``Api``, one ``Blueprint``
  and marshmallow schemas for the body and the receipt, as the logbook's
  routes are declared: what the framework layer the logbook uses costs.

Served as ``bench.framework_ceiling:app`` with the repository's root on the path
(``bench`` is no installed package).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

from flask import Flask, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

CONTACTS_URL = "/api/v1/contacts"


def _receipt(position: int) -> dict[str, Any]:
    """Shaped like the logbook's ``ContactReceiptSchema``: ids, the event's position, when it was recorded.

    Typed, for a schema to dump, as the logbook's receipts are.
    """
    return {"contact_id": uuid4(), "client_id": uuid4(), "position": position,
            "recorded_at": datetime.now(timezone.utc)}


def _receipt_json(position: int) -> dict[str, Any]:
    """`_receipt` as the JSON answer holds it, without a schema."""
    receipt = _receipt(position)
    return receipt | {"contact_id": str(receipt["contact_id"]), "client_id": str(receipt["client_id"]),
                      "recorded_at": receipt["recorded_at"].isoformat()}


def _healthz() -> dict[str, Any]:
    """What the benchmark polls until the server answers (``bench.ingest._wait_until_healthy``)."""
    return {"status": "ok", "position": 0}


def create_app() -> Flask:
    """Flask alone: the request's JSON read, a receipt answered."""
    flask_app = Flask(__name__)
    positions = itertools.count(1)  # next() on a count is atomic under the GIL: safe across gthread's threads

    @flask_app.post(CONTACTS_URL)
    def log_contact() -> tuple[dict[str, Any], int]:
        request.get_json()
        return _receipt_json(next(positions)), 201

    flask_app.get("/healthz")(_healthz)
    return flask_app


class NewContactSchema(Schema):
    """The fields the benchmark posts, loaded as plain types: the framework's cost, not the logbook's rules."""

    client_ref = fields.String(required=True, load_only=True)
    profile_id = fields.String(required=True)
    direction = fields.String(required=True)
    nature = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True)


class ContactReceiptSchema(Schema):
    contact_id = fields.UUID()
    client_id = fields.UUID()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime(format="iso")


def create_smorest_app() -> Flask:
    """The same behind flask-smorest: the body loaded by a schema, the receipt dumped by another."""
    flask_app = Flask(__name__)
    flask_app.config.update(API_TITLE="framework ceiling", API_VERSION="v1", OPENAPI_VERSION="3.1.0")
    api = Api(flask_app)
    blp = Blueprint("contacts", __name__, url_prefix=CONTACTS_URL)
    positions = itertools.count(1)

    @blp.route("", methods=["POST"])
    @blp.arguments(NewContactSchema())
    @blp.response(201, ContactReceiptSchema)
    def log_contact(body: dict[str, Any]) -> dict[str, Any]:
        return _receipt(next(positions))

    api.register_blueprint(blp)
    flask_app.get("/healthz")(_healthz)
    return flask_app


app = create_app()
smorest_app = create_smorest_app()
