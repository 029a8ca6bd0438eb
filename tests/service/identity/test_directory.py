"""AccountDirectoryService over gRPC: lookups, NOT_FOUND, and cache invalidation on a write."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
import pytest
from portal.identity.v1 import account_directory_pb2 as pb
from portal.identity.v1 import account_directory_pb2_grpc

from services.identity import repo
from services.identity.server import Deps
from tests.helpers.grpc_errors import error_info, status_of


def new_user(email: str, client_id: int, sf_id: str) -> repo.NewUser:
    return repo.NewUser(
        email=email,
        password_hash="x",
        first_name="Test",
        last_name="User",
        whmcs_client_id=client_id,
        sf_account_id=sf_id,
        customer_number=f"AC-{client_id}",
        source="New Signup",
    )


def unique() -> tuple[str, int, str]:
    n = uuid.uuid4().int % 10**9 + 1000
    return f"user{n}@example.jp", n, f"001TEST{n:011d}"


async def insert(deps: Deps, email: str, client_id: int, sf_id: str) -> str:
    async with deps.pool.acquire() as conn, conn.transaction():
        return await repo.insert_user(conn, new_user(email, client_id, sf_id))


async def test_get_account_links(channel: grpc.aio.Channel, deps: Deps) -> None:
    email, client_id, sf_id = unique()
    user_id = await insert(deps, email, client_id, sf_id)
    stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
    links = (await stub.GetAccountLinks(pb.GetAccountLinksRequest(user_id=user_id))).links
    assert links == pb.AccountLinks(
        user_id=user_id,
        whmcs_client_id=client_id,
        sf_account_id=sf_id,
        customer_number=f"AC-{client_id}",
        email=email,
    )
    by_sf = await stub.ListUsersBySalesforceAccount(
        pb.ListUsersBySalesforceAccountRequest(sf_account_id=sf_id)
    )
    assert [link.user_id for link in by_sf.links] == [user_id]
    by_whmcs = await stub.GetUserByWhmcsClient(
        pb.GetUserByWhmcsClientRequest(whmcs_client_id=client_id)
    )
    assert by_whmcs.links.user_id == user_id


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_unknown_user_is_not_found(channel: grpc.aio.Channel, user_id: str) -> None:
    stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
    call = stub.GetAccountLinks(pb.GetAccountLinksRequest(user_id=user_id))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "NOT_FOUND"


async def test_unknown_whmcs_client_and_sf_account(channel: grpc.aio.Channel) -> None:
    stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetUserByWhmcsClient(pb.GetUserByWhmcsClientRequest(whmcs_client_id=987654321))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    empty = await stub.ListUsersBySalesforceAccount(
        pb.ListUsersBySalesforceAccountRequest(sf_account_id="001NOBODY")
    )
    assert list(empty.links) == []


async def test_empty_ids_are_invalid(channel: grpc.aio.Channel) -> None:
    stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetAccountLinks(pb.GetAccountLinksRequest(user_id=""))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_links_are_cached_and_dropped_on_change(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    email, client_id, sf_id = unique()
    user_id = await insert(deps, email, client_id, sf_id)
    stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
    first = (await stub.GetAccountLinks(pb.GetAccountLinksRequest(user_id=user_id))).links
    # A change made behind the directory's back is not seen while cached...
    await db.execute(
        "UPDATE identity.account_links SET whmcs_client_id = whmcs_client_id + 1 "
        "WHERE user_id = $1",
        uuid.UUID(user_id),
    )
    cached = (await stub.GetAccountLinks(pb.GetAccountLinksRequest(user_id=user_id))).links
    assert cached == first
    # ...and is seen once the mapping writer invalidates the user's links.
    await deps.directory.changed(user_id)
    fresh = (await stub.GetAccountLinks(pb.GetAccountLinksRequest(user_id=user_id))).links
    assert fresh.whmcs_client_id == client_id + 1


async def test_unique_mapping(deps: Deps) -> None:
    email, client_id, sf_id = unique()
    await insert(deps, email, client_id, sf_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(deps, email.upper(), client_id + 1, sf_id + "X")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(deps, "other" + email, client_id, sf_id + "Y")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(deps, "third" + email, client_id + 2, sf_id)
