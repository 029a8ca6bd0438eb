"""Outgoing mail over SMTP (aiosmtplib) to the configured relay: plain text + HTML alternatives.

A relay that is down, slow or refuses the message is an outage to the caller
(``UpstreamUnavailable``, a friendly 503); the recipient and the body are never logged (bodies
carry codes).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

import structlog

from services.common.errors import UpstreamUnavailable, ValidationFailed
from services.common.secret import SecretStr
from services.common.settings import ServiceSettings

log = structlog.get_logger("mail")
# Control characters, spaces and line/paragraph separators, and the characters that quote or
# separate addresses in headers: an address the portal sends to has none of them (SMTP and the
# header parser would refuse it, or read it as something else).
_NOT_IN_ADDRESSES = frozenset({"Cc", "Zs", "Zl", "Zp"})
_SPECIALS = frozenset('"(),:;<>[]\\')


def deliverable(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        return False
    return not any(ch in _SPECIALS or unicodedata.category(ch) in _NOT_IN_ADDRESSES
                   for ch in address)  # fmt: skip


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    language: str = "en"


@dataclass(frozen=True)
class MailConfig:
    host: str
    port: int
    starttls: bool
    username: str
    password: SecretStr
    timeout_s: float
    sender: str

    @classmethod
    def of(cls, s: ServiceSettings) -> MailConfig:
        return cls(s.smtp_host, s.smtp_port, s.smtp_starttls, s.smtp_username, s.smtp_password,
                   s.smtp_timeout_s, s.mail_from)  # fmt: skip


def message_of(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    message["Content-Language"] = mail.language  # after the parts: set_content drops Content-*
    return message


class Mailer:
    def __init__(self, config: MailConfig) -> None:
        self.config = config

    async def send(self, mail: Mail, *, kind: str) -> None:
        """Deliver ``mail`` to exactly ``mail.to`` (the envelope is given, never parsed back out
        of the headers, where "a,b@x" would be two recipients)."""
        c = self.config
        if not deliverable(mail.to):
            raise ValidationFailed.of("email", "Enter a valid e-mail address.")
        # Imported with the first mail (~0.6 MiB resident with its modules): a process that has
        # sent none (most of the time: mail is sign-up, recovery and e-mail changes) never holds
        # it (services/common/lean.py).
        import aiosmtplib

        try:
            await aiosmtplib.send(
                message_of(mail, c.sender), sender=parseaddr(c.sender)[1] or c.sender,
                recipients=[mail.to], hostname=c.host, port=c.port, start_tls=c.starttls,
                username=c.username or None, password=c.password.get_secret_value() or None,
                timeout=c.timeout_s,
            )  # fmt: skip
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("mail_not_sent", kind=kind, error=type(exc).__name__)
            raise UpstreamUnavailable() from None
        log.info("mail_sent", kind=kind)
