"""Login: e-mail + password -> session, with constant-cost failures and throttling.

- An unknown e-mail is verified against a dummy argon2 hash, and both failures answer the same
  INVALID_CREDENTIALS, so neither the answer nor its timing tells whether the e-mail exists.
- Attempts count per account (``login:acct:<email key>``, shared with linking) and per client
  address (``login:addr:<ip>``) in fixed windows (``throttle``), counted atomically *before* the
  password is checked; past the limit the login answers RATE_LIMITED without checking it. A
  success clears the account's counter and hands its unit back to the address. An owner whose
  account is locked gets in through the password reset e-mail, which lifts the lock.
- E-mails are compared by :func:`emails.email_key` (NFKC + case fold), so every spelling of one
  address shares one user and one counter.
- After a successful check a hash made with older argon2 parameters is replaced (rehash).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import structlog

from services.common.emails import email_key
from services.common.errors import (
    FieldViolation,
    InvalidCredentials,
    Unauthenticated,
    ValidationFailed,
)
from services.identity import repo
from services.identity.passwords import Passwords
from services.identity.sessions import Session, Sessions
from services.identity.throttle import Limit, Throttle
from services.identity.validation import reject_control_characters

log = structlog.get_logger("login")


@dataclass(frozen=True)
class SignedIn:
    user: repo.UserRow
    session: Session


def require_credentials(email: str, password: str) -> None:
    missing = [FieldViolation(f, "This field is required.")
               for f, v in (("email", email), ("password", password)) if not v]  # fmt: skip
    if missing:
        raise ValidationFailed(violations=missing)
    reject_control_characters(email=email)  # the password may hold anything


@dataclass(frozen=True)
class LoginFlow:
    pool: asyncpg.Pool
    passwords: Passwords
    throttle: Throttle
    sessions: Sessions
    per_account: Limit
    per_address: Limit

    async def login(self, email: str, password: str, address: str) -> SignedIn:
        email = email.strip()
        require_credentials(email, password)
        account = email_key(email)
        await self.throttle.consume(self.per_address, address)
        await self.throttle.consume(self.per_account, account)
        user = await repo.user_by_email(self.pool, account)
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            log.info("login_failed", known_user=user is not None)
            raise InvalidCredentials()
        await self.throttle.clear(self.per_account, account)
        await self.throttle.refund(self.per_address, address)
        if self.passwords.needs_rehash(user.password_hash):
            await repo.update_password_hash(self.pool, user.id, await self.passwords.hash(password))
            log.info("password_rehashed", user_id=user.id)
        session = await self.sessions.issue(self.pool, user.id)
        log.info("login_succeeded", user_id=user.id)
        return SignedIn(user, session)

    async def user(self, user_id: str) -> repo.UserRow:
        user = await repo.user_by_id(self.pool, user_id)
        if user is None:
            raise Unauthenticated()
        return user
