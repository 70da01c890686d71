"""flask-smorest's Blueprint, reading the JSON body the guard already parsed."""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import Request, g
from webargs.flaskparser import FlaskParser


class GuardedBodyParser(FlaskParser):
    """Takes the body the guard parsed and checked, instead of parsing it a second time."""

    def _raw_load_json(self, req: Request) -> Any:
        if "json_body" in g:
            return g.json_body
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = GuardedBodyParser()
