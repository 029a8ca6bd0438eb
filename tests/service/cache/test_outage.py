"""Redis trouble never fails a request: a silent server, a killed server, and the way back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from portal.billing.v1 import billing_pb2

from services.common.cache import CircuitBreaker, UserScope, policy
from services.common.metrics import value

MSG = billing_pb2.ListInvoicesResponse


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_hung_redis_costs_at_most_the_timeout_then_is_skipped(
    make_cache, loader, silent_port, uid
) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=30)
    cache = make_cache(f"redis://127.0.0.1:{silent_port}/0", breaker=breaker)
    load = loader()
    assert await cache.connect(deadline=0.1) is False  # a service starting against it
    errors = value("portal_cache_requests_total", {"entry": "invoices.list", "result": "error"})
    bypass = value("portal_cache_requests_total", {"entry": "invoices.list", "result": "bypass"})
    latencies = []
    for i in range(10):
        start = time.perf_counter()
        got = await cache.get_or_load(policy.INVOICES_LIST, UserScope(f"{uid}{i}"), load, MSG)
        latencies.append(time.perf_counter() - start)
        assert got.invoices[0].number == f"v{i + 1}"
    assert max(latencies) < 0.2
    assert breaker.state == "open" and max(latencies[2:]) < 0.02
    after = value("portal_cache_requests_total", {"entry": "invoices.list", "result": "error"})
    assert after - errors == 2  # with the failed connect: threshold reached
    after = value("portal_cache_requests_total", {"entry": "invoices.list", "result": "bypass"})
    assert after - bypass == 8
    assert value("portal_cache_breaker_open") == 1
    assert await cache.invalidate(UserScope(uid), policy.INVOICES) is False


async def test_redis_dies_mid_test_and_comes_back(
    make_cache, loader, uid, tmp_path, request
) -> None:
    rp_cls = type(request.getfixturevalue("redis_proc"))
    server = rp_cls(tmp_path).start()
    request.addfinalizer(server.stop)
    breaker = CircuitBreaker(threshold=2, cooldown=0.3)
    cache, load, scope = make_cache(server.url, breaker=breaker), loader(), UserScope(uid)
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert load.calls == 1

    server.stop()
    # The process learns it from its invalidation connection's end: the copy of the hit it kept
    # (near.py) goes with it. A service does, between two requests; this test's reads never
    # wait for anything else, so it waits for that once.
    near = cache._near
    assert near is not None
    deadline = time.monotonic() + 2
    while near.armed or len(near):
        assert time.monotonic() < deadline, "the copies outlived the connection"
        await asyncio.sleep(0.005)
    for _ in range(6):
        start = time.perf_counter()
        got = await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
        assert time.perf_counter() - start < 0.2 and got.invoices
    assert load.calls == 7 and breaker.state == "open"

    server.start()  # same port, empty data
    await asyncio.sleep(0.35)  # the cool-down: the next call is the probe
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert breaker.state == "closed" and value("portal_cache_breaker_open") == 0
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert load.calls == 8  # the probe re-filled the cache and the next call was a hit
