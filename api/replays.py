"""Researchers' replays: the boundaries as of a moment, under one version of the policy, run as jobs.

A replay runs in a background thread of the web process that started it; its
state lives in files under ``<data dir>/research/replays/<replay_id>/``, so any
worker answers for it. At most two run at once per data directory: a third is
refused with 429 ``too_many_replays`` and ``Retry-After``, nothing started.
A job whose process stopped (the worker was restarted or killed) is reported
``failed``. `logbook.replay` has the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

from api.audit import AuditAction, audit
from api.blueprint import Blueprint
from api.errors import ApiError, ErrorSchema
from api.extension import logbook
from api.fields import moment
from api.guard import allow
from events.errors import InvalidInputError, NotFoundError
from logbook.access import Action
from logbook.replay import ReplayJob, ReplayJobs, TooManyReplaysError, choose_policy

RETRY_AFTER_SECONDS = 60

blp = Blueprint(
    "replays", __name__, url_prefix="/api/v1/research/replays",
    description="Replays of the history as of a moment under one version of the policy, for researchers",
)


class PolicyChoice(fields.Field):
    """A policy version, or a policy body as ``POST /api/v1/policies`` takes it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str | Mapping):
            return value
        raise ValidationError("Must be a policy version or a policy body (an object).")


class ReplayRequestSchema(Schema):
    until = moment(required=True, metadata={"description": "The events recorded at or before it are replayed."})
    policy = PolicyChoice(required=True, metadata={
        "description": "The one policy that judges every contact: a version (sector-agreement-2019 or a "
                       "published one), or a policy body as POST /api/v1/policies takes it.",
    })


class ReplaySchema(Schema):
    replay_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(["running", "done", "failed"]))
    until = fields.String(metadata={"description": "ISO 8601, in UTC."})
    policy_version = fields.String()
    report = fields.Dict(metadata={
        "description": "When done: {position, policy_version, events_digest, until, rows, crossings}, "
                       "rows as the boundaries report by site, crossings under research pseudonyms.",
    })
    error = fields.String(metadata={"description": "When failed: why."})


@blp.route("", methods=["POST"])
@allow(Action.RESEARCH)
@blp.arguments(ReplayRequestSchema())
@blp.response(202, ReplaySchema)
@blp.alt_response(429, schema=ErrorSchema, description="Two replays are running already; nothing was started")
def start_replay(body: dict[str, Any]) -> Any:
    """Start a replay as of a moment under one policy; poll it by its replay_id (researchers)."""
    try:
        policy = choose_policy(logbook().policies(), body["policy"])
    except InvalidInputError as error:
        field = "policy" if error.field in (None, "policy") else f"policy.{error.field}"
        raise type(error)(error.message, field=field) from None
    try:
        return _wire(_jobs().start(body["until"], policy))
    except TooManyReplaysError as error:
        raise ApiError(429, "too_many_replays", str(error), {"Retry-After": str(RETRY_AFTER_SECONDS)}) from None


@blp.route("/<uuid:replay_id>", methods=["GET"])
@allow(Action.RESEARCH)
@blp.response(200, ReplaySchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such replay")
def get_replay(replay_id: UUID) -> Any:
    """A replay: running, done with its report, or failed with why (researchers)."""
    job = _jobs().get(replay_id)
    if job is None:
        raise NotFoundError("No such replay.")
    if job.report is not None:
        audit(AuditAction.EXPORT)
    return _wire(job)


def _jobs() -> ReplayJobs:
    return ReplayJobs(current_app.extensions["logbook"].settings)


def _wire(job: ReplayJob) -> dict[str, Any]:
    wire: dict[str, Any] = {"replay_id": job.replay_id, "status": job.status, "until": job.until,
                            "policy_version": job.policy_version}
    if job.report is not None:
        wire["report"] = job.report
    if job.error is not None:
        wire["error"] = job.error
    return wire
