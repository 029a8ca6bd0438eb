"""The same library, unchanged, on a real 3-node Redis Cluster (single-slot calls only)."""

from __future__ import annotations

import asyncio

import pytest
from portal.billing.v1 import billing_pb2

from services.common.cache import (
    SHARED_CATALOG,
    Cache,
    UserScope,
    Variant,
    policy,
    redis_from_url,
)

MSG = billing_pb2.ListInvoicesResponse


@pytest.fixture
async def cluster_cache(redis_cluster):
    made: list[Cache] = []

    def make() -> Cache:
        made.append(
            Cache(redis_from_url(redis_cluster), service="test", namespace="test", timeout=0.5)
        )
        return made[-1]

    yield make
    for cache in made:
        await cache.aclose()


async def test_cluster_hits_invalidation_and_single_flight(cluster_cache, loader, uid) -> None:
    cache = cluster_cache()
    users = [UserScope(f"{uid}-{i}") for i in range(8)]  # spread over the three masters
    loads = [loader(f"u{i}-", delay=0.02) for i in range(8)]
    for _ in range(2):
        await asyncio.gather(
            *(
                cache.get_or_load(policy.INVOICES_LIST, u, load, MSG, variant=p)
                for u, load in zip(users, loads, strict=True)
                for p in (Variant.of(page=1), Variant.of(page=2))
                for _ in range(25)
            )
        )
    assert [load.calls for load in loads] == [2] * 8  # 50 concurrent callers, 2 pages, one load
    assert await cache.invalidate(users[0], policy.INVOICES)
    for u, load in zip(users, loads, strict=True):
        await cache.get_or_load(policy.INVOICES_LIST, u, load, MSG, variant=Variant.of(page=1))
    assert [load.calls for load in loads] == [3] + [2] * 7
    assert cache.breaker.state == "closed"


async def test_cluster_invalidate_all_and_shared_catalog(cluster_cache, loader, uid) -> None:
    one, two = cluster_cache(), cluster_cache()
    users = [UserScope(f"{uid}-{i}") for i in range(6)]
    load, catalog = loader(), loader()
    for cache in (one, two):
        for u in users:
            await cache.get_or_load(policy.ORDERS_LIST, u, load, MSG)
        await cache.get_or_load(policy.CATALOG_PRICES, SHARED_CATALOG, catalog, MSG)
    assert load.calls == 6 and catalog.calls == 1
    assert await one.invalidate_all(policy.ORDERS)
    assert await one.invalidate_all(policy.CATALOG)
    for u in users:
        await two.get_or_load(policy.ORDERS_LIST, u, load, MSG)
    await two.get_or_load(policy.CATALOG_PRICES, SHARED_CATALOG, catalog, MSG)
    assert load.calls == 12 and catalog.calls == 2


async def test_cluster_cross_process_lock(cluster_cache, loader, uid) -> None:
    one, two, load = cluster_cache(), cluster_cache(), loader(delay=0.2)
    scope = UserScope(uid)
    await asyncio.gather(
        *(
            c.get_or_load(policy.ORDER_DETAIL, scope, load, MSG)
            for c in (one, two)
            for _ in range(5)
        )
    )
    assert load.calls == 1
