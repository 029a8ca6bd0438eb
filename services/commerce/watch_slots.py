"""The per-user cap on open WatchOrders streams, across every commerce replica.

Each open stream holds a *slot*: a member of the user's sorted set in Redis
(``keys.watch_slots_key``) whose score is when its lease ends. Taking a slot is one Lua script
(drop expired leases, count, add), so two replicas cannot both take the last one. The replica
renews the leases of its open streams every third of the lease and removes a slot
when its stream closes; a replica that dies without closing leaves its slots for at most one lease.
Time is Redis' own (``TIME``), so replicas' clocks do not matter.

When Redis does not answer, a stream is let through on the replica's own count (the hub's local
cap still bounds it): live updates need Redis anyway, and refusing every stream because the cap
cannot be counted would turn a Redis hiccup into an outage of the order page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import structlog
from redis.exceptions import RedisError

from services.common.cache.client import RedisClient
from services.common.cache.keys import watch_slots_key

log = structlog.get_logger("watch")

# KEYS[1]: the user's slots. ARGV: lease ms, limit, stream id. 1 = taken, 0 = full.
TAKE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
# KEYS[1]: the user's slots. ARGV: lease ms, stream id. Extends a slot this replica still holds.
RENEW = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now_ms + tonumber(ARGV[1]), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
"""


class StreamSlots:
    def __init__(
        self, redis: RedisClient, namespace: str, limit: int, lease_s: float = 30.0
    ) -> None:
        self._redis, self._namespace, self._limit = redis, namespace, limit
        self._lease_ms = int(lease_s * 1000)
        self._take = redis.register_script(TAKE)
        self._renew = redis.register_script(RENEW)
        self._held: dict[str, str] = {}  # stream id -> user id
        self._renewer: asyncio.Task[None] | None = None

    async def take(self, user_id: str) -> str | None:
        """A new stream's id when the user has a free slot, ``None`` when every slot is held.
        With Redis not answering, the stream gets an id that holds no slot."""
        stream = secrets.token_hex(8)
        key = watch_slots_key(self._namespace, user_id)
        try:
            taken = await self._take(keys=[key], args=[self._lease_ms, self._limit, stream])
        except (RedisError, OSError) as exc:
            log.warning("watch_slots_unavailable", error=type(exc).__name__)
            return stream
        if not taken:
            return None
        self._held[stream] = user_id
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_held(), name="watch-slots-renewer")
        return stream

    async def give_back(self, stream: str) -> None:
        user_id = self._held.pop(stream, None)
        if user_id is None:
            return
        with contextlib.suppress(RedisError, OSError):
            await self._redis.zrem(watch_slots_key(self._namespace, user_id), stream)

    def held(self) -> int:
        return len(self._held)

    async def _renew_held(self) -> None:
        while self._held:
            await asyncio.sleep(self._lease_ms / 3000)
            # One call per stream (each key may live on another node of a cluster).
            for stream, user_id in list(self._held.items()):
                key = watch_slots_key(self._namespace, user_id)
                try:
                    await self._renew(keys=[key], args=[self._lease_ms, stream])
                except (RedisError, OSError) as exc:
                    log.warning("watch_slots_renew_failed", error=type(exc).__name__)
                    break

    async def aclose(self) -> None:
        """Gives back every slot held here and closes the client."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        for stream in list(self._held):
            await self.give_back(stream)
        await self._redis.aclose()
