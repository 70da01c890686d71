"""Reading the projections over HTTP: one view per process, and read-your-writes.

Every write answers with its ``position``; a read that passes ``?after=<position>``
waits until the view it reads has processed that event, at most `WAIT_SECONDS`,
and otherwise answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

from api.errors import ApiError
from logbook.config import Settings
from logbook.read_models import open_view
from projections.base import View
from projections.storage import InvalidCursorError, decode_cursor

WAIT_SECONDS = 5.0


class ViewHolder:
    """The views of this process, opened on first use after gunicorn forks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._views: dict[str, View] = {}
        self._pid = os.getpid()

    def get(self, name: str) -> View:
        with self._lock:
            if self._pid != os.getpid():
                self._views, self._pid = {}, os.getpid()
            if name not in self._views:
                self._views[name] = open_view(self.settings, name)
            return self._views[name]

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for view in self._views.values():
                    view.close()
            self._views = {}


def cursor_field(shape: Sequence[re.Pattern[str]]) -> fields.String:
    """The ``cursor`` argument of a list whose cursors have ``shape``: 422 for one it did not give out."""

    def check(value: str) -> None:
        try:
            decode_cursor(value, shape)
        except InvalidCursorError as error:
            raise ValidationError(str(error)) from None

    return fields.String(
        validate=[validate.Length(max=200), check],
        metadata={"description": "The next_cursor of the previous page; none for the first page."},
    )


def limit_field() -> fields.Integer:
    """The ``limit`` argument of a list: 1 to 500 items a page, 50 by default."""
    return fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=500),
        metadata={"description": "How many items a page holds at most."},
    )


class ReadSchema(Schema):
    """The query argument every read of a projection takes."""

    after = fields.Integer(
        validate=validate.Range(min=0),
        metadata={"description": "Wait (at most 5 s) until the projection has processed this position."},
    )


def read_model(name: str, after: int | None = None) -> Any:
    """The named view, once it reflects position ``after``; 503 with ``Retry-After`` if it falls behind."""
    holder: ViewHolder = current_app.extensions["views"]
    view = holder.get(name)
    if after is not None and not view.wait_for(after, WAIT_SECONDS):
        raise ApiError(
            503, "projection_behind",
            f"The {name} read model has not yet processed position {after}; try again.",
            headers={"Retry-After": "1"},
        )
    return view
