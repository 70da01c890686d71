"""Field types shared by the schemas: the wire format is the contract."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from events.identifiers import is_slug


def slug(**kwargs: Any) -> fields.String:
    return fields.String(validate=_is_slug, **kwargs)


class Text(fields.String):
    """A string that is Unicode text: JSON's escapes can smuggle in lone surrogates, which are not."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must be valid Unicode text.") from None
        return text


def text(max_length: int, **kwargs: Any) -> Text:
    """Free text that is not blank."""
    return Text(validate=[validate.Length(max=max_length), _not_blank], **kwargs)


def moment(**kwargs: Any) -> fields.AwareDateTime:
    """An ISO 8601 date-time with its UTC offset."""
    return fields.AwareDateTime(format="iso", **kwargs)


def _is_slug(value: str) -> None:
    if not is_slug(value):
        raise ValidationError("Must be a slug: lower-case letters, digits, '-' or '_', at most 64.")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")
