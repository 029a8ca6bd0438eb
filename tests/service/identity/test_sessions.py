"""Login, throttling, rehash, refresh rotation and reuse detection, logout, GetMe, GetJwks."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import asyncpg
import grpc
import jwt
from argon2 import PasswordHasher
from portal.identity.v1 import identity_pb2 as pb

from services.common.auth import JwksSource, TokenVerifier
from services.identity.server import Deps
from services.identity.settings import IdentitySettings
from tests.service.identity.helpers import fails_with, make_user, stub, unique_email

PASSWORD = "correct horse battery"
UNAUTH = grpc.StatusCode.UNAUTHENTICATED


def verifier(settings: IdentitySettings) -> TokenVerifier:
    return TokenVerifier(
        JwksSource(file=settings.jwks_file), issuer="portal-identity", audience="portal"
    )


async def login(
    channel: grpc.aio.Channel, email: str, password: str = PASSWORD
) -> pb.LoginResponse:
    return await stub(channel).Login(pb.LoginRequest(email=email, password=password))


async def test_login_issues_a_verifiable_session(
    channel: grpc.aio.Channel, deps: Deps, settings: IdentitySettings
) -> None:
    email = unique_email()
    user_id = await make_user(deps, email, PASSWORD)
    response = await login(channel, email.upper())
    assert response.user.id == user_id and response.user.email == email
    assert response.user.customer_number.startswith("AC-T")
    session = response.session
    claims = await verifier(settings).verify(session.access_token)
    assert claims.user_id == user_id
    header = jwt.get_unverified_header(session.access_token)
    assert header["alg"] == "ES256" and header["kid"] == deps.keys.ring.kid
    payload = jwt.decode(session.access_token, options={"verify_signature": False})
    assert set(payload) >= {"sub", "iss", "aud", "exp", "iat", "jti"}
    assert payload["exp"] - payload["iat"] == 15 * 60
    ttl = session.refresh_token_expires_at.seconds - time.time()
    assert 30 * 86400 - 60 < ttl <= 30 * 86400
    assert len(session.refresh_token) >= 43  # 256 bits, base64url


async def test_wrong_password_and_unknown_email_look_the_same(
    channel: grpc.aio.Channel, deps: Deps
) -> None:
    email = unique_email()
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    meta = (("x-forwarded-for", f"10.1.{uuid.uuid4().int % 250}.1"),)
    for req in (
        pb.LoginRequest(email=email, password="wrong password!"),
        pb.LoginRequest(email=unique_email("nobody"), password=PASSWORD),
    ):
        call = s.Login(req, metadata=meta)
        await fails_with(call, UNAUTH, "INVALID_CREDENTIALS")
        assert await call.details() == "The e-mail address or password is incorrect."


async def test_missing_fields_are_validation_errors(channel: grpc.aio.Channel) -> None:
    call = stub(channel).Login(pb.LoginRequest(email="", password=""))
    await fails_with(call, grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")


async def test_account_is_throttled_after_repeated_failures(
    channel: grpc.aio.Channel, deps: Deps
) -> None:
    email = unique_email()
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    for i in range(5):  # each from another address: the account counter is what trips
        meta = (("x-forwarded-for", f"10.2.{i}.{uuid.uuid4().int % 250}"),)
        await fails_with(
            s.Login(pb.LoginRequest(email=email, password="nope nope nope"), metadata=meta),
            UNAUTH,
            "INVALID_CREDENTIALS",
        )
    # Even the right password is refused while the window lasts.
    call = s.Login(pb.LoginRequest(email=email, password=PASSWORD))
    await fails_with(call, grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")


async def test_address_is_throttled_after_repeated_failures(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    address = f"10.3.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    meta = (("x-forwarded-for", f"203.0.113.9, {address}"),)
    await db.execute(
        "INSERT INTO identity.throttle (key, hits, window_start) VALUES ($1, 29, now())",
        f"login:addr:{address}",
    )
    email = unique_email()
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    await fails_with(
        s.Login(pb.LoginRequest(email=unique_email(), password="whatever12"), metadata=meta),
        UNAUTH,
        "INVALID_CREDENTIALS",
    )
    call = s.Login(pb.LoginRequest(email=email, password=PASSWORD), metadata=meta)
    await fails_with(call, grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
    # Another address is not affected.
    assert (await login(channel, email)).user.email == email


async def test_old_argon2_parameters_are_rehashed(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    email = unique_email()
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user_id = await make_user(deps, email, PASSWORD, password_hash=old)
    await login(channel, email)
    stored = await db.fetchval(
        "SELECT password_hash FROM identity.users WHERE id = $1", uuid.UUID(user_id)
    )
    assert stored != old and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    await login(channel, email)  # still the same password


async def test_refresh_rotates_and_reuse_revokes_the_family(
    channel: grpc.aio.Channel, deps: Deps
) -> None:
    email = unique_email()
    await make_user(deps, email, PASSWORD)
    first = (await login(channel, email)).session
    s = stub(channel)
    second = (
        await s.RefreshSession(pb.RefreshSessionRequest(refresh_token=first.refresh_token))
    ).session
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    # The rotated token is reused (stolen copy): refused, and the whole family dies with it.
    await fails_with(
        s.RefreshSession(pb.RefreshSessionRequest(refresh_token=first.refresh_token)),
        UNAUTH,
        "UNAUTHENTICATED",
    )
    await fails_with(
        s.RefreshSession(pb.RefreshSessionRequest(refresh_token=second.refresh_token)),
        UNAUTH,
        "UNAUTHENTICATED",
    )
    # Another login (another family) is unaffected.
    other = (await login(channel, email)).session
    await s.RefreshSession(pb.RefreshSessionRequest(refresh_token=other.refresh_token))


async def test_unknown_and_expired_refresh_tokens(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    s = stub(channel)
    for token in ("", "made-up-token"):
        await fails_with(
            s.RefreshSession(pb.RefreshSessionRequest(refresh_token=token)),
            UNAUTH,
            "UNAUTHENTICATED",
        )
    email = unique_email()
    user_id = await make_user(deps, email, PASSWORD)
    session = (await login(channel, email)).session
    await db.execute(
        "UPDATE identity.refresh_tokens SET expires_at = now() - interval '1 second' "
        "WHERE user_id = $1",
        uuid.UUID(user_id),
    )
    await fails_with(
        s.RefreshSession(pb.RefreshSessionRequest(refresh_token=session.refresh_token)),
        UNAUTH,
        "UNAUTHENTICATED",
    )


async def test_refresh_tokens_are_stored_hashed(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    email = unique_email()
    user_id = await make_user(deps, email, PASSWORD)
    session = (await login(channel, email)).session
    rows = await db.fetch(
        "SELECT token_hash FROM identity.refresh_tokens WHERE user_id = $1", uuid.UUID(user_id)
    )
    assert len(rows) == 1 and len(rows[0]["token_hash"]) == 32
    assert session.refresh_token.encode() not in bytes(rows[0]["token_hash"])


async def test_logout_revokes(channel: grpc.aio.Channel, deps: Deps) -> None:
    email = unique_email()
    await make_user(deps, email, PASSWORD)
    session = (await login(channel, email)).session
    s = stub(channel)
    await s.Logout(pb.LogoutRequest(refresh_token=session.refresh_token))
    await fails_with(
        s.RefreshSession(pb.RefreshSessionRequest(refresh_token=session.refresh_token)),
        UNAUTH,
        "UNAUTHENTICATED",
    )
    await s.Logout(pb.LogoutRequest(refresh_token="unknown"))  # idempotent, reveals nothing


async def test_get_me(channel: grpc.aio.Channel, deps: Deps, keys_dir: Path) -> None:
    email = unique_email()
    user_id = await make_user(deps, email, PASSWORD)
    session = (await login(channel, email)).session
    s = stub(channel)
    me = await s.GetMe(
        pb.GetMeRequest(), metadata=(("authorization", f"Bearer {session.access_token}"),)
    )
    assert me.user.id == user_id and me.user.email == email
    await fails_with(s.GetMe(pb.GetMeRequest()), UNAUTH, "UNAUTHENTICATED")
    head, _body, sig = session.access_token.split(".")
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    claims["sub"] = str(uuid.uuid4())
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    await fails_with(
        s.GetMe(pb.GetMeRequest(), metadata=(("authorization", f"Bearer {head}.{forged}.{sig}"),)),
        UNAUTH,
        "UNAUTHENTICATED",
    )
    key = (keys_dir / "signing-key.pem").read_bytes()
    now = int(time.time())
    expired = jwt.encode(
        {"sub": user_id, "iss": "portal-identity", "aud": "portal", "iat": now - 1000,
         "exp": now - 100, "jti": "x"},
        key, algorithm="ES256", headers={"kid": deps.keys.ring.kid},
    )  # fmt: skip
    await fails_with(
        s.GetMe(pb.GetMeRequest(), metadata=(("authorization", f"Bearer {expired}"),)),
        UNAUTH,
        "UNAUTHENTICATED",
    )


async def test_get_jwks_matches_the_file(
    channel: grpc.aio.Channel, settings: IdentitySettings
) -> None:
    jwks = await stub(channel).GetJwks(pb.GetJwksRequest())
    published = json.loads(settings.jwks_file.read_text())["keys"]
    assert len(jwks.keys) == 2  # current + next
    assert [k.kid for k in jwks.keys] == [k["kid"] for k in published]
    for key, raw in zip(jwks.keys, published, strict=True):
        assert key.kty == "EC" and key.crv == "P-256" and key.alg == "ES256" and key.use == "sig"
        assert (key.x, key.y) == (raw["x"], raw["y"])
