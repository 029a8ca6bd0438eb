"""Edits in place (``Cache.patch``) against a real Redis and a real 3-node cluster: every current
value edited with its TTL kept, a fill in flight stores nothing, anything unsafe drops."""

from __future__ import annotations

import asyncio

import pytest
from portal.commerce.v1 import order_records_pb2 as records
from portal.commerce.v1 import orders_pb2
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from services.common.cache import (
    DROP,
    Cache,
    Edit,
    Unpatchable,
    UserScope,
    Variant,
    policy,
    redis_from_url,
)
from services.common.cache.keys import keys_for, notes_key, schema_hash

PAGE = records.OrdersPageRecord
ENTRY = policy.ORDERS_LIST


class PageLoader:
    def __init__(self, status: int = orders_pb2.ORDER_STATUS_PENDING_REVIEW, delay: float = 0.0):
        self.calls, self.status, self.delay = 0, status, delay

    async def __call__(self) -> records.OrdersPageRecord:
        self.calls += 1
        await asyncio.sleep(self.delay)
        order = orders_pb2.Order(id="801A", status=self.status)
        return PAGE(orders=[records.OrderRecord(order=order, modified_ms=1)])


def approve(page: records.OrdersPageRecord) -> records.OrdersPageRecord | None:
    if not page.orders:
        return None
    page.orders[0].order.status = orders_pb2.ORDER_STATUS_APPROVED
    return page


async def read(
    cache: Cache, scope: UserScope, load: PageLoader, n: int
) -> records.OrdersPageRecord:
    return await cache.get_or_load(ENTRY, scope, load, PAGE, variant=Variant.of(offset=n))


@pytest.fixture
async def raw(redis_proc):
    client = Redis.from_url(redis_proc.url)
    yield client
    await client.aclose()


@pytest.fixture
async def cluster_cache(redis_cluster):
    cache = Cache(redis_from_url(redis_cluster), service="test", namespace="test", timeout=0.5)
    yield cache
    await cache.aclose()


async def test_every_current_value_is_edited_and_keeps_its_ttl(make_cache, raw, uid) -> None:
    cache, scope, load = make_cache(), UserScope(uid), PageLoader()
    for n in (0, 20):
        await read(cache, scope, load, n)
    key = keys_for(cache.namespace, ENTRY, scope, schema_hash(PAGE, ENTRY.version),
                   Variant.of(offset=20), cluster=False).value  # fmt: skip
    assert await cache.patch(ENTRY, scope, PAGE, approve)
    for n in (0, 20):
        assert (await read(cache, scope, load, n)).orders[0].order.status == (
            orders_pb2.ORDER_STATUS_APPROVED
        )
    assert load.calls == 2  # both served from the cache after the edit
    assert 0 < await raw.pttl(key) <= ENTRY.ttl * 1000
    assert await cache.patch(ENTRY, scope, PAGE, lambda page: None)  # kept as it is
    assert load.calls == 2 and (await read(cache, scope, load, 0)).orders


async def test_a_fill_in_flight_stores_nothing(make_cache, uid) -> None:
    """A loader that read before the change finishes after the edit: its value is not stored."""
    cache, scope = make_cache(), UserScope(uid)
    slow = PageLoader(delay=0.3)
    filling = asyncio.create_task(read(cache, scope, slow, 0))
    await asyncio.sleep(0.1)
    assert await cache.patch(ENTRY, scope, PAGE, approve)
    assert (await filling).orders[0].order.status == orders_pb2.ORDER_STATUS_PENDING_REVIEW
    fresh = PageLoader(orders_pb2.ORDER_STATUS_APPROVED)
    got = await read(cache, scope, fresh, 0)
    assert fresh.calls == 1 and got.orders[0].order.status == orders_pb2.ORDER_STATUS_APPROVED


async def test_unpatchable_and_concurrent_writes_drop_the_family(
    make_cache, raw, redis_proc, uid
) -> None:
    cache, scope, load = make_cache(), UserScope(uid), PageLoader()
    await read(cache, scope, load, 0)

    def refuse(page: records.OrdersPageRecord) -> records.OrdersPageRecord:
        raise Unpatchable("no")

    assert not await cache.patch(ENTRY, scope, PAGE, refuse)
    await read(cache, scope, load, 0)
    assert load.calls == 2  # dropped, read again
    key = keys_for(cache.namespace, ENTRY, scope, schema_hash(PAGE, ENTRY.version),
                   Variant.of(offset=0), cluster=False).value  # fmt: skip
    other = SyncRedis.from_url(redis_proc.url)

    def meanwhile(page: records.OrdersPageRecord) -> records.OrdersPageRecord | None:
        # another writer replaces the value between the edit's read and its script
        other.set(key, other.get(key) + b"x", keepttl=True)
        return approve(page)

    assert not await cache.patch(ENTRY, scope, PAGE, meanwhile)
    other.close()
    await read(cache, scope, load, 0)
    assert load.calls == 3  # the value the other writer left is not served either


async def test_patch_on_a_cluster(cluster_cache, uid) -> None:
    scopes = [UserScope(f"{uid}-{i}") for i in range(6)]  # spread over the three masters
    load = PageLoader()
    for scope in scopes:
        await read(cluster_cache, scope, load, 0)
        assert await cluster_cache.patch(ENTRY, scope, PAGE, approve)
        page = await read(cluster_cache, scope, load, 0)
        assert page.orders[0].order.status == orders_pb2.ORDER_STATUS_APPROVED
    assert load.calls == 6 and cluster_cache.breaker.state == "closed"


def value_key(cache: Cache, scope: UserScope, n: int) -> str:
    return keys_for(cache.namespace, ENTRY, scope, schema_hash(PAGE, ENTRY.version),
                    Variant.of(offset=n), cluster=False).value  # fmt: skip


async def test_a_hold_caps_every_ttl_until_its_writer_edits(make_cache, raw, uid) -> None:
    """While a writer holds the entry no value (a fill included) outlives the hold; the
    writer's edit releases it and gives the values their whole TTL back; ``DROP`` drops one."""
    cache, scope, load = make_cache(), UserScope(uid), PageLoader()
    await read(cache, scope, load, 0)
    assert await raw.pttl(value_key(cache, scope, 0)) > 3_600_000
    assert await cache.hold(ENTRY, scope, PAGE, "w1", 5.0)
    assert 0 < await raw.pttl(value_key(cache, scope, 0)) <= 5_000
    await read(cache, scope, load, 20)  # filled during the hold
    assert 0 < await raw.pttl(value_key(cache, scope, 20)) <= 5_000
    assert await cache.notes(ENTRY, scope) == {"w1"}
    notes_ttl = await raw.pttl(notes_key(cache.namespace, ENTRY, scope))
    assert await cache.note(ENTRY, scope, ["order:1"])
    assert 0 < await raw.pttl(notes_key(cache.namespace, ENTRY, scope)) <= notes_ttl  # as long
    assert await cache.hold(ENTRY, scope, PAGE, "w2", 5.0)  # a second writer

    def edit(page: records.OrdersPageRecord) -> records.OrdersPageRecord | None:
        return approve(page) if page.orders[0].order.id == "801A" else None

    assert await cache.patch(ENTRY, scope, PAGE, edit, release="w1")
    assert 0 < await raw.pttl(value_key(cache, scope, 0)) <= 5_000  # w2 still holds it
    calls = load.calls

    def drop_later(page: records.OrdersPageRecord) -> records.OrdersPageRecord | Edit | None:
        return None if page.offset == 0 and page.orders else DROP

    assert await cache.patch(ENTRY, scope, PAGE, lambda p: approve(p), release="w2")
    assert await raw.pttl(value_key(cache, scope, 0)) > 3_600_000  # no writer left
    assert await raw.pttl(value_key(cache, scope, 20)) > 3_600_000
    assert await cache.notes(ENTRY, scope) == {"w1", "w2", "order:1"}  # notes live on
    assert load.calls == calls
    page = PAGE(orders=[records.OrderRecord(order=orders_pb2.Order(id="801A"))], offset=40)
    later: list[int] = []

    async def loader40() -> records.OrdersPageRecord:
        later.append(1)
        return page

    await cache.get_or_load(ENTRY, scope, loader40, PAGE, variant=Variant.of(offset=40))
    assert await cache.patch(ENTRY, scope, PAGE, drop_later)
    got = await read(cache, scope, load, 0)
    assert got.orders[0].order.status == orders_pb2.ORDER_STATUS_APPROVED and load.calls == calls
    await cache.get_or_load(ENTRY, scope, loader40, PAGE, variant=Variant.of(offset=40))
    assert len(later) == 2  # the dropped value was loaded again, the kept one was not
    assert await cache.release(ENTRY, scope, "w3", forget=["w1", "order:1"])
    assert await cache.notes(ENTRY, scope) == {"w2"}


async def test_a_failed_edit_releases_its_hold(make_cache, raw, uid) -> None:
    cache, scope, load = make_cache(), UserScope(uid), PageLoader()
    await read(cache, scope, load, 0)
    assert await cache.hold(ENTRY, scope, PAGE, "w", 5.0)

    def refuse(page: records.OrdersPageRecord) -> records.OrdersPageRecord:
        raise Unpatchable("no")

    assert not await cache.patch(ENTRY, scope, PAGE, refuse, release="w")
    await read(cache, scope, load, 0)
    assert load.calls == 2  # dropped
    assert await raw.pttl(value_key(cache, scope, 0)) > 3_600_000  # the refill is not capped


async def test_hold_and_notes_on_a_cluster(cluster_cache, uid) -> None:
    for i in range(6):
        scope, load = UserScope(f"{uid}-h{i}"), PageLoader()
        await read(cluster_cache, scope, load, 0)
        assert await cluster_cache.hold(ENTRY, scope, PAGE, "w", 5.0)
        assert await cluster_cache.note(ENTRY, scope, ["n"])
        assert await cluster_cache.notes(ENTRY, scope) == {"w", "n"}
        assert await cluster_cache.patch(ENTRY, scope, PAGE, approve, release="w")
        assert await cluster_cache.release(ENTRY, scope, "w", forget=["n"])
        assert await cluster_cache.notes(ENTRY, scope) == {"w"}
    assert cluster_cache.breaker.state == "closed"


async def test_notes_come_from_a_hold_and_live_as_long_as_it_made_them(
    make_cache, raw, uid
) -> None:
    """A handler's note neither makes notes nor prolongs them; holding again restarts them."""
    cache, scope = make_cache(), UserScope(uid)
    assert await cache.note(ENTRY, scope, ["order:1"])
    assert await cache.notes(ENTRY, scope) == frozenset()  # no writer: nothing noted
    assert await cache.hold(ENTRY, scope, PAGE, "w", 0.3, notes=("order:2",))
    assert await cache.notes(ENTRY, scope) == {"w", "order:2"}
    await asyncio.sleep(0.2)
    assert await cache.note(ENTRY, scope, ["tx:9"])
    assert await cache.notes(ENTRY, scope) == {"w", "order:2", "tx:9"}
    await asyncio.sleep(0.15)
    assert await cache.notes(ENTRY, scope) == frozenset()  # gone with the hold's TTL
    assert await raw.exists(notes_key(cache.namespace, ENTRY, scope)) == 0
