"""ValidateCustomerNumber, StartSignUp and SignUp against the sandboxes (the code comes from the
mail sandbox over SMTP), checked in the systems of record."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import grpc
import pytest
from portal.common.v1 import types_pb2
from portal.identity.v1 import identity_pb2 as pb

from sandbox.mail import RunningMail
from services.common.clients.soql import soql
from services.common.clients.whmcs_wire import custom_field
from services.identity.server import Deps
from tests.helpers.grpc_errors import bad_request, status_of
from tests.helpers.sandboxes import SandboxControl, mail_messages
from tests.service.identity.helpers import (
    fails_with,
    make_user,
    meta,
    new_customer,
    signup_code,
    stub,
    unique_email,
)

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
    # A registered number answers exactly like a registrable one: only the owner learns which.
    registered = await s.ValidateCustomerNumber(
        pb.ValidateCustomerNumberRequest(customer_number="AC-000103"), metadata=meta()
    )
    assert registered == pb.ValidateCustomerNumberResponse(
        customer_number="AC-000103", registrable=True
    )
    cases = [
        ("", grpc.StatusCode.INVALID_ARGUMENT, "CUSTOMER_NUMBER_REQUIRED"),
        ("AC-999999", grpc.StatusCode.NOT_FOUND, "CUSTOMER_NUMBER_NOT_FOUND"),
        ("x' OR Name != '", grpc.StatusCode.NOT_FOUND, "CUSTOMER_NUMBER_NOT_FOUND"),
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


async def test_sign_up(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection, mail_sandbox: RunningMail
) -> None:
    number, email = await new_customer(deps)
    code = await signup_code(channel, mail_sandbox.url, number, email)
    req = request(number, email, code=code)
    response = await stub(channel).SignUp(req, metadata=meta())
    assert response.user.email == email and response.user.customer_number == number
    assert response.session.access_token and response.session.refresh_token
    link = await db.fetchrow(
        "SELECT * FROM identity.account_links WHERE user_id = $1", uuid.UUID(response.user.id)
    )
    client = await deps.upstreams.whmcs.get_clients_details(link["whmcs_client_id"])
    assert client["email"] == email and client["countrycode"] == "JP"
    assert custom_field(client, 198) == number
    account = await sf_account(deps, number)
    assert link["sf_account_id"] == account["Id"]
    row = await delivered(db, account["Id"])
    assert row["attempts"] == 1
    account = await sf_account(deps, number)
    assert account["Portal_Status__c"] == "Active"
    assert account["Portal_Registration_Source__c"] == "New Signup"
    assert account["WH_Account__c"] == f"#{link['whmcs_client_id']} - Taro Suzuki"
    # The new user logs in with the password they chose.
    login = await stub(channel).Login(pb.LoginRequest(email=email, password=PASSWORD))
    assert login.user.id == response.user.id
    # The code was used up; a second start sends the owner a notice, not a code.
    await fails_with(
        stub(channel).SignUp(request(number, email, code=code), metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "VERIFICATION_CODE_EXPIRED",
    )
    again = pb.StartSignUpRequest(customer_number=number, email=email)
    assert (await stub(channel).StartSignUp(again, metadata=meta())).code_ttl_seconds == 600
    mailed = await mail_messages(mail_sandbox.url, email)
    assert [m["subject"] for m in mailed] == [
        "Your portal sign-up code",
        "Your account already has a portal login",
    ]
    # Asked again within the minute: the same RATE_LIMITED a code's resend gets, no mail.
    await fails_with(
        stub(channel).StartSignUp(again, metadata=meta()),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
    )
    assert len(await mail_messages(mail_sandbox.url, email)) == 2


async def test_a_stranger_cannot_sign_up_with_a_customer_number_alone(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection, mail_sandbox: RunningMail
) -> None:
    """Repro 1: a customer number and the attacker's own e-mail no longer make an account."""
    number, owner = await new_customer(deps)
    attacker = unique_email("mallory")
    s = stub(channel)
    start = pb.StartSignUpRequest(customer_number=number, email=attacker)
    await fails_with(
        s.StartSignUp(start, metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "EMAIL_NOT_ON_ACCOUNT",
    )
    assert await mail_messages(mail_sandbox.url) == []
    # Without the code (nothing was sent), the attacker's sign-up is refused before WHMCS.
    await fails_with(
        s.SignUp(request(number, attacker, code="000000"), metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "VERIFICATION_CODE_EXPIRED",
    )
    # The owner asks for a code; the attacker, typing the owner's address, never sees it and
    # gets 5 guesses, then the code is dead.
    real = await signup_code(channel, mail_sandbox.url, number, owner)
    wrong = [f"{(int(real) + k) % 10**6:06d}" for k in range(1, 6)]
    for guess in wrong:
        await fails_with(
            s.SignUp(request(number, owner, code=guess), metadata=meta()),
            grpc.StatusCode.INVALID_ARGUMENT,
            "VERIFICATION_CODE_INVALID",
        )
    await fails_with(
        s.SignUp(request(number, owner, code=real), metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "VERIFICATION_CODE_EXPIRED",
    )
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
    # Once the resend wait is over the owner gets a new code and signs up.
    await db.execute("UPDATE identity.codes SET sent_at = now() - interval '2 minutes'")
    fresh = await signup_code(channel, mail_sandbox.url, number, owner)
    done = await s.SignUp(request(number, owner, code=fresh), metadata=meta())
    assert done.user.customer_number == number


async def test_start_sign_up_answers_and_mails_in_the_account_language(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection, mail_sandbox: RunningMail
) -> None:
    number, email = await new_customer(deps)
    await signup_code(channel, mail_sandbox.url, number, email.upper(), language="ja")
    [mail] = await mail_messages(mail_sandbox.url, email)
    assert mail["subject"] == "ポータル登録の確認コード" and mail["content_language"] == "ja"
    assert mail["rcpt_to"] == [email]  # the address Salesforce holds, not the typed spelling
    assert "<p>" in mail["html"]
    stored = await db.fetchval("SELECT code_hash FROM identity.codes")
    assert len(stored) == 32  # only a hash of the code is kept
    # A resend within the minute is refused.
    start = pb.StartSignUpRequest(customer_number=number, email=email)
    await fails_with(
        stub(channel).StartSignUp(start, metadata=meta()),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
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
    assert fields == {"email", "password", "first_name", "address.country"}
    await fails_with(
        stub(channel).SignUp(request(number=""), metadata=meta()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CUSTOMER_NUMBER_REQUIRED",
    )


async def test_email_taken_in_portal_or_in_whmcs(
    channel: grpc.aio.Channel,
    deps: Deps,
    whmcs_control: SandboxControl,
    mail_sandbox: RunningMail,
) -> None:
    taken_in_portal = unique_email("taken")
    await make_user(deps, taken_in_portal, PASSWORD)
    s = stub(channel)
    for taken in (taken_in_portal, "hanako.yamada@example.jp"):
        number, _ = await new_customer(deps)
        await set_contact_email(deps, number, taken)
        code = await signup_code(channel, mail_sandbox.url, number, taken)
        await fails_with(
            s.SignUp(request(number, taken.upper(), code=code), metadata=meta()),
            grpc.StatusCode.ALREADY_EXISTS,
            "EMAIL_ALREADY_REGISTERED",
        )
    assert (await whmcs_control.calls()).get("AddClient") == 1  # only the WHMCS-taken one


async def set_contact_email(deps: Deps, number: str, email: str) -> None:
    account = await sf_account(deps, number)
    [contact] = await deps.upstreams.sf.query(
        soql("SELECT Id FROM Contact WHERE AccountId = {}", account["Id"])
    )
    await deps.upstreams.sf.update("Contact", contact["Id"], {"Email": email})


async def test_whmcs_down_leaves_no_user(
    channel: grpc.aio.Channel,
    deps: Deps,
    db: asyncpg.Connection,
    whmcs_control: SandboxControl,
    mail_sandbox: RunningMail,
) -> None:
    number, email = await new_customer(deps)
    code = await signup_code(channel, mail_sandbox.url, number, email)
    await whmcs_control.fault("unavailable", action="AddClient", seconds=30)
    await fails_with(
        stub(channel).SignUp(request(number, email, code=code), metadata=meta()),
        grpc.StatusCode.UNAVAILABLE,
        "UPSTREAM_UNAVAILABLE",
    )
    assert await db.fetchval("SELECT count(*) FROM identity.users WHERE email = $1", email) == 0


async def test_mail_relay_down_is_a_friendly_503(
    channel: grpc.aio.Channel, deps: Deps, mail_control: SandboxControl
) -> None:
    number, email = await new_customer(deps)
    await mail_control.fault("unavailable", seconds=30)
    start = pb.StartSignUpRequest(customer_number=number, email=email)
    await fails_with(
        stub(channel).StartSignUp(start, metadata=meta()),
        grpc.StatusCode.UNAVAILABLE,
        "UPSTREAM_UNAVAILABLE",
    )


async def test_two_sign_ups_with_one_code_make_one_user(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection, mail_sandbox: RunningMail
) -> None:
    number, email = await new_customer(deps)
    code = await signup_code(channel, mail_sandbox.url, number, email)
    s = stub(channel)
    results = await asyncio.gather(
        *(s.SignUp(request(number, email, code=code), metadata=meta()) for _ in range(4)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, pb.SignUpResponse)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 1 and len(lost) == 3, results
    assert {e.code() for e in lost} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 1


async def test_postgres_conflict_after_add_client_closes_the_whmcs_client(
    channel: grpc.aio.Channel,
    deps: Deps,
    db: asyncpg.Connection,
    whmcs_control: SandboxControl,
    mail_sandbox: RunningMail,
) -> None:
    # The e-mail is taken in the portal while WHMCS (slowed down) creates the client: the
    # Postgres write fails on the unique e-mail and the new WHMCS client must be closed.
    number, email = await new_customer(deps)
    code = await signup_code(channel, mail_sandbox.url, number, email)
    await whmcs_control.fault("latency", action="AddClient", latency_ms=800, seconds=30)
    signing_up = asyncio.ensure_future(
        stub(channel).SignUp(request(number, email, code=code), metadata=meta())
    )
    for _ in range(100):
        if (await whmcs_control.calls()).get("AddClient"):
            break
        await asyncio.sleep(0.02)
    await make_user(deps, email.upper(), PASSWORD)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await signing_up
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    client = await deps.upstreams.whmcs.get_clients_details(email=email)
    assert client["status"] == "Inactive"
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 1  # only make_user's


async def test_sign_up_with_an_email_whmcs_refuses_is_a_validation_error(
    channel: grpc.aio.Channel, db: asyncpg.Connection, deps: Deps, mail_sandbox: RunningMail
) -> None:
    # The portal's own check accepts the address; WHMCS refuses its domain ("not available").
    number, _ = await new_customer(deps)
    email = f"taro.{uuid.uuid4().hex[:8]}@mailinator.com"
    await set_contact_email(deps, number, email)
    code = await signup_code(channel, mail_sandbox.url, number, email)
    call = stub(channel).SignUp(request(number, email, code=code), metadata=meta())
    await fails_with(call, grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    status = await status_of(call)
    assert status is not None
    bad = bad_request(status)
    assert bad is not None and [v.field for v in bad.field_violations] == ["email"]
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
    account = await sf_account(deps, number)
    assert account["Portal_Status__c"] == "Not Registered"
