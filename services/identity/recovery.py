"""Account recovery and password change.

- ``request_reset``: always the same answer. When a user has the e-mail, a 6-digit code goes to
  that user's own address; the mail is sent in the background, so neither the answer nor its
  timing tells whether the account exists. Throttled per client address; a code is resent no
  sooner than a minute after the last (silently: the answer stays the same).
- ``confirm_reset``: code + new password. Every session of the user is revoked and the account's
  sign-in lockout is lifted: the reset e-mail is how a locked-out owner gets back in, so an
  attacker's wrong guesses cannot keep the owner out.
- ``change_password``: the signed-in user, with the current password (counted against the
  account's sign-in limit); every earlier session is revoked and the caller gets a new one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
import structlog

from services.common.emails import email_key
from services.common.errors import (
    InvalidCredentials,
    PortalError,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
    VerificationCodeInvalid,
)
from services.common.mail import Mailer
from services.identity import mails, repo
from services.identity.codes import Codes
from services.identity.passwords import Passwords
from services.identity.sessions import Session, Sessions
from services.identity.throttle import Limit, Throttle
from services.identity.validation import MIN_PASSWORD, reject_control_characters

log = structlog.get_logger("recovery")
PURPOSE = "reset"


def require_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed.of("new_password", f"Use at least {MIN_PASSWORD} characters.")


@dataclass
class Recovery:
    pool: asyncpg.Pool
    codes: Codes
    mailer: Mailer
    passwords: Passwords
    sessions: Sessions
    throttle: Throttle
    reset_limit: Limit
    per_account: Limit
    _sending: set[asyncio.Task[None]] = field(default_factory=set)

    async def request_reset(self, email: str, language: str, address: str) -> None:
        await self.throttle.consume(self.reset_limit, address)
        email = email.strip()
        if not email:
            raise ValidationFailed.of("email", "This field is required.")
        reject_control_characters(email=email)
        user = await repo.user_by_email(self.pool, email)
        if user is None:
            return
        task = asyncio.create_task(self._send_code(user, language))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_code(self, user: repo.UserRow, language: str) -> None:
        try:
            code = await self.codes.issue(PURPOSE, user.id, email_key(user.email))
            minutes = self.codes.rules.ttl_s // 60
            mail = mails.render("reset_code", user.email, language, code=code, minutes=minutes)
            await self.mailer.send(mail, kind="reset_code")
        except RateLimited:
            log.info("reset_code_not_resent", user_id=user.id)
        except PortalError as exc:
            log.warning("reset_code_not_sent", user_id=user.id, error=type(exc).__name__)

    async def confirm_reset(self, email: str, code: str, new_password: str) -> None:
        require_new_password(new_password)
        reject_control_characters(email=email)  # a NUL cannot even be looked up in Postgres
        if not email.strip() or not code.strip():
            raise VerificationCodeInvalid()
        user = await repo.user_by_email(self.pool, email)
        if user is None:
            raise VerificationCodeInvalid()
        await self.codes.use(PURPOSE, user.id, code)
        await self._set_password(user.id, new_password)
        await self.throttle.clear(self.per_account, email_key(user.email))
        log.info("password_reset", user_id=user.id)

    async def change_password(self, user_id: str, current: str, new_password: str) -> Session:
        user = await repo.user_by_id(self.pool, user_id)
        if user is None:
            raise Unauthenticated()
        if not current:
            raise ValidationFailed.of("current_password", "This field is required.")
        require_new_password(new_password)
        await self.throttle.consume(self.per_account, email_key(user.email))
        if not await self.passwords.verify(user.password_hash, current):
            raise InvalidCredentials("The current password is not right.")
        await self.throttle.clear(self.per_account, email_key(user.email))
        await self._set_password(user.id, new_password)
        log.info("password_changed", user_id=user.id)
        return await self.sessions.issue(self.pool, user.id)

    async def _set_password(self, user_id: str, password: str) -> None:
        """The new hash and every session of the user revoked, in one transaction."""
        password_hash = await self.passwords.hash(password)
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.update_password_hash(conn, user_id, password_hash)
            revoked = await repo.revoke_sessions_of(conn, user_id)
        log.info("sessions_revoked", user_id=user_id, count=revoked)
