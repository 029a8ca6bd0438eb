"""WHMCS's loose wire typing in one place: string money, zero dates, wrapped lists, errors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ZERO_DATE = "0000-00-00"
ZERO_DATETIME = "0000-00-00 00:00:00"
CENT = Decimal("0.01")


class ApiError(Exception):
    """An action failure: HTTP 200 with ``{"result": "error", "message": ...}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def money(value: Decimal) -> str:
    """``Decimal("15.9")`` → ``"15.90"`` (WHMCS stores decimal(16,2) and sends strings)."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def parse_money(raw: str | None, default: Decimal = Decimal(0)) -> Decimal:
    if raw is None or raw.strip() == "":
        return default
    try:
        return Decimal(raw.strip()).quantize(CENT, rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return default


def ymd(value: date | None) -> str:
    return value.isoformat() if value is not None else ZERO_DATE


def ymd_hms(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ZERO_DATETIME


def parse_ymd(raw: str | None) -> date | None:
    """``YYYY-mm-dd`` (also ``YYYYmmdd``) → date; ``None`` when absent or malformed."""
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(raw.strip()[:10], fmt).date()
        except ValueError:
            continue
    return None


def wrap(plural: str, singular: str, rows: list[Any], *, empty_as_string: bool = False) -> Any:
    """``{"invoices": {"invoice": [...]}}``; an empty list may be sent as ``""`` like WHMCS does."""
    if not rows and empty_as_string:
        return ""
    return {singular: rows}


def success(**fields: Any) -> dict[str, Any]:
    return {"result": "success", **fields}


def php_int(raw: str | None, default: int = 0) -> int:
    """PHP's ``(int)`` cast: leading digits, else the default."""
    if raw is None:
        return default
    text = raw.strip()
    digits = ""
    for i, ch in enumerate(text):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return default


def php_truthy(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() not in {"", "0", "false", "off", "no"}
