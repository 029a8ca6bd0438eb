"""``Cache``: per-user, policy-driven, fail-open read-through cache of protobuf messages.

A hit is ONE round trip: an ``MGET`` of the value and its generation counters (the scope's family
generation and the "every user" one), all in one cluster slot; on a standalone server a hit is then
kept in the process for up to a second and the same read again is served from it, as long as Redis
reports no change to those keys (``near.py``). A value is stored as
``<generations>|<message bytes>`` and only counts as a hit if the generations it was written under
are still the current ones; ``invalidate`` replaces a generation with a fresh random token, so every
value written before it is unreachable from then on and expires by its TTL (or is overwritten).
Tokens are random, not counters, so a generation key that expires (after ``GENERATION_TTL``, longer
than any value lives) can never come back with an old value's token.

Why the generation is checked in the record rather than spelled into the key name: with it in the
name, a lookup must know the generation before it can name the value, which is two round trips or a
Lua script building key names it was not given (Redis Cluster wants every key a script touches
declared). Checking it in the record gives the same guarantee (a value from before an invalidation
is never served) with one plain single-slot MGET, and leaves no orphaned copies per generation.

A miss goes through single-flight (one loader call per key per process; the others await it) and a
short Redis lock (``SET NX PX``) across processes: who does not get the lock polls for the value
until ``lock_wait``, then loads itself. The value is written by a script only if the generations
are unchanged, so a slow loader never overwrites fresher data.

Redis failures never reach the caller: each call has a deadline (``timeout``), errors are logged
(``cache_error``) and counted, the request is served by the loader, and a circuit breaker
(``breaker.py``) skips Redis while it is down. Loader errors propagate unchanged and are not cached.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Hashable
from contextlib import suppress
from typing import Any, TypeVar, cast

import structlog
from google.protobuf.message import DecodeError, Message
from redis.asyncio import Redis, RedisCluster

from services.common.cache.breaker import CircuitBreaker
from services.common.cache.client import RedisClient, redis_from_url
from services.common.cache.flight import SingleFlight
from services.common.cache.invalidation import check_scope
from services.common.cache.keys import (
    DEFAULT_NAMESPACE,
    NO_VARIANT,
    Keys,
    Variant,
    check_namespace,
    keys_for,
    schema_hash,
)
from services.common.cache.near import NEAR_LIFE, NearCopies
from services.common.cache.patch import Patching
from services.common.cache.pipelined import PipelinedReads
from services.common.cache.policy import GENERATION_TTL, Entry
from services.common.cache.record import RELEASE, STORE, STORE_INDEXED, mget, parse
from services.common.cache.scope import Scope
from services.common.context import rpc_method
from services.common.metrics import CACHE_ERRORS, CACHE_MISSES, CACHE_NEAR_HITS, CACHE_REQUESTS

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=Message)
S = TypeVar("S", bound=Scope)
T = TypeVar("T")


class _Unavailable(Exception):
    """A Redis call failed or timed out (already logged and counted)."""


class Cache(Patching):
    def __init__(
        self,
        client: RedisClient | None,
        *,
        service: str,
        namespace: str,
        timeout: float = 0.05,
        lock_ttl: float = 3.0,
        lock_wait: float = 1.0,
        poll_interval: float = 0.02,
        max_concurrency: int = 64,
        bulk_timeout: float = 10.0,
        breaker: CircuitBreaker | None = None,
        near_life: float = NEAR_LIFE,
    ) -> None:
        self._client = client
        self.service = service
        self.namespace = check_namespace(namespace)
        self.timeout = timeout
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._lock_wait = lock_wait
        self._poll = poll_interval
        self._bulk_timeout = bulk_timeout
        self._slots = asyncio.Semaphore(max_concurrency)
        self.breaker = breaker or CircuitBreaker()
        self._cluster = isinstance(client, RedisCluster)
        # A standalone server's hits share one pipelined connection (pipelined.py).
        self._hits = PipelinedReads(client) if isinstance(client, Redis) else None
        # ... and its hits stay near, in this process, for up to ``near_life`` (near.py).
        self._near = (
            NearCopies(client.connection_pool, f"{self.namespace}:", life=near_life)
            if isinstance(client, Redis) and near_life > 0
            else None
        )
        self._flights: SingleFlight[tuple[str, bytes]] = SingleFlight()
        self._connecting: asyncio.Future[bool] | None = None
        self._ready = False
        self._connect_deadline = 0.0
        # Reads in flight by value key: the near copies' sequence number when the read was sent,
        # and the callers sharing it.
        self._reads: dict[str, tuple[int, list[asyncio.Future[list[bytes | None] | None]]]] = {}
        self._causes: dict[tuple[str, bytes], asyncio.Future[str]] = {}
        self._counters: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_url(cls, url: str, *, service: str, namespace: str, **options: Any) -> Cache:
        return cls(redis_from_url(url), service=service, namespace=namespace, **options)

    @classmethod
    def disabled(cls, service: str = "test") -> Cache:
        """A cache that always calls the loader (no Redis); for tests and local tools."""
        return cls(None, service=service, namespace=DEFAULT_NAMESPACE)

    async def connect(self, deadline: float = 2.0) -> bool:
        """Open a connection (and learn a cluster's slot map) before serving; best-effort.

        Call it at start-up. Otherwise the first request starts it and waits at most ``timeout``
        for it (serving live meanwhile): a cold cluster client's discovery takes longer than one
        cache call may, and must neither slow requests nor open the breaker. Returns False
        (logged, counted) if Redis is unreachable.
        """
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect(deadline))
        ok = await asyncio.shield(self._connecting)
        self._ready = True  # connected, or failed: from now on the breaker decides
        return ok

    async def _warm(self) -> bool:
        """Wait for the first connect, all together, until ``timeout`` after it started."""
        loop = asyncio.get_running_loop()
        if self._connecting is None:
            self._connect_deadline = loop.time() + self.timeout
        try:
            async with asyncio.timeout_at(self._connect_deadline):
                await self.connect()
        except TimeoutError:
            return False
        return True

    async def _connect(self, deadline: float) -> bool:
        client = self._client
        if client is None:
            return True
        if self._near is not None:
            # In the background (until then every hit reads Redis), and retried every second
            # while Redis is away, also when it is away now.
            self._near.begin()
        try:
            async with asyncio.timeout(deadline):
                if isinstance(client, RedisCluster):
                    await client.initialize()
                await client.ping()
                if self._hits is not None:
                    await self._hits.connect()
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed("connect", "-", exc)
            return False
        return True

    async def aclose(self) -> None:
        if self._near is not None:
            await self._near.aclose()
        if self._hits is not None:
            await self._hits.aclose()
        if self._client is not None:
            await self._client.aclose()

    # -- reads ---------------------------------------------------------------------------------
    async def get_or_load(
        self,
        entry: Entry[S],
        scope: S,
        loader: Callable[[], Awaitable[M]],
        message_type: type[M],
        *,
        variant: Variant = NO_VARIANT,
    ) -> M:
        """The cached message for (entry, scope, variant), else ``await loader()``, cached."""
        check_scope(entry.family.scope, scope)
        client = self._client
        schema = schema_hash(cast(Hashable, message_type), entry.version)
        keys = keys_for(self.namespace, entry, scope, schema, variant, cluster=self._cluster)
        if client is None or not (self._ready or await self._warm()) or not self.breaker.allow():
            self._count(entry, "bypass")
            return await self._single_flight((keys.value, b"live"), loader)
        near = self._near
        seq = 0
        if near is not None:
            copy = near.get(keys.value) if near.armed else None
            if copy is not None:
                found = self._decode(entry, copy.record, copy.head, message_type)
                if found is not None:
                    self._count(entry, "hit")
                    self._count(entry, "near")
                    return found
            seq = near.seq  # kept only if none of its keys is dropped while Redis is read
        raw, seq = await self._read(entry, keys, client, seq)
        if raw is None:
            self._count(entry, "error")
            return await self._single_flight((keys.value, b"live"), loader)
        head = b".".join(g or b"" for g in raw[1:])
        found = self._decode(entry, raw[0], head, message_type)
        if found is not None:
            self._count(entry, "hit")
            if near is not None:
                near.keep(keys.value, keys.read, cast(bytes, raw[0]), head, seq, entry.ttl)
            return found
        self._count(entry, "miss")
        why = await self._miss_cause(entry, keys, raw[0], head)
        CACHE_MISSES.labels(entry.name, why, rpc_method.get() or "background").inc()
        return await self._single_flight(
            (keys.value, head),
            lambda: self._fill(entry, keys, raw[1:], head, loader, message_type),
        )

    async def _miss_cause(
        self, entry: Entry[Any], keys: Keys, stored: bytes | None, head: bytes
    ) -> str:
        """Why a lookup missed (``portal_cache_misses_total{why}``): ``invalidated`` (a value, or
        the fill marker of an expired one, written under older generations: an event or our write
        dropped it), ``expired`` (the marker of the current generations: TTL or eviction),
        ``first`` (no marker: never filled, or not within ``GENERATION_TTL``), ``unreadable`` (a
        current value that did not parse), ``unknown`` (the marker could not be read).

        Misses only, never on the hit path: one ``GET`` of the marker when the value is absent,
        shared by the concurrent misses of one key (a miss storm is one read, as in ``_read``).
        Diagnostics only: a failed read is counted (``cache_error``) but never opens the breaker.
        """
        if stored is not None:
            return "invalidated" if stored.partition(b"|")[0] != head else "unreadable"
        shared = (keys.filled, head)
        pending = self._causes.get(shared)
        if pending is None:
            pending = asyncio.ensure_future(self._marker_cause(entry, keys, head))
            self._causes[shared] = pending
            pending.add_done_callback(lambda _: self._causes.pop(shared, None))
        return await asyncio.shield(pending)

    async def _marker_cause(self, entry: Entry[Any], keys: Keys, head: bytes) -> str:
        client = self._client
        assert client is not None
        try:
            async with asyncio.timeout(self.timeout):
                async with self._slots:
                    marker = await client.get(keys.filled)
        except Exception as exc:  # diagnostics only: never raised, never trips the breaker
            CACHE_ERRORS.labels("cause").inc()
            self._log_error("cause", entry.name, exc)
            return "unknown"
        if marker is None:
            return "first"
        return "expired" if marker == head else "invalidated"

    async def _single_flight(
        self, flight: tuple[str, bytes], load: Callable[[], Awaitable[M]]
    ) -> M:
        """One ``load`` per flight key in this process; concurrent callers share its outcome.

        Also used when Redis is skipped or failing ("live" flights), so a Redis outage does not
        turn into N identical upstream calls."""
        return await self._flights.run(flight, load)

    async def _read(
        self, entry: Entry[Any], keys: Keys, client: RedisClient, seq: int
    ) -> tuple[list[bytes | None] | None, int]:
        """MGET value + generations, and the near copies' ``seq`` from before it was sent;
        concurrent reads of one key share one call (and its ``seq``: a caller that joins after
        a drop must not keep what was read before it). None: failed.

        The hot path: inlined (no helper, no future unless a second reader shows up)."""
        shared = self._reads.get(keys.value)
        if shared is not None:
            mine = asyncio.get_running_loop().create_future()
            shared[1].append(mine)
            return await mine, shared[0]
        followers: list[asyncio.Future[list[bytes | None] | None]] = []
        self._reads[keys.value] = (seq, followers)
        raw: list[bytes | None] | None = None
        hits = self._hits
        try:
            if hits is not None and hits.ready() and not self._slots.locked():
                # The usual hit: a free slot and an open connection, nothing to wait for before
                # the command goes out; the pipelined reads keep the deadline, one timer per
                # batch of reads instead of one per read.
                async with self._slots:
                    raw = await hits.mget(keys.read, self.timeout)
            else:
                async with asyncio.timeout(self.timeout):
                    async with self._slots:
                        if hits is not None:
                            raw = await hits.mget(keys.read)
                        else:
                            raw = cast(list[bytes | None], await client.mget(keys.read))
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed("get", entry.name, exc)
        else:
            self.breaker.success()
        finally:
            del self._reads[keys.value]
            for follower in followers:  # on cancellation too: they then serve live
                if not follower.done():
                    follower.set_result(raw)
        return raw, seq

    async def _fill(
        self,
        entry: Entry[Any],
        keys: Keys,
        gens: list[bytes | None],
        head: bytes,
        loader: Callable[[], Awaitable[M]],
        message_type: type[M],
    ) -> M:
        try:
            token, found = await self._lock_or_wait(entry, keys, head, message_type)
        except _Unavailable:
            return await loader()
        if found is not None:
            return found
        try:
            value = await loader()
        except BaseException:
            if token:
                await self._release(entry, keys.lock, token)
            raise
        await self._store(entry, keys, gens, head + b"|" + value.SerializeToString(), token)
        return value

    async def _lock_or_wait(
        self, entry: Entry[Any], keys: Keys, head: bytes, message_type: type[M]
    ) -> tuple[str, M | None]:
        """("token", None): we hold the lock; ("", msg): another process filled it; ("", None):
        the holder did not fill it within ``lock_wait``: load without the lock."""
        client = self._client
        assert client is not None
        deadline = asyncio.get_running_loop().time() + self._lock_wait
        while True:
            token = secrets.token_hex(8)
            if await self._call("lock", entry, lambda: self._try_lock(client, keys, token)):  # noqa: B023
                return token, None
            while asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(self._poll)
                raw, lock = await self._call("poll", entry, lambda: mget(client, keys.poll))
                found = self._decode(entry, raw, head, message_type)
                if found is not None:
                    return "", found
                if lock is None:
                    break  # the holder gave up (loader error) or its lock expired: contend again
            else:
                return "", None

    async def _try_lock(self, client: RedisClient, keys: Keys, token: str) -> bool:
        return bool(await client.set(keys.lock, token, nx=True, px=self._lock_ttl_ms))

    async def _store(
        self, entry: Entry[Any], keys: Keys, gens: list[bytes | None], record: bytes, token: str
    ) -> None:
        client = self._client
        assert client is not None
        head = record.partition(b"|")[0]
        argv = [record, entry.ttl * 1000, token, GENERATION_TTL * 1000, head]
        argv += [g or b"" for g in gens]
        index = (keys.index, keys.hold) if keys.index else ()
        touched = (keys.value, keys.lock, keys.filled, *index, *keys.generations)
        script = STORE_INDEXED if index else STORE
        with suppress(_Unavailable):
            await self._call(
                "set",
                entry,
                lambda: client.eval(script, len(touched), *touched, *argv),  # type: ignore[arg-type]
            )

    async def _release(self, entry: Entry[Any], lock: str, token: str) -> None:
        client = self._client
        assert client is not None
        with suppress(_Unavailable):
            await self._call("unlock", entry, lambda: client.eval(RELEASE, 1, lock, token))

    def _decode(
        self, entry: Entry[Any], raw: bytes | None, head: bytes, message_type: type[M]
    ) -> M | None:
        try:
            return parse(raw, head, message_type)
        except DecodeError as exc:
            self._log_error("decode", entry.name, exc)
            return None

    # -- plumbing ------------------------------------------------------------------------------
    async def _call(self, op: str, entry: Entry[Any], fn: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._slots:
                    result = await fn()
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed(op, entry.name, exc)
            raise _Unavailable from exc
        self.breaker.success()
        return result

    def _failed(self, op: str, name: str, exc: Exception) -> None:
        self.breaker.failure()
        CACHE_ERRORS.labels(op).inc()
        self._log_error(op, name, exc)

    def _log_error(self, op: str, name: str, exc: Exception) -> None:
        log.warning(
            "cache_error", operation=op, entry=name, error=type(exc).__name__, cache=self.service
        )

    def _count(self, entry: Entry[Any], result: str) -> None:
        """``portal_cache_requests_total{result}``; "near": ``portal_cache_near_hits_total``."""
        counter = self._counters.get((entry.name, result))
        if counter is None:
            counter = (
                CACHE_NEAR_HITS.labels(entry.name)
                if result == "near"
                else CACHE_REQUESTS.labels(entry.name, result)
            )
            self._counters[entry.name, result] = counter
        counter.inc()
