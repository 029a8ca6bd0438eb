"""Seen-event ids for webhooks: Redis ``SET NX EX`` (one key per event id, TTL > the window).

The key is not a cache entry (it holds no account data and must survive cache invalidations); it
is ``keys.webhook_event_key`` in the deployment's namespace. Redis trouble fails open: the event
is processed (its effect, dropping cache families, is idempotent, so a duplicate costs only one
extra WHMCS read), logged and counted.
"""

from __future__ import annotations

import asyncio

import structlog

from services.common.cache import RedisClient
from services.common.cache.keys import webhook_event_key

log = structlog.get_logger(__name__)


class EventLedger:
    def __init__(
        self, client: RedisClient | None, namespace: str, ttl_s: int, timeout_s: float = 0.2
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl = ttl_s
        self._timeout = timeout_s

    def key(self, event_id: str) -> str:
        return webhook_event_key(self._namespace, "whmcs", event_id)

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
