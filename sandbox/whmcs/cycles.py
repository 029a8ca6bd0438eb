"""Billing cycles: the lower-case API names, WHMCS's display names, and their length in months."""

from __future__ import annotations

import calendar
from datetime import date

# API value → (display name stored in tblhosting.billingcycle, months; 0 = not recurring)
CYCLES: dict[str, tuple[str, int]] = {
    "monthly": ("Monthly", 1),
    "quarterly": ("Quarterly", 3),
    "semiannually": ("Semi-Annually", 6),
    "annually": ("Annually", 12),
    "biennially": ("Biennially", 24),
    "triennially": ("Triennially", 36),
    "onetime": ("One Time", 0),
    "free": ("Free Account", 0),
}
MONTHS_BY_NAME = {name: months for name, months in CYCLES.values()}


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
