"""Unit tests of the cache library: no I/O (fake clients, fake clocks)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


class FakeRedis:
    """An in-memory stand-in for the few calls the cache makes, with switchable failure modes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.mode = "ok"  # ok | error | hang
        self.calls = 0
        self.gets = 0

    async def _gate(self) -> None:
        self.calls += 1
        if self.mode == "error":
            raise ConnectionError("redis is down")
        if self.mode == "hang":
            await asyncio.Event().wait()

    async def ping(self) -> bool:
        await self._gate()
        return True

    async def mget(self, keys: Any) -> list[bytes | None]:
        await self._gate()
        return [self.data.get(k) for k in keys]

    async def get(self, key: str) -> bytes | None:
        await self._gate()
        self.gets += 1
        return self.data.get(key)

    async def set(self, key: str, value: Any, **kw: Any) -> bool:
        await self._gate()
        if kw.get("nx") and key in self.data:
            return False
        self.data[key] = value if isinstance(value, bytes) else str(value).encode()
        return True

    async def eval(self, script: str, n: int, *args: Any) -> int:
        await self._gate()
        keys, argv = args[:n], args[n:]
        if "SET" in script:  # STORE: value, lock, fill marker, generations...
            gens_ok = all(
                self.data.get(k, b"") == g for k, g in zip(keys[3:], argv[5:], strict=True)
            )
            if gens_ok:
                self.data[keys[0]] = argv[0]
                self.data[keys[2]] = argv[4]
            if argv[2] and self.data.get(keys[1]) == argv[2].encode():
                del self.data[keys[1]]
            return int(gens_ok)
        if self.data.get(keys[0]) == argv[0].encode():
            del self.data[keys[0]]
        return 1

    def pipeline(self, transaction: bool = False) -> FakePipeline:
        return FakePipeline(self)

    async def aclose(self) -> None:
        pass


class FakePipeline:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.ops: list[tuple[str, Any]] = []

    def set(self, key: str, value: Any, **kw: Any) -> None:
        self.ops.append((key, value))

    async def execute(self) -> list[bool]:
        return [await self.redis.set(k, v) for k, v in self.ops]


@pytest.fixture
def fake_redis() -> FakeRedis:
    return FakeRedis()
