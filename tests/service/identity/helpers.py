"""Shared helpers of the identity service tests."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from portal.identity.v1 import identity_pb2 as pb
from portal.identity.v1 import identity_pb2_grpc

from services.identity import repo
from services.identity.server import Deps
from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.sandboxes import mailed_code


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.jp"


async def make_user(deps: Deps, email: str, password: str, *, password_hash: str = "") -> str:
    n = uuid.uuid4().int % 10**9 + 10_000
    new = repo.NewUser(
        email=email,
        password_hash=password_hash or await deps.flows.login.passwords.hash(password),
        first_name="Aiko",
        last_name="Tanaka",
        whmcs_client_id=n,
        sf_account_id=f"001T{n:014d}",
        customer_number=f"AC-T{n}",
        source="New Signup",
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        return await repo.insert_user(conn, new)


def stub(channel: grpc.aio.Channel) -> identity_pb2_grpc.IdentityServiceStub:
    return identity_pb2_grpc.IdentityServiceStub(channel)


async def fails_with(call: Any, code: grpc.StatusCode, reason: str) -> None:
    """Await a unary call and check it failed with ``code`` and ``ErrorInfo.reason``."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    status = await status_of(call)
    assert status is not None
    assert error_info(status).reason == reason


def meta() -> tuple[tuple[str, str], ...]:
    """Metadata of a caller at an address of its own (so per-address limits don't add up)."""
    return (("x-forwarded-for", f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"),)


async def new_customer(deps: Deps, prefix: str = "taro") -> tuple[str, str]:
    """A Salesforce account of its own (customer number, primary Contact's e-mail), without a
    portal user."""
    number = f"AC-T{uuid.uuid4().int % 10**9:09d}"
    email = unique_email(prefix)
    sf = deps.upstreams.sf
    account_id = await sf.create("Account", {"Name": "Taro Suzuki", "SF_Account_No__c": number,
                                             "Portal_Status__c": "Not Registered"})  # fmt: skip
    await sf.create("Contact", {"AccountId": account_id, "FirstName": "Taro",
                                "LastName": "Suzuki", "Email": email})  # fmt: skip
    return number, email


async def signup_code(
    channel: grpc.aio.Channel, mail_url: str, number: str, email: str, language: str = ""
) -> str:
    """StartSignUp for ``number`` with ``email``, then the code from the mail sandbox."""
    req = pb.StartSignUpRequest(customer_number=number, email=email, language=language)
    await stub(channel).StartSignUp(req, metadata=meta())
    return await mailed_code(mail_url, email)
