"""The CDC consumer: one active replica (Postgres advisory lock), one stream per object.

The leader holds ``pg_try_advisory_lock`` on a dedicated connection; the others retry every
``standby_retry_s``. If that connection fails, the lock is gone with it, so the leader stops all
its streams and contends again.

Per topic, a reader task takes the stream's items as they come (at most ``batch`` waiting) and
the topic's loop handles them in batches: everything that arrived while the previous batch was
being handled, in delivery order, goes to the dispatcher at once (its handlers do one set of
round trips for the whole batch), then the batch's last position (its last event's replay id,
or a later keep-alive's) is written once. The replay id is read from ``commerce.cdc_replay`` at
start and written (on the lock connection) only after the handlers finished every event up to
it: a restart (or a batch whose handling failed, retried whole) resumes where the last stored
position is, at least once.

A lost position (``ReplayIdInvalid``) makes the handlers of that object ``reset`` (drop their
whole cache family, reconcile) and the topic resumes from LATEST. A subscription without a stored
position calls the handlers' ``fresh_start`` once its stream answered (fulfillment reconciles the
changes made before). When the server ends a stream (idle close, outage) the client resubscribes
after the last replay id it handed out, with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import asyncpg
import structlog

from services.commerce import repo
from services.commerce.cdc.dispatcher import Dispatcher, topic_of
from services.common.clients.cdc import ChangeEvent, KeepAlive
from services.common.clients.pubsub import Item, SalesforcePubSubClient
from services.common.errors import ReplayIdInvalid

log = structlog.get_logger("cdc")
LOCK_KEY = zlib.crc32(b"portal:commerce:cdc-consumer")


class Consumer:
    def __init__(
        self,
        database_url: str,
        pubsub: SalesforcePubSubClient,
        dispatcher: Dispatcher,
        *,
        standby_retry_s: float = 2.0,
        batch: int = 100,
    ) -> None:
        self._url = database_url
        self._pubsub = pubsub
        self._dispatcher = dispatcher
        self._retry_s = standby_retry_s
        self._batch = batch
        self._db_lock = asyncio.Lock()
        self._conn: asyncpg.Connection | None = None
        self._live: set[str] = set()
        self.leading = asyncio.Event()
        self.ready = asyncio.Event()  # leading, and every topic's stream has answered once

    @property
    def dispatcher(self) -> Dispatcher:
        return self._dispatcher

    async def run(self) -> None:
        """Contend for the lock, lead while holding it; forever (cancel to stop)."""
        while True:
            try:
                await self._contend()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cdc_consumer_restarting", error=type(exc).__name__, detail=str(exc))
            self.leading.clear()
            self.ready.clear()
            await asyncio.sleep(self._retry_s)

    async def _contend(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=5)
        try:
            await self._acquire(conn)
            log.info("cdc_consumer_leading", topics=list(map(topic_of, self._dispatcher.entities)))
            self._conn, self._live = conn, set()
            self.leading.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch_lock(conn))
                for entity in self._dispatcher.entities:
                    group.create_task(self._follow(entity))
        finally:
            self._conn = None
            conn.terminate()  # closing the session releases the advisory lock

    async def _acquire(self, conn: asyncpg.Connection) -> None:
        while True:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                return
            await asyncio.sleep(self._retry_s)

    async def _watch_lock(self, conn: asyncpg.Connection) -> None:
        """Fail (stopping the streams) as soon as the lock's connection is gone."""
        while True:
            await asyncio.sleep(self._retry_s)
            async with self._db_lock:
                await conn.fetchval("SELECT 1", timeout=5)

    async def _follow(self, entity: str) -> None:
        topic = topic_of(entity)
        while True:
            async with self._db_lock:
                replay = await repo.replay_id(self._db(), topic)
            try:
                await self._stream(entity, topic, replay)
            except ReplayIdInvalid:
                log.warning("cdc_replay_position_lost", topic=topic)
                await self._dispatcher.reset(entity)
                async with self._db_lock:
                    await repo.forget_replay_id(self._db(), topic)

    async def _stream(self, entity: str, topic: str, replay: bytes | None) -> None:
        log.info("cdc_subscribing", topic=topic, resume=replay is not None)
        fresh = replay is None
        items = self._pubsub.subscribe(topic, replay, batch=self._batch)
        async with contextlib.aclosing(batches(items, self._batch)) as stream:
            async for batch in stream:
                if fresh:
                    fresh = False
                    await self._dispatcher.fresh_start(entity)
                self._mark_live(topic)
                events = [item for item in batch if isinstance(item, ChangeEvent)]
                if events:
                    await self._dispatcher.dispatch_batch(events)
                position = last_position(batch, replay)
                if position is not None and position != replay:
                    await self._store(topic, position)
                    replay = position

    async def _store(self, topic: str, replay: bytes) -> None:
        async with self._db_lock:
            await repo.store_replay_id(self._db(), topic, replay)

    def _db(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("not leading")
        return self._conn

    def _mark_live(self, topic: str) -> None:
        if topic in self._live:
            return
        self._live.add(topic)
        if len(self._live) == len(self._dispatcher.entities):
            log.info("cdc_ready", topics=sorted(self._live))
            self.ready.set()


def last_position(batch: Sequence[Item], stored: bytes | None) -> bytes | None:
    """The position after ``batch``: its last event's replay id, or a keep-alive's that came
    after it (an empty keep-alive id moves nothing)."""
    position = stored
    for item in batch:
        if isinstance(item, ChangeEvent):
            position = item.replay_id
        elif isinstance(item, KeepAlive) and item.latest_replay_id:
            position = item.latest_replay_id
    return position


class _End:
    """Internal: the stream's iterator stopped (``error`` set when it raised)."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


async def batches(items: AsyncIterator[Item], limit: int) -> AsyncGenerator[list[Item], None]:
    """The stream's items in batches: a reader task takes them as they come (at most ``limit``
    waiting, so the stream's demand still follows the handling), and each batch is every item
    that waited, at least one, at most ``limit``. An error of the stream is raised after the
    items that came before it were handed out."""
    queue: asyncio.Queue[Item | _End] = asyncio.Queue(max(1, limit))

    async def read() -> None:
        try:
            async for item in items:
                await queue.put(item)
        except Exception as exc:
            await queue.put(_End(exc))
        else:
            await queue.put(_End(None))

    reader = asyncio.create_task(read(), name="cdc-reader")
    try:
        while True:
            batch: list[Item] = []
            end: _End | None = None
            first = await queue.get()
            while True:
                if isinstance(first, _End):
                    end = first
                    break
                batch.append(first)
                if len(batch) >= limit or queue.empty():
                    break
                first = queue.get_nowait()
            if batch:
                yield batch
            if end is not None:
                if end.error is not None:
                    raise end.error
                return
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
