"""Live order streams give back what they hold when their clients hang up.

Streams opened through the gateway show in commerce's ``portal_watch_open_streams`` and
``portal_watch_subscribed_channels`` gauges while open, and both go back to where they were once
the clients disconnect, over several rounds (no stream, queue or Redis subscription left behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.helpers.accounts import HANAKO, auth_headers
from tools.stack import Stack

pytestmark = pytest.mark.e2e

AT_ONCE = 4  # below the per-user cap (COMMERCE_WATCH_MAX_STREAMS_PER_USER, 5)
ROUNDS = 3


async def _gauges(url: str) -> tuple[float, float]:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(url)).text

    def sample(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        assert match is not None, f"{name} is not exposed"
        return float(match[1])

    return sample("portal_watch_open_streams"), sample("portal_watch_subscribed_channels")


async def _until(url: str, want: tuple[float, float], within: float = 10.0) -> tuple[float, float]:
    """The gauges once they read ``want`` (or as they are after ``within`` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    for _ in range(int(within / 0.1)):
        now = await _gauges(url)
        if now == want or loop.time() > deadline:
            return now
        await asyncio.sleep(0.1)
    return await _gauges(url)


async def test_closed_streams_release_their_places_and_subscriptions(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    headers = await auth_headers(gateway, "/v1/auth/link", HANAKO)
    url = f"http://127.0.0.1:{stack.config.ports.commerce_metrics}/metrics"
    streams_before, channels_before = await _gauges(url)
    for _ in range(ROUNDS):
        kept: list[AsyncIterator[bytes]] = []
        async with contextlib.AsyncExitStack() as held:
            for _ in range(AT_ONCE):
                request = gateway.stream("GET", "/v1/orders:watch", headers=headers)
                response = await held.enter_async_context(request)
                assert response.status_code == 200
                # The opening heartbeat; the iterator stays unfinished (leaving it would close
                # the response).
                chunks = response.aiter_raw()
                assert b"heartbeat" in await anext(chunks)
                kept.append(chunks)  # closed with the response
            # One subscription for the user on this replica, however many of their streams.
            open_now = await _until(url, (streams_before + AT_ONCE, channels_before + 1))
            assert open_now == (streams_before + AT_ONCE, channels_before + 1)
        assert await _until(url, (streams_before, channels_before)) == (
            streams_before,
            channels_before,
        )
