"""The ``/__sandbox/`` control surface every sandbox shares: reset, stats, faults.

A fault is armed with ``POST /__sandbox/faults`` and consumed by the sandbox's request handlers
through :meth:`Control.take`, which also counts the call for ``GET /__sandbox/stats``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FAULT_MODES = frozenset(
    {
        "unavailable",
        "latency",
        "expire_session",
        "rate_limit",
        "duplicate_delivery",
        "drop_stream",
        "gap",
        "business_error",
    }
)


@dataclass
class Fault:
    mode: str
    remaining: int | None = None  # next N matching calls; None = unlimited (within `until`)
    until: float | None = None  # monotonic deadline; None = no time bound
    action: str | None = None  # only this action/endpoint; None = every call
    latency_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def live(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def matches(self, action: str) -> bool:
        return self.action is None or self.action == action


class BadFault(ValueError):
    pass


def parse_fault(body: dict[str, Any]) -> Fault | None:
    """Validate a faults request body; ``None`` means "clear everything"."""
    mode = body.get("mode")
    if mode == "none":
        return None
    if mode not in FAULT_MODES:
        raise BadFault(f"mode must be one of {sorted(FAULT_MODES | {'none'})}")
    count = body.get("count")
    seconds = body.get("seconds")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise BadFault("count must be a positive integer")
    if seconds is not None and (not isinstance(seconds, int | float) or seconds <= 0):
        raise BadFault("seconds must be a positive number")
    if count is None and seconds is None:
        count = 1
    latency = body.get("latency_ms", 0)
    if not isinstance(latency, int) or latency < 0:
        raise BadFault("latency_ms must be a non-negative integer")
    action = body.get("action")
    if action is not None and not isinstance(action, str):
        raise BadFault("action must be a string")
    known = {"mode", "count", "seconds", "action", "latency_ms"}
    return Fault(
        mode=mode,
        remaining=count,
        until=time.monotonic() + seconds if seconds is not None else None,
        action=action,
        latency_ms=latency,
        extra={k: v for k, v in body.items() if k not in known},
    )


class Control:
    """Call counters and armed faults of one sandbox."""

    def __init__(self, on_reset: Callable[[], Awaitable[None] | None]) -> None:
        self._on_reset = on_reset
        self.calls: Counter[str] = Counter()
        self.faults: list[Fault] = []

    def count(self, action: str) -> None:
        self.calls[action] += 1

    def take(self, action: str, *, modes: frozenset[str] | None = None) -> Fault | None:
        """Count the call and return (consuming one use of) the first armed fault that applies."""
        self.count(action)
        return self.peek_take(action, modes=modes)

    def peek_take(self, action: str, *, modes: frozenset[str] | None = None) -> Fault | None:
        """Like :meth:`take` without counting the call."""
        now = time.monotonic()
        self.faults = [f for f in self.faults if f.live(now)]
        for fault in self.faults:
            if fault.matches(action) and (modes is None or fault.mode in modes):
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    def arm(self, fault: Fault | None) -> None:
        if fault is None:
            self.faults.clear()
        else:
            self.faults.append(fault)

    async def reset(self) -> None:
        self.calls.clear()
        self.faults.clear()
        result = self._on_reset()
        if result is not None:
            await result

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/__sandbox/reset", self._reset_handler)
        app.router.add_get("/__sandbox/stats", self._stats_handler)
        app.router.add_post("/__sandbox/faults", self._faults_handler)

    async def _reset_handler(self, _request: web.Request) -> web.Response:
        await self.reset()
        return web.json_response({"reset": True})

    async def _stats_handler(self, _request: web.Request) -> web.Response:
        return web.json_response({"calls": dict(self.calls)})

    async def _faults_handler(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise BadFault("body must be a JSON object")
            fault = parse_fault(body)
        except (ValueError, BadFault) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.arm(fault)
        armed = [
            {"mode": f.mode, "remaining": f.remaining, "action": f.action} for f in self.faults
        ]
        return web.json_response({"faults": armed})
