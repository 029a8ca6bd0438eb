"""Redis SIGKILLed and restarted while 16 clients read through the gateway: the cache fails open
(every request answered from the systems of record), latency stays bounded, and once Redis is
back the services use it again without a restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.helpers.infra_stack import InfraStack
from tests.helpers.load import read_load
from tests.helpers.redis_servers import cli

pytestmark = pytest.mark.faults

# Cached reads of four services (GetMe is Postgres, no cache: the control group).
PATHS = (
    "/v1/invoices",
    "/v1/subscriptions",
    "/v1/payment-methods",
    "/v1/catalog/products",
    "/v1/catalog/eligibility",
    "/v1/orders",
    "/v1/me",
)
CACHED = ("/v1/invoices", "/v1/subscriptions", "/v1/payment-methods", "/v1/catalog/products")


async def upstream_calls(infra: InfraStack) -> int:
    """WHMCS calls plus Salesforce queries so far (what a cache miss costs)."""
    whmcs = await infra.control("whmcs").calls()
    salesforce = await infra.control("salesforce").calls()
    return sum(whmcs.values()) + sum(n for k, n in salesforce.items() if k.startswith("query"))


async def cache_in_use(infra: InfraStack, within: float) -> float:
    """Seconds until repeated cached reads (over both replicas) cost no upstream call."""
    started = time.monotonic()
    while True:
        before = await upstream_calls(infra)
        for _ in range(3):  # round-robin: every replica of each service serves some of them
            for path in CACHED:
                response = await infra.gateway.get(path, headers=infra.headers)
                assert response.status_code == 200, response.text
        if await upstream_calls(infra) == before:
            return time.monotonic() - started
        assert time.monotonic() - started < within, "the cache is not used again"
        await asyncio.sleep(0.5)


async def test_redis_killed_and_restarted_under_read_load(infra: InfraStack) -> None:
    for path in PATHS:  # warm every cache entry
        response = await infra.gateway.get(path, headers=infra.headers)
        assert response.status_code == 200, (path, response.text)
    await cache_in_use(infra, within=15)
    assert int(cli(infra.redis.port, "DBSIZE")) > 0

    async with read_load(infra.gateway, PATHS, infra.headers, clients=16) as load:
        await asyncio.sleep(2)
        killed = time.monotonic()
        await asyncio.to_thread(infra.redis.stop)  # SIGKILL
        await asyncio.sleep(4)
        restarted = time.monotonic()
        await asyncio.to_thread(infra.redis.start)  # empty: no persistence
        await asyncio.sleep(4)
    recovered_in = await cache_in_use(infra, within=30)

    report = (
        f"before: {load.summary(until=killed)}; Redis down: "
        f"{load.summary(killed, restarted)}; after restart: {load.summary(restarted)}; "
        f"cache used again {recovered_in:.1f} s after the check started"
    )
    print(report)
    assert not load.failures(), (load.failures()[:5], report)
    assert len(load.samples) > 200, report
    assert load.percentile(0.99) < 2.0, report
    assert int(cli(infra.redis.port, "DBSIZE")) > 0, "no keys written after the restart"
