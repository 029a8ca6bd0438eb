"""The cache's circuit breaker: the shared one (``services.common.breaker``), reporting to
``CACHE_BREAKER_OPEN`` and the log. ``CACHE_BREAKER_OPEN`` is 1 while any cache breaker in the
process is open."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from services.common import breaker
from services.common.breaker import CLOSED, HALF_OPEN, OPEN
from services.common.metrics import CACHE_BREAKER_OPEN

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker"]

log = structlog.get_logger(__name__)


def _report(state: str) -> None:
    CACHE_BREAKER_OPEN.set(1 if state == OPEN else 0)
    if state == OPEN:
        log.warning("cache_breaker_opened")
    else:
        log.info(f"cache_breaker_{state}")


class CircuitBreaker(breaker.CircuitBreaker):
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(threshold, cooldown, clock=clock, on_change=_report)
