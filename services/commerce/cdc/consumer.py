"""The CDC consumer: one active replica (Postgres advisory lock), one stream per object.

The leader holds ``pg_try_advisory_lock`` on a dedicated connection; the others retry every
``standby_retry_s``. If that connection fails, the lock is gone with it, so the leader stops all
its streams and contends again. Per topic the replay id is read from ``commerce.cdc_replay`` at
start and written (on the lock connection) after every event the handlers finished, and after a
keep-alive that moved the position: a restart resumes where the last one stopped, at least once.

A lost position (``ReplayIdInvalid``) makes the handlers of that object ``reset`` (drop their
whole cache family, reconcile) and the topic resumes from LATEST. A subscription without a stored
position calls the handlers' ``fresh_start`` once its stream answered (fulfillment reconciles the
changes made before). When the server ends a stream (idle close, outage) the client resubscribes
after the last replay id it handed out, with backoff.
"""

from __future__ import annotations

import asyncio
import zlib

import asyncpg
import structlog

from services.commerce import repo
from services.commerce.cdc.dispatcher import Dispatcher, topic_of
from services.common.clients.cdc import ChangeEvent, KeepAlive
from services.common.clients.pubsub import SalesforcePubSubClient
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
        async for item in self._pubsub.subscribe(topic, replay, batch=self._batch):
            if fresh:
                fresh = False
                await self._dispatcher.fresh_start(entity)
            self._mark_live(topic)
            if isinstance(item, ChangeEvent):
                await self._dispatcher.dispatch(item)
                await self._store(topic, item.replay_id)
                replay = item.replay_id
            elif isinstance(item, KeepAlive) and item.latest_replay_id not in (b"", replay):
                await self._store(topic, item.latest_replay_id)
                replay = item.latest_replay_id

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
