"""Build the Redis client the cache uses, from ``REDIS_URL``.

- ``redis://host:port/db`` (or ``rediss://``, ``unix://``): a standalone server
  (``redis.asyncio.Redis``).
- ``redis+cluster://host:port`` (or ``rediss+cluster://``): a Redis Cluster
  (``redis.asyncio.RedisCluster``), the address being any seed node.

Cluster-ness is in the URL scheme rather than a separate flag so one setting (``REDIS_URL``) fully
describes the deployment, and a wrong combination (cluster flag + standalone URL) cannot exist.
``cluster=True`` forces cluster mode for a plain ``redis://`` URL when the URL cannot be changed.

The client returns bytes (protobuf values), does not retry internally (the cache falls back to a
live read instead, which is faster than a retry) and has a bounded pool; the per-call deadline is
enforced by the cache itself (``Cache(timeout=...)``), the socket timeouts here are a backstop.

A burst (250 WatchOrders streams taking their slots at once) opens up to ``max_connections``
connections, and redis-py's pool keeps every one it opened, on both ends, for the life of the
process. A standalone client's pool (:class:`SheddingPool`) gives back the ones a quiet period
did not use: every ``idle_s`` (``REDIS_IDLE_CLOSE_S``, run from the service's memory maintenance,
``services/common/lean.py``) it closes and forgets the idle connections beyond ``KEEP_IDLE`` that
stayed idle the whole period. Steady load keeps what it uses; the connections of a burst go back
between one and two periods after it (their sockets and Redis' client buffers at once; their
objects' memory is reused by the process, the resident size shrinks little: a client whose
bursts need not be parallel is better given a small ``max_connections``, as commerce's stream
slots are). A cluster client's per-node pools are left as redis-py keeps them.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.backoff import NoBackoff
from redis.retry import Retry

RedisClient = Redis | RedisCluster

_CLUSTER_SUFFIX = "+cluster"
KEEP_IDLE = 4  # idle connections a pool keeps however long they are idle

_POOLS: weakref.WeakSet[SheddingPool] = weakref.WeakSet()


class SheddingPool(BlockingConnectionPool):
    """A blocking pool that closes the connections a whole period left idle (see the module)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The fewest idle connections since the last shed: the pool hands out the most recently
        # released one first, so the first ``_idle_low`` of the idle list were not used since.
        self._idle_low = 0
        self._shed_at = time.monotonic()
        _POOLS.add(self)

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        # Every connection handed out passes here right after it left the idle list.
        self._idle_low = min(self._idle_low, len(self._available_connections))
        await super().ensure_connection(connection)

    def connection_counts(self) -> tuple[int, int]:
        """(idle, in use) connections of this pool."""
        return len(self._available_connections), len(self._in_use_connections)

    async def shed_idle(self, keep: int = KEEP_IDLE) -> int:
        """Close and forget the idle connections beyond ``keep`` that were not used since the
        last call; how many. Never touches a connection in use."""
        if self._in_maintenance:  # redis-py is moving the pool's connections to another node
            return 0
        idle = self._available_connections
        surplus = min(self._idle_low, len(idle) - keep)
        shed: list[AbstractConnection] = []
        if surplus > 0:
            # The least recently used are at the front of the list (the pool pops from its end).
            shed = idle[:surplus]
            del idle[:surplus]
        self._idle_low = len(idle)
        self._shed_at = time.monotonic()
        if shed:
            await asyncio.gather(*(c.disconnect() for c in shed), return_exceptions=True)
        return len(shed)

    def due(self, idle_s: float, now: float) -> bool:
        return now - self._shed_at >= idle_s


async def shed_idle_connections(idle_s: float, *, keep: int = KEEP_IDLE) -> int:
    """:meth:`SheddingPool.shed_idle` on every pool of this process whose last shed is at least
    ``idle_s`` ago (0 or less: none); how many connections were closed. Meant to be called often
    (every second): each pool sheds once per ``idle_s``."""
    if idle_s <= 0:
        return 0
    now, closed = time.monotonic(), 0
    for pool in list(_POOLS):
        if pool.due(idle_s, now):
            closed += await pool.shed_idle(keep)
    return closed


def redis_from_url(
    url: str, *, cluster: bool = False, max_connections: int = 128, socket_timeout: float = 1.0
) -> RedisClient:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(
            "REDIS_URL must look like redis://host:port/db or redis+cluster://host:port"
        )
    if scheme.endswith(_CLUSTER_SUFFIX):
        cluster = True
        url = f"{scheme.removesuffix(_CLUSTER_SUFFIX)}://{rest}"
    common: dict[str, object] = {
        # Reads are bounded by the cache's own deadline; a socket read timeout would only add a
        # second timer to every command (measurable on the hit path).
        "socket_timeout": None,
        "socket_connect_timeout": socket_timeout,
        "decode_responses": False,
        # No CLIENT SETINFO on connect: less work when a burst opens connections.
        "driver_info": None,
    }
    if cluster:
        return RedisCluster.from_url(url, max_connections=max_connections, **common)
    pool = SheddingPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
        **common,
    )
    return Redis.from_pool(pool)
