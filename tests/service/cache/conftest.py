"""Service-level cache tests: real Redis servers started for this session (never the shared one's
data: throwaway servers from ``tests/helpers/redis_servers.py``, killed by PID at the end, also
when tests fail), plus a real 3-node Redis Cluster."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from services.common.cache import Cache, redis_from_url
from tests.helpers.redis_servers import RedisProcess
from tests.helpers.redis_servers import redis_cluster as start_cluster


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def uid() -> str:
    return f"user:{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace() -> str:
    """The test's own key namespace: caches of one test share it, other tests never see it."""
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def make_cache(redis_proc: RedisProcess, namespace: str) -> AsyncIterator[Any]:
    made: list[Cache] = []

    def make(url: str | None = None, **kw: Any) -> Cache:
        kw.setdefault("namespace", namespace)
        cache = Cache(redis_from_url(url or redis_proc.url), service="test", **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.aclose()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real 3-master Redis Cluster on free ports; yields ``redis+cluster://`` of one node."""
    with start_cluster(tmp_path_factory.mktemp("cluster")) as nodes:
        yield f"redis+cluster://127.0.0.1:{nodes[0].port}"


class Loader:
    """A counting loader; ``delay`` simulates a slow upstream, ``fail`` an upstream error."""

    def __init__(self, tag: str = "v", delay: float = 0.0, fail: Exception | None = None) -> None:
        self.calls = 0
        self.tag, self.delay, self.fail = tag, delay, fail

    async def __call__(self) -> Any:
        from portal.billing.v1 import billing_pb2

        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        invoice = billing_pb2.Invoice(number=f"{self.tag}{self.calls}")
        return billing_pb2.ListInvoicesResponse(invoices=[invoice])


@pytest.fixture
def loader() -> type[Loader]:
    return Loader
