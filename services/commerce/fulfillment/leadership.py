"""One replica runs fulfillment's sweep (the reconciliation at start and every
``sweep_interval_s``; every replica works orders, by claim: ``worker``): a session-level Postgres
advisory lock held on a dedicated connection. Standby replicas retry every ``retry_s``; the holder
checks its connection at the same pace and stops sweeping the moment it is gone (the lock went
with it)."""

from __future__ import annotations

import asyncio
import zlib

import asyncpg
import structlog

log = structlog.get_logger("fulfillment")


def lock_key(name: str) -> int:
    return zlib.crc32(f"portal-fulfillment:{name}".encode())


class LeaseLost(Exception):
    pass


class Leadership:
    def __init__(self, database_url: str, name: str, retry_s: float) -> None:
        self._url = database_url
        self._key = lock_key(name)
        self._retry_s = retry_s

    async def acquire(self) -> asyncpg.Connection:
        """Wait until this replica holds the lock; returns the connection that holds it."""
        waiting_logged = False
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._url, timeout=5)
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key):
                    log.info("fulfillment_lease_acquired")
                    return conn
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("fulfillment_lease_error", error=type(exc).__name__)
            if conn is not None:
                await conn.close()
            if not waiting_logged:
                log.info("fulfillment_standby")
                waiting_logged = True
            await asyncio.sleep(self._retry_s)

    async def hold(self, conn: asyncpg.Connection) -> None:
        """Return (raise :class:`LeaseLost`) only when the lock's connection is gone."""
        while True:
            await asyncio.sleep(self._retry_s)
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=self._retry_s * 2 + 1)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                raise LeaseLost() from None
