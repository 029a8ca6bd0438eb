"""Near copies against a real Redis (RESP3, the client's default, and RESP2): a hit is served from
the process until Redis reports a change to its keys, this process's own writes are read at once,
a lost or silent listener drops every copy, and the bounds hold."""

from __future__ import annotations

import asyncio
import time

import pytest
from portal.billing.v1 import billing_pb2
from portal.commerce.v1 import order_records_pb2 as records
from portal.commerce.v1 import orders_pb2
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError, ResponseError

from services.common.cache import UserScope, policy, redis_from_url
from services.common.cache.near import DROPS_NOTED, HEARTBEAT, SILENT_AFTER, NearCopies, _refusal
from services.common.metrics import value
from tests.helpers.redis_servers import RedisProcess, cli

MSG = billing_pb2.ListInvoicesResponse
ENTRY = policy.INVOICES_LIST
NEAR_HITS, REQUESTS = "portal_cache_near_hits_total", "portal_cache_requests_total"


@pytest.fixture(params=["3", "2"], ids=["resp3", "resp2"])
def url(request, redis_proc) -> str:
    return f"{redis_proc.url}?protocol={request.param}"


@pytest.fixture
async def raw(redis_proc):
    client = Redis.from_url(redis_proc.url)
    yield client
    await client.aclose()


def mgets(port: int) -> int:
    """How many ``MGET``s the server has run (``INFO commandstats``)."""
    for line in cli(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_mget:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def armed(cache, within: float = 2.0) -> NearCopies:
    near = cache._near
    assert near is not None
    await until(lambda: near.armed, within)  # the listener subscribed
    return near


async def until(condition, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.005)


async def kept(cache, loader, uid) -> NearCopies:
    """A filled value read once more from Redis, so this process keeps a copy of it."""
    assert await cache.connect()
    near = await armed(cache)
    await cache.get_or_load(ENTRY, UserScope(uid), loader, MSG)  # miss: filled
    await cache.get_or_load(ENTRY, UserScope(uid), loader, MSG)  # hit from Redis: kept
    assert len(near) == 1
    return near


async def test_a_kept_hit_is_served_without_asking_redis(
    make_cache, loader, uid, url, redis_proc
) -> None:
    cache, load = make_cache(url, near_life=30), loader()
    await kept(cache, load, uid)
    before, near_hits = mgets(redis_proc.port), value(NEAR_HITS, {"entry": ENTRY.name})
    hits = value(REQUESTS, {"entry": ENTRY.name, "result": "hit"})
    got = [await cache.get_or_load(ENTRY, UserScope(uid), load, MSG) for _ in range(20)]
    assert mgets(redis_proc.port) == before  # not one read of Redis
    assert value(NEAR_HITS, {"entry": ENTRY.name}) == near_hits + 20
    assert value(REQUESTS, {"entry": ENTRY.name, "result": "hit"}) == hits + 20
    assert load.calls == 1 and all(g.invoices[0].number == "v1" for g in got)
    got[0].invoices[0].number = "changed by the caller"  # every read gets its own message
    again = await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
    assert again.invoices[0].number == "v1"


async def test_another_process_invalidating_drops_the_copy(make_cache, loader, uid, url) -> None:
    cache, other, load = make_cache(url, near_life=30), make_cache(url), loader()
    near = await kept(cache, load, uid)
    assert await other.invalidate(UserScope(uid), policy.INVOICES)
    await until(lambda: len(near) == 0)  # Redis's message, long before the copy's 30 s
    fresh = await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
    assert load.calls == 2 and fresh.invoices[0].number == "v2"


async def test_every_user_invalidation_from_another_process_drops_it(
    make_cache, loader, uid, url
) -> None:
    cache, other, load = make_cache(url, near_life=30), make_cache(url), loader()
    near = await kept(cache, load, uid)
    assert await other.invalidate_all(policy.INVOICES)
    await until(lambda: len(near) == 0)


async def test_own_invalidation_is_read_at_once(make_cache, loader, uid, url) -> None:
    cache, load = make_cache(url, near_life=30), loader()
    near = await kept(cache, load, uid)
    assert near._connection is not None and near._connection._writer is not None
    near._connection._writer.transport.pause_reading()  # Redis's message cannot arrive
    assert await cache.invalidate(UserScope(uid), policy.INVOICES)
    # Not Redis's message: the very next read misses all the same.
    fresh = await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
    assert load.calls == 2 and fresh.invoices[0].number == "v2"


async def test_a_value_changed_or_expired_in_redis_drops_the_copy(
    make_cache, loader, uid, url, tmp_path
) -> None:
    # Its own server: Redis reports an expiry when its active expiry deletes the key, which it
    # finds at once among a few keys with a TTL, later among the thousands the other tests leave
    # on the shared one (a copy then lives its own life at most: the next test).
    server = RedisProcess(tmp_path).start()
    try:
        cache, load = make_cache(f"{server.url}?protocol={url[-1]}", near_life=30), loader()
        near = await kept(cache, load, uid)
        (value,) = [k for k in near._copies]
        raw = Redis.from_url(server.url)
        await raw.pexpire(value, 1000)  # its TTL changed (a writer's hold caps it)...
        await raw.aclose()
        await until(lambda: len(near) == 0)
        await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)  # from Redis: kept again
        await until(lambda: len(near) == 1)
        await until(lambda: len(near) == 0, within=3.0)  # ...and Redis's expiry of the value
        await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
        assert load.calls == 2
    finally:
        server.stop()


async def test_a_flush_drops_every_copy(make_cache, loader, uid, url, tmp_path) -> None:
    server = RedisProcess(tmp_path).start()  # its own server: a flush must not touch the others
    try:
        cache, load = make_cache(f"{server.url}?protocol={url[-1]}", near_life=30), loader()
        near = await kept(cache, load, uid)
        cli(server.port, "FLUSHALL")
        await until(lambda: len(near) == 0)
        await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
        assert load.calls == 2
    finally:
        server.stop()


async def test_a_copy_lives_no_longer_than_its_life(make_cache, loader, uid, redis_proc) -> None:
    cache, load = make_cache(near_life=0.2), loader()
    await kept(cache, load, uid)
    before = mgets(redis_proc.port)
    await asyncio.sleep(0.25)
    await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
    assert mgets(redis_proc.port) == before + 1 and load.calls == 1  # read from Redis again


async def test_a_killed_listener_drops_every_copy_and_comes_back(
    make_cache, loader, uid, url, raw, redis_proc
) -> None:
    cache, load = make_cache(url, near_life=30), loader()
    near = await kept(cache, load, uid)
    assert near.client_id is not None
    await raw.client_kill_filter(_id=str(near.client_id))
    await until(lambda: not near.armed and len(near) == 0, within=1.0)
    assert value("portal_cache_near_subscribed") == 0
    before = mgets(redis_proc.port)
    await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)  # while it is down: from Redis
    assert mgets(redis_proc.port) == before + 1 and len(near) == 0
    await armed(cache, within=HEARTBEAT + 2)  # the next tick subscribes again
    assert value("portal_cache_near_subscribed") == 1
    await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
    assert len(near) == 1 and load.calls == 1


async def test_a_silent_listener_drops_every_copy(make_cache, loader, uid, tmp_path) -> None:
    server = RedisProcess(tmp_path).start()
    try:
        cache, load = make_cache(server.url, near_life=30), loader()
        near = await kept(cache, load, uid)
        cli(server.port, "CLIENT", "PAUSE", str(int((SILENT_AFTER + 2 * HEARTBEAT) * 1000)))
        started = time.monotonic()
        await until(lambda: not near.armed, within=SILENT_AFTER + 2 * HEARTBEAT + 1)
        assert len(near) == 0 and time.monotonic() - started >= SILENT_AFTER - HEARTBEAT
    finally:
        server.stop()


async def test_a_cluster_keeps_no_copies(make_cache, redis_cluster) -> None:
    assert make_cache(redis_cluster)._near is None


async def test_no_copies_when_switched_off(make_cache) -> None:
    assert make_cache(near_life=0)._near is None


# -- the copies' own rules (no listener needed) ---------------------------------------------------
def near() -> NearCopies:
    copies = NearCopies(redis_from_url("redis://127.0.0.1:1").connection_pool, "x:", life=30)
    copies.armed = True
    return copies


def test_a_read_overtaken_by_a_drop_is_not_kept() -> None:
    copies = near()
    seq = copies.seq  # the read is sent
    copies.drop(["x:gen"])  # a change is reported before its reply
    copies.keep("x:v", ("x:v", "x:gen"), b"g|old", b"g", seq, 90)
    assert copies.get("x:v") is None
    copies.keep("x:v", ("x:v", "x:gen"), b"g|new", b"g", copies.seq, 90)
    assert copies.get("x:v") is not None


def test_a_drop_of_any_key_read_drops_the_copy_and_its_index() -> None:
    copies = near()
    copies.keep("x:a", ("x:a", "x:gen", "x:all"), b"g|a", b"g", copies.seq, 90)
    copies.keep("x:b", ("x:b", "x:gen", "x:all"), b"g|b", b"g", copies.seq, 90)
    copies.keep("x:c", ("x:c", "x:other", "x:all"), b"g|c", b"g", copies.seq, 90)
    copies.drop(["x:gen"])
    assert [copies.get(k) is not None for k in ("x:a", "x:b", "x:c")] == [False, False, True]
    assert set(copies._by_key) == {"x:c", "x:other", "x:all"}
    copies.drop(["x:all"])
    assert len(copies) == 0 and copies._by_key == {} and copies._bytes == 0


def test_the_bounds_hold_oldest_first() -> None:
    copies = NearCopies(
        redis_from_url("redis://127.0.0.1:1").connection_pool, "x:", entries=3, size=800
    )
    copies.armed = True
    for n in range(5):
        copies.keep(f"x:{n}", (f"x:{n}",), b"g|" + b"v" * 50, b"g", copies.seq, 90)
    assert list(copies._copies) == ["x:2", "x:3", "x:4"]
    copies.keep("x:big", ("x:big",), b"g|" + b"v" * 200, b"g", copies.seq, 90)  # over 800 / 8
    assert copies.get("x:big") is None
    for n in range(5, 12):
        copies.keep(f"x:{n}", (f"x:{n}",), b"g|" + b"v" * 97, b"g", copies.seq, 90)
    assert len(copies) <= 3 and copies._bytes <= 800


def test_a_copy_lives_no_longer_than_its_entry_ttl() -> None:
    copies = near()
    copies.keep("x:v", ("x:v",), b"g|v", b"g", copies.seq, 0.01)
    assert copies.get("x:v") is not None
    time.sleep(0.02)
    assert copies.get("x:v") is None and len(copies) == 0


def test_nothing_is_kept_while_the_listener_is_down() -> None:
    copies = near()
    copies.armed = False
    copies.keep("x:v", ("x:v",), b"g|v", b"g", copies.seq, 90)
    assert len(copies) == 0


async def test_own_patch_is_read_at_once(make_cache, uid) -> None:
    page = records.OrdersPageRecord
    pending, approved = orders_pb2.ORDER_STATUS_PENDING_REVIEW, orders_pb2.ORDER_STATUS_APPROVED

    async def load() -> records.OrdersPageRecord:
        order = orders_pb2.Order(id="801A", status=pending)
        return page(orders=[records.OrderRecord(order=order, modified_ms=1)])

    def approve(value: records.OrdersPageRecord) -> records.OrdersPageRecord:
        value.orders[0].order.status = approved
        return value

    cache, scope = make_cache(near_life=30), UserScope(uid)
    assert await cache.connect()
    near = await armed(cache)
    for _ in range(2):  # filled, then read from Redis and kept
        await cache.get_or_load(policy.ORDERS_LIST, scope, load, page)
    assert len(near) == 1 and near._connection is not None and near._connection._writer
    near._connection._writer.transport.pause_reading()  # Redis's message cannot arrive
    assert await cache.patch(policy.ORDERS_LIST, scope, page, approve)
    got = await cache.get_or_load(policy.ORDERS_LIST, scope, load, page)
    assert got.orders[0].order.status == approved


async def test_a_server_refusing_tracking_leaves_the_cache_working_without_copies(
    make_cache, loader, uid, tmp_path, redis_proc
) -> None:
    server = RedisProcess(tmp_path).start()
    try:
        # An ACL user that may read and write keys but not run CLIENT (no tracking).
        cli(server.port, "ACL", "SETUSER", "portal", "on", ">secret", "~*", "+@all", "-client")
        url = f"redis://portal:secret@127.0.0.1:{server.port}/0"
        cache, load = make_cache(url), loader()
        assert await cache.connect()
        near = cache._near
        assert near is not None
        await until(lambda: near._refused)
        for _ in range(3):
            await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
        assert load.calls == 1 and len(near) == 0 and not near.armed  # hits from Redis
        await asyncio.sleep(2 * HEARTBEAT + 0.2)
        stats = [
            line
            for line in cli(server.port, "INFO", "commandstats").splitlines()
            if line.startswith("cmdstat_client|")
        ]
        rejected = sum(int(line.split("rejected_calls=")[1].split(",")[0]) for line in stats)
        assert rejected == 1, stats  # asked once, never again
        assert all(":calls=0," in line for line in stats), stats
    finally:
        server.stop()


async def test_a_caller_joining_a_read_after_a_change_keeps_nothing(
    make_cache, loader, uid, url
) -> None:
    # A deadline longer than the held reply (the read must not give up and serve live).
    cache, other, load = make_cache(url, near_life=30, timeout=2.0), make_cache(url), loader()
    near = await kept(cache, load, uid)
    near.clear()  # no copy: the next reads go to Redis
    await until(lambda: near.armed)
    assert cache._hits is not None and cache._hits._link is not None
    reads = cache._hits._link.connection._writer.transport  # type: ignore[union-attr]
    reads.pause_reading()  # the read's reply waits in the socket
    first = asyncio.create_task(cache.get_or_load(ENTRY, UserScope(uid), load, MSG))
    await asyncio.sleep(0.05)  # sent and answered by Redis: the value from before the change
    seq = near.seq
    assert await other.invalidate(UserScope(uid), policy.INVOICES)
    await until(lambda: near.seq > seq)  # the change's message has come
    second = asyncio.create_task(cache.get_or_load(ENTRY, UserScope(uid), load, MSG))
    await asyncio.sleep(0)  # it joins the read in flight
    reads.resume_reading()
    got = await asyncio.gather(first, second)
    assert all(g.invoices[0].number == "v1" for g in got)  # served, as from Redis...
    assert len(near) == 0  # ...but not kept by either
    fresh = await cache.get_or_load(ENTRY, UserScope(uid), load, MSG)
    assert fresh.invoices[0].number == "v2"


async def test_redis_away_at_start_copies_come_once_it_is_back(make_cache, tmp_path) -> None:
    server = RedisProcess(tmp_path).start()
    server.stop()
    try:
        cache = make_cache(server.url, near_life=30)
        assert not await cache.connect()
        server.start()  # same port
        near = await armed(cache, within=HEARTBEAT + 3)  # the listener's tick retried
        assert near.client_id is not None
    finally:
        server.stop()


def test_a_drop_of_another_key_does_not_stop_a_read_from_being_kept() -> None:
    copies = near()
    seq = copies.seq
    copies.drop(["x:lock", "x:filled"])  # other keys of the namespace written meanwhile
    copies.keep("x:v", ("x:v", "x:gen"), b"g|v", b"g", seq, 90)
    assert copies.get("x:v") is not None


def test_past_the_noted_drops_every_read_in_flight_keeps_nothing() -> None:
    copies = near()
    seq = copies.seq
    copies.drop([f"x:other{n}" for n in range(DROPS_NOTED + 1)])
    assert len(copies._dropped) == 0  # forgotten...
    copies.keep("x:v", ("x:v",), b"g|v", b"g", seq, 90)
    assert copies.get("x:v") is None  # ...so a read sent before is not kept
    copies.keep("x:v", ("x:v",), b"g|v", b"g", copies.seq, 90)
    assert copies.get("x:v") is not None


def test_only_a_lasting_refusal_stops_the_listener() -> None:
    assert _refusal(NoPermissionError("this user has no permissions to run 'client|tracking'"))
    assert _refusal(ResponseError("ERR unknown command 'CLIENT', with args beginning with:"))
    assert _refusal(ResponseError("ERR Unknown subcommand or wrong number of arguments for 'ID'"))
    assert not _refusal(ResponseError("BUSY Redis is busy running a script."))
