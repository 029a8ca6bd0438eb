"""The token and session matrix, end to end through Envoy, over REST and native gRPC alike.

Access tokens: every forgery of ``tests.helpers.forged_tokens`` (alg none, HS256 keyed with the
public key, expired, not yet valid, wrong iss/aud, unknown kid, another key under the right kid,
truncated, garbage, odd schemes...) against protected methods must be 401 UNAUTHENTICATED in the
JSON error shape (REST) or UNAUTHENTICATED (gRPC); the same user's genuine token must pass.
Oversized headers must be a clean refusal, never a 5xx or a hang.

Sessions (refresh tokens): reuse revokes the family, logout revokes it, and what an access token
of a logged-out session can still do (docs/api.md promises nothing more than refresh revocation:
access tokens are stateless JWTs, valid until ``exp``, at most 15 minutes).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
from google.protobuf import json_format
from portal.billing.v1 import billing_pb2, billing_pb2_grpc
from portal.identity.v1 import identity_pb2, identity_pb2_grpc

from services.common.clients import SalesforceClient, SalesforceConfig
from tests.e2e.test_gateway import assert_error_shape
from tests.helpers.accounts import HANAKO, YUKI, customer_token
from tests.helpers.forged_tokens import BAD_TOKENS, REFUSED_BY_SERVICES, Forger
from tests.helpers.grpc_errors import error_info, status_of
from tools.envoy_config import GatewaySettings
from tools.stack import Stack

pytestmark = pytest.mark.e2e

REST_TARGETS = ["/v1/me", "/v1/invoices"]
GRPC_TARGETS = ["GetMe", "ListInvoices"]
UPSTREAM = "x-envoy-upstream-service-time"  # set by the router only for a service's answer


@pytest.fixture(scope="module")
async def hanako_token(gateway: httpx.AsyncClient) -> str:
    return await customer_token(gateway, "/v1/auth/link", HANAKO)


@pytest.fixture(scope="module")
def forger(keys_dir: Path, hanako_token: str) -> Forger:
    sub = jwt.decode(hanako_token, options={"verify_signature": False})["sub"]
    return Forger(keys_dir, str(sub))


@pytest.fixture(scope="module")
async def channel(stack: Stack) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.ports.gateway}") as ch:
        yield ch


async def grpc_call(channel: grpc.aio.Channel, target: str, authorization: str) -> Any:
    """The finished call (or the raised error) of ``target`` with that ``authorization``."""
    metadata = (("authorization", authorization),)
    if target == "GetMe":
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        call = stub.GetMe(identity_pb2.GetMeRequest(), metadata=metadata, timeout=10)
    else:
        billing = billing_pb2_grpc.BillingServiceStub(channel)
        call = billing.ListInvoices(
            billing_pb2.ListInvoicesRequest(), metadata=metadata, timeout=10
        )
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err, call
    return None, call


# -- access tokens -------------------------------------------------------------------------------
@pytest.mark.parametrize("target", REST_TARGETS)
async def test_rest_refuses_every_forged_token(
    gateway: httpx.AsyncClient, forger: Forger, target: str
) -> None:
    genuine = await gateway.get(target, headers={"authorization": f"Bearer {forger.valid()}"})
    assert genuine.status_code == 200, genuine.text  # the control: only the flaw differs
    reached = set()
    for name, build in BAD_TOKENS.items():
        response = await gateway.get(target, headers={"authorization": build(forger)})
        try:
            assert_error_shape(response, 401, 16, "UNAUTHENTICATED")
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        if UPSTREAM in response.headers:
            reached.add(name)
    # Everything but the claims only the services check is refused at the edge.
    assert reached == REFUSED_BY_SERVICES


@pytest.mark.parametrize("target", GRPC_TARGETS)
async def test_grpc_refuses_every_forged_token(
    channel: grpc.aio.Channel, forger: Forger, target: str
) -> None:
    err, _ = await grpc_call(channel, target, f"Bearer {forger.valid()}")
    assert err is None, err
    for name, build in BAD_TOKENS.items():
        err, call = await grpc_call(channel, target, build(forger))
        assert err is not None, name
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED, (name, err)
        assert err.details() == "Please sign in again.", (name, err.details())
        status = await status_of(call)
        if name in REFUSED_BY_SERVICES:  # the service's own answer carries our ErrorInfo
            assert status is not None and error_info(status).reason == "UNAUTHENTICATED", name
        else:  # Envoy's reply: no service ever saw it
            assert status is None, name


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024])
async def test_rest_oversized_token_is_a_clean_431(
    gateway: httpx.AsyncClient, forger: Forger, size: int
) -> None:
    authorization = "Bearer " + forger.valid() + "A" * size
    response = await gateway.get("/v1/me", headers={"authorization": authorization})
    assert_error_shape(response, 431, 3, "VALIDATION_FAILED")
    assert UPSTREAM not in response.headers
    after = await gateway.get("/v1/me", headers={"authorization": f"Bearer {forger.valid()}"})
    assert after.status_code == 200


@pytest.mark.parametrize("size", [8 * 1024, 32 * 1024, 64 * 1024, 1024 * 1024])
async def test_grpc_oversized_token_is_refused_without_a_hang(
    stack: Stack, forger: Forger, size: int
) -> None:
    """Up to the gateway's header limit (16 KiB) an oversized token is UNAUTHENTICATED like any bad
    one. Above it HTTP/2 has no 431: Envoy resets the stream (or, for one field above 64 KiB,
    the connection, as HPACK demands), which the client sees as INTERNAL / UNAVAILABLE at once,
    never a hang, and the gateway keeps serving."""
    target = f"127.0.0.1:{stack.config.ports.gateway}"
    async with grpc.aio.insecure_channel(target) as channel:
        err, _ = await grpc_call(channel, "GetMe", "Bearer " + forger.valid() + "A" * size)
    assert err is not None
    if size < GatewaySettings().max_request_headers_kb * 1024:
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    else:
        assert err.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE), err
    async with grpc.aio.insecure_channel(target) as channel:
        err, _ = await grpc_call(channel, "GetMe", f"Bearer {forger.valid()}")
    assert err is None


# -- sessions ------------------------------------------------------------------------------------
@dataclass
class Answer:
    ok: bool
    code: int  # gRPC code; 0 when ok
    body: dict[str, Any]


class Identity:
    """Login, refresh, logout and GetMe through the gateway, over REST or native gRPC."""

    def __init__(self, transport: str, gateway: httpx.AsyncClient, channel: grpc.aio.Channel):
        self.transport, self.gateway = transport, gateway
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)

    async def _rest(self, method: str, path: str, token: str = "", **body: Any) -> Answer:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        payload = body if method == "POST" else None
        response = await self.gateway.request(method, path, json=payload, headers=headers)
        if response.status_code == 200:
            return Answer(True, 0, response.json())
        body = response.json()  # the error shape of docs/api.md
        assert body["details"][0]["domain"] == "portal", body
        return Answer(False, int(body["code"]), body)

    async def _grpc(self, name: str, request: Any, token: str = "") -> Answer:
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        try:
            answer = await getattr(self.stub, name)(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as err:
            return Answer(False, err.code().value[0], {"message": err.details()})
        return Answer(True, 0, json_format.MessageToDict(answer))

    async def login(self, email: str, password: str) -> dict[str, Any]:
        if self.transport == "rest":
            answer = await self._rest("POST", "/v1/auth/login", email=email, password=password)
        else:
            request = identity_pb2.LoginRequest(email=email, password=password)
            answer = await self._grpc("Login", request)
        assert answer.ok, answer
        return dict(answer.body["session"])

    async def refresh(self, token: str) -> Answer:
        if self.transport == "rest":
            return await self._rest("POST", "/v1/auth/refresh", refreshToken=token)
        return await self._grpc(
            "RefreshSession", identity_pb2.RefreshSessionRequest(refresh_token=token)
        )

    async def logout(self, token: str) -> Answer:
        if self.transport == "rest":
            return await self._rest("POST", "/v1/auth/logout", refreshToken=token)
        return await self._grpc("Logout", identity_pb2.LogoutRequest(refresh_token=token))

    async def me(self, access: str) -> Answer:
        if self.transport == "rest":
            return await self._rest("GET", "/v1/me", access)
        return await self._grpc("GetMe", identity_pb2.GetMeRequest(), access)


UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED.value[0]


@pytest.fixture(scope="module")
async def member(gateway: httpx.AsyncClient, stack: Stack) -> dict[str, str]:
    """A customer of this module's own (a fresh Account, signed up), so reuse detection and
    revocation here never sign out another module's customer."""
    sf = SalesforceClient(SalesforceConfig(url=f"http://127.0.0.1:{stack.config.ports.salesforce}"))
    number = f"AC-TOK{uuid.uuid4().hex[:8].upper()}"
    email = f"mio.{uuid.uuid4().hex[:8]}@example.jp"
    try:
        account_id = await sf.create(
            "Account",
            {"Name": "Mio Tanaka", "SF_Account_No__c": number,
             "Portal_Status__c": "Not Registered", "Portal_Eligible_Categories__c": "SIM"},
        )  # fmt: skip
        await sf.create("Contact", {"AccountId": account_id, "LastName": "Tanaka", "Email": email})
    finally:
        await sf.aclose()
    body = {**YUKI, "customerNumber": number, "email": email}
    await customer_token(gateway, "/v1/auth/signup", body)
    return {"email": str(body["email"]), "password": str(body["password"])}


@pytest.fixture(params=["rest", "grpc"])
def identity(
    request: pytest.FixtureRequest, gateway: httpx.AsyncClient, channel: grpc.aio.Channel
) -> Identity:
    return Identity(request.param, gateway, channel)


async def test_refresh_reuse_revokes_the_family_only(
    identity: Identity, member: dict[str, str]
) -> None:
    first = await identity.login(**member)
    other = await identity.login(**member)  # a second session (another device)
    child = await identity.refresh(first["refreshToken"])
    assert child.ok, child
    grandchild = await identity.refresh(child.body["session"]["refreshToken"])
    assert grandchild.ok, grandchild
    # The grandparent again: a copied token. Refused, and the whole family with it.
    reuse = await identity.refresh(first["refreshToken"])
    assert (reuse.ok, reuse.code) == (False, UNAUTHENTICATED)
    successor = await identity.refresh(grandchild.body["session"]["refreshToken"])
    assert (successor.ok, successor.code) == (False, UNAUTHENTICATED)
    # The other device's session is another family: untouched.
    assert (await identity.refresh(other["refreshToken"])).ok


async def test_concurrent_refreshes_of_one_token_leave_no_live_successor(
    identity: Identity, member: dict[str, str]
) -> None:
    session = await identity.login(**member)
    answers = await asyncio.gather(*(identity.refresh(session["refreshToken"]) for _ in range(2)))
    winners = [a for a in answers if a.ok]
    assert len(winners) <= 1, answers  # rotation is atomic: never two children
    assert all(a.code == UNAUTHENTICATED for a in answers if not a.ok)
    if winners:  # the loser was a reuse: the winner's child is revoked with the family
        late = await identity.refresh(winners[0].body["session"]["refreshToken"])
        assert (late.ok, late.code) == (False, UNAUTHENTICATED)


async def test_logout_revokes_refresh_but_the_access_token_lives_until_exp(
    identity: Identity, member: dict[str, str]
) -> None:
    session = await identity.login(**member)
    child = await identity.refresh(session["refreshToken"])
    assert child.ok
    current = child.body["session"]
    out = await identity.logout(current["refreshToken"])
    assert out.ok and out.body == {}
    for token in (current["refreshToken"], session["refreshToken"]):
        gone = await identity.refresh(token)
        assert (gone.ok, gone.code) == (False, UNAUTHENTICATED)
    again = await identity.logout(current["refreshToken"])  # idempotent, says nothing
    assert again.ok and again.body == {}
    # Documented behaviour: access tokens are stateless ES256 JWTs; logout does not recall
    # them. What bounds the exposure is their lifetime: 15 minutes.
    still = await identity.me(current["accessToken"])
    assert still.ok, still
    claims = jwt.decode(current["accessToken"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60


@pytest.mark.parametrize(
    "token",
    ["", "x", "A" * 43, "A" * 4096, "' OR 1=1 --", "access-token", "refresh-as-access"],
)
async def test_refresh_with_a_bad_token(
    identity: Identity, member: dict[str, str], token: str
) -> None:
    if token in ("access-token", "refresh-as-access"):
        session = await identity.login(**member)
        if token == "access-token":  # an access token is no refresh token
            answer = await identity.refresh(session["accessToken"])
        else:  # nor the other way round
            answer = await identity.me(session["refreshToken"])
    else:
        answer = await identity.refresh(token)
    assert (answer.ok, answer.code) == (False, UNAUTHENTICATED), answer
