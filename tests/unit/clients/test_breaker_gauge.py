"""``portal_upstream_breaker_open{system}`` when one process holds several clients of one system
(commerce: the request path's Salesforce client and the fulfillment worker's)."""

from __future__ import annotations

import pytest

from services.common.clients.resilience import Policy, Upstream
from services.common.errors import UpstreamUnavailable
from services.common.metrics import UPSTREAM_BREAKER_OPEN


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gauge(system: str) -> float:
    return float(UPSTREAM_BREAKER_OPEN.labels(system)._value.get())


async def _fail(upstream: Upstream) -> None:
    async def down() -> None:
        raise UpstreamUnavailable()

    with pytest.raises(UpstreamUnavailable):
        await upstream.call("op", down)


async def test_gauge_is_one_while_any_breaker_of_the_system_is_open() -> None:
    clock, policy = Clock(), Policy(breaker_threshold=1, breaker_cooldown_s=10.0)
    request_path = Upstream("gauge-test", policy, clock=clock)
    await _fail(request_path)
    assert gauge("gauge-test") == 1
    # Another client of the same system built later (the worker starting) does not hide it.
    worker = Upstream("gauge-test", policy, clock=clock)
    assert gauge("gauge-test") == 1
    # The worker's breaker opens and closes again while the request path's is still open.
    await _fail(worker)
    clock.now += 10.5

    async def up() -> str:
        return "ok"

    assert await worker.call("op", up) == "ok"
    assert worker.breaker.state == "closed" and request_path.breaker.state == "open"
    assert gauge("gauge-test") == 1
    assert await request_path.call("op", up) == "ok"
    assert gauge("gauge-test") == 0


async def test_a_closed_client_no_longer_counts() -> None:
    clock = Clock()
    upstream = Upstream("gauge-closed", Policy(breaker_threshold=1), clock=clock)
    await _fail(upstream)
    assert gauge("gauge-closed") == 1
    upstream.close()  # what the clients' aclose() does
    assert gauge("gauge-closed") == 0
    Upstream("gauge-closed", Policy(), clock=clock)
    assert gauge("gauge-closed") == 0
