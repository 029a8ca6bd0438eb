"""Invalidation by family: per-scope generations and the "every user" generation (see ``keys``).

A mixin of ``Cache`` (kept apart so each file holds one idea). An invalidation replaces a
generation with a fresh random token (``SET ... EX GENERATION_TTL``) instead of incrementing a
counter: a generation key that expires can never come back with a value an old entry matches.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, TypeVar

from services.common.cache.breaker import CircuitBreaker
from services.common.cache.client import RedisClient
from services.common.cache.keys import family_key, global_key, slot_tags
from services.common.cache.near import NearCopies
from services.common.cache.policy import GENERATION_TTL, Family
from services.common.cache.scope import CLUSTER_SLOTS, SHARED_CATALOG, Scope

S = TypeVar("S", bound=Scope)


def check_scope(expected: type[Scope], scope: Scope) -> None:
    """The run-time half of the scope rule (the static half is ``Entry[S]``/``Family[S]``)."""
    if type(scope) is not expected:
        raise TypeError(f"this entry takes a {expected.__name__}, got {type(scope).__name__}")


class Invalidation:
    _client: RedisClient | None
    _near: NearCopies | None
    namespace: str
    _cluster: bool
    _bulk_timeout: float
    timeout: float
    breaker: CircuitBreaker

    def _failed(self, op: str, name: str, exc: Exception) -> None:
        raise NotImplementedError

    async def invalidate(self, scope: S, family: Family[S], *more: Family[S]) -> bool:
        """Drop every cached value of ``family`` (and ``more``) for this scope, in one round trip.

        Returns False if Redis could not be reached (logged and counted; values then live until
        their TTL). Tried even while the breaker is open: a lost invalidation means stale reads.
        """
        families = (family, *more)
        for fam in families:
            check_scope(fam.scope, scope)
        keys = [family_key(self.namespace, scope, fam) for fam in families]
        return await self._bump("invalidate", family.name, keys, self.timeout)

    async def invalidate_all(self, family: Family[Any]) -> bool:
        """Drop ``family`` for every user (CDC ``GAP_*`` event, lost replay position).

        On a cluster this writes the family's generation copy in all 16384 slots (about 1 s,
        bounded by ``bulk_timeout``); it belongs in the CDC consumer, not on a request path.
        Idempotent: on False, retry.
        """
        if family.scope is type(SHARED_CATALOG):
            return await self.invalidate(SHARED_CATALOG, family)
        if self._cluster:
            slot_tags()  # build the slot table before the deadline starts
            keys = [global_key(self.namespace, family, slot) for slot in range(CLUSTER_SLOTS)]
        else:
            keys = [global_key(self.namespace, family, None)]
        return await self._bump("invalidate_all", family.name, keys, self._bulk_timeout)

    def _dropped_near(self, keys: list[str]) -> None:
        """This process's copies read from ``keys`` go before and after its own write of them,
        without waiting for Redis's message: a process reads its own writes at once. After too:
        a read answered between the first drop and the write may have kept the old value."""
        if self._near is not None:
            self._near.drop(keys)

    async def _bump(self, op: str, name: str, keys: list[str], deadline: float) -> bool:
        client = self._client
        if client is None:
            return True
        token = secrets.token_hex(8)
        self._dropped_near(keys)
        try:
            async with asyncio.timeout(deadline):
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.set(key, token, ex=GENERATION_TTL)
                await pipe.execute()
        except Exception as exc:  # any Redis trouble: never raised to the caller
            self._failed(op, name, exc)
            return False
        finally:
            self._dropped_near(keys)
        self.breaker.success()
        return True
