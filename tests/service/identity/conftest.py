"""The identity service in-process on port 0, over a Postgres database of its own, the real
Redis and in-process Salesforce/WHMCS sandboxes (reset before every test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest

from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.whmcs import RunningWhmcs, start_whmcs
from services.common.clients import Policy
from services.common.migrations import migrate_service
from services.common.server import GrpcServer
from services.identity.server import Deps, build_deps, create_identity_server
from services.identity.settings import IdentitySettings
from tools import infra
from tools.devkeys import ensure_keys

FAST = Policy(
    timeout_s=2.0,
    read_attempts=2,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_threshold=50,
    breaker_cooldown_s=0.5,
)


class Control:
    """A sandbox's ``/__sandbox/`` surface."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def post(self, path: str, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            response = await http.post(path, json=body)
            assert response.status_code == 200, response.text

    async def fault(self, mode: str, **body: Any) -> None:
        await self.post("/__sandbox/faults", {"mode": mode, **body})

    async def reset(self) -> None:
        await self.post("/__sandbox/reset", {})

    async def calls(self) -> dict[str, int]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            return dict((await http.get("/__sandbox/stats")).json()["calls"])


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    base, _ = infra.urls_from_env()
    url = infra.with_database(base, f"portal_identity_{uuid.uuid4().hex[:10]}")
    await infra.ensure_postgres(url)
    await infra.create_database(url)
    await migrate_service(url, "identity")
    yield url
    await infra.drop_database(url)


@pytest.fixture(scope="session")
async def sf_sandbox() -> AsyncIterator[RunningSalesforce]:
    running = await start_salesforce()
    yield running
    await running.stop()


@pytest.fixture(scope="session")
async def whmcs_sandbox() -> AsyncIterator[RunningWhmcs]:
    running = await start_whmcs(port=0, webhook_url="")
    yield running
    await running.stop()


@pytest.fixture
async def sf_control(sf_sandbox: RunningSalesforce) -> Control:
    control = Control(sf_sandbox.rest_url)
    await control.reset()
    return control


@pytest.fixture
async def whmcs_control(whmcs_sandbox: RunningWhmcs) -> Control:
    control = Control(whmcs_sandbox.url)
    await control.reset()
    return control


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("identity-keys")
    ensure_keys(folder)
    return folder


def make_settings(
    database_url: str,
    keys_dir: Path,
    sf: RunningSalesforce,
    whmcs: RunningWhmcs,
    **overrides: Any,
) -> IdentitySettings:
    _, redis_url = infra.urls_from_env()
    values: dict[str, Any] = dict(
        port=0,
        database_url=database_url,
        redis_url=redis_url,
        signing_key_file=keys_dir / "signing-key.pem",
        jwks_file=keys_dir / "jwks.json",
        salesforce_url=sf.rest_url,
        whmcs_url=whmcs.url,
        outbox_poll_interval=0.1,
        outbox_backoff_initial=0.05,
        outbox_backoff_max=0.2,
    )
    values.update(overrides)
    return IdentitySettings(**values)


@pytest.fixture
def settings(
    database_url: str,
    keys_dir: Path,
    sf_sandbox: RunningSalesforce,
    whmcs_sandbox: RunningWhmcs,
    sf_control: Control,
    whmcs_control: Control,
) -> IdentitySettings:
    return make_settings(database_url, keys_dir, sf_sandbox, whmcs_sandbox)


@pytest.fixture
async def deps(settings: IdentitySettings) -> AsyncIterator[Deps]:
    built = await build_deps(settings, policy=FAST)
    yield built
    await built.aclose()


@pytest.fixture
async def server(settings: IdentitySettings, deps: Deps) -> AsyncIterator[GrpcServer]:
    built = create_identity_server(settings, deps)
    await built.start()
    yield built
    await built.stop(grace=1)


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture(autouse=True)
async def clean_tables(database_url: str) -> None:
    """Each test starts from empty identity tables (the sandboxes are reset alongside)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "TRUNCATE identity.users, identity.account_links, identity.refresh_tokens, "
            "identity.outbox, identity.throttle"
        )
    finally:
        await conn.close()
