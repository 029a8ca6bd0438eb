"""LinkWhmcsAccount against the sandboxes: success, not linkable, wrong password, registered."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
from portal.identity.v1 import identity_pb2 as pb

from services.identity.server import Deps
from tests.service.identity.helpers import fails_with, stub
from tests.service.identity.test_signup import delivered, meta, sf_account


async def test_link_hanako(channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection) -> None:
    req = pb.LinkWhmcsAccountRequest(email="hanako.yamada@example.jp", password="demo-password-1")
    response = await stub(channel).LinkWhmcsAccount(req, metadata=meta())
    assert response.user.customer_number == "AC-000101"
    assert response.user.email == "hanako.yamada@example.jp"
    assert (response.user.first_name, response.user.last_name) == ("Hanako", "Yamada")
    link = await db.fetchrow(
        "SELECT * FROM identity.account_links WHERE user_id = $1", uuid.UUID(response.user.id)
    )
    assert link["whmcs_client_id"] == 1 and link["source"] == "WHMCS Link"
    account = await sf_account(deps, "AC-000101")
    await delivered(db, account["Id"])
    account = await sf_account(deps, "AC-000101")
    assert account["Portal_Status__c"] == "Active"
    assert account["Portal_Registration_Source__c"] == "WHMCS Link"
    assert account["WH_Account__c"] == "#1 - Hanako Yamada"
    # The portal login is the WHMCS password they just used (stored only as an argon2id hash).
    stored = await db.fetchval("SELECT password_hash FROM identity.users")
    assert stored.startswith("$argon2id$") and "demo-password-1" not in stored
    login = await stub(channel).Login(
        pb.LoginRequest(email="hanako.yamada@example.jp", password="demo-password-1")
    )
    assert login.user.id == response.user.id
    # Linking again is refused.
    await fails_with(
        stub(channel).LinkWhmcsAccount(req, metadata=meta()),
        grpc.StatusCode.ALREADY_EXISTS,
        "ACCOUNT_ALREADY_REGISTERED",
    )


async def test_link_refusals(channel: grpc.aio.Channel, db: asyncpg.Connection) -> None:
    s = stub(channel)
    cases = [
        ("no.number@example.jp", "demo-password-3", grpc.StatusCode.FAILED_PRECONDITION,
         "WHMCS_ACCOUNT_NOT_LINKABLE"),
        ("hanako.yamada@example.jp", "wrong-password", grpc.StatusCode.UNAUTHENTICATED,
         "INVALID_CREDENTIALS"),
        ("kenji.sato@example.jp", "demo-password-2", grpc.StatusCode.ALREADY_EXISTS,
         "ACCOUNT_ALREADY_REGISTERED"),
    ]  # fmt: skip
    for email, password, code, reason in cases:
        req = pb.LinkWhmcsAccountRequest(email=email, password=password)
        await fails_with(s.LinkWhmcsAccount(req, metadata=meta()), code, reason)
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0


async def test_link_refuses_two_factor_and_invited_users(
    channel: grpc.aio.Channel, db: asyncpg.Connection
) -> None:
    s = stub(channel)
    cases = [  # Mei's user has two-factor on; Aiko's user is only invited to Hanako's client
        ("mei.tanaka@example.jp", "demo-password-5", "WHMCS_TWO_FACTOR_ENABLED"),
        ("aiko.yamada@example.jp", "demo-password-4", "WHMCS_NO_OWNED_CLIENT"),
    ]
    for email, password, reason in cases:
        req = pb.LinkWhmcsAccountRequest(email=email, password=password)
        await fails_with(
            s.LinkWhmcsAccount(req, metadata=meta()), grpc.StatusCode.FAILED_PRECONDITION, reason
        )
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0


async def test_link_refuses_a_user_owning_several_clients(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    second = {
        "owner_user_id": 11, "firstname": "Hanako", "lastname": "Yamada",
        "email": "hanako.office@example.jp", "address1": "1-1 Marunouchi", "city": "Chiyoda-ku",
        "state": "Tokyo", "postcode": "100-0005", "country": "JP", "phonenumber": "+81.300000001",
    }  # fmt: skip
    await deps.upstreams.whmcs.call("AddClient", second)
    req = pb.LinkWhmcsAccountRequest(email="hanako.yamada@example.jp", password="demo-password-1")
    await fails_with(
        stub(channel).LinkWhmcsAccount(req, metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "WHMCS_SEVERAL_OWNED_CLIENTS",
    )
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0


async def test_link_refuses_a_closed_client(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    await deps.upstreams.whmcs.call("CloseClient", {"clientid": 1})  # as WHMCS staff would
    req = pb.LinkWhmcsAccountRequest(email="hanako.yamada@example.jp", password="demo-password-1")
    await fails_with(
        stub(channel).LinkWhmcsAccount(req, metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "WHMCS_ACCOUNT_NOT_LINKABLE",
    )
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
