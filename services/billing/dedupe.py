"""Seen-event ids for webhooks: Redis ``SET NX EX`` (one key per event id, TTL > the window).

The key is not a cache entry (it holds no account data and must survive cache invalidations), so
it lives outside the cache library's key space: ``portal:webhook:whmcs:{<sha256 of id>}``. Redis
trouble fails open: the event is processed (its effect, dropping cache families, is idempotent,
so a duplicate costs only one extra WHMCS read), logged and counted.
"""

from __future__ import annotations

import asyncio
import hashlib

import structlog

from services.common.cache import RedisClient

log = structlog.get_logger(__name__)


class EventLedger:
    def __init__(self, client: RedisClient | None, ttl_s: int, timeout_s: float = 0.2) -> None:
        self._client = client
        self._ttl = ttl_s
        self._timeout = timeout_s

    @staticmethod
    def key(event_id: str) -> str:
        digest = hashlib.sha256(event_id.encode()).hexdigest()
        return f"portal:webhook:whmcs:{{{digest}}}"

    async def first_time(self, event_id: str) -> bool:
        """True the first time an id is seen (and records it); False for a repeat."""
        if self._client is None:
            return True
        try:
            async with asyncio.timeout(self._timeout):
                stored = await self._client.set(self.key(event_id), b"1", nx=True, ex=self._ttl)
        except Exception as exc:  # Redis trouble: process the event (idempotent) rather than fail
            log.warning("webhook_dedupe_unavailable", error=type(exc).__name__)
            return True
        return bool(stored)

    async def forget(self, event_id: str) -> None:
        """Undo ``first_time`` when processing failed, so the sender's retry is not ignored."""
        if self._client is None:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(self.key(event_id))
        except Exception as exc:
            log.warning("webhook_dedupe_unavailable", error=type(exc).__name__)
