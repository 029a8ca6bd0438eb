"""A pooled asyncpg connection for the services that own Postgres tables."""

from __future__ import annotations

import asyncpg

from services.common.settings import ServiceSettings


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
