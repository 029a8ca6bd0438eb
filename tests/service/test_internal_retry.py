"""Service-to-service calls (``upstreams.channel``) repeat internal reads that failed with
UNAVAILABLE, and nothing else: real grpc.aio servers on free ports, the real channel."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest
from portal.identity.v1 import (
    account_directory_pb2,
    account_directory_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)

from services.common import upstreams
from services.common.methods import all_methods
from tests.helpers.grpc_servers import serving


class FlakyDirectory(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    """Fails the first ``failures`` calls with ``code``, then answers."""

    def __init__(self, failures: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        self.failures, self.code, self.calls = failures, code, 0

    async def GetAccountLinks(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            await context.abort(self.code, "try again later")
        links = account_directory_pb2.AccountLinks(user_id=request.user_id)
        return account_directory_pb2.GetAccountLinksResponse(links=links)


class UnavailableIdentity(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def GetMe(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls += 1
        await context.abort(grpc.StatusCode.UNAVAILABLE, "try again later")


def test_every_internal_method_is_a_read() -> None:
    # The retry policy covers whole internal services: an internal write would be repeated too.
    internal = [m for m in all_methods() if m.internal]
    assert internal
    writes = [m.path for m in internal if not re.match(r"(Get|List|Has)[A-Z]", m.name)]
    assert not writes, f"internal methods that may not be reads (check the retry policy): {writes}"


async def test_an_unavailable_internal_read_is_made_again() -> None:
    directory = FlakyDirectory(failures=2)
    add = account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server
    async with serving((add, directory)) as target, upstreams.channel(target) as channel:
        stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
        answer = await stub.GetAccountLinks(
            account_directory_pb2.GetAccountLinksRequest(user_id="u-1"), timeout=5
        )
    assert answer.links.user_id == "u-1"
    assert directory.calls == 3


async def test_retries_stop_after_three_attempts() -> None:
    directory = FlakyDirectory(failures=10)
    add = account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server
    async with serving((add, directory)) as target, upstreams.channel(target) as channel:
        stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetAccountLinks(account_directory_pb2.GetAccountLinksRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert directory.calls == 3


async def test_other_failures_are_not_repeated() -> None:
    directory = FlakyDirectory(failures=1, code=grpc.StatusCode.INTERNAL)
    add = account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server
    async with serving((add, directory)) as target, upstreams.channel(target) as channel:
        stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetAccountLinks(account_directory_pb2.GetAccountLinksRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert directory.calls == 1


async def test_public_methods_are_not_repeated() -> None:
    identity = UnavailableIdentity()
    add = identity_pb2_grpc.add_IdentityServiceServicer_to_server
    async with serving((add, identity)) as target, upstreams.channel(target) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetMe(identity_pb2.GetMeRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert identity.calls == 1
