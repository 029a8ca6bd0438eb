"""PA05-01 traffic figures: deterministic per line, growing with the sandbox clock.

A line uses data at a steady rate of its own (derived from its MSISDN, 20 to 220 MB a day) from
the moment it is active until its cancellation takes effect. Today, this month and each previous
month are the integral of that rate over the period (JST calendar), so a test that moves the
clock a day forward sees today's figure restart and the month's grow by one day's rate. The
remaining quota is the plan's monthly quota minus this month's use, for plans that have one.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sandbox.freebit.state import Line, jst_date, jst_midnight

DAY = 86400.0
MB_PER_DAY_MIN, MB_PER_DAY_SPREAD = 20, 200
# Monthly quota (MB) by plan code; a plan absent here has no quota.
PLAN_QUOTA_MB = {"PNEW_3G": 3 * 1024, "PNEW_10G": 10 * 1024, "PNEW_V10G": 10 * 1024}
PREVIOUS_MONTHS = 3  # how many previous months the sandbox reports


def mb_per_day(account: str) -> int:
    seed = int(hashlib.sha256(account.encode()).hexdigest()[:8], 16)
    return MB_PER_DAY_MIN + seed % MB_PER_DAY_SPREAD


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month(first: date) -> date:
    if first.month > 1:
        return first.replace(month=first.month - 1)
    return first.replace(year=first.year - 1, month=12)


def used_mb(line: Line, start: float, end: float) -> int:
    """Data used between two instants (whole MB, rounded down)."""
    stop = line.cancelled_from()
    end = min(end, stop) if stop is not None else end
    start = max(start, line.active_from)
    if end <= start:
        return 0
    return int((end - start) / DAY * mb_per_day(line.account))


def traffic_info(line: Line, now: float) -> dict[str, Any]:
    today = jst_date(now)
    month = _month_start(today)
    this_month = used_mb(line, jst_midnight(month), now)
    months = []
    end, first = month, month
    for _ in range(PREVIOUS_MONTHS):
        first = _previous_month(first)
        used = used_mb(line, jst_midnight(first), jst_midnight(end))
        months.append({"month": f"{first:%Y%m}", "used": str(used)})
        end = first
    info: dict[str, Any] = {
        "today": str(used_mb(line, jst_midnight(today), now)),
        "thisMonth": str(this_month),
        "months": months,
        "unit": "MB",
        "date": f"{today:%Y%m%d}",
    }
    quota = PLAN_QUOTA_MB.get(line.plan_code)
    if quota is not None:
        info["quota"] = str(max(quota - this_month, 0))
    return info
