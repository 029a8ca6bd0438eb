"""Live order changes, fanned out across replicas through Redis pub/sub on a per-user channel.

The CDC leader publishes ``order_changed(user, order)`` on ``portal:{u:<user>}:commerce:orders``
(the user's hash tag: on a Redis Cluster, classic PUBLISH reaches every node anyway). Each replica
keeps ONE pub/sub connection for all its WatchOrders streams: a channel is subscribed while at
least one local stream of that user is open, and a reader task hands each message to the local
queues. A publish that fails is logged and dropped: a watcher then misses a live update, the cache
was already invalidated, so the next read is fresh. Before the publish, the change is appended
to the user's order-event log (``order_event_log.py``), which SSE clients resume from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.commerce.order_event_log import OrderEventLog
from services.common.cache.scope import UserScope

log = structlog.get_logger("watch")
QUEUE_SIZE = 64


def channel_of(user_id: str) -> str:
    return f"{UserScope(user_id).prefix}:commerce:orders"


def redis_for_pubsub(url: str) -> Redis:
    scheme, _, rest = url.partition("://")
    return Redis.from_url(f"{scheme.removesuffix('+cluster')}://{rest}", socket_connect_timeout=2)


class WatchHub:
    def __init__(self, redis: Redis, events: OrderEventLog) -> None:
        self._redis = redis
        self.events = events
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}
        self._subscribed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def order_changed(self, user_id: str, order_id: str) -> None:
        try:
            await self.events.append(user_id, order_id)
        except (RedisError, OSError) as exc:
            log.warning("watch_log_failed", error=type(exc).__name__)
        try:
            await self._redis.publish(channel_of(user_id), order_id)
        except (RedisError, OSError) as exc:
            log.warning("watch_publish_failed", error=type(exc).__name__)

    @contextlib.asynccontextmanager
    async def watch(self, user_id: str) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue of the ids of the user's orders that change while the block runs."""
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        name = channel_of(user_id)
        local = self._queues.setdefault(name, set())
        local.add(queue)
        try:
            if len(local) == 1:
                await self._pubsub.subscribe(name)
                self._subscribed.set()
            self._start_reader()
            yield queue
        finally:
            local.discard(queue)
            if not local:
                del self._queues[name]
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(name)

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="watch-hub-reader")

    async def _read(self) -> None:
        while True:
            if not self._queues:
                self._subscribed.clear()
                await self._subscribed.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                log.warning("watch_read_failed", error=type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if message is not None and message.get("type") == "message":
                self._deliver(message["channel"].decode(), message["data"].decode())

    def _deliver(self, name: str, order_id: str) -> None:
        for queue in self._queues.get(name, ()):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck stream must not block others
                queue.put_nowait(order_id)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        await self._redis.aclose()
        await self.events.aclose()
