"""A call's retries stay within ``Policy.budget_s`` (real time, small numbers, no I/O)."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.common.clients.resilience import Policy, Upstream
from services.common.errors import UpstreamUnavailable


async def test_slow_attempts_are_cut_to_the_budget() -> None:
    policy = Policy(timeout_s=0.4, read_attempts=5, budget_s=1.0, backoff_initial_s=0.01)
    upstream = Upstream("budget-test", policy)
    attempts = 0

    async def hangs() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(10)

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        await upstream.call("op", hangs, idempotent=True)
    elapsed = time.monotonic() - started
    # 0.4 + 0.4 + the 0.2 left: three attempts, the last one cut, not five full timeouts.
    assert attempts == 3
    assert 0.9 <= elapsed < 1.8, elapsed


async def test_no_retry_starts_past_the_budget() -> None:
    policy = Policy(timeout_s=5, read_attempts=3, budget_s=0.3, backoff_initial_s=0.01)
    upstream = Upstream("budget-test-2", policy)
    attempts = 0

    async def slow_refusal() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.35)
        raise UpstreamUnavailable()

    with pytest.raises(UpstreamUnavailable):
        await upstream.call("op", slow_refusal, idempotent=True)
    assert attempts == 1
