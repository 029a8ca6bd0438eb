"""Access-token verification in every service (defence in depth behind Envoy's ``jwt_authn``).

Tokens are ES256 JWTs issued by identity. A token is accepted only with ``alg`` ES256, a ``kid``
found in identity's JWKS, a valid signature, and the expected ``iss``, ``aud``, ``exp``, ``iat``
and ``sub``. The JWKS comes from a URL (identity's ``/.well-known/jwks.json``) or a file; it is
loaded at start and refreshed when a token names an unknown ``kid`` (at most once per
``refresh_interval`` so random kids cannot turn into a request flood), which is how a rotated key
is picked up without a restart. A key set older than ``max_age`` is reloaded in the background on
the next verification, so a key identity stops publishing (retired, or withdrawn after a leak) is
refused within ``max_age``, with the tokens it verified forgotten; a failed reload keeps the
current set (identity down must not lock every customer out).

Which methods need a token is read from the protos (``services.common.methods``): public methods
and anything that is not a portal RPC (health, reflection) pass; internal services are reachable
only on the service ports, never through the gateway, and are called by other services without a
user token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import structlog
from jwt.algorithms import ECAlgorithm

from services.common import context
from services.common.errors import Unauthenticated
from services.common.interceptors import Behavior, WrappingInterceptor, abort_with, wrap_before
from services.common.methods import METHODS

log = structlog.get_logger("auth")

ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    token_id: str
    expires_at: int


class JwksSource:
    """Where the public keys come from: an HTTP(S) URL or a file."""

    def __init__(self, *, url: str | None = None, file: Path | None = None) -> None:
        if not url and not file:
            raise ValueError("a JWKS url or file is required")
        self.url, self.file = url, file

    async def fetch(self) -> dict[str, Any]:
        if self.url:
            # The clients' transport: the process's shared TLS context (not a new copy of the CA
            # bundle at every refresh) and the asyncio network backend, not httpx's default one
            # (anyio's). Imported here: a service without HTTP clients imports their module only
            # for this.
            from services.common.clients.http import transport

            async with httpx.AsyncClient(timeout=2.0, transport=transport(1)) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                data: dict[str, Any] = response.json()
                return data
        assert self.file is not None
        return dict(json.loads(await asyncio.to_thread(self.file.read_text)))


class TokenVerifier:
    def __init__(
        self,
        source: JwksSource,
        *,
        issuer: str,
        audience: str,
        refresh_interval: float = 10.0,
        max_age: float = 30.0,
        leeway: float = 30.0,
        verified_cache_size: int = 4096,
    ) -> None:
        self._source = source
        self._issuer, self._audience, self._leeway = issuer, audience, leeway
        self._refresh_interval, self._max_age = refresh_interval, max_age
        self._keys: dict[str, Any] = {}
        self._last_refresh = float("-inf")
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        # Tokens already verified (with the kid that verified them), until they expire: an
        # ES256 check per request is the biggest share of a cached read's CPU. Keyed by the
        # token's SHA-256, not the token (~400 characters), with one kid string for all: ~0.45
        # KiB per token instead of ~0.95. Bounded; oldest entries go first, and expired ones as
        # soon as a new token is stored (a token replaced by a refresh is never presented
        # again, so waiting for it to come back would keep every replaced token until the
        # bound pushes it out).
        self._verified: dict[bytes, tuple[Claims, str]] = {}
        self._verified_max = verified_cache_size

    async def refresh(self) -> None:
        async with self._lock:
            self._last_refresh = time.monotonic()
            try:
                jwks = await self._source.fetch()
            except (OSError, ValueError, httpx.HTTPError) as exc:
                log.warning("jwks_refresh_failed", error=type(exc).__name__)
                return
            keys = {}
            for jwk in jwks.get("keys", []):
                if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256" and jwk.get("kid"):
                    keys[jwk["kid"]] = ECAlgorithm.from_jwk(json.dumps(jwk))
            if keys.keys() != self._keys.keys():
                log.info("jwks_loaded", kids=sorted(keys))
            self._keys = keys
            self._verified = {t: v for t, v in self._verified.items() if v[1] in keys}

    def _refresh_if_old(self) -> None:
        if (
            time.monotonic() - self._last_refresh >= self._max_age
            and (self._background is None or self._background.done())
            and not self._lock.locked()
        ):
            self._background = asyncio.create_task(self.refresh())

    async def _key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is None and self._lock.locked():
            # A load under way (the first requests of a fresh process arrive together): its
            # keys, not the ones from before it, decide.
            async with self._lock:
                key = self._keys.get(kid)
        if key is None and time.monotonic() - self._last_refresh >= self._refresh_interval:
            await self.refresh()
            key = self._keys.get(kid)
        return key

    async def verify(self, token: str) -> Claims:
        self._refresh_if_old()
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None:
            claims, _ = known
            if time.time() < claims.expires_at + self._leeway:
                return claims
            del self._verified[digest]
        claims, kid = await self._verify(token)
        self._forget_expired(time.time())
        if len(self._verified) >= self._verified_max:
            del self._verified[next(iter(self._verified))]
        self._verified[digest] = (claims, kid)
        return claims

    def _forget_expired(self, now: float) -> None:
        """Drop the expired tokens at the front (the oldest entries). A token is stored at its
        first request here, within its lifetime, so every entry stored more than one access-token
        lifetime (and the leeway) ago has expired, and all of those are at the front: what stays
        is the tokens first seen within the last lifetime, however long the process has served."""
        verified = self._verified
        while verified:
            oldest = next(iter(verified))
            if now < verified[oldest][0].expires_at + self._leeway:
                return
            del verified[oldest]

    async def _verify(self, token: str) -> tuple[Claims, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated() from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise Unauthenticated()
        key = await self._key(header["kid"])
        if key is None:
            raise Unauthenticated()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated() from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated()
        verified = Claims(
            user_id=sub, token_id=str(claims.get("jti", "")), expires_at=claims["exp"]
        )
        # The kid is one of the published keys' (a handful): one string for all its tokens.
        return verified, sys.intern(header["kid"])


def bearer_token(ctx: grpc.aio.ServicerContext) -> str | None:
    for key, value in ctx.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value.removeprefix("Bearer ").strip() or None
    return None


def needs_user_token(method: str) -> bool:
    known = METHODS.get(method)
    return known is not None and known.needs_token and not known.internal


class AuthInterceptor(WrappingInterceptor):
    """Verifies the bearer token of every method that needs one and binds the user id."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def wrap(self, behavior: Behavior, method: str) -> Behavior:
        if not needs_user_token(method):
            return behavior

        async def authenticate(ctx: grpc.aio.ServicerContext) -> None:
            token = bearer_token(ctx)
            try:
                if token is None:
                    raise Unauthenticated()
                claims = await self._verifier.verify(token)
            except Unauthenticated as exc:
                log.info("token_refused", reason="missing" if token is None else "invalid")
                await abort_with(ctx, exc)
            context.user_id.set(claims.user_id)
            context.token_expires_at.set(claims.expires_at)
            structlog.contextvars.bind_contextvars(user_id=claims.user_id)

        return wrap_before(behavior, authenticate)
