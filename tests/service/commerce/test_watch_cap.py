"""WatchHub's per-user stream cap, on a real Redis: one more stream than allowed is refused before
it holds anything, also when the streams are spread over several replicas; closing streams gives
back their places, queues and subscriptions, and a replica that dies gives its places back when
their leases end."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from services.commerce.order_event_log import OrderEventLog
from services.commerce.server import SMALL_POOL
from services.commerce.watch import WatchHub, redis_for_pubsub
from services.commerce.watch_slots import StreamSlots
from services.common.cache.client import redis_from_url
from services.common.cache.keys import order_changes_channel, watch_slots_key
from services.common.errors import TooManyStreams


def replica(redis_url: str, namespace: str, limit: int, lease_s: float = 30.0) -> WatchHub:
    """One commerce replica's hub, as commerce's server builds it."""
    events = OrderEventLog(redis_from_url(redis_url, max_connections=SMALL_POOL), namespace)
    slots = StreamSlots(
        redis_from_url(redis_url, max_connections=SMALL_POOL), namespace, limit, lease_s=lease_s
    )
    return WatchHub(redis_for_pubsub(redis_url), namespace, events, slots, limit)


async def test_streams_beyond_the_cap_are_refused_and_closed_ones_freed(redis_url: str) -> None:
    namespace = f"test_{uuid.uuid4().hex[:8]}"
    hub = replica(redis_url, namespace, 3)
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


async def test_a_wave_of_streams_takes_its_slots_over_a_few_connections(redis_url: str) -> None:
    # 250 streams opening at once each take a slot (none let through uncounted because the
    # slots' small pool was busy), and the wave opens at most SMALL_POOL connections.
    namespace = f"test_{uuid.uuid4().hex[:8]}"
    hub = replica(redis_url, namespace, 300)
    user = f"user-{uuid.uuid4().hex}"
    wave = 250
    try:
        async with contextlib.AsyncExitStack() as streams:
            await asyncio.gather(
                *(streams.enter_async_context(hub.watch(user)) for _ in range(wave))
            )
            assert hub.open_streams() == wave
            assert hub._slots.held() == wave
            assert await hub._redis.zcard(watch_slots_key(namespace, user)) == wave
            idle, in_use = hub._slots._redis.connection_pool.connection_counts()
            assert 1 < idle + in_use <= SMALL_POOL
        assert await hub._redis.zcard(watch_slots_key(namespace, user)) == 0
    finally:
        await hub.aclose()


async def test_the_cap_holds_across_replicas(redis_url: str) -> None:
    namespace = f"test_{uuid.uuid4().hex[:8]}"
    first, second = replica(redis_url, namespace, 3), replica(redis_url, namespace, 3)
    user = f"user-{uuid.uuid4().hex}"
    try:
        async with contextlib.AsyncExitStack() as streams:
            await streams.enter_async_context(first.watch(user))
            await streams.enter_async_context(first.watch(user))
            held = contextlib.AsyncExitStack()
            await held.enter_async_context(second.watch(user))
            with pytest.raises(TooManyStreams):  # two here + one there
                await streams.enter_async_context(first.watch(user))
            with pytest.raises(TooManyStreams):
                await streams.enter_async_context(second.watch(user))
            await held.aclose()  # a stream on the second replica closes: its place is free
            await streams.enter_async_context(first.watch(user))
            assert first.open_streams() == 3 and second.open_streams() == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_dead_replicas_places_come_back_when_their_leases_end(redis_url: str) -> None:
    namespace = f"test_{uuid.uuid4().hex[:8]}"
    user = f"user-{uuid.uuid4().hex}"
    survivor = replica(redis_url, namespace, 2, lease_s=0.6)
    slots = StreamSlots(redis_from_url(redis_url), namespace, 2, lease_s=0.6)
    try:
        # A replica takes both places and dies (no give-back, no renewal).
        assert await slots.take(user) is not None
        assert await slots.take(user) is not None
        slots._renewer.cancel()  # type: ignore[union-attr]
        with pytest.raises(TooManyStreams):
            async with survivor.watch(user):
                pass
        # The survivor's own open stream keeps its lease beyond one lease time (renewed).
        await asyncio.sleep(0.7)
        async with survivor.watch(user), survivor.watch(user):
            await asyncio.sleep(1.0)
            raw = redis_from_url(redis_url)
            try:
                assert await raw.zcard(watch_slots_key(namespace, user)) == 2
            finally:
                await raw.aclose()
            with pytest.raises(TooManyStreams):
                async with survivor.watch(user):
                    pass
    finally:
        await survivor.aclose()
        await slots._redis.aclose()


async def test_a_batch_of_changes_reaches_the_log_and_the_watchers_in_order(
    redis_url: str,
) -> None:
    """The CDC consumer's batch (``orders_changed``): every change logged for SSE resumption and
    published to its user's watchers, in order, as ``order_changed`` one by one would."""
    namespace = f"test_{uuid.uuid4().hex[:8]}"
    hub = replica(redis_url, namespace, 3)
    user, other = f"user-{uuid.uuid4().hex}", f"user-{uuid.uuid4().hex}"
    try:
        async with hub.watch(user) as queue:
            await hub.orders_changed([(user, "801A"), (other, "801B"), (user, "801C")])
            got = [await asyncio.wait_for(queue.get(), 5) for _ in range(2)]
            assert got == ["801A", "801C"]  # the other user's change is not on this stream
        assert [o for _, o in await hub.events.after(user, "0-0")] == ["801A", "801C"]
        assert [o for _, o in await hub.events.after(other, "0-0")] == ["801B"]
    finally:
        await hub.aclose()
