"""Sign-up proves that the person owns the account: a code sent to the account's own e-mail.

``start`` sends a 6-digit code to the e-mail Salesforce holds for the account (its primary
Contact's) when the typed e-mail is that address (else EMAIL_NOT_ON_ACCOUNT: the person is told
to use that address or contact support). An account that already has a portal user gets a notice
at that address instead of a code (a code is sent only where one can be used), and the caller gets
the same answer as for a registrable account, so the form tells a stranger nothing about which
numbers are registered. ``prove`` uses the code up (5 tries, 10 minutes) for the sign-up itself:
one code, one sign-up attempt (a sign-up refused after it needs a new code).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from services.common.emails import email_key
from services.common.errors import EmailNotOnAccount, RateLimited, ValidationFailed
from services.common.mail import Mailer
from services.identity import mails
from services.identity.codes import RESEND_TOO_SOON, Codes
from services.identity.customers import Customers
from services.identity.throttle import Limit, Throttle
from services.identity.validation import EMAIL, reject_control_characters

log = structlog.get_logger("signup")
PURPOSE = "signup"


@dataclass(frozen=True)
class Ownership:
    customers: Customers
    codes: Codes
    mailer: Mailer
    throttle: Throttle
    start_limit: Limit

    async def start(self, number: str, email: str, language: str, address: str) -> int:
        """Send the code (or the already-registered notice); the code's lifetime in seconds."""
        await self.throttle.consume(self.start_limit, address)
        number, email = number.strip(), email.strip()
        reject_control_characters(customer_number=number, email=email)
        if not EMAIL.match(email):
            raise ValidationFailed.of("email", "Enter a valid e-mail address.")
        account = await self.customers.existing(number, cached=False)
        on_file = await self.customers.contact_email(account)
        if not on_file or email_key(on_file) != email_key(email):
            log.info("signup_email_not_on_account")
            raise EmailNotOnAccount()
        if await self.customers.is_registered(account):
            await self._notice_once(account.number)
            mail = mails.render("already_registered", on_file, language)
            await self.mailer.send(mail, kind="signup_already_registered")
        else:
            code = await self.codes.issue(PURPOSE, account.number, email_key(on_file))
            minutes = self.codes.rules.ttl_s // 60
            mail = mails.render("signup_code", on_file, language, code=code, minutes=minutes)
            await self.mailer.send(mail, kind="signup_code")
        return self.codes.rules.ttl_s

    async def _notice_once(self, number: str) -> None:
        """The resend rule of codes for the notice too: one per ``resend_s``, and the same
        RATE_LIMITED answer as a code asked for again (so a repeat tells nothing either)."""
        rule = Limit("signup-notice", 1, self.codes.rules.resend_s)
        try:
            await self.throttle.consume(rule, number)
        except RateLimited:
            raise RateLimited(RESEND_TOO_SOON) from None

    async def prove(self, number: str, email: str, code: str) -> None:
        """The code is right for this customer number and was sent to this e-mail."""
        if not code.strip():
            raise ValidationFailed.of("code", "Enter the code we sent you by e-mail.")
        sent_to = await self.codes.use(PURPOSE, number, code)
        if sent_to != email_key(email):
            raise EmailNotOnAccount()
