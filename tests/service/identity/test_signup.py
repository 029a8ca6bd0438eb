"""ValidateCustomerNumber and SignUp against the sandboxes, checked in the systems of record."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import grpc
from portal.common.v1 import types_pb2
from portal.identity.v1 import identity_pb2 as pb

from services.common.clients.soql import soql
from services.common.clients.whmcs_wire import custom_field
from services.identity.server import Deps
from tests.helpers.grpc_errors import bad_request, status_of
from tests.helpers.sandboxes import SandboxControl
from tests.service.identity.helpers import fails_with, make_user, stub, unique_email

PASSWORD = "a long enough password"


def request(number: str = "AC-000102", email: str = "", **changes: Any) -> pb.SignUpRequest:
    req = pb.SignUpRequest(
        customer_number=number, email=email or unique_email("taro"), password=PASSWORD,
        first_name="Taro", last_name="Suzuki", phone="+81 3-1234-5678",
        address=types_pb2.Address(line1="1-2-3 Shibuya", city="Shibuya-ku", state="Tokyo",
                                  postcode="150-0002", country="jp"),
    )  # fmt: skip
    for key, value in changes.items():
        setattr(req, key, value)
    return req


def meta() -> tuple[tuple[str, str], ...]:
    return (("x-forwarded-for", f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"),)


async def sf_account(deps: Deps, number: str) -> dict[str, Any]:
    query = soql(
        "SELECT Id, Portal_Status__c, Portal_Registration_Source__c, WH_Account__c FROM Account "
        "WHERE SF_Account_No__c = {}",
        number,
    )
    return (await deps.upstreams.sf.query(query))[0]


async def delivered(db: asyncpg.Connection, sf_id: str, within: float = 10.0) -> asyncpg.Record:
    for _ in range(int(within / 0.1)):
        row = await db.fetchrow(
            "SELECT * FROM identity.outbox WHERE target_id = $1 ORDER BY id DESC LIMIT 1", sf_id
        )
        if row is not None and row["delivered_at"] is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"outbox row for {sf_id} not delivered: {row}")


async def test_validate_customer_number(channel: grpc.aio.Channel) -> None:
    s = stub(channel)
    ok = await s.ValidateCustomerNumber(
        pb.ValidateCustomerNumberRequest(customer_number="AC-000102"), metadata=meta()
    )
    assert ok.customer_number == "AC-000102" and ok.registrable
    cases = [
        ("", grpc.StatusCode.INVALID_ARGUMENT, "CUSTOMER_NUMBER_REQUIRED"),
        ("AC-999999", grpc.StatusCode.NOT_FOUND, "CUSTOMER_NUMBER_NOT_FOUND"),
        ("x' OR Name != '", grpc.StatusCode.NOT_FOUND, "CUSTOMER_NUMBER_NOT_FOUND"),
        ("AC-000103", grpc.StatusCode.ALREADY_EXISTS, "ACCOUNT_ALREADY_REGISTERED"),
    ]
    for number, code, reason in cases:
        req = pb.ValidateCustomerNumberRequest(customer_number=number)
        await fails_with(s.ValidateCustomerNumber(req, metadata=meta()), code, reason)


async def test_lookup_is_cached_and_rate_limited(
    channel: grpc.aio.Channel, deps: Deps, sf_control: SandboxControl
) -> None:
    await deps.flows.signup.customers.forget("AC-000104")
    s = stub(channel)
    address = (("x-forwarded-for", f"10.8.{uuid.uuid4().int % 250}.1"),)
    req = pb.ValidateCustomerNumberRequest(customer_number="AC-000104")
    for _ in range(3):
        await s.ValidateCustomerNumber(req, metadata=address)
    assert (await sf_control.calls()).get("query:Account") == 1
    for _ in range(27):
        await s.ValidateCustomerNumber(req, metadata=address)
    await fails_with(
        s.ValidateCustomerNumber(req, metadata=address),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
    )


async def test_sign_up(channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection) -> None:
    req = request()
    response = await stub(channel).SignUp(req, metadata=meta())
    assert response.user.email == req.email and response.user.customer_number == "AC-000102"
    assert response.session.access_token and response.session.refresh_token
    link = await db.fetchrow(
        "SELECT * FROM identity.account_links WHERE user_id = $1", uuid.UUID(response.user.id)
    )
    client = await deps.upstreams.whmcs.get_clients_details(link["whmcs_client_id"])
    assert client["email"] == req.email and client["countrycode"] == "JP"
    assert custom_field(client, 198) == "AC-000102"
    account = await sf_account(deps, "AC-000102")
    assert link["sf_account_id"] == account["Id"]
    row = await delivered(db, account["Id"])
    assert row["attempts"] == 1
    account = await sf_account(deps, "AC-000102")
    assert account["Portal_Status__c"] == "Active"
    assert account["Portal_Registration_Source__c"] == "New Signup"
    assert account["WH_Account__c"] == f"#{link['whmcs_client_id']} - Taro Suzuki"
    # The new user logs in with the password they chose; the number is no longer registrable.
    login = await stub(channel).Login(pb.LoginRequest(email=req.email, password=PASSWORD))
    assert login.user.id == response.user.id
    await fails_with(
        stub(channel).SignUp(request(), metadata=meta()),
        grpc.StatusCode.ALREADY_EXISTS,
        "ACCOUNT_ALREADY_REGISTERED",
    )


async def test_validation_errors_name_each_field(channel: grpc.aio.Channel) -> None:
    req = request(email="not-an-email", password="short", first_name=" ")
    req.address.country = "Japan"
    call = stub(channel).SignUp(req, metadata=meta())
    await fails_with(call, grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    status = await status_of(call)
    assert status is not None
    bad = bad_request(status)
    assert bad is not None
    fields = {v.field for v in bad.field_violations}
    assert fields == {"email", "password", "firstName", "address.country"}
    await fails_with(
        stub(channel).SignUp(request(number=""), metadata=meta()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CUSTOMER_NUMBER_REQUIRED",
    )


async def test_email_taken_in_portal_or_in_whmcs(
    channel: grpc.aio.Channel, deps: Deps, whmcs_control: SandboxControl
) -> None:
    email = unique_email("taken")
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    for taken in (email.upper(), "hanako.yamada@example.jp"):
        await fails_with(
            s.SignUp(request(email=taken), metadata=meta()),
            grpc.StatusCode.ALREADY_EXISTS,
            "EMAIL_ALREADY_REGISTERED",
        )
    assert (await whmcs_control.calls()).get("AddClient") == 1  # only the WHMCS-taken one


async def test_whmcs_down_leaves_no_user(
    channel: grpc.aio.Channel, db: asyncpg.Connection, whmcs_control: SandboxControl
) -> None:
    await whmcs_control.fault("unavailable", action="AddClient", seconds=30)
    req = request()
    await fails_with(
        stub(channel).SignUp(req, metadata=meta()),
        grpc.StatusCode.UNAVAILABLE,
        "UPSTREAM_UNAVAILABLE",
    )
    assert await db.fetchval("SELECT count(*) FROM identity.users WHERE email = $1", req.email) == 0


async def test_postgres_conflict_after_add_client_closes_the_whmcs_client(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection, whmcs_control: SandboxControl
) -> None:
    # Two sign-ups for one customer number race: both pass the checks and both create a WHMCS
    # client (AddClient is slowed down so they overlap); the mapping's unique Salesforce account
    # lets one commit, and the loser's WHMCS client must be closed.
    await whmcs_control.fault("latency", action="AddClient", latency_ms=400, seconds=30)
    a, b = request(), request()
    s = stub(channel)
    results = await asyncio.gather(
        s.SignUp(a, metadata=meta()), s.SignUp(b, metadata=meta()), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, pb.SignUpResponse)]
    lost = [(req, r) for req, r in zip((a, b), results, strict=True)
            if isinstance(r, grpc.aio.AioRpcError)]  # fmt: skip
    assert len(won) == 1 and len(lost) == 1, results
    loser, error = lost[0]
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    client = await deps.upstreams.whmcs.get_clients_details(email=loser.email)
    assert client["status"] == "Inactive"
    assert (
        await db.fetchval("SELECT count(*) FROM identity.users WHERE email = $1", loser.email) == 0
    )
    winner = await deps.upstreams.whmcs.get_clients_details(email=won[0].user.email)
    assert winner["status"] == "Active"


async def test_sign_up_with_an_email_whmcs_refuses_is_a_validation_error(
    channel: grpc.aio.Channel, db: asyncpg.Connection, deps: Deps
) -> None:
    # The portal's own check accepts the address; WHMCS refuses its domain ("not available").
    call = stub(channel).SignUp(request(email="taro.suzuki@mailinator.com"), metadata=meta())
    await fails_with(call, grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    status = await status_of(call)
    assert status is not None
    bad = bad_request(status)
    assert bad is not None and [v.field for v in bad.field_violations] == ["email"]
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
    account = await sf_account(deps, "AC-000102")
    assert account["Portal_Status__c"] == "Not Registered"
