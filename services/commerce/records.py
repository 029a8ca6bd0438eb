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
