"""A small circuit breaker for the cache's Redis calls.

Why our own and not ``purgatory`` (installed): the check sits on the cache-hit path, where the whole
budget is a few microseconds. Here it is two attribute reads and no allocation; purgatory's async
breaker goes through an async context manager, a named state store and event hooks per call. The
semantics we need are small and tested in ``tests/unit/cache/test_breaker.py``:

- closed: calls go through; ``threshold`` consecutive failures open it.
- open: calls are refused (the caller serves live) until ``cooldown`` seconds have passed.
- half-open: exactly one probe call is let through; its success closes the breaker, its failure
  opens it for another cool-down. Other calls keep bypassing while the probe is in flight (a probe
  that never reports, e.g. cancelled, is replaced by a new one after another cool-down).

``CACHE_BREAKER_OPEN`` is 1 while any cache breaker in the process is open.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from services.common.metrics import CACHE_BREAKER_OPEN

log = structlog.get_logger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be >= 1 and cooldown > 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.state = CLOSED
        self._failures = 0
        self._opened_at = 0.0

    def allow(self) -> bool:
        """May a Redis call be made now? (In half-open, True only for the single probe.)"""
        if self.state == CLOSED:
            return True
        # A probe whose outcome never arrived (its task was cancelled) is retried after a cool-down.
        if self._clock() - self._opened_at >= self.cooldown:
            self.state = HALF_OPEN
            self._opened_at = self._clock()
            log.info("cache_breaker_probe")
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        if self.state != CLOSED:
            self.state = CLOSED
            CACHE_BREAKER_OPEN.set(0)
            log.info("cache_breaker_closed")

    def failure(self) -> None:
        self._failures += 1
        if self.state == HALF_OPEN or (self.state == CLOSED and self._failures >= self.threshold):
            self.state = OPEN
            self._opened_at = self._clock()
            CACHE_BREAKER_OPEN.set(1)
            log.warning("cache_breaker_opened", failures=self._failures, cooldown=self.cooldown)
