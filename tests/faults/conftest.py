"""Infrastructure faults (test_infra_faults.py): a stack of its own per module (two replicas of
every service behind Envoy) on a private Redis and a private Postgres, which the tests kill, stop
and restart under load; module-scoped, so it is gone before the next fault module starts its own.
Each test leaves the stack whole again for the next one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.helpers.accounts import HANAKO, customer_token
from tests.helpers.infra_stack import InfraStack
from tests.helpers.logbook import LogBook
from tests.helpers.postgres_servers import PostgresProcess
from tests.helpers.redis_servers import RedisProcess
from tests.helpers.stacks import running_stack


@pytest.fixture(scope="module")
async def infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InfraStack]:
    logbook = LogBook()
    redis = RedisProcess(tmp_path_factory.mktemp("fault-redis")).start()
    postgres = PostgresProcess()
    try:
        await postgres.start()
        async with (
            running_stack(
                tmp_path_factory.mktemp("fault-run"),
                logbook,
                prefix="portal_faults",
                database_url=postgres.url,
                redis_url=redis.url,
                replicas=2,
                within=120,
            ) as stack,
            httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=15) as gateway,
        ):
            token = await customer_token(gateway, "/v1/auth/link", HANAKO)
            headers = {"authorization": f"Bearer {token}"}
            yield InfraStack(stack, logbook, redis, postgres, gateway, headers)
    finally:
        redis.stop()
        await postgres.remove()
