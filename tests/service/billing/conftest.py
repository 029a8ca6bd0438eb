"""The billing service in-process on port 0 with the real Redis, an in-process WHMCS sandbox
(reset before every test) and a directory: a small real gRPC ``AccountDirectoryService`` (a test
double of identity over real gRPC) mapping this run's users to WHMCS clients.

User ids are unique per test, so cached values of earlier tests or runs are never seen.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from sandbox.mail import RunningMail
from sandbox.whmcs import RunningWhmcs
from services.billing.server import Deps, build_deps, create_billing_server
from services.billing.settings import BillingSettings
from services.common.server import GrpcServer
from tests.helpers.fixtures import dev_keys_fixture
from tests.helpers.grpc_servers import started
from tests.helpers.policies import FAST
from tests.helpers.sandboxes import SandboxControl, mail_sandbox_fixture, whmcs_sandbox_fixture
from tests.service.billing.helpers import Caller, Directory, WhmcsControl, start_directory
from tools import infra

WEBHOOK_SECRET = "test-webhook-secret"

whmcs_sandbox = whmcs_sandbox_fixture(port=0, webhook_url="")
keys_dir = dev_keys_fixture("billing-keys")
mail_sandbox = mail_sandbox_fixture()


@pytest.fixture
async def mail(mail_sandbox: RunningMail) -> SandboxControl:
    """The mail sandbox, emptied before the test."""
    return await SandboxControl.fresh(mail_sandbox.url)


@pytest.fixture
async def whmcs(whmcs_sandbox: RunningWhmcs) -> WhmcsControl:
    """The WHMCS sandbox, reset before the test."""
    return await WhmcsControl.fresh(whmcs_sandbox.url)


@pytest.fixture
async def directory() -> AsyncIterator[Directory]:
    run = uuid.uuid4().hex[:10]
    users = {f"hanako-{run}": 1, f"kenji-{run}": 2, f"nolink-{run}": 0}
    running = await start_directory(users)
    yield running
    await running.stop()


def make_settings(
    keys_dir: Path,
    whmcs: RunningWhmcs,
    directory: Directory,
    mail: RunningMail | None = None,
    **overrides: Any,
) -> BillingSettings:
    _, redis_url = infra.urls_from_env()
    values: dict[str, Any] = dict(
        port=0,
        redis_url=redis_url,
        jwks_file=keys_dir / "jwks.json",
        whmcs_url=whmcs.url,
        whmcs_webhook_secret=WEBHOOK_SECRET,
        identity_target=f"127.0.0.1:{directory.port}",
    )
    if mail is not None:
        values["smtp_port"] = mail.smtp_port
    values.update(overrides)
    return BillingSettings(**values)


@pytest.fixture
async def deps(
    keys_dir: Path,
    whmcs_sandbox: RunningWhmcs,
    whmcs: WhmcsControl,
    directory: Directory,
    mail_sandbox: RunningMail,
    mail: SandboxControl,
) -> AsyncIterator[Deps]:
    settings = make_settings(keys_dir, whmcs_sandbox, directory, mail_sandbox)
    built = await build_deps(settings, policy=FAST)
    yield built
    await built.aclose()


@pytest.fixture
async def server(
    keys_dir: Path, whmcs_sandbox: RunningWhmcs, directory: Directory, deps: Deps
) -> AsyncIterator[GrpcServer]:
    settings = make_settings(keys_dir, whmcs_sandbox, directory)
    async with started(create_billing_server(settings, deps)) as built:
        yield built


def _caller(channel: grpc.aio.Channel, keys_dir: Path, directory: Directory, who: str) -> Caller:
    user_id = next(u for u in directory.users if u.startswith(who))
    return Caller(channel, keys_dir, user_id)


@pytest.fixture
def hanako(channel: grpc.aio.Channel, keys_dir: Path, directory: Directory) -> Caller:
    return _caller(channel, keys_dir, directory, "hanako-")


@pytest.fixture
def kenji(channel: grpc.aio.Channel, keys_dir: Path, directory: Directory) -> Caller:
    return _caller(channel, keys_dir, directory, "kenji-")


@pytest.fixture
def nolink(channel: grpc.aio.Channel, keys_dir: Path, directory: Directory) -> Caller:
    return _caller(channel, keys_dir, directory, "nolink-")
