"""A pool gives back the connections a burst opened once they sit idle (real Redis: the
session's throwaway server, whose ``CLIENT LIST`` shows every connection the test opened)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from services.common.cache.client import SheddingPool, redis_from_url, shed_idle_connections
from tests.helpers.redis_servers import RedisProcess

BURST = 100


async def server_clients(admin: Redis) -> int:
    """Connections the server has, besides the admin's own."""
    return len(await admin.client_list()) - 1


async def burst(client: Redis, n: int) -> None:
    await asyncio.gather(*(client.get(f"idle-test:{i}") for i in range(n)))


async def test_a_burst_s_connections_go_back_after_a_quiet_period(redis_proc: RedisProcess) -> None:
    admin = Redis.from_url(redis_proc.url)
    client = redis_from_url(redis_proc.url)
    pool = client.connection_pool
    assert isinstance(pool, SheddingPool)
    try:
        before = await server_clients(admin)
        await burst(client, BURST)
        idle, in_use = pool.connection_counts()
        assert in_use == 0 and idle > 50  # the burst needed many connections at once
        assert await server_clients(admin) - before == idle

        # The first period saw them used: nothing closed yet.
        assert await pool.shed_idle(keep=4) == 0
        # A whole period idle: every one beyond 4 is closed, on the server too.
        assert await pool.shed_idle(keep=4) == idle - 4
        assert pool.connection_counts() == (4, 0)
        assert await server_clients(admin) - before == 4

        # The client still answers, and a smaller burst opens what it needs again.
        await client.set("idle-test:k", b"v")
        assert await client.get("idle-test:k") == b"v"
        await burst(client, 20)
        assert pool.connection_counts()[0] > 4
    finally:
        await client.aclose()
        await admin.aclose()


async def test_connections_in_steady_use_stay_open(redis_proc: RedisProcess) -> None:
    client = redis_from_url(redis_proc.url)
    pool = client.connection_pool
    assert isinstance(pool, SheddingPool)
    try:
        await burst(client, 40)
        opened = pool.connection_counts()[0]
        await pool.shed_idle(keep=2)
        # Between two sheds, 10 at a time: those 10 stay, the others (idle throughout) go.
        for _ in range(3):
            await burst(client, 10)
        closed = await pool.shed_idle(keep=2)
        idle, _ = pool.connection_counts()
        assert closed == opened - idle
        assert 10 <= idle < opened
    finally:
        await client.aclose()


async def test_every_pool_sheds_once_per_period(redis_proc: RedisProcess) -> None:
    """The service's one-second checks (``lean.trim_periodically``) call this: each pool of the
    process sheds at most once per ``idle_s``."""
    a, b = redis_from_url(redis_proc.url), redis_from_url(redis_proc.url)
    try:
        await asyncio.gather(burst(a, 30), burst(b, 30))
        opened = a.connection_pool.connection_counts(), b.connection_pool.connection_counts()
        await shed_idle_connections(0)  # 0: never
        await asyncio.sleep(0.2)
        await shed_idle_connections(0.1, keep=1)  # the first period saw them used
        await shed_idle_connections(0.1, keep=1)  # not a period since the last one
        assert (a.connection_pool.connection_counts(), b.connection_pool.connection_counts()) == (
            opened
        )
        await asyncio.sleep(0.2)
        assert await shed_idle_connections(0.1, keep=1) >= opened[0][0] + opened[1][0] - 2
        assert a.connection_pool.connection_counts() == (1, 0)
        assert b.connection_pool.connection_counts() == (1, 0)
    finally:
        await a.aclose()
        await b.aclose()
