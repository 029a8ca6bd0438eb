"""The whole stack for end-to-end tests: real Envoy, the four services, the sandboxes, Postgres
and Redis, on free ports with a database of its own, started once per test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.logbook import LogBook
from tools import infra
from tools.stack import Ports, Stack, StackConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def logbook() -> LogBook:
    return LogBook()


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory, logbook: LogBook) -> AsyncIterator[Stack]:
    database_url, redis_url = infra.urls_from_env()
    database_url = infra.with_database(database_url, f"portal_e2e_{uuid.uuid4().hex[:10]}")
    await infra.ensure_postgres(database_url)
    await infra.create_database(database_url)
    run_dir: Path = tmp_path_factory.mktemp("run")
    config = StackConfig(database_url, redis_url, ports=Ports.free(), run_dir=run_dir)
    stack = Stack(config, sink=logbook)
    try:
        await stack.start(within=60)
        yield stack
    finally:
        await stack.stop()
        await infra.drop_database(database_url)


@pytest.fixture(scope="session")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def keys_dir(stack: Stack) -> Path:
    return stack.config.run_dir / "keys"
