"""Field types shared by the schemas: the wire format is the contract."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, validate

from events.identifiers import SLUG_PATTERN, is_slug

NOT_BLANK = validate.Regexp(r"^\s*\S", error="Must not be blank.")


class Slug(validate.Regexp):
    """The slug rule of the domain; as a Regexp, its pattern shows in the OpenAPI document."""

    def __init__(self) -> None:
        super().__init__(SLUG_PATTERN, error="Must be a slug: lower-case letters, digits, '-' or '_', at most 64.")

    def __call__(self, value: Any) -> Any:  # type: ignore[override]
        if not is_slug(value):  # stricter than re.match with '$', which lets a trailing newline through
            raise ValidationError(self._format_error(value))
        return value


def slug(**kwargs: Any) -> fields.String:
    return fields.String(validate=Slug(), **kwargs)


class Text(fields.String):
    """A string that is Unicode text: JSON's escapes can smuggle in lone surrogates, which are not.

    NUL is refused too: PostgreSQL's text cannot hold it, and no one types it.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must be valid Unicode text.") from None
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        return text


def text(max_length: int, **kwargs: Any) -> Text:
    """Free text that is not blank."""
    return Text(validate=[validate.Length(min=1, max=max_length), NOT_BLANK], **kwargs)


def moment(**kwargs: Any) -> fields.AwareDateTime:
    """An ISO 8601 date-time with its UTC offset."""
    return fields.AwareDateTime(format="iso", **kwargs)



class DateOrMoment(fields.String):
    """A date (``2026-05-01``: midnight there in the local time zone) or an ISO 8601 date-time with its UTC offset.

    Either way it loads as an aware datetime; a date-time without an offset is refused.
    """

    DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

    def __init__(self, *, zone: str = "Europe/Brussels", **kwargs: Any) -> None:
        metadata = {"description": f"A date (midnight in {zone}) or a date-time with its UTC offset.",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.zone = ZoneInfo(zone)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if self.DATE.fullmatch(text):
                return datetime.combine(date.fromisoformat(text), time(0), tzinfo=self.zone)
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("Not a valid date or date-time.") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValidationError("A date-time needs its UTC offset, such as +02:00 or Z.")
        return moment
