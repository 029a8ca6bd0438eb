"""``close_pool`` ends within its grace even when a connection is never released (asyncpg's
``Pool.close()`` alone would wait for it forever): a real pool on the environment's Postgres."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.common.db import close_pool
from tools import infra


async def test_a_held_connection_does_not_hang_the_close() -> None:
    url, _ = infra.urls_from_env()
    pool = await asyncpg.create_pool(infra.with_database(url, "postgres"), min_size=1, max_size=2)
    held = await pool.acquire()  # a task that never gives its connection back
    await asyncio.wait_for(close_pool(pool, grace=0.2), 5)  # a hang fails here
    assert pool.is_closing()
    with pytest.raises(asyncpg.InterfaceError):  # its connection was terminated
        await held.fetchval("SELECT 1")


async def test_an_idle_pool_closes_gracefully() -> None:
    url, _ = infra.urls_from_env()
    pool = await asyncpg.create_pool(infra.with_database(url, "postgres"), min_size=1, max_size=2)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    await close_pool(pool, grace=5)
    assert pool.is_closing()
