"""SOQL date literals (``TODAY``, ``LAST_N_DAYS:30``...): each names a range of whole days.

Per the SOQL reference, ``field = LITERAL`` matches values inside the range, ``<`` values before
its start, ``>`` values after its end (``<=``/``>=`` include the range). Days are UTC days here
(the real service uses the running user's time zone; the sandbox's integration user is in UTC).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from .errors import malformed_query

PATTERN = (
    r"(?:TODAY|YESTERDAY|TOMORROW|LAST_WEEK|THIS_WEEK|NEXT_WEEK|LAST_MONTH|THIS_MONTH|NEXT_MONTH"
    r"|LAST_N_DAYS:\d+|NEXT_N_DAYS:\d+)(?![\w:])"
)
_N_DAYS = re.compile(r"^(LAST|NEXT)_N_DAYS:(\d+)$")
DayRange = tuple[date, date]  # [start, end) in days


def _month(day: date, shift: int) -> DayRange:
    index = day.year * 12 + day.month - 1 + shift
    start = date(index // 12, index % 12 + 1, 1)
    nxt = index + 1
    return start, date(nxt // 12, nxt % 12 + 1, 1)


def _week(day: date, shift: int) -> DayRange:
    sunday = day - timedelta(days=(day.weekday() + 1) % 7) + timedelta(weeks=shift)
    return sunday, sunday + timedelta(days=7)


def day_range(literal: str, today: date | None = None) -> DayRange:
    day = today or datetime.now(UTC).date()
    name = literal.upper()
    m = _N_DAYS.match(name)
    if m is not None:
        n = int(m.group(2))
        # LAST_N_DAYS:n covers the n days before today and today; NEXT_N_DAYS:n the n days after.
        if m.group(1) == "LAST":
            return day - timedelta(days=n), day + timedelta(days=1)
        return day + timedelta(days=1), day + timedelta(days=n + 1)
    one = timedelta(days=1)
    fixed: dict[str, Callable[[], DayRange]] = {
        "TODAY": lambda: (day, day + one),
        "YESTERDAY": lambda: (day - one, day),
        "TOMORROW": lambda: (day + one, day + 2 * one),
        "LAST_WEEK": lambda: _week(day, -1),
        "THIS_WEEK": lambda: _week(day, 0),
        "NEXT_WEEK": lambda: _week(day, 1),
        "LAST_MONTH": lambda: _month(day, -1),
        "THIS_MONTH": lambda: _month(day, 0),
        "NEXT_MONTH": lambda: _month(day, 1),
    }
    if name not in fixed:
        raise malformed_query(f"unknown date literal: {literal}")
    return fixed[name]()


def matcher(op: str, literal: str) -> Callable[[date], bool]:
    """A test of a record's day against ``<op> literal``."""
    start, end = day_range(literal)
    tests: dict[str, Callable[[date], bool]] = {
        "=": lambda d: start <= d < end,
        "!=": lambda d: not start <= d < end,
        "<": lambda d: d < start,
        "<=": lambda d: d < end,
        ">": lambda d: d >= end,
        ">=": lambda d: d >= start,
    }
    if op not in tests:
        raise malformed_query(f"invalid operator with a date literal: {op.upper()}")
    return tests[op]
