"""One way to turn an id from a URL or a query string into a number the database accepts.

Primary keys are 64-bit (BigAutoField; SQLite's INTEGER, PostgreSQL's bigint). A larger
number must never reach a query: SQLite raises OverflowError, PostgreSQL its own error,
and either becomes a 500. So every id route uses the ``id`` path converter (registered
once in balrogweb/urls.py), under which an out-of-range id simply matches no route (404),
and every id read from a query string or a form goes through ``parse_id``/``query_id``
or ``IdField`` (400, or an error next to the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

MAX_ID = 2**63 - 1
ID_RANGE = f"a whole number from 1 to {MAX_ID}"


class IdConverter:
    """``<id:pk>``: digits within the database's range. A ValueError here makes the
    resolver skip the pattern, so an out-of-range id is a 404 by construction."""

    regex = "[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(f"id out of range: {value}")
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class BadId(ValueError):
    """An id that is not a number, or not one any row could have. The message is for people."""


def parse_id(raw: Any, name: str = "id") -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isascii() or not text.isdigit():
        raise BadId(f"{name} must be {ID_RANGE}")
    number = int(text)
    if not 1 <= number <= MAX_ID:
        raise BadId(f"{name} must be {ID_RANGE}")
    return number


def query_id(params: Mapping[str, Any], name: str) -> int | None:
    """The id in query parameter ``name``; None when absent or empty; BadId (a 400) otherwise."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    return parse_id(raw, name)


class IdField(forms.IntegerField):
    """A form field for an id: the range error is shown next to the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
