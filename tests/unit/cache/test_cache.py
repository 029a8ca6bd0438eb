from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from portal.billing.v1 import billing_pb2
from structlog.testing import capture_logs

from services.common.cache import SHARED_CATALOG, Cache, CircuitBreaker, UserScope, policy
from services.common.metrics import value

MSG = billing_pb2.ListInvoicesResponse


def req(entry: str, result: str) -> float:
    return value("portal_cache_requests_total", {"entry": entry, "result": result})


class Loader:
    def __init__(self, delay: float = 0.0, fail: Exception | None = None) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def __call__(self) -> Any:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise self.fail
        return MSG(invoices=[billing_pb2.Invoice(number=f"n{self.calls}")])


def make(fake: Any, **kw: Any) -> Cache:
    return Cache(fake, service="unit", namespace="unit", **kw)


async def test_disabled_cache_always_loads() -> None:
    cache, load = Cache.disabled(), Loader()
    for _ in range(3):
        await cache.get_or_load(policy.INVOICES_LIST, UserScope("u"), load, MSG)
    assert load.calls == 3


async def test_hit_after_miss_and_family_invalidation(fake_redis) -> None:
    cache, load, scope = make(fake_redis), Loader(), UserScope("u1")
    first = await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    second = await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert first == second and load.calls == 1
    assert await cache.invalidate(scope, policy.INVOICES)
    third = await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert load.calls == 2 and third.invoices[0].number == "n2"


async def test_a_miss_storm_reads_the_fill_marker_once(fake_redis) -> None:
    """Every concurrent miss of one key counts its cause, from one read of the fill marker."""
    cache, load, scope = make(fake_redis), Loader(delay=0.05), UserScope("storm")

    def first() -> float:
        return value(
            "portal_cache_misses_total",
            {"entry": "invoices.list", "why": "first", "rpc": "background"},
        )

    before = first()
    await asyncio.gather(
        *(cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG) for _ in range(20))
    )
    assert load.calls == 1 and fake_redis.gets == 1 and first() == before + 20
    assert await cache.invalidate(scope, policy.INVOICES)
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)  # the old value is there
    assert load.calls == 2 and fake_redis.gets == 1


async def test_wrong_scope_is_refused_at_run_time(fake_redis) -> None:
    cache = make(fake_redis)
    with pytest.raises(TypeError):
        await cache.get_or_load(policy.INVOICES_LIST, SHARED_CATALOG, Loader(), MSG)  # type: ignore[misc]
    with pytest.raises(TypeError):
        await cache.invalidate(UserScope("u"), policy.CATALOG)  # type: ignore[misc]


async def test_concurrent_misses_make_one_loader_call(fake_redis) -> None:
    cache, load = make(fake_redis), Loader(delay=0.02)
    results = await asyncio.gather(
        *(cache.get_or_load(policy.INVOICES_LIST, UserScope("sf"), load, MSG) for _ in range(200))
    )
    assert load.calls == 1 and all(r == results[0] for r in results)


async def test_loader_errors_propagate_to_all_waiters_and_are_not_cached(fake_redis) -> None:
    cache, load = make(fake_redis), Loader(delay=0.01, fail=LookupError("upstream"))
    scope = UserScope("err")
    results = await asyncio.gather(
        *(cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG) for _ in range(10)),
        return_exceptions=True,
    )
    assert load.calls == 1 and all(isinstance(r, LookupError) for r in results)
    load.fail = None
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert load.calls == 2


async def test_redis_errors_serve_live_count_and_log_without_the_value(fake_redis) -> None:
    fake_redis.mode = "error"
    cache, load = make(fake_redis, breaker=CircuitBreaker(threshold=100)), Loader()
    before = req("invoices.list", "error")
    errors = value("portal_cache_errors_total", {"operation": "get"})
    with capture_logs() as logs:
        out = await cache.get_or_load(policy.INVOICES_LIST, UserScope("e"), load, MSG)
    assert out.invoices[0].number == "n1"
    assert req("invoices.list", "error") == before + 1
    assert value("portal_cache_errors_total", {"operation": "get"}) == errors + 1
    [line] = [e for e in logs if e["event"] == "cache_error" and e["operation"] == "get"]
    assert line["operation"] == "get" and "n1" not in repr(line)
    assert await cache.invalidate(UserScope("e"), policy.INVOICES) is False


async def test_hanging_redis_is_bounded_then_skipped_by_the_breaker(fake_redis) -> None:
    fake_redis.mode = "hang"
    breaker = CircuitBreaker(threshold=3, cooldown=60)
    cache, load = make(fake_redis, timeout=0.03, breaker=breaker), Loader()
    assert await cache.connect(deadline=0.05) is False  # start-up: one failure counted
    bypass = req("invoices.list", "bypass")
    for i in range(6):
        start = time.perf_counter()
        await cache.get_or_load(policy.INVOICES_LIST, UserScope(f"h{i}"), load, MSG)
        assert time.perf_counter() - start < 0.2
    assert load.calls == 6
    assert breaker.state == "open"
    assert fake_redis.calls == 3  # connect + two reads; the other four never touched Redis
    assert req("invoices.list", "bypass") == bypass + 4


async def test_live_reads_are_single_flight_while_redis_is_down(fake_redis) -> None:
    fake_redis.mode = "error"
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    cache, load = make(fake_redis, breaker=breaker), Loader(delay=0.02)
    scope = UserScope("down")
    results = await asyncio.gather(
        *(cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG) for _ in range(50))
    )
    assert load.calls == 1 and all(r == results[0] for r in results)
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG)
    assert load.calls == 2  # nothing is kept once the flight landed: the next read is live again


async def test_a_cancelled_reader_does_not_strand_the_others(fake_redis) -> None:
    fake_redis.mode = "hang"
    cache, load = make(fake_redis, timeout=0.05, breaker=CircuitBreaker(threshold=100)), Loader()
    await cache.connect(deadline=0.01)
    scope = UserScope("cancel")
    first = asyncio.create_task(cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG))
    await asyncio.sleep(0.005)
    others = [
        asyncio.create_task(cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG))
        for _ in range(5)
    ]
    await asyncio.sleep(0.005)
    first.cancel()
    done = await asyncio.wait_for(asyncio.gather(*others), timeout=1.0)
    assert all(r.invoices for r in done) and load.calls == 1
