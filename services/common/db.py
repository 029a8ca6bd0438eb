"""A pooled asyncpg connection for the services that own Postgres tables."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.common.settings import ServiceSettings

log = structlog.get_logger("db")


async def create_pool(
    settings: ServiceSettings, *, min_size: int = 1, max_size: int = 10, connect_s: float = 5.0
) -> asyncpg.Pool:
    """Open a pool on ``DATABASE_URL`` (connect timeout ``connect_s``, commands 15 s)."""
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=min_size,
        max_size=max_size,
        timeout=connect_s,
        command_timeout=15.0,
    )
    assert pool is not None
    return pool


async def close_pool(pool: asyncpg.Pool, grace: float = 5.0) -> None:
    """Close ``pool`` gracefully, but within ``grace`` seconds: asyncpg's ``close()`` waits for
    every acquired connection to be released, forever if a task still holds one, which would hang
    the shutdown. After ``grace`` the remaining connections are terminated."""
    try:
        await asyncio.wait_for(pool.close(), grace)
    except TimeoutError:
        log.warning("db_pool_terminated", grace_s=grace)
        pool.terminate()
