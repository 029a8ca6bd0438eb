"""The coalescer under fulfillment's shared Salesforce requests (``sfbatch.Coalescer``), with a
recording flush (no I/O): who goes out together, and whose error is whose."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.commerce.fulfillment.sfbatch import Coalescer


class Recorder:
    def __init__(self, fail: set[str] | None = None, broken: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail or set()
        self.broken = broken

    async def __call__(self, keys: list[str]) -> list[Any]:
        self.batches.append(list(keys))
        await asyncio.sleep(0.01)  # the request's round trip
        if self.broken:
            raise ConnectionError("down")
        return [ValueError(k) if k in self.fail else k.upper() for k in keys]


async def test_keys_of_one_turn_share_a_flush_and_errors_stay_with_their_key() -> None:
    flush = Recorder(fail={"b"})
    batcher: Coalescer[str, str] = Coalescer(flush, max_size=10)
    got = await asyncio.gather(*(batcher(k) for k in "abc"), return_exceptions=True)
    assert flush.batches == [["a", "b", "c"]]
    assert got[0] == "A" and got[2] == "C"
    assert isinstance(got[1], ValueError)


async def test_a_lone_key_goes_out_alone_and_at_once() -> None:
    flush = Recorder()
    batcher: Coalescer[str, str] = Coalescer(flush, max_size=10, window_s=5.0)
    assert await asyncio.wait_for(batcher("a"), 1.0) == "A"  # no 5 s window when idle
    assert flush.batches == [["a"]]


async def test_keys_arriving_during_a_flush_go_in_the_next_one_up_to_max_size() -> None:
    flush = Recorder()
    batcher: Coalescer[str, str] = Coalescer(flush, max_size=2)
    first = asyncio.ensure_future(batcher("a"))
    await asyncio.sleep(0.001)  # "a" is out
    rest = [asyncio.ensure_future(batcher(k)) for k in "bcd"]
    assert await asyncio.gather(first, *rest) == ["A", "B", "C", "D"]
    assert flush.batches == [["a"], ["b", "c"], ["d"]]


async def test_a_failed_flush_reaches_every_key_of_that_flush_only() -> None:
    flush = Recorder(broken=True)
    batcher: Coalescer[str, str] = Coalescer(flush, max_size=10)
    got = await asyncio.gather(batcher("a"), batcher("b"), return_exceptions=True)
    assert all(isinstance(g, ConnectionError) for g in got)
    flush.broken = False
    assert await batcher("c") == "C"


async def test_a_cancelled_caller_drops_out() -> None:
    flush = Recorder()
    batcher: Coalescer[str, str] = Coalescer(flush, max_size=10)
    gone = asyncio.ensure_future(batcher("a"))
    kept = asyncio.ensure_future(batcher("b"))
    gone.cancel()
    assert await kept == "B"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert flush.batches == [["b"]]
