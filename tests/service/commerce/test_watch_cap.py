"""WatchHub's per-user stream cap, on a real Redis: one more stream than allowed is refused before
it holds anything, and closing streams gives back their places, queues and subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from services.commerce.order_event_log import OrderEventLog
from services.commerce.watch import WatchHub, redis_for_pubsub
from services.common.cache.client import redis_from_url
from services.common.cache.keys import order_changes_channel
from services.common.errors import TooManyStreams


async def test_streams_beyond_the_cap_are_refused_and_closed_ones_freed(redis_url: str) -> None:
    namespace = f"test_{uuid.uuid4().hex[:8]}"
    events = OrderEventLog(redis_from_url(redis_url), namespace)
    hub = WatchHub(redis_for_pubsub(redis_url), namespace, events, max_streams_per_user=3)
    user, other = f"user-{uuid.uuid4().hex}", f"user-{uuid.uuid4().hex}"
    channel = order_changes_channel(namespace, user)
    try:
        async with contextlib.AsyncExitStack() as streams:
            for _ in range(3):
                await streams.enter_async_context(hub.watch(user))
            with pytest.raises(TooManyStreams):
                await streams.enter_async_context(hub.watch(user))
            await streams.enter_async_context(hub.watch(other))  # the cap is per user
            assert hub.open_streams() == 4
            numsub = dict(await hub._redis.pubsub_numsub(channel))
            assert numsub[channel.encode()] == 1  # one subscription for the replica
        assert hub.open_streams() == 0
        numsub = dict(await hub._redis.pubsub_numsub(channel))
        assert numsub[channel.encode()] == 0
        # The hub's own count (the portal_watch_subscribed_channels gauge) follows once Redis has
        # confirmed the unsubscribes.
        for _ in range(50):
            if hub.subscribed_channels() == 0:
                break
            await asyncio.sleep(0.1)
        assert hub.subscribed_channels() == 0
        async with hub.watch(user):
            assert hub.open_streams() == 1
    finally:
        await hub.aclose()
