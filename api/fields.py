"""Field types shared by the schemas: the wire format is the contract."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from events.identifiers import is_slug


def slug(**kwargs: Any) -> fields.String:
    return fields.String(validate=_is_slug, **kwargs)


def text(max_length: int, **kwargs: Any) -> fields.String:
    """Free text that is not blank."""
    return fields.String(validate=[validate.Length(max=max_length), _not_blank], **kwargs)


def moment(**kwargs: Any) -> fields.AwareDateTime:
    """An ISO 8601 date-time with its UTC offset."""
    return fields.AwareDateTime(format="iso", **kwargs)


def _is_slug(value: str) -> None:
    if not is_slug(value):
        raise ValidationError("Must be a slug: lower-case letters, digits, '-' or '_', at most 64.")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")
