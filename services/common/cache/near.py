"""``NearCopies``: a process's own short-lived copies of the records it just read from Redis, kept
coherent by Redis's invalidation messages (server-assisted client-side caching).

A hit through Redis costs a round trip: a write and a read on the socket in this process, Redis's
own wake-up, parse and reply, and the event loop's turn for the reply; for a page read again and
again (the shared catalog, a customer's dashboard reloaded, a front end asking twice) that is most
of what a cached read costs beyond the RPC itself. So a record that was a hit stays in this
process for at most ``life`` seconds (1 s by default, never longer than its entry's TTL), and the
next reads of it in that time are served from memory, with the same checks as a read from Redis.

Coherence comes from Redis (https://redis.io/docs/latest/develop/reference/client-side-caching/,
"broadcasting mode"): one connection per process subscribes to ``__redis__:invalidate`` with
``CLIENT TRACKING ON REDIRECT <its own id> BCAST PREFIX <namespace>:``, so Redis sends it the name
of every key of the deployment's namespace that any client changes, deletes, or that expires or
is evicted (``null`` for a flush). A copy depends on the keys it was read from (the value and its
generations); a message naming any of them drops it. So an invalidation, a patch or a new value
written by another process drops the copy as soon as the message reaches this process, which it
does before the writer hears back from Redis, and a reader's next request is handled after the
message in practice (they come through other sockets of the same event loop). An expiry is
reported when Redis deletes the key, which its active expiry does within a fraction of a second
among a few keys with a TTL, seconds later among many, never at the instant the TTL ends (a copy
served from here does not touch the key): a copy may outlive its value's TTL by up to its own
``life``, which is why that life is short. This process's own writes (``invalidate``, ``patch``)
drop their keys' copies at once, without waiting for the message: a process always reads its own
writes.

A read that was sent before a message (or a local drop) and answered after it may carry the value
from before the change: it is served (as a read from Redis would have been) but not kept. Every
drop moves ``seq`` and notes it for the keys it names; a copy is kept only if none of the keys it
was read from was dropped after the ``seq`` noted when the read was sent (callers sharing one
read share that ``seq``), and nothing read before the listener (re)subscribed is kept.

Copies exist only while the listener is subscribed (``armed``): when its connection breaks, or
sends nothing for ``SILENT_AFTER`` (it is pinged every second: a silent network or a frozen
server), every copy is dropped at once and reads go to Redis until it is back (it reconnects on
the next tick). So a copy outlives a change by at most the time its message takes to arrive, and
never more than ``SILENT_AFTER`` plus ``life`` if messages stop coming. Bounded: ``entries``
copies and ``size`` bytes (the oldest go first); expired ones are swept every tick.
A server that refuses the commands (an ACL without ``CLIENT``, a Redis before 6, a managed service
that disables tracking) leaves the process without copies, logged once (``cache_near_refused``).
Standalone Redis only (a cluster's nodes each track their own keys): ``Cache`` uses it with the
pipelined reads.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress

import hiredis
import structlog
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoPermissionError, ResponseError

from services.common.cache.pipelined import open_connection, take_over
from services.common.metrics import CACHE_NEAR_SUBSCRIBED

log = structlog.get_logger(__name__)

NEAR_LIFE = 1.0  # seconds a copy is kept at most (and never longer than its entry's TTL)
NEAR_ENTRIES = 512
NEAR_SIZE = 256 * 1024  # bytes of records kept at most; a record over an eighth of it is not kept
HEARTBEAT = 1.0  # seconds between the listener's pings (and sweeps of expired copies)
SILENT_AFTER = 2.5  # seconds without a word from the listener after which it counts as lost
DROPS_NOTED = 256  # keys whose last drop is noted (~60 KiB); beyond, reads in flight keep nothing
CHANNEL = b"__redis__:invalidate"
_PING = b"*1\r\n$4\r\nPING\r\n"
_INVALIDATE = (b"invalidate", b"message")


def _refusal(exc: ResponseError) -> bool:
    """Whether Redis refused the tracking commands for good: no permission (ACL), or commands it
    does not know (before Redis 6); not a passing error such as ``BUSY``."""
    text = str(exc).lower()
    return isinstance(exc, NoPermissionError) or any(
        unknown in text for unknown in ("unknown command", "unknown subcommand")
    )


class _Copy:
    __slots__ = ("expires", "head", "keys", "record")

    def __init__(self, record: bytes, head: bytes, expires: float, keys: tuple[str, ...]) -> None:
        self.record, self.head, self.expires, self.keys = record, head, expires, keys


class _Messages(asyncio.Protocol):
    """The listener's socket once subscribed: invalidation messages and the pings' replies."""

    def __init__(self, near: NearCopies, connection: AbstractConnection) -> None:
        self._near, self._connection = near, connection
        self._parser = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)

    def data_received(self, data: bytes) -> None:
        near = self._near
        near.heard = time.monotonic()
        try:
            self._parser.feed(data)
            while (reply := self._parser.gets()) is not False:
                # RESP3: the push ["invalidate", [keys] | None], a ping's "PONG"; RESP2:
                # ["message", channel, [keys] | None], a ping's ["pong", ""]
                if not isinstance(reply, list) or reply[0] not in _INVALIDATE:
                    continue
                keys = reply[-1]
                if keys is None:
                    near.clear()  # FLUSHALL / FLUSHDB
                else:
                    near.drop([k.decode() for k in keys])
        except Exception as exc:  # a message we cannot read: copies may be stale, start over
            near.lost(exc, self._connection)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._near.lost(exc or RedisConnectionError("connection closed"), self._connection)


class NearCopies:
    def __init__(
        self,
        pool: ConnectionPool,
        prefix: str,
        *,
        life: float = NEAR_LIFE,
        entries: int = NEAR_ENTRIES,
        size: int = NEAR_SIZE,
    ) -> None:
        self._pool, self._prefix = pool, prefix
        self._life, self._entries, self._size = life, entries, size
        self._copies: dict[str, _Copy] = {}  # by value key, oldest first
        self._by_key: dict[str, set[str]] = {}  # a key read -> the value keys of copies using it
        self._bytes = 0
        self.seq = 0  # moves on every drop (see the module)
        self._dropped: dict[str, int] = {}  # key -> seq of its last drop (DROPS_NOTED at most)
        self._floor = 0  # a read sent before this seq keeps nothing
        self.client_id: int | None = None  # the listener's connection, as Redis knows it
        self.armed = False  # the listener is subscribed: copies may be kept and served
        self.heard = 0.0
        self._connection: AbstractConnection | None = None
        self._opening: asyncio.Task[None] | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._closed = False
        self._refused = False
        self._warned = False

    # -- the copies ----------------------------------------------------------------------------
    def get(self, key: str) -> _Copy | None:
        copy = self._copies.get(key)
        if copy is None:
            return None
        if copy.expires <= time.monotonic():
            self._remove(key)
            return None
        return copy

    def keep(
        self, key: str, read: tuple[str, ...], record: bytes, head: bytes, seq: int, ttl: float
    ) -> None:
        """Keep ``record`` (a hit read from ``read``, value key first) if none of those keys was
        dropped since the read was sent (``seq`` then) and the listener is still subscribed."""
        if not self.armed or seq < self._floor or len(record) > self._size // 8:
            return
        dropped = self._dropped
        if dropped and any(dropped.get(name, -1) > seq for name in read):
            return
        now = time.monotonic()
        if key in self._copies:
            self._remove(key)
        copies = self._copies
        while copies and (
            len(copies) >= self._entries
            or self._bytes + len(record) > self._size
            or copies[next(iter(copies))].expires <= now
        ):
            self._remove(next(iter(copies)))
        copies[key] = _Copy(record, head, now + min(self._life, ttl), read)
        self._bytes += len(record)
        for name in read:
            users = self._by_key.get(name)
            if users is None:
                self._by_key[name] = {key}
            else:
                users.add(key)

    def drop(self, keys: list[str]) -> None:
        """Drop every copy read from any of ``keys`` (a change Redis reported, or our own)."""
        self.seq += 1
        seq, dropped = self.seq, self._dropped
        for name in keys:
            dropped[name] = seq
            for key in self._by_key.pop(name, ()):
                self._remove(key)
        if len(dropped) > DROPS_NOTED:  # forgotten: every read in flight now keeps nothing
            dropped.clear()
            self._floor = seq

    def clear(self) -> None:
        self.seq += 1
        self._floor = self.seq
        self._dropped.clear()
        self._copies.clear()
        self._by_key.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._copies)

    def _remove(self, key: str) -> None:
        copy = self._copies.pop(key, None)
        if copy is None:
            return
        self._bytes -= len(copy.record)
        for name in copy.keys:
            users = self._by_key.get(name)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._by_key[name]

    def _sweep(self) -> None:
        now, copies = time.monotonic(), self._copies
        while copies:
            oldest = next(iter(copies))
            if copies[oldest].expires > now:
                break
            self._remove(oldest)

    # -- the listener --------------------------------------------------------------------------
    def begin(self) -> None:
        """Start subscribing, in the background (at start-up; afterwards every tick retries
        while the listener is down): reads go to Redis until it is subscribed."""
        if self._closed:
            return
        if self._tick is None:
            self._tick = asyncio.get_running_loop().call_later(HEARTBEAT, self._beat)
        if not self.armed and (self._opening is None or self._opening.done()):
            self._opening = asyncio.ensure_future(self._listen())
            self._opening.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _listen(self) -> None:
        if self.armed or self._closed:
            return
        prefix = self._prefix
        me: list[int] = []

        async def subscribe(connection: AbstractConnection) -> None:
            await connection.send_command("CLIENT", "ID")
            me.append(int(await connection.read_response()))
            if str(getattr(connection, "protocol", 2)) == "3":  # RESP3: messages come as pushes
                await connection.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", prefix)
                await connection.read_response()
                return
            # RESP2: to the connection itself, subscribed to the invalidation channel
            await connection.send_command(
                "CLIENT", "TRACKING", "ON", "REDIRECT", me[0], "BCAST", "PREFIX", prefix
            )
            await connection.read_response()
            await connection.send_command("SUBSCRIBE", CHANNEL)
            await connection.read_response()

        try:
            connection = await open_connection(self._pool, subscribe)
        except ResponseError as exc:
            if _refusal(exc):
                # The server refuses the commands (an ACL without CLIENT, a Redis before 6):
                # no copies in this process, asked no more.
                self._refused = True
                log.warning("cache_near_refused", error=str(exc)[:200])
            else:  # anything else (a busy server, say) is tried again on the next tick
                self._warn("subscribe", exc)
            raise
        except Exception as exc:
            self._warn("subscribe", exc)
            raise
        if self._closed:
            await connection.disconnect(nowait=True)
            return
        self._connection = connection
        try:
            await take_over(connection, _Messages(self, connection))
        except Exception:
            self._connection = None
            raise
        if self._connection is not connection:  # lost while its first bytes were read
            return
        self.client_id = me[0]
        self.heard = time.monotonic()
        self.clear()  # nothing read before now is kept
        self.armed = True
        CACHE_NEAR_SUBSCRIBED.set(1)
        if self._warned:
            log.info("cache_near_on", prefix=prefix)
            self._warned = False

    def lost(self, exc: BaseException, connection: AbstractConnection | None = None) -> None:
        """The listener's connection broke or went silent: drop every copy, reads go to Redis
        until the next tick subscribes again. ``connection``: the one that broke (nothing to do
        if it is not the current one any more)."""
        if connection is not None and connection is not self._connection:
            return
        connection, self._connection = self._connection, None
        was_armed = self._disarm()
        if connection is not None:
            with suppress(Exception):
                transport = connection._writer.transport if connection._writer else None
                if transport is not None:
                    transport.abort()
        if was_armed and not self._closed:
            self._warn("lost", exc)

    def _disarm(self) -> bool:
        """No more copies until subscribed again; whether there were (the listener was armed)."""
        was_armed, self.armed = self.armed, False
        if was_armed:
            CACHE_NEAR_SUBSCRIBED.set(0)
        self.clear()
        return was_armed

    def _beat(self) -> None:
        if self._closed or self._refused:  # refused: no copies, no more ticks
            return
        self._tick = asyncio.get_running_loop().call_later(HEARTBEAT, self._beat)
        self._sweep()
        connection = self._connection
        if self.armed and connection is not None and connection._writer is not None:
            if time.monotonic() - self.heard > SILENT_AFTER:
                self.lost(TimeoutError("no word from Redis"))
            else:
                connection._writer.write(_PING)
        self.begin()

    def _warn(self, what: str, exc: BaseException) -> None:
        if not self._warned:  # once per outage, not every tick
            log.warning("cache_near_off", reason=what, error=type(exc).__name__)
            self._warned = True

    async def aclose(self) -> None:
        self._closed = True
        if self._tick is not None:
            self._tick.cancel()
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
        connection, self._connection = self._connection, None
        self._disarm()
        if connection is not None:
            await connection.disconnect(nowait=True)
