"""A new billing e-mail reaches WHMCS only once its owner proves the address: a profile update
that changes the e-mail writes the other fields and mails a 6-digit code to the new address;
ConfirmBillingEmail with that code writes the e-mail. So nobody can put someone else's address on
their WHMCS client (where it would block that person's sign-up as EMAIL_ALREADY_REGISTERED).

The pending change lives in Redis (``billing:email-change:<user id>``, 10 minutes): the new
address, a hash of the code and the attempts (5; each counted before it is compared, in one
script). Redis down means no change can be started or confirmed (UPSTREAM_UNAVAILABLE); nothing
half-done reaches WHMCS.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from services.common.cache import RedisClient
from services.common.errors import (
    UpstreamUnavailable,
    VerificationCodeExpired,
    VerificationCodeInvalid,
)
from services.common.mail import Mail, Mailer

log = structlog.get_logger(__name__)

# Replace the pending change (one script: also on a Redis Cluster, one key, one slot).
_START = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'email', ARGV[1], 'hash', ARGV[2], 'attempts', 0)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Count one attempt and read the pending change, only if there is one (no key made for nothing).
_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {n, redis.call('HGET', KEYS[1], 'email'), redis.call('HGET', KEYS[1], 'hash')}
"""
_TEXT = (
    "Your code to confirm {email} as the billing e-mail of your portal account is:\n\n{code}\n\n"
    "It is valid for 10 minutes. If you did not change your billing e-mail, ignore this mail: "
    "nothing changes without the code."
)


def _hash(user_id: str, email: str, code: str) -> str:
    return hashlib.sha256(f"{user_id}\0{email}\0{code}".encode()).hexdigest()


def code_mail(email: str, code: str) -> Mail:
    text = _TEXT.format(email=email, code=code)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    page = f'<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>{paragraphs}'
    return Mail(to=email, subject="Confirm your billing e-mail", text=text,
                html=page + "</body></html>")  # fmt: skip


@dataclass(frozen=True)
class EmailChanges:
    redis: RedisClient
    mailer: Mailer
    ttl_s: int = 600
    max_attempts: int = 5

    @staticmethod
    def _key(user_id: str) -> str:
        return f"billing:email-change:{user_id}"

    async def start(self, user_id: str, email: str) -> None:
        code = f"{secrets.randbelow(10**6):06d}"
        digest = _hash(user_id, email, code)
        try:
            await self.redis.eval(_START, 1, self._key(user_id), email, digest, self.ttl_s)
        except RedisError:
            raise UpstreamUnavailable() from None
        await self.mailer.send(code_mail(email, code), kind="billing_email_code")
        log.info("billing_email_change_started", user_id=user_id)

    async def use(self, user_id: str, code: str) -> str:
        """The new address, if ``code`` is its code (used up); VERIFICATION_CODE_* otherwise."""
        key = self._key(user_id)
        try:
            found = await self.redis.eval(_ATTEMPT, 1, key)
            if not found or int(found[0]) > self.max_attempts:
                raise VerificationCodeExpired()
            email, stored = _text(found[1]), _text(found[2])
            if not hmac.compare_digest(stored, _hash(user_id, email, code.strip())):
                raise VerificationCodeInvalid()
            if not await self.redis.delete(key):  # another request used it first
                raise VerificationCodeExpired()
        except RedisError:
            raise UpstreamUnavailable() from None
        return email


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
