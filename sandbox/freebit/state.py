"""Lines (one per MSISDN) with their state machine, and the authKeys handed out by authOem."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import date

REQUESTED, ACTIVE, CANCELLING, CANCELLED = "requested", "active", "cancelling", "cancelled"


@dataclass
class Line:
    account: str  # MSISDN
    kind: str  # "physical" | "esim"
    plan_code: str
    requested_at: float  # wall clock (time.time()): saved lines outlive a reboot
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

    def state(self, now: float | None = None, today: date | None = None) -> str:
        """Asynchronous work finishes lazily: the state is computed from the request times."""
        now = time.time() if now is None else now
        if self.cancel_requested_at is not None:
            due = self.cancel_run_date is None or self.cancel_run_date <= (today or date.today())
            if due and now >= self.cancel_requested_at + self.cancel_delay:
                return CANCELLED
            return CANCELLING
        return ACTIVE if now >= self.requested_at + self.activation_delay else REQUESTED

    @property
    def live(self) -> bool:
        return self.state() != CANCELLED


@dataclass
class Registry:
    lines: dict[str, Line] = field(default_factory=dict)
    auth_keys: dict[str, float] = field(default_factory=dict)  # key → monotonic expiry

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

    def live_line(self, account: str) -> Line | None:
        line = self.lines.get(account)
        return line if line is not None and line.live else None

    def eid_in_use(self, eid: str, *, except_account: str = "") -> bool:
        return any(
            ln.eid == eid and ln.account != except_account and ln.live for ln in self.lines.values()
        )

    def product_in_use(self, product_number: str) -> bool:
        return any(ln.product_number == product_number and ln.live for ln in self.lines.values())

    def clear(self) -> None:
        self.lines.clear()
        self.auth_keys.clear()
