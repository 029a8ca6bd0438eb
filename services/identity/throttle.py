"""Fixed-window attempt counters in Postgres (``identity.throttle``), shared by all replicas.

Postgres rather than Redis: the counters guard credentials, so they must not vanish when Redis is
flushed or down (the cache is allowed to fail open; throttling is not), and the write is one
upsert on a row per key. Keys: ``login:acct:<email key>`` (login and link share it) and
``login:addr:<ip>`` count sign-in attempts, ``lookup:addr:<ip>``, ``signup:addr:<ip>``,
``link:addr:<ip>`` and ``reset:addr:<ip>`` count requests.

Every attempt is counted *before* the work it guards (:meth:`Throttle.consume`, one atomic upsert
that returns the new count), so N concurrent attempts get at most ``limit`` through: there is no
check-then-count window. A success may hand its unit back (:meth:`Throttle.refund`) or clear the
key.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.common.errors import RateLimited

_HIT = """
INSERT INTO identity.throttle AS t (key, hits, window_start) VALUES ($1, 1, now())
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN t.window_start < now() - make_interval(secs => $2) THEN 1
                ELSE t.hits + 1 END,
    window_start = CASE WHEN t.window_start < now() - make_interval(secs => $2) THEN now()
                        ELSE t.window_start END
RETURNING hits"""


@dataclass(frozen=True)
class Limit:
    prefix: str
    limit: int
    window_s: int


class Throttle:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def refund(self, rule: Limit, subject: str) -> None:
        """Give back one attempt counted by :meth:`consume` (a success that should not count)."""
        await self._pool.execute(
            "UPDATE identity.throttle SET hits = greatest(hits - 1, 0) WHERE key = $1",
            f"{rule.prefix}:{subject}",
        )

    async def hit(self, rule: Limit, subject: str) -> int:
        hits = await self._pool.fetchval(_HIT, f"{rule.prefix}:{subject}", float(rule.window_s))
        return int(hits)

    async def consume(self, rule: Limit, subject: str) -> None:
        """Count one attempt; RATE_LIMITED if it goes over the limit."""
        if subject and await self.hit(rule, subject) > rule.limit:
            raise RateLimited()

    async def clear(self, rule: Limit, subject: str) -> None:
        await self._pool.execute("DELETE FROM identity.throttle WHERE key = $1",
                                 f"{rule.prefix}:{subject}")  # fmt: skip
