"""Live order changes, fanned out across replicas through Redis pub/sub on a per-user channel.

The CDC leader publishes ``order_changed(user, order)`` on ``keys.order_changes_channel``
(``<namespace>:{u:<user>}:commerce:orders``: the deployment's namespace, the user's hash tag; on a
Redis Cluster, classic PUBLISH reaches every node anyway), and SIM self-service publishes
``line_changed(user, msisdn)`` on the same channel as ``sim:<msisdn>``. Each replica
keeps ONE pub/sub connection for all its WatchOrders streams: a channel is subscribed while at
least one local stream of that user is open, and a reader task hands each message to the local
queues. A publish that fails is logged and dropped: a watcher then misses a live update, the cache
was already invalidated, so the next read is fresh. Before the publish, the change is appended
to the user's order-event log (``order_event_log.py``), which SSE clients resume from.

A user has at most ``max_streams_per_user`` open streams across every replica
(``watch_slots.py``: leases in Redis) and on this replica: one more is refused
(``TOO_MANY_STREAMS``) before it holds anything, so one token cannot pile up streams and their
queues.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.commerce.order_event_log import OrderEventLog
from services.commerce.watch_slots import StreamSlots
from services.common.cache.keys import order_changes_channel
from services.common.errors import TooManyStreams
from services.common.metrics import WATCH_OPEN_STREAMS, WATCH_SUBSCRIBED_CHANNELS

log = structlog.get_logger("watch")
QUEUE_SIZE = 64
LINE_PREFIX = "sim:"


def redis_for_pubsub(url: str) -> Redis:
    scheme, _, rest = url.partition("://")
    return Redis.from_url(f"{scheme.removesuffix('+cluster')}://{rest}", socket_connect_timeout=2)


class WatchHub:
    def __init__(
        self,
        redis: Redis,
        namespace: str,
        events: OrderEventLog,
        slots: StreamSlots,
        max_streams_per_user: int = 5,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self.events = events
        self._slots = slots
        self._max_streams = max_streams_per_user
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}
        self._subscribed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        # Read at each scrape: what the streams hold now, so an operator (and the e2e test) sees
        # it go back to 0 once they close.
        WATCH_OPEN_STREAMS.set_function(self.open_streams)
        WATCH_SUBSCRIBED_CHANNELS.set_function(self.subscribed_channels)

    async def order_changed(self, user_id: str, order_id: str) -> None:
        """Logged for SSE resumption first, then published as a live wake-up."""
        try:
            await self.events.append(user_id, order_id)
        except (RedisError, OSError) as exc:
            log.warning("watch_log_failed", error=type(exc).__name__)
        await self._publish(user_id, order_id)

    async def orders_changed(self, changes: Sequence[tuple[str, str]]) -> None:
        """``order_changed`` for several ``(user id, order id)`` changes (the CDC consumer's
        batch), in order: one round trip appends them all to the log, one publishes them all."""
        if not changes:
            return
        try:
            await self.events.append_many(changes)
        except (RedisError, OSError) as exc:
            log.warning("watch_log_failed", error=type(exc).__name__)
        try:
            pipe = self._redis.pipeline(transaction=False)
            for user_id, order_id in changes:
                pipe.publish(self._channel(user_id), order_id)
            await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("watch_publish_failed", error=type(exc).__name__)

    async def line_changed(self, user_id: str, msisdn: str) -> None:
        """A mobile line's status changed: published as ``sim:<msisdn>`` on the same channel
        (an order id never starts with ``sim:``); not in the order-event log, which holds orders
        only."""
        await self._publish(user_id, f"{LINE_PREFIX}{msisdn}")

    async def _publish(self, user_id: str, changed: str) -> None:
        try:
            await self._redis.publish(self._channel(user_id), changed)
        except (RedisError, OSError) as exc:
            log.warning("watch_publish_failed", error=type(exc).__name__)

    def _channel(self, user_id: str) -> str:
        return order_changes_channel(self._namespace, user_id)

    @contextlib.asynccontextmanager
    async def watch(self, user_id: str) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue of the ids of the user's orders that change while the block runs."""
        name = self._channel(user_id)
        if len(self._queues.get(name, ())) >= self._max_streams:
            log.warning("watch_refused", reason="too_many_streams", limit=self._max_streams)
            raise TooManyStreams()
        slot = await self._slots.take(user_id)
        if slot is None:
            log.warning("watch_refused", reason="too_many_streams", limit=self._max_streams)
            raise TooManyStreams()
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
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
            await self._slots.give_back(slot)

    def open_streams(self) -> int:
        """Streams open on this replica (every user)."""
        return sum(len(queues) for queues in self._queues.values())

    def subscribed_channels(self) -> int:
        """Channels this replica's pub/sub connection is subscribed to, as redis-py counts them
        (an unsubscribe counts until Redis has confirmed it)."""
        return len(self._pubsub.channels)

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="watch-hub-reader")

    async def _read(self) -> None:
        while True:
            # Parked only once Redis has confirmed every unsubscribe too (redis-py forgets a
            # channel when it reads the confirmation), so no channel outlives its last stream.
            if not self._queues and not self._pubsub.channels:
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
        await self._slots.aclose()
        await self._redis.aclose()
        await self.events.aclose()
