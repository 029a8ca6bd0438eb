"""The circuit breaker shared by the cache (Redis) and the upstream clients.

Why our own and not ``purgatory`` (installed): the check sits on the cache-hit path, where the
budget is a few microseconds (here: an attribute read when closed, no allocation); purgatory's
async breaker goes through an async context manager, a state store and event hooks per call, its
half-open state lets every concurrent request through at once, and its cool-down uses the wall
clock. The semantics we need are small and tested (``tests/unit/cache/test_breaker.py``,
``tests/unit/clients/test_resilience.py``):

- closed: calls go through; ``threshold`` consecutive failures open it;
- open: calls are refused until ``cooldown`` seconds have passed;
- half-open: exactly one probe at a time; its success closes the breaker, its failure opens it
  for another cool-down. A probe that never reports (its task was cancelled) is given up with
  :meth:`abandon`, or replaced by a new one after another cool-down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        threshold: int,
        cooldown: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be >= 1 and cooldown > 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self.state = CLOSED
        self.failures = 0
        self._since = 0.0  # when it opened, or when the current probe started
        self._probing = False

    def allow(self) -> bool:
        """May a call go ahead now? In half-open state only one probe at a time may."""
        if self.state == CLOSED:
            return True
        now = self._clock()
        if now - self._since < self.cooldown:
            return False
        if self.state == OPEN:
            self._set(HALF_OPEN)
        elif self._probing:
            pass  # half-open, and the probe in flight is older than a cool-down: replace it
        self._probing = True
        self._since = now
        return True

    def abandon(self) -> None:
        """The probe was cancelled before it finished: free its slot, record nothing."""
        if self._probing:
            self._probing = False
            self._since -= self.cooldown  # the next call may probe at once

    def success(self) -> None:
        self.failures = 0
        self._probing = False
        if self.state != CLOSED:
            self._set(CLOSED)

    def failure(self) -> None:
        self._probing = False
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            self._since = self._clock()
            if self.state != OPEN:
                self._set(OPEN)

    def _set(self, state: str) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(state)
