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
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.backoff import NoBackoff
from redis.retry import Retry

RedisClient = Redis | RedisCluster

_CLUSTER_SUFFIX = "+cluster"


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
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
        **common,
    )
    return Redis.from_pool(pool)
