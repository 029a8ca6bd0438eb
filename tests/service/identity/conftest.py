"""The identity service in-process on port 0, over a Postgres database of its own, the real
Redis and in-process Salesforce/WHMCS sandboxes (reset before every test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sandbox.mail import RunningMail
from sandbox.salesforce import RunningSalesforce
from sandbox.whmcs import RunningWhmcs
from services.common.server import GrpcServer
from services.identity.server import Deps, build_deps, create_identity_server
from services.identity.settings import IdentitySettings
from tests.helpers.fixtures import dev_keys_fixture, private_database_fixture
from tests.helpers.grpc_servers import started
from tests.helpers.policies import FAST
from tests.helpers.sandboxes import (
    SandboxControl,
    mail_sandbox_fixture,
    salesforce_sandbox_fixture,
    whmcs_sandbox_fixture,
)
from tools import infra

database_url = private_database_fixture("portal_identity", migrate=("identity",))
sf_sandbox = salesforce_sandbox_fixture()
whmcs_sandbox = whmcs_sandbox_fixture(port=0, webhook_url="")
keys_dir = dev_keys_fixture("identity-keys")
mail_sandbox = mail_sandbox_fixture()


@pytest.fixture
async def sf_control(sf_sandbox: RunningSalesforce) -> SandboxControl:
    return await SandboxControl.fresh(sf_sandbox.rest_url)


@pytest.fixture
async def mail_control(mail_sandbox: RunningMail) -> SandboxControl:
    return await SandboxControl.fresh(mail_sandbox.url)


@pytest.fixture
async def whmcs_control(whmcs_sandbox: RunningWhmcs) -> SandboxControl:
    return await SandboxControl.fresh(whmcs_sandbox.url)


def make_settings(
    database_url: str,
    keys_dir: Path,
    sf: RunningSalesforce,
    whmcs: RunningWhmcs,
    mail: RunningMail,
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
        smtp_port=mail.smtp_port,
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
    sf_control: SandboxControl,
    whmcs_control: SandboxControl,
    mail_sandbox: RunningMail,
    mail_control: SandboxControl,
) -> IdentitySettings:
    return make_settings(database_url, keys_dir, sf_sandbox, whmcs_sandbox, mail_sandbox)


@pytest.fixture
async def deps(settings: IdentitySettings) -> AsyncIterator[Deps]:
    built = await build_deps(settings, policy=FAST)
    yield built
    await built.aclose()


@pytest.fixture
async def server(settings: IdentitySettings, deps: Deps) -> AsyncIterator[GrpcServer]:
    async with started(create_identity_server(settings, deps)) as built:
        yield built


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
            "identity.outbox, identity.throttle, identity.codes"
        )
    finally:
        await conn.close()
