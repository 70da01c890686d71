from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.extension import logbook
from api.guard import public

blp = Blueprint("health", __name__, description="Liveness")


class HealthSchema(Schema):
    status = fields.String()
    position = fields.Integer(metadata={"description": "The position of the last event in the store."})


@blp.route("/healthz", methods=["GET"])
@public
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> Any:
    """Whether the service can read its store."""
    return {"status": "ok", "position": logbook().head_position()}
