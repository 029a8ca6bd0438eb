"""The cache's pipelined hit reads against a real Redis: every caller gets its own reply, a caller
that gives up does not shift the others, a broken connection fails its waiters and is replaced."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from portal.billing.v1 import billing_pb2
from redis.asyncio import Redis

from services.common.cache import UserScope, policy, redis_from_url
from services.common.cache.pipelined import PipelinedReads
from services.common.metrics import value
from tests.helpers.redis_servers import RedisProcess, cli

MSG = billing_pb2.ListInvoicesResponse


@pytest.fixture
async def redis(redis_proc):
    client = redis_from_url(redis_proc.url)
    yield client
    await client.aclose()


@pytest.fixture
async def reads(redis):
    pipelined = PipelinedReads(redis)
    yield pipelined
    await pipelined.aclose()


@pytest.fixture
def prefix() -> str:
    return f"pipelined-{uuid.uuid4().hex[:8]}"


async def test_concurrent_reads_each_get_their_own_values(redis, reads, prefix) -> None:
    await redis.mset({f"{prefix}:{i}": f"value {i}" for i in range(0, 300, 2)})
    keys = [(f"{prefix}:{i}", f"{prefix}:{i + 1}") for i in range(0, 300, 2)]
    replies = await asyncio.gather(*(reads.mget(k) for k in keys))
    assert replies == [[f"value {i}".encode(), None] for i in range(0, 300, 2)]


async def test_a_caller_that_gives_up_does_not_shift_the_replies(redis, reads, prefix) -> None:
    await redis.mset({f"{prefix}:a": "a", f"{prefix}:b": "b"})
    await reads.mget((f"{prefix}:a",))  # connected
    gives_up = asyncio.create_task(reads.mget((f"{prefix}:a",)))
    await asyncio.sleep(0)  # its command is written; its reply not read yet
    gives_up.cancel()
    assert await reads.mget((f"{prefix}:b",)) == [b"b"]
    assert gives_up.cancelled()


async def test_a_killed_connection_fails_its_waiters_and_is_replaced(
    redis_proc, reads, prefix
) -> None:
    admin = Redis.from_url(redis_proc.url)
    try:
        await admin.set(f"{prefix}:k", "v")
        assert await reads.mget((f"{prefix}:k",)) == [b"v"]
        first = reads._link
        await admin.client_kill_filter(_type="normal", skipme=True)
        for _ in range(50):  # the reader sees the connection end
            if first is None or first.broken:
                break
            await asyncio.sleep(0.01)
        assert first is not None and first.broken
        assert await reads.mget((f"{prefix}:k",)) == [b"v"]
        assert reads._link is not None and reads._link is not first
    finally:
        await admin.aclose()


async def test_a_connection_that_stopped_answering_is_replaced(tmp_path) -> None:
    server = RedisProcess(tmp_path).start()
    client = redis_from_url(server.url)
    reads = PipelinedReads(client, stalled_after=0.2)

    async def gives_up() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):  # the cache's deadline
                await reads.mget(("k",))

    try:
        await client.set("k", "v")
        assert await reads.mget(("k",)) == [b"v"]
        first = reads._link
        cli(server.port, "CLIENT", "PAUSE", "700", "ALL")  # a frozen server
        await gives_up()
        await gives_up()  # within stalled_after: still the same connection
        assert reads._link is first and first is not None and not first.broken
        await asyncio.sleep(0.25)
        await gives_up()  # nothing heard for stalled_after: given up, a new one is opened
        assert first.broken
        async with asyncio.timeout(5):  # once the pause is over
            assert await reads.mget(("k",)) == [b"v"]
        assert reads._link is not None and reads._link is not first
    finally:
        await reads.aclose()
        await client.aclose()
        server.stop()


async def test_reads_with_a_deadline_fail_together_and_the_replies_stay_matched(tmp_path) -> None:
    server = RedisProcess(tmp_path).start()
    client = redis_from_url(server.url)
    reads = PipelinedReads(client)
    try:
        await client.mset({"a": "1", "b": "2"})
        assert await reads.mget(("a",), 0.5) == [b"1"]
        assert reads.ready()
        cli(server.port, "CLIENT", "PAUSE", "400", "ALL")  # a frozen server
        loop = asyncio.get_running_loop()
        started = loop.time()
        late = await asyncio.gather(
            *(reads.mget(("a",), 0.05) for _ in range(3)), return_exceptions=True
        )
        waited = loop.time() - started
        assert all(isinstance(r, TimeoutError) for r in late), late
        assert 0.04 <= waited < 0.3, waited  # one shared deadline, not the pause
        # The replies of the reads that gave up come after the pause and are dropped.
        async with asyncio.timeout(5):
            assert await reads.mget(("b",), 2.0) == [b"2"]
            assert await reads.mget(("a", "b")) == [b"1", b"2"]
    finally:
        await reads.aclose()
        await client.aclose()
        server.stop()


async def test_a_cache_on_a_standalone_server_reads_hits_pipelined(make_cache, loader, uid) -> None:
    cache, load = make_cache(timeout=2.0), loader()  # a loaded test box: no spurious misses
    first = await cache.get_or_load(policy.INVOICES_LIST, UserScope(uid), load, MSG)
    hits = await asyncio.gather(
        *(cache.get_or_load(policy.INVOICES_LIST, UserScope(uid), load, MSG) for _ in range(20))
    )
    assert load.calls == 1 and all(hit == first for hit in hits)
    assert cache._hits is not None and cache._hits._link is not None


async def test_a_hit_on_a_frozen_server_is_served_live_within_the_deadline(
    make_cache, loader, uid, tmp_path
) -> None:
    server = RedisProcess(tmp_path).start()
    try:
        cache, load = make_cache(server.url, timeout=0.05), loader()
        assert await cache.connect()
        await cache.get_or_load(policy.INVOICES_LIST, UserScope(uid), load, MSG)  # filled
        assert cache._hits is not None and cache._hits.ready()  # reads take the batch deadline
        errors = value("portal_cache_requests_total", {"entry": "invoices.list", "result": "error"})
        cli(server.port, "CLIENT", "PAUSE", "500", "ALL")
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await asyncio.gather(
            *(cache.get_or_load(policy.INVOICES_LIST, UserScope(uid), load, MSG) for _ in range(4))
        )
        assert loop.time() - started < 0.3  # the deadline, not the pause
        assert load.calls == 2 and all(g == got[0] for g in got)  # one live load, shared
        after = value("portal_cache_requests_total", {"entry": "invoices.list", "result": "error"})
        assert after - errors == 4
    finally:
        server.stop()
