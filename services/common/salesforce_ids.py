"""Salesforce record ids: a 15-character case-sensitive base, optionally followed by the
3-character case-safe suffix (18 characters), starting with the object's key prefix.

An id that is not of that shape, or whose suffix does not match its base, names nothing: callers
answer "not found" without calling Salesforce (which refuses a whole SOQL query over an
18-character id with a wrong suffix, ``INVALID_QUERY_FILTER_OPERATOR``).
"""

from __future__ import annotations

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def case_safe_suffix(base15: str) -> str:
    """One character per 5-character chunk: bit *i* set when character *i* is upper case."""
    out = []
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(base15[start : start + 5]) if "A" <= ch <= "Z")
        out.append(_SUFFIX_CHARS[bits])
    return "".join(out)


def normalize_id(value: str, prefix: str) -> str | None:
    """The 18-character form of a well-formed id of the object with key ``prefix``, or None
    (the suffix of an 18-character id is compared case-insensitively, as Salesforce does)."""
    if not (
        len(value) in (15, 18) and value.startswith(prefix) and value.isascii() and value.isalnum()
    ):
        return None
    full = value[:15] + case_safe_suffix(value[:15])
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def is_salesforce_id(value: str, prefix: str) -> bool:
    """Whether ``value`` is a well-formed id (15 or 18 characters) of the object with ``prefix``."""
    return normalize_id(value, prefix) is not None
