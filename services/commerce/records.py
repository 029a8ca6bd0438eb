"""Small conversions shared by the catalog and order mappings (no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.common.money import decimal_string

CURRENCY = "JPY"


def money(value: Any) -> str:
    """A Salesforce number (a double in JSON: ``5980.0``) as a decimal string ``"5980.00"``."""
    return decimal_string(value)


def text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value)


def whole(value: Any) -> int:
    """A Salesforce double that holds a whole number (``Quantity`` ``2.0``)."""
    return int(Decimal(str(value or 0)))


def is_salesforce_id(value: str, prefix: str) -> bool:
    """``value`` is a 15-character id, or an 18-character one with its case-safe suffix, of the
    object with key ``prefix``. Salesforce rejects a whole SOQL query over an 18-character id
    whose suffix does not match (``INVALID_QUERY_FILTER_OPERATOR``), so such ids must stop here
    as "not found" rather than become an upstream error."""
    if not (
        len(value) in (15, 18) and value.startswith(prefix) and value.isascii() and value.isalnum()
    ):
        return False
    return len(value) == 15 or value[15:].upper() == _case_safe_suffix(value[:15])


_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _case_safe_suffix(base15: str) -> str:
    """One character per 5-character chunk: bit *i* set when character *i* is upper case."""
    out = []
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(base15[start : start + 5]) if "A" <= ch <= "Z")
        out.append(_SUFFIX_CHARS[bits])
    return "".join(out)
