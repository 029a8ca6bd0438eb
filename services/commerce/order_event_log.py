"""The per-user log of order changes that ``GET /v1/orders:events`` resumes from.

Each change of one of a user's orders is appended to a Redis stream on the user's hash tag
(``<namespace>:{u:<user>}:commerce:order-events``, built by the cache library) before the live
wake-up is published; the entry id (``<ms>-<seq>``) is the SSE event id. A client that
reconnects with ``Last-Event-ID`` gets every change after that id that the log still holds: the
last ``RETAINED`` changes, for ``TTL_S`` after the latest one. The log holds order ids only;
what is sent is the order as it is now.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from services.common.cache.client import RedisClient
from services.common.cache.keys import order_events_key
from services.common.errors import ValidationFailed

RETAINED = 500
TTL_S = 24 * 3600
_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def checked_event_id(event_id: str) -> str:
    if not _EVENT_ID.match(event_id):
        raise ValidationFailed.of("last_event_id", "The last event id is not one we sent.")
    return event_id


def _text(value: bytes) -> str:
    return value.decode()


class OrderEventLog:
    def __init__(self, redis: RedisClient, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    def _key(self, user_id: str) -> str:
        return order_events_key(self._namespace, user_id)

    async def append(self, user_id: str, order_id: str) -> None:
        key = self._key(user_id)
        await self._redis.xadd(key, {"o": order_id}, maxlen=RETAINED, approximate=True)
        await self._redis.expire(key, TTL_S)

    async def append_many(self, changes: Sequence[tuple[str, str]]) -> None:
        """``append`` for several ``(user id, order id)`` changes, in one round trip (each
        user's log's expiry set once, after its entries)."""
        pipe = self._redis.pipeline(transaction=False)
        keys = [self._key(user_id) for user_id, _ in changes]
        for key, (_, order_id) in zip(keys, changes, strict=True):
            pipe.xadd(key, {"o": order_id}, maxlen=RETAINED, approximate=True)
        for key in dict.fromkeys(keys):
            pipe.expire(key, TTL_S)
        await pipe.execute()

    async def latest(self, user_id: str) -> str:
        """The id of the newest entry, ``0-0`` when the log is empty."""
        newest: Any = await self._redis.xrevrange(self._key(user_id), count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def after(self, user_id: str, event_id: str) -> list[tuple[str, str]]:
        """``(event id, order id)`` of every retained entry after ``event_id``, oldest first."""
        rows: Any = await self._redis.xrange(self._key(user_id), min=f"({event_id}", count=RETAINED)
        return [(_text(raw_id), _text(fields[b"o"])) for raw_id, fields in rows or ()]

    async def aclose(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()
