"""Polling helpers for the commerce service tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 2.0
) -> tuple[T, float]:
    """Call ``probe`` until ``ok(result)``; return the result and the seconds it took."""
    started = time.monotonic()
    while True:
        result = await probe()
        elapsed = time.monotonic() - started
        if ok(result) or elapsed > within:
            assert ok(result), f"not within {within} s: {result!r}"
            return result, elapsed
        await asyncio.sleep(0.05)
