"""A tiny SOQL builder: values only ever enter a query as escaped literals.

``soql("SELECT Id FROM Account WHERE SF_Account_No__c = {}", number)`` replaces each ``{}`` with
the literal of one value: strings are quoted with ``\\``, ``'``, ``"`` and control characters
escaped (Salesforce's string-literal escapes), numbers/booleans/``None``/dates are rendered as
SOQL literals, a sequence becomes an ``IN`` list, and :class:`Like` patterns additionally escape
the ``%``/``_`` wildcards of the user's text (see :func:`like_contains`). Dynamic field and object
names go through :func:`ident`, which only accepts API names. Never concatenate user input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_STRING_ESCAPES = {
    "\\": "\\\\", "'": "\\'", '"': '\\"',
    "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
}  # fmt: skip
_LIKE_ESCAPES = {"%": "\\%", "_": "\\_"}


class SoqlError(ValueError):
    """A value or name that cannot be put into SOQL safely (a programming error)."""


@dataclass(frozen=True)
class Like:
    """A LIKE pattern: the user's ``text`` matched literally (its ``%``/``_`` escaped), with a
    ``%`` wildcard before it (``any_before``) and/or after it (``any_after``)."""

    text: str
    any_before: bool = False
    any_after: bool = False


def escape_string(text: str) -> str:
    """The inside of a quoted SOQL string literal."""
    if "\x00" in text:
        raise SoqlError("NUL is not allowed in a SOQL string")
    return "".join(_STRING_ESCAPES.get(ch, ch) for ch in text)


def escape_like(text: str) -> str:
    """User text for a LIKE pattern: its ``%`` and ``_`` match themselves."""
    return "".join(_LIKE_ESCAPES.get(ch, ch) for ch in text)


def like_contains(text: str) -> Like:
    return Like(text, any_before=True, any_after=True)


def like_prefix(text: str) -> Like:
    return Like(text, any_after=True)


SoqlValue = (
    str | bool | int | float | Decimal | date | datetime | Like | None | Sequence["SoqlValue"]
)


def literal(value: SoqlValue) -> str:
    """One value as a SOQL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Like):
        # String escapes first (they add no % or _), then the LIKE escapes, then our wildcards.
        body = escape_like(escape_string(value.text))
        return f"'{'%' if value.any_before else ''}{body}{'%' if value.any_after else ''}'"
    if isinstance(value, str):
        return f"'{escape_string(value)}'"
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if not value:
            raise SoqlError("an IN list needs at least one value")
        if any(isinstance(v, Sequence | Like) and not isinstance(v, str) for v in value):
            raise SoqlError("an IN list holds single values")  # `((1))` is not SOQL
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise SoqlError(f"cannot put a {type(value).__name__} into SOQL")


def _number(value: float | Decimal) -> str:
    """Plain decimal notation: SOQL has no exponents (``str(Decimal("1E+3"))`` is ``1E+3``,
    ``repr(1e-07)`` is ``1e-07``)."""
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if not number.is_finite():
        raise SoqlError("not a finite number")
    return format(number, "f")


def _datetime(value: datetime) -> str:
    """UTC, whole seconds, a four-digit year (``strftime("%Y")`` drops leading zeros)."""
    if value.tzinfo is None:
        raise SoqlError("datetimes must be timezone-aware")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise SoqlError("datetime out of range") from None
    return utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def soql(template: str, *values: SoqlValue) -> str:
    """Fill each ``{}`` of ``template`` with the literal of the matching value."""
    pieces = template.split("{}")
    if len(pieces) - 1 != len(values):
        raise SoqlError(f"{len(pieces) - 1} placeholders but {len(values)} values")
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out.append(literal(value))
        out.append(piece)
    return "".join(out)


def ident(name: str) -> str:
    """A field/object API name (``Account.Name``, ``SF_Account_No__c``) or ``SoqlError``."""
    if not _IDENT.match(name):
        raise SoqlError(f"not an API name: {name!r}")
    return name
