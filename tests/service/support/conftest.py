"""The support service in-process on port 0 with the real interceptors, an in-process Salesforce
sandbox (reset before every test) and a directory.

The directory is a test double of identity's ``AccountDirectoryService`` over real gRPC: a small
servicer mapping fixed user ids to the seeded accounts (identity's own directory needs Postgres and
Redis and is tested in tests/service/identity; here only its contract matters).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from portal.identity.v1 import account_directory_pb2 as dir_pb
from portal.identity.v1 import account_directory_pb2_grpc as dir_grpc
from portal.support.v1 import support_pb2_grpc

from sandbox.salesforce import RunningSalesforce
from services.common.clients import SalesforceClient, SalesforceConfig
from services.common.server import GrpcServer
from services.support.server import build_deps, create_support_server
from services.support.settings import SupportSettings
from tests.helpers.fixtures import dev_keys_fixture
from tests.helpers.grpc_servers import serving, started
from tests.helpers.policies import FAST
from tests.helpers.sandboxes import SandboxControl, salesforce_sandbox_fixture
from tests.helpers.tokens import sign

SECRET = "test-page-token-secret"

# user id -> (customer number, e-mail identity knows)
USERS = {
    "user-hanako": ("AC-000101", "hanako.yamada@example.jp"),
    "user-taro": ("AC-000102", "taro.suzuki@example.jp"),
    "user-yuki": ("AC-000104", "someone.else@example.jp"),  # no Contact with that e-mail
}


class FakeDirectory(dir_grpc.AccountDirectoryServiceServicer):
    def __init__(self) -> None:
        self.links: dict[str, dir_pb.AccountLinks] = {}
        self.calls = 0

    async def GetAccountLinks(
        self, request: dir_pb.GetAccountLinksRequest, context: grpc.aio.ServicerContext
    ) -> dir_pb.GetAccountLinksResponse:
        self.calls += 1
        links = self.links.get(request.user_id)
        if links is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such user")
        return dir_pb.GetAccountLinksResponse(links=links)


@dataclass
class World:
    """Everything a test touches: the stub, tokens per user, staff's Salesforce, the sandbox."""

    stub: support_pb2_grpc.SupportServiceStub
    keys_dir: Path
    staff: SalesforceClient
    control: SandboxControl
    accounts: dict[str, str]  # customer number -> Account Id
    directory: FakeDirectory

    def auth(self, user: str = "user-hanako") -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {sign(self.keys_dir, sub=user)}"),)

    async def staff_case(self, number: str, **fields: Any) -> str:
        body = {"Subject": "Staff case", "Status": "New", "Origin": "Phone", **fields}
        return await self.staff.create("Case", {"AccountId": self.accounts[number], **body})


sf_sandbox = salesforce_sandbox_fixture(port=0, pubsub_port=0)
keys_dir = dev_keys_fixture("support-keys")


@pytest.fixture(scope="session")
async def directory() -> AsyncIterator[tuple[FakeDirectory, int]]:
    servicer = FakeDirectory()
    async with serving(
        (dir_grpc.add_AccountDirectoryServiceServicer_to_server, servicer)
    ) as target:
        yield servicer, int(target.rsplit(":", 1)[1])


def support_settings(
    keys_dir: Path, sf: RunningSalesforce, directory_port: int, **overrides: Any
) -> SupportSettings:
    values: dict[str, Any] = dict(
        port=0,
        jwks_file=keys_dir / "jwks.json",
        salesforce_url=sf.rest_url,
        identity_target=f"127.0.0.1:{directory_port}",
        page_token_secret=SECRET,
        **overrides,
    )
    return SupportSettings(**values)


@pytest.fixture(scope="session")
async def support(
    keys_dir: Path, sf_sandbox: RunningSalesforce, directory: tuple[FakeDirectory, int]
) -> AsyncIterator[GrpcServer]:
    settings = support_settings(keys_dir, sf_sandbox, directory[1])
    deps = build_deps(settings, policy=FAST)
    built = create_support_server(settings, deps)
    built.closers.append(deps.aclose)
    async with started(built, grace=0):
        yield built


@pytest.fixture(scope="session")
async def channel(support: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    """One channel to the session's support server (unlike the suite's per-test ``channel``)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{support.port}") as chan:
        yield chan


@pytest.fixture(scope="session")
async def staff(sf_sandbox: RunningSalesforce) -> AsyncIterator[SalesforceClient]:
    client = SalesforceClient(SalesforceConfig(url=sf_sandbox.rest_url, policy=FAST))
    yield client
    await client.aclose()


@pytest.fixture
async def world(
    sf_sandbox: RunningSalesforce,
    keys_dir: Path,
    channel: grpc.aio.Channel,
    staff: SalesforceClient,
    directory: tuple[FakeDirectory, int],
) -> World:
    control = await SandboxControl.fresh(sf_sandbox.rest_url)
    rows = await staff.query("SELECT Id, SF_Account_No__c FROM Account")
    accounts = {str(r["SF_Account_No__c"]): str(r["Id"]) for r in rows}
    servicer = directory[0]
    servicer.links = {
        user: dir_pb.AccountLinks(
            user_id=user, sf_account_id=accounts[number], customer_number=number, email=email
        )
        for user, (number, email) in USERS.items()
    }
    return World(
        stub=support_pb2_grpc.SupportServiceStub(channel),
        keys_dir=keys_dir,
        staff=staff,
        control=control,
        accounts=accounts,
        directory=servicer,
    )
