"""Field checks: each failure raises :class:`FreebitError` with the table's code for it."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sandbox.freebit import codes
from sandbox.freebit.codes import FreebitError
from sandbox.freebit.settings import PLAN_CODES

EID = re.compile(r"^\d{32}$")
MSISDN = re.compile(r"^0[2-9]0[0-9]{8}$")
PRODUCT_NUMBER = re.compile(r"^[A-Za-z0-9]{15}$")


def text(body: dict[str, Any], field: str, *, required: bool = True) -> str:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise FreebitError(codes.MISSING_PARAM.formatted(field=field))
        return ""
    if not isinstance(value, str):
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field))
    return value


def matching(body: dict[str, Any], field: str, pattern: re.Pattern[str]) -> str:
    value = text(body, field)
    if not pattern.match(value):
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field))
    return value


def one_of(
    body: dict[str, Any], field: str, allowed: Collection[str], *, required: bool = True
) -> str:
    value = text(body, field, required=required)
    if value and value not in allowed:
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field))
    return value


def yyyymmdd(body: dict[str, Any], field: str, *, required: bool = True) -> date | None:
    value = text(body, field, required=required)
    if not value:
        return None
    if not re.match(r"^\d{8}$", value):
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field))
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field)) from None


def plan_code(body: dict[str, Any]) -> str:
    value = text(body, "planCode")
    if value not in PLAN_CODES:
        raise FreebitError(codes.UNKNOWN_PLAN.formatted(field=value))
    return value


RUN_DATE = re.compile(r"^(\d{4})([/-]?)(\d{2})\2(\d{2})$")


def run_date(body: dict[str, Any], field: str) -> date | None:
    """PA02-04's optional ``runDate``: ``YYYYMMDD``, ``YYYY/MM/DD`` or ``YYYY-MM-DD``."""
    value = text(body, field, required=False)
    if not value:
        return None
    found = RUN_DATE.match(value)
    if found is None:
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field))
    try:
        return date(int(found[1]), int(found[3]), int(found[4]))
    except ValueError:
        raise FreebitError(codes.BAD_FORMAT.formatted(field=field)) from None
