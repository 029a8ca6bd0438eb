"""Sessions: ES256 access tokens and opaque rotating refresh tokens (stored as SHA-256).

A login starts a *family*; every :meth:`Sessions.rotate` marks the presented token rotated and
issues its child in the same family. Presenting a rotated token again means it was copied: the
whole family is revoked (the thief's and the user's current token alike) and the caller gets
UNAUTHENTICATED. Logout revokes the family of the presented token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from services.common.errors import Unauthenticated
from services.identity import repo
from services.identity.keys import Keys

log = structlog.get_logger("sessions")


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime

    def __repr__(self) -> str:  # credentials: never in logs
        return f"Session(access_expires_at={self.access_expires_at.isoformat()}, ...)"


def token_hash(refresh_token: str) -> bytes:
    return hashlib.sha256(refresh_token.encode()).digest()


@dataclass(frozen=True)
class Sessions:
    pool: asyncpg.Pool
    keys: Keys
    issuer: str
    audience: str
    access_ttl: int
    refresh_ttl: int

    def access_token(self, user_id: str, now: datetime) -> tuple[str, datetime]:
        expires = now + timedelta(seconds=self.access_ttl)
        claims = {
            "sub": user_id, "iss": self.issuer, "aud": self.audience,
            "iat": int(now.timestamp()), "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }  # fmt: skip
        return self.keys.ring.sign(claims), expires

    async def issue(
        self,
        conn: repo.Conn,
        user_id: str,
        *,
        family_id: uuid.UUID | None = None,
        parent_hash: bytes | None = None,
    ) -> Session:
        """A new session (a new family unless ``family_id``); ``conn`` may be a transaction."""
        now = datetime.now(UTC).replace(microsecond=0)
        access, access_expires = self.access_token(user_id, now)
        refresh = secrets.token_urlsafe(32)  # 256 random bits
        refresh_expires = now + timedelta(seconds=self.refresh_ttl)
        await repo.insert_refresh(
            conn,
            token_hash(refresh),
            family_id=family_id or uuid.uuid4(),
            user_id=user_id,
            expires_at=refresh_expires,
            parent_hash=parent_hash,
        )
        return Session(access, refresh, access_expires, refresh_expires)

    async def rotate(self, refresh_token: str) -> Session:
        if not refresh_token:
            raise Unauthenticated()
        digest = token_hash(refresh_token)
        reused: uuid.UUID | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await repo.lock_refresh(conn, digest)
            if row is None or row.revoked or row.expires_at <= datetime.now(UTC):
                raise Unauthenticated()
            if row.rotated:
                reused = row.family_id
                await repo.revoke_family(conn, row.family_id)
            else:
                await repo.mark_rotated(conn, digest)
                return await self.issue(
                    conn, row.user_id, family_id=row.family_id, parent_hash=digest
                )
        log.warning("refresh_token_reused", family=str(reused))
        raise Unauthenticated()

    async def revoke(self, refresh_token: str) -> None:
        """Logout: revoke the session (family) of this token; unknown tokens are ignored."""
        if not refresh_token:
            return
        family = await repo.family_of(self.pool, token_hash(refresh_token))
        if family is not None:
            await repo.revoke_family(self.pool, family)
