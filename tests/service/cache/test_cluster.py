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


USES_THE_DEFERRED_REDIS_MODULES = """
import asyncio, sys
from services.common import lean
from services.common.cache import Cache, UserScope, policy, redis_from_url
from portal.billing.v1 import billing_pb2
import redis
from redis.asyncio import Redis, RedisCluster

DEFERRED = (lean.REDIS_CLUSTER, lean.REDIS_ASYNC_CLUSTER, lean.REDIS_KEYSPACE,
            lean.REDIS_ASYNC_KEYSPACE)
assert all(isinstance(sys.modules[m].__spec__, lean._Spec) for m in DEFERRED)
assert not isinstance(object(), RedisCluster)
cluster_url, plain_url = sys.argv[1], sys.argv[2]

async def main() -> None:
    # A cluster URL builds the real cluster client, and the cache sees it as one.
    client = redis_from_url(cluster_url)
    real = sys.modules[lean.REDIS_ASYNC_CLUSTER]
    assert not isinstance(real.__spec__, lean._Spec) and type(client) is real.RedisCluster
    assert isinstance(client, RedisCluster) and isinstance(client, redis.asyncio.RedisCluster)
    cache = Cache(client, service="test", namespace="lean-deferral")
    calls = []

    async def load():
        calls.append(1)
        return billing_pb2.ListInvoicesResponse(invoices=[billing_pb2.Invoice(number="7")])

    scope = UserScope("lean-deferral")
    await cache.invalidate(scope, policy.INVOICES)
    for _ in range(2):
        page = await cache.get_or_load(policy.INVOICES_LIST, scope, load,
                                       billing_pb2.ListInvoicesResponse)
        assert page.invoices[0].number == "7"
    assert calls == [1], calls  # the second read came from the cluster
    assert len(client.get_nodes()) == 3
    await cache.aclose()
    # The synchronous cluster client, through the name the redis package re-exports.
    sync = redis.RedisCluster.from_url(cluster_url.replace("+cluster", ""))
    assert type(sync) is sys.modules[lean.REDIS_CLUSTER].RedisCluster
    assert sync.set("lean-deferral", b"1") and sync.get("lean-deferral") == b"1"
    sync.close()
    # Keyspace notifications on a standalone server: the client's own method and the names
    # the packages re-export.
    plain = Redis.from_url(plain_url)
    await plain.config_set("notify-keyspace-events", "KEA")
    notifications = plain.keyspace_notifications()
    await notifications.subscribe(redis.KeyspaceChannel("lean-deferral:*"))
    await plain.set("lean-deferral:k", b"v")
    got = None
    for _ in range(50):
        got = await notifications.get_message(timeout=0.1)
        if got is not None:
            break
    assert got is not None and got.key == "lean-deferral:k", got
    assert got.event_type == redis.EventType.SET, got
    assert isinstance(notifications, redis.asyncio.AsyncKeyspaceNotifications)
    assert redis.get_channel_type("__keyspace@0__:x") == redis.ChannelType.KEYSPACE
    await notifications.aclose()
    await plain.aclose()

asyncio.run(main())
assert not any(isinstance(sys.modules[m].__spec__, lean._Spec) for m in DEFERRED)
"""


def test_the_deferred_cluster_and_keyspace_modules_work_when_used(redis_cluster, redis_proc):
    # A process set up as a service is (services.common.cache registers the deferral before
    # redis-py's import): redis-py's cluster client and keyspace notifications are stand-ins
    # until a cluster URL or a notification uses them, then the real ones, on real servers.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", USES_THE_DEFERRED_REDIS_MODULES, redis_cluster, redis_proc.url],
        cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
