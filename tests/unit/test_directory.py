"""The shared directory client: one "not linked" answer (None / empty) for an unknown user and for
a user without the id asked about; a found WHMCS client id and Salesforce account id are remembered
in the process, the links (with the e-mail address) never."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from portal.identity.v1 import account_directory_pb2 as pb

from services.common.directory import MEMO_SECONDS, Directory
from services.common.errors import UpstreamUnavailable

LINKED = pb.AccountLinks(user_id="u1", whmcs_client_id=7, sf_account_id="001A", email="a@b.jp")
HALF = pb.AccountLinks(user_id="u2", sf_account_id="001B")  # no WHMCS client


class Failed(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata())


class FakeStub:
    """identity's answers: NOT_FOUND for an unknown user, UNAVAILABLE when down."""

    def __init__(self) -> None:
        self.users = {"u1": LINKED, "u2": HALF}
        self.calls = 0
        self.down = False

    def _answer(self, links: pb.AccountLinks | None, response: Any) -> Any:
        self.calls += 1

        async def call() -> Any:
            if self.down:
                raise Failed(grpc.StatusCode.UNAVAILABLE)
            if links is None:
                raise Failed(grpc.StatusCode.NOT_FOUND)
            return response(links=links)

        return call()

    def GetAccountLinks(self, request: Any, timeout: float) -> Any:
        links = self.users.get(request.user_id)
        return self._answer(links, pb.GetAccountLinksResponse)

    def GetUserByWhmcsClient(self, request: Any, timeout: float) -> Any:
        found = [u for u in self.users.values() if u.whmcs_client_id == request.whmcs_client_id]
        return self._answer(found[0] if found else None, pb.GetUserByWhmcsClientResponse)

    def ListUsersBySalesforceAccount(self, request: Any, timeout: float) -> Any:
        found = [u for u in self.users.values() if u.sf_account_id == request.sf_account_id]
        self.calls += 1

        async def call() -> Any:
            return pb.ListUsersBySalesforceAccountResponse(links=found)

        return call()


def directory() -> tuple[Directory, FakeStub]:
    stub = FakeStub()
    return Directory(stub), stub  # type: ignore[arg-type]


async def test_not_linked_is_none_for_an_unknown_user_and_for_a_missing_id() -> None:
    d, _ = directory()
    assert await d.sf_account_of("u1") == "001A" and await d.whmcs_client_of("u1") == 7
    assert await d.sf_account_of("nobody") is None and await d.whmcs_client_of("nobody") is None
    assert await d.whmcs_client_of("u2") is None  # known, but no WHMCS client
    assert await d.links("") is None
    assert await d.user_of_whmcs_client(7) == "u1" and await d.user_of_whmcs_client(8) is None
    assert await d.users_of_sf_account("001B") == ["u2"]
    assert await d.whmcs_client_of_sf_account("001B") is None  # linked user, no WHMCS client
    assert await d.whmcs_client_of_sf_account("001A") == 7


async def test_a_found_whmcs_client_is_remembered_a_missing_one_is_not() -> None:
    d, stub = directory()
    assert await d.whmcs_client_of("u1") == 7
    stub.down = True
    assert await d.whmcs_client_of("u1") == 7  # from memory: no call
    with pytest.raises(UpstreamUnavailable):
        await d.whmcs_client_of("u2")  # never remembered: asked again, identity is down


async def test_a_found_salesforce_account_is_remembered_the_links_are_not() -> None:
    d, stub = directory()
    assert await d.sf_account_of("u1") == "001A" and stub.calls == 1
    assert await d.whmcs_client_of("u1") == 7 and stub.calls == 1  # the same answer had both
    assert await d.sf_account_of("u2") == "001B" and stub.calls == 2
    stub.down = True
    assert await d.sf_account_of("u1") == "001A" and await d.sf_account_of("u2") == "001B"
    with pytest.raises(UpstreamUnavailable):
        await d.whmcs_client_of("u2")  # the id u2 has not got is not remembered
    with pytest.raises(UpstreamUnavailable):
        await d.links("u1")  # the links carry the e-mail address, which can change: always asked
    with pytest.raises(UpstreamUnavailable):
        await d.sf_account_of("nobody")


async def test_remembered_ids_are_asked_again_after_memo_seconds() -> None:
    stub = FakeStub()
    now = [1000.0]
    d = Directory(stub, clock=lambda: now[0])  # type: ignore[arg-type]
    assert await d.sf_account_of("u1") == "001A" and stub.calls == 1
    now[0] += MEMO_SECONDS - 0.1
    assert await d.sf_account_of("u1") == "001A" and stub.calls == 1
    now[0] += 0.2
    stub.users["u1"] = pb.AccountLinks(user_id="u1", whmcs_client_id=7, sf_account_id="001Z")
    assert await d.sf_account_of("u1") == "001Z" and stub.calls == 2
