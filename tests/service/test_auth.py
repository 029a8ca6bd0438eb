"""The auth interceptor over real gRPC: every way a token can be wrong, key rotation, and the
methods that need no token."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import json
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health_pb2, health_pb2_grpc
from portal.identity.v1 import (
    account_directory_pb2,
    account_directory_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)
from portal.support.v1 import support_pb2, support_pb2_grpc

from services.common import context
from services.common.auth import JwksSource, TokenVerifier
from services.common.errors import Unauthenticated
from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.common.unimplemented import fill_unimplemented
from tests.helpers.fixtures import dev_keys_fixture
from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.grpc_servers import started
from tests.helpers.tokens import sign
from tools.devkeys import public_jwk, write_private_key

TOKENS = 400  # tokens verified by the memory test


@fill_unimplemented(support_pb2.DESCRIPTOR.services_by_name["SupportService"])
class WhoAmI(support_pb2_grpc.SupportServiceServicer):
    async def GetCase(self, request: Any, ctx: Any) -> Any:
        return support_pb2.GetCaseResponse(case=support_pb2.Case(id=context.user_id.get()))


@fill_unimplemented(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"])
class PublicLogin(identity_pb2_grpc.IdentityServiceServicer):
    async def Login(self, request: Any, ctx: Any) -> Any:
        return identity_pb2.LoginResponse(user=identity_pb2.User(id=context.user_id.get()))


@fill_unimplemented(account_directory_pb2.DESCRIPTOR.services_by_name["AccountDirectoryService"])
class Directory(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    async def GetAccountLinks(self, request: Any, ctx: Any) -> Any:
        links = account_directory_pb2.AccountLinks(user_id=request.user_id)
        return account_directory_pb2.GetAccountLinksResponse(links=links)


keys = dev_keys_fixture("authkeys", scope="module")


@pytest.fixture(scope="module")
async def server(keys: Path) -> AsyncIterator[GrpcServer]:
    def register(srv: grpc.aio.Server) -> None:
        support_pb2_grpc.add_SupportServiceServicer_to_server(WhoAmI(), srv)
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(PublicLogin(), srv)
        account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server(Directory(), srv)

    settings = ServiceSettings(port=0, jwks_file=keys / "jwks.json", jwks_refresh_interval=0.2)
    names = [*service_names("support"), *service_names("identity")]
    built = create_server(settings, services=names, register=register)
    async with started(built):
        yield built


async def who(channel: Any, authorization: str | None) -> str:
    metadata = (("authorization", authorization),) if authorization is not None else ()
    response = await support_pb2_grpc.SupportServiceStub(channel).GetCase(
        support_pb2.GetCaseRequest(case_id="x"), metadata=metadata
    )
    return str(response.case.id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _kid(keys: Path) -> str:
    return str(json.loads((keys / "jwks.json").read_text())["keys"][0]["kid"])


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "user-1",
        "iss": "portal-identity",
        "aud": "portal",
        "iat": now,
        "exp": now + 300,
        **extra,
    }


def _unsigned(keys: Path, alg: str, secret: bytes | None = None) -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": _kid(keys)}).encode())
    body = _b64(json.dumps(_claims()).encode())
    signing_input = f"{header}.{body}".encode()
    if secret is None:
        return f"{header}.{body}."
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


async def test_valid_token_binds_the_user(channel: Any, keys: Path) -> None:
    assert await who(channel, f"Bearer {sign(keys, sub='user-42')}") == "user-42"


def _bad_tokens(keys: Path) -> dict[str, str | None]:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = (
        serialization.load_pem_private_key((keys / "signing-key.pem").read_bytes(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    kid = _kid(keys)
    return {
        "missing": None,
        "no bearer prefix": sign(keys),
        "empty bearer": "Bearer ",
        "malformed": "Bearer not.a.jwt",
        "truncated": "Bearer " + sign(keys)[:-20],
        "expired": "Bearer " + sign(keys, ttl=-120),
        "not yet valid": "Bearer " + sign(keys, nbf=int(time.time()) + 600),
        "wrong audience": "Bearer " + sign(keys, aud="another-api"),
        "wrong issuer": "Bearer " + sign(keys, iss="https://evil.example"),
        "wrong key, same kid": "Bearer "
        + jwt.encode(_claims(), other, algorithm="ES256", headers={"kid": kid}),
        "unknown kid": "Bearer "
        + jwt.encode(_claims(), other, algorithm="ES256", headers={"kid": "nope"}),
        "alg none": "Bearer " + _unsigned(keys, "none"),
        "HS256 with the public key as secret": "Bearer " + _unsigned(keys, "HS256", public_pem),
        "no sub": "Bearer " + sign(keys, sub=""),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "no bearer prefix",
        "empty bearer",
        "malformed",
        "truncated",
        "expired",
        "not yet valid",
        "wrong audience",
        "wrong issuer",
        "wrong key, same kid",
        "unknown kid",
        "alg none",
        "HS256 with the public key as secret",
        "no sub",
    ],
)
async def test_bad_tokens_are_unauthenticated(channel: Any, keys: Path, case: str) -> None:
    authorization = _bad_tokens(keys)[case]
    metadata = (("authorization", authorization),) if authorization is not None else ()
    call = support_pb2_grpc.SupportServiceStub(channel).GetCase(
        support_pb2.GetCaseRequest(case_id="x"), metadata=metadata
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "Please sign in again."
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "UNAUTHENTICATED"


async def test_rotated_key_is_picked_up_without_restart(channel: Any, keys: Path) -> None:
    rotated = keys.parent / "rotated"
    rotated.mkdir(exist_ok=True)
    new = ec.generate_private_key(ec.SECP256R1())
    write_private_key(rotated / "signing-key.pem", new)
    jwks = json.loads((keys / "jwks.json").read_text())
    (rotated / "jwks.json").write_text(json.dumps({"keys": [public_jwk(new)]}))
    token = sign(rotated, sub="rotated-user")
    # Publish current + next key, as identity does during a rotation.
    (keys / "jwks.json").write_text(json.dumps({"keys": [*jwks["keys"], public_jwk(new)]}))
    try:
        await asyncio.sleep(0.25)  # past the refresh interval
        assert await who(channel, f"Bearer {token}") == "rotated-user"
        assert await who(channel, f"Bearer {sign(keys, sub='old-key-user')}") == "old-key-user"
    finally:
        (keys / "jwks.json").write_text(json.dumps(jwks))


async def test_public_methods_need_no_token(channel: Any) -> None:
    response = await identity_pb2_grpc.IdentityServiceStub(channel).Login(
        identity_pb2.LoginRequest(email="a@example.jp", password="x" * 12)
    )
    assert response.user.id == ""  # no user bound on a public method


async def test_internal_services_and_health_need_no_user_token(channel: Any) -> None:
    response = await account_directory_pb2_grpc.AccountDirectoryServiceStub(
        channel
    ).GetAccountLinks(account_directory_pb2.GetAccountLinksRequest(user_id="u7"))
    assert response.links.user_id == "u7"
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


async def test_keys_from_a_jwks_url_verify_tokens(keys: Path) -> None:
    # The JWKS over HTTP (what a deployment without a shared key file uses), fetched with the
    # process's shared TLS context.
    from aiohttp import web

    served: list[str] = []

    async def jwks(request: web.Request) -> web.Response:
        served.append(request.path)
        return web.json_response(json.loads((keys / "jwks.json").read_text()))

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        source = JwksSource(url=f"http://127.0.0.1:{port}/.well-known/jwks.json")
        verifier = TokenVerifier(source, issuer="portal-identity", audience="portal")
        assert (await verifier.verify(sign(keys, sub="from-url"))).user_id == "from-url"
        assert served == ["/.well-known/jwks.json"]
    finally:
        await runner.cleanup()


async def test_verified_tokens_are_remembered_only_until_they_expire(keys: Path) -> None:
    source = JwksSource(file=keys / "jwks.json")
    verifier = TokenVerifier(source, issuer="portal-identity", audience="portal", leeway=0)
    token = sign(keys, sub="short-lived", ttl=1)
    assert (await verifier.verify(token)).user_id == "short-lived"
    assert (await verifier.verify(token)).user_id == "short-lived"  # from memory
    await asyncio.sleep(1.2)
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_the_verified_token_memory_is_bounded(keys: Path) -> None:
    source = JwksSource(file=keys / "jwks.json")
    verifier = TokenVerifier(
        source, issuer="portal-identity", audience="portal", verified_cache_size=3
    )
    tokens = [sign(keys, sub=f"user-{i}") for i in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert [claims.user_id for claims, _ in verifier._verified.values()] == [
        "user-2", "user-3", "user-4"
    ]  # fmt: skip


async def test_expired_tokens_are_forgotten_once_a_new_one_is_verified(keys: Path) -> None:
    """A token replaced by a refresh is never presented again: the memory must not wait for it
    to come back (nor for the bound) to let it go."""
    source = JwksSource(file=keys / "jwks.json")
    verifier = TokenVerifier(source, issuer="portal-identity", audience="portal", leeway=0)
    # ``exp`` is whole seconds from a truncated now: a ttl of 3 leaves each token 2 to 3 s to be
    # verified in (a ttl of 1 left as little as nothing on a busy box).
    for i in range(20):
        await verifier.verify(sign(keys, sub=f"replaced-{i}", ttl=3))
    await asyncio.sleep(3.2)
    assert (await verifier.verify(sign(keys, sub="current"))).user_id == "current"
    assert [claims.user_id for claims, _ in verifier._verified.values()] == ["current"]


async def test_a_remembered_token_takes_little_memory(keys: Path) -> None:
    """What one verified token keeps (its entry until it expires), with identity's claims: a
    user id, a token id, the expiry. Each request's metadata gives a new string, so the test
    hands over a copy of each token, as the interceptor does."""
    source = JwksSource(file=keys / "jwks.json")
    verifier = TokenVerifier(source, issuer="portal-identity", audience="portal")
    await verifier.verify(sign(keys, sub=str(uuid.uuid4())))  # keys loaded, imports done
    tokens = [sign(keys, sub=str(uuid.uuid4()), ttl=900) for _ in range(TOKENS)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for token in tokens:
            await verifier.verify(token.encode().decode())
        gc.collect()
        per_token = (tracemalloc.get_traced_memory()[0] - before) / TOKENS
    finally:
        tracemalloc.stop()
    assert len(verifier._verified) == TOKENS + 1
    assert per_token < 600, f"{per_token:.0f} bytes per remembered token"


async def test_a_key_no_longer_published_is_refused_within_max_age(
    keys: Path, tmp_path: Path
) -> None:
    """Retired (or withdrawn after a leak): once the published set drops the key, tokens it
    signed are refused after at most ``max_age``, also those already verified and remembered.
    A set that cannot be read keeps the current keys."""
    other = ec.generate_private_key(ec.SECP256R1())
    write_private_key(tmp_path / "signing-key.pem", other)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [public_jwk(other)]}))
    published = tmp_path / "published.json"
    current = json.loads((keys / "jwks.json").read_text())["keys"]
    published.write_text(json.dumps({"keys": [*current, public_jwk(other)]}))
    verifier = TokenVerifier(
        JwksSource(file=published), issuer="portal-identity", audience="portal", max_age=0.3
    )
    leaked = sign(tmp_path, sub="leaked-key-user")
    kept = sign(keys, sub="kept-key-user")
    assert (await verifier.verify(leaked)).user_id == "leaked-key-user"

    # The file cannot be read for a while: the keys in use stay.
    published.write_text("{not json")
    await asyncio.sleep(0.35)
    assert (await verifier.verify(leaked)).user_id == "leaked-key-user"
    await asyncio.sleep(0.05)  # the background reload ran and failed
    assert (await verifier.verify(leaked)).user_id == "leaked-key-user"

    published.write_text(json.dumps({"keys": current}))
    await asyncio.sleep(0.35)
    await verifier.verify(kept)  # starts the background reload
    await asyncio.sleep(0.05)
    with pytest.raises(Unauthenticated):
        await verifier.verify(leaked)
    assert (await verifier.verify(kept)).user_id == "kept-key-user"


async def test_requests_during_the_first_key_load_wait_for_it(keys: Path) -> None:
    # A fresh service: the first requests arrive together, before any key is loaded. Those that
    # find the load under way wait for its keys instead of being refused.
    verifier = TokenVerifier(
        JwksSource(file=keys / "jwks.json"), issuer="portal-identity", audience="portal"
    )
    tokens = [sign(keys, sub=f"first-{i}") for i in range(8)]
    claims = await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert [c.user_id for c in claims] == [f"first-{i}" for i in range(8)]
