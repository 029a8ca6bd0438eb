"""Lines (one per MSISDN) with their state machine, the authKeys handed out by authOem, and the
sandbox clock that tests move forward (``POST /__sandbox/clock``).

Every time-dependent answer (a line's state, its traffic) is computed from the sandbox clock,
``time.time()`` plus ``clock_offset``, so a test that moves the clock by a month sees a scheduled
cancellation take effect and a month of traffic accrue, and the offset is persisted with the lines.
Dates are Japan's (Freebit's platform runs on JST).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

REQUESTED, ACTIVE, CANCELLING, CANCELLED = "requested", "active", "cancelling", "cancelled"
JST = timezone(timedelta(hours=9))


def jst_date(instant: float) -> date:
    return datetime.fromtimestamp(instant, JST).date()


def jst_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=JST).timestamp()


@dataclass
class Line:
    account: str  # MSISDN
    kind: str  # "physical" | "esim"
    plan_code: str
    requested_at: float  # sandbox clock (wall clock + offset): saved lines outlive a reboot
    activation_delay: float
    registered_on: date = field(default_factory=date.today)
    eid: str = ""
    product_number: str = ""
    sim_kind: str = ""
    add_kind: str = ""
    contract_line: str = ""
    aladin_operated: str = ""
    ship_date: date | None = None
    cancel_requested_at: float | None = None
    cancel_delay: float = 0.0
    cancel_run_date: date | None = None

    @property
    def active_from(self) -> float:
        return self.requested_at + self.activation_delay

    def cancelled_from(self) -> float | None:
        """When the cancellation takes effect: the request plus the processing delay, and not
        before the start of ``runDate`` (JST) when one was given."""
        if self.cancel_requested_at is None:
            return None
        due = self.cancel_requested_at + self.cancel_delay
        if self.cancel_run_date is not None:
            due = max(due, jst_midnight(self.cancel_run_date))
        return due

    def state(self, now: float) -> str:
        """Asynchronous work finishes lazily: the state is computed from the request times."""
        ends = self.cancelled_from()
        if ends is not None:
            return CANCELLED if now >= ends else CANCELLING
        return ACTIVE if now >= self.active_from else REQUESTED

    def live(self, now: float) -> bool:
        return self.state(now) != CANCELLED


@dataclass
class Registry:
    lines: dict[str, Line] = field(default_factory=dict)
    auth_keys: dict[str, float] = field(default_factory=dict)  # key → monotonic expiry
    clock_offset: float = 0.0  # seconds the sandbox clock runs ahead of the wall clock

    def now(self) -> float:
        return time.time() + self.clock_offset

    def today(self) -> date:
        return jst_date(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.clock_offset += seconds

    def issue_key(self, ttl: float) -> str:
        key = secrets.token_hex(16)
        self.auth_keys[key] = time.monotonic() + ttl
        return key

    def key_valid(self, key: str) -> bool:
        expires = self.auth_keys.get(key)
        if expires is None:
            return False
        if time.monotonic() >= expires:
            del self.auth_keys[key]
            return False
        return True

    def revoke(self, key: str) -> None:
        self.auth_keys.pop(key, None)

    def state(self, line: Line) -> str:
        return line.state(self.now())

    def live_line(self, account: str) -> Line | None:
        line = self.lines.get(account)
        return line if line is not None and line.live(self.now()) else None

    def eid_in_use(self, eid: str, *, except_account: str = "") -> bool:
        now = self.now()
        return any(
            ln.eid == eid and ln.account != except_account and ln.live(now)
            for ln in self.lines.values()
        )

    def product_in_use(self, product_number: str) -> bool:
        now = self.now()
        return any(
            ln.product_number == product_number and ln.live(now) for ln in self.lines.values()
        )

    def clear(self) -> None:
        self.lines.clear()
        self.auth_keys.clear()
        self.clock_offset = 0.0
