"""The breaker and the retry policy, with a fake clock and fake calls (no I/O)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from services.common.clients.resilience import BreakerOpen, CircuitBreaker, Policy, Upstream
from services.common.errors import NotFound, UpstreamUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_one_probe_and_closes() -> None:
    clock, changes = Clock(), []
    breaker = CircuitBreaker(2, 10.0, clock=clock, on_change=changes.append)
    assert breaker.allow()
    breaker.failure()
    breaker.success()  # a success resets the consecutive count
    breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the probe
    assert breaker.state == "half_open" and not breaker.allow()  # only one at a time
    breaker.failure()
    assert breaker.state == "open"
    clock.now += 10.1
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()
    assert changes == ["open", "half_open", "open", "half_open", "closed"]


def test_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 1.0, clock=clock)
    breaker.failure()
    clock.now += 2
    assert breaker.allow()
    breaker.abandon()
    assert breaker.allow()


FAST = Policy(timeout_s=0.2, read_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002,
              breaker_threshold=10)  # fmt: skip


class Flaky:
    def __init__(self, failures: int, exc: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.exc = exc or UpstreamUnavailable()

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return "ok"


async def test_reads_are_retried_writes_are_not() -> None:
    up = Upstream("test", FAST)
    read = Flaky(2)
    assert await up.call("read", read, idempotent=True) == "ok"
    assert read.calls == 3
    write = Flaky(1)
    with pytest.raises(UpstreamUnavailable):
        await up.call("write", write)
    assert write.calls == 1


async def test_a_read_gets_exactly_its_attempts() -> None:
    """The first attempt runs outside tenacity; the retries after it still stop at the policy's
    number of attempts in all."""
    up = Upstream("test", FAST)
    down = Flaky(10)
    with pytest.raises(UpstreamUnavailable):
        await up.call("read", down, idempotent=True)
    assert down.calls == FAST.read_attempts
    once = Upstream("test", replace(FAST, read_attempts=1))
    single = Flaky(1)
    with pytest.raises(UpstreamUnavailable):
        await once.call("read", single, idempotent=True)
    assert single.calls == 1


async def test_business_errors_are_not_retried_and_do_not_trip_the_breaker() -> None:
    up = Upstream("test", Policy(breaker_threshold=1, read_attempts=3))
    missing = Flaky(5, NotFound())
    with pytest.raises(NotFound):
        await up.call("read", missing, idempotent=True)
    assert missing.calls == 1 and up.breaker.state == "closed"


async def test_timeout_and_unexpected_errors_become_unavailable() -> None:
    up = Upstream("test", FAST)

    async def slow() -> None:
        await asyncio.sleep(1)

    with pytest.raises(UpstreamUnavailable):
        await up.call("slow", slow)
    with pytest.raises(UpstreamUnavailable):
        await up.call("odd", Flaky(1, KeyError("x")))


async def test_breaker_open_is_not_retried() -> None:
    up = Upstream("test", Policy(breaker_threshold=1, breaker_cooldown_s=60, read_attempts=5,
                                 backoff_initial_s=0.001))  # fmt: skip
    with pytest.raises(UpstreamUnavailable):
        await up.call("x", Flaky(1))
    calls = Flaky(0)
    with pytest.raises(BreakerOpen):
        await up.call("x", calls, idempotent=True)
    assert calls.calls == 0


async def test_concurrency_is_limited() -> None:
    up = Upstream("test", Policy(max_concurrency=2))
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(up.call("w", work) for _ in range(6)))
    assert peak == 2
