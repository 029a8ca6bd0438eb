"""Money as the API shows it: a decimal string with two places, next to a currency code."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
# Room for any amount a billing system could hold; beyond it a value is garbage, not money.
_WIDE = Context(prec=60)


def decimal_string(value: Any) -> str:
    """``"15.9"``, ``15.9``, ``"1,980"``, a Salesforce double ``5980.0`` → ``"15.90"``,
    ``"15.90"``, ``"1980.00"``, ``"5980.00"``. Empty, unreadable, non-finite or absurdly large
    values → ``"0.00"``: upstream data never makes a read fail."""
    if isinstance(value, bool) or value is None:
        return "0.00"
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
        if not amount.is_finite():
            return "0.00"
        return str(amount.quantize(CENT, rounding=ROUND_HALF_UP, context=_WIDE))
    except InvalidOperation:
        return "0.00"
