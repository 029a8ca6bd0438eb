"""One-time 6-digit codes sent by e-mail (sign-up ownership proof, password reset).

A code lives ``ttl_s`` (10 minutes), allows ``max_attempts`` checks (5) and is stored only as a
hash bound to its purpose and subject. Every check is counted *before* it is compared, in one
``UPDATE ... RETURNING``, so concurrent guesses cannot get more than ``max_attempts`` comparisons.
A right code is used up by the check that accepts it (``DELETE ... RETURNING``): two requests
with the same code cannot both go on. A new code replaces the old one, but not sooner than
``resend_s`` after it (RATE_LIMITED).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

from services.common.errors import RateLimited, VerificationCodeExpired, VerificationCodeInvalid

_ISSUE = """
INSERT INTO identity.codes AS c (purpose, subject, code_hash, email_key, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
ON CONFLICT (purpose, subject) DO UPDATE
    SET code_hash = EXCLUDED.code_hash, email_key = EXCLUDED.email_key, attempts = 0,
        sent_at = now(), expires_at = EXCLUDED.expires_at
    WHERE c.sent_at < now() - make_interval(secs => $6)
RETURNING 1"""
_CHECK = """
UPDATE identity.codes SET attempts = attempts + 1
WHERE purpose = $1 AND subject = $2 AND expires_at > now() AND attempts < $3
RETURNING code_hash, email_key"""
_USE = """DELETE FROM identity.codes WHERE purpose = $1 AND subject = $2 AND code_hash = $3
          RETURNING email_key"""


RESEND_TOO_SOON = "A code was sent a moment ago. Please wait a minute and try again."


@dataclass(frozen=True)
class CodeRules:
    ttl_s: int = 600
    max_attempts: int = 5
    resend_s: int = 60


def _hash(purpose: str, subject: str, code: str) -> bytes:
    return hashlib.sha256(f"{purpose}\0{subject}\0{code}".encode()).digest()


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class Codes:
    pool: asyncpg.Pool
    rules: CodeRules

    async def issue(self, purpose: str, subject: str, email_key: str) -> str:
        """A fresh code for ``subject`` (replacing its last one), or RATE_LIMITED when the last
        was sent less than ``resend_s`` ago."""
        code = new_code()
        done = await self.pool.fetchval(
            _ISSUE, purpose, subject, _hash(purpose, subject, code), email_key,
            float(self.rules.ttl_s), float(self.rules.resend_s),
        )  # fmt: skip
        if done is None:
            raise RateLimited(RESEND_TOO_SOON)
        return code

    async def use(self, purpose: str, subject: str, code: str) -> str:
        """Use up ``code``: the e-mail key it was sent for; VERIFICATION_CODE_INVALID when it is
        wrong, VERIFICATION_CODE_EXPIRED when none is live (expired, tried too often, used)."""
        row = await self.pool.fetchrow(_CHECK, purpose, subject, self.rules.max_attempts)
        if row is None:
            raise VerificationCodeExpired()
        if not hmac.compare_digest(bytes(row["code_hash"]), _hash(purpose, subject, code.strip())):
            raise VerificationCodeInvalid()
        used = await self.pool.fetchval(_USE, purpose, subject, bytes(row["code_hash"]))
        if used is None:
            raise VerificationCodeExpired()
        return str(used)
