from __future__ import annotations

from services.common.cache.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from services.common.metrics import value


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures() -> None:
    b = CircuitBreaker(threshold=3, cooldown=5, clock=Clock())
    b.failure()
    b.failure()
    b.success()  # resets the streak
    b.failure()
    b.failure()
    assert b.state == CLOSED and b.allow()
    b.failure()
    assert b.state == OPEN and not b.allow()
    assert value("portal_cache_breaker_open") == 1


def test_one_probe_after_cooldown_then_closes_on_success() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    b.failure()
    clock.now += 4.9
    assert not b.allow()
    clock.now += 0.2
    assert b.allow() and b.state == HALF_OPEN
    assert not b.allow()  # only one probe
    b.success()
    assert b.state == CLOSED and b.allow()
    assert value("portal_cache_breaker_open") == 0


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    b.failure()
    clock.now += 5
    assert b.allow()
    b.failure()
    assert b.state == OPEN
    clock.now += 4
    assert not b.allow()
    clock.now += 1
    assert b.allow()


def test_lost_probe_is_replaced_after_a_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    b.failure()
    clock.now += 5
    assert b.allow()  # this probe never reports back
    clock.now += 1
    assert not b.allow()
    clock.now += 5
    assert b.allow()
