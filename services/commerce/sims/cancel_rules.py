"""CancelSim's input rules (no I/O): the request id and the run date.

The run date is the day Freebit cancels the line (PA02-04 ``runDate``); the portal offers the last
day of this month or of one of the next 12 (a cancellation runs to the end of a billing month),
in Japan's calendar, where Freebit and the billing run.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

from services.common.errors import FieldViolation, ValidationFailed
from services.common.idempotency import request_id_violation

JST = timezone(timedelta(hours=9))
MONTHS_AHEAD = 12


def today_jst(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(JST).date()


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _months_between(first: date, later: date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def run_date_problem(raw: str, today: date) -> str | None:
    try:
        run = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        run = None
    if run is None:
        return "A date YYYY-MM-DD is required."
    if run != month_end(run):
        return "The cancellation runs on the last day of a month."
    if run < month_end(today):
        return "The cancellation date cannot be before the end of this month."
    if _months_between(today, run) > MONTHS_AHEAD:
        return f"The cancellation date can be at most {MONTHS_AHEAD} months ahead."
    return None


def checked(request_id: str, run_date: str, today: date) -> date:
    """The run date, or VALIDATION_FAILED naming every bad field."""
    violations: list[FieldViolation] = []
    problem = request_id_violation(request_id, required=True)
    if problem is not None:
        violations.append(problem)
    run_problem = run_date_problem(run_date, today)
    if run_problem is not None:
        violations.append(FieldViolation("run_date", run_problem))
    if violations:
        raise ValidationFailed(violations[0].description, violations=violations)
    return date.fromisoformat(run_date)
