"""The SMTP side: an aiosmtpd handler that stores what it accepts, with the sandbox's faults.

Faults (armed through ``/__sandbox/faults``, action ``DATA``): ``unavailable`` answers
``421`` (the relay is going away; a client should try later), ``business_error`` answers ``550``
(a permanent refusal), ``latency`` delays the answer by ``latency_ms``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from sandbox.control import Control
from sandbox.mail.state import Mailbox, stored

log = logging.getLogger("sandbox.mail")


class StoringHandler:
    def __init__(
        self, mailbox: Mailbox, control: Control, on_stored: Callable[[], object] | None = None
    ) -> None:
        self.mailbox, self.control, self.on_stored = mailbox, control, on_stored

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.control.take("DATA")
        if fault is not None:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.mode == "unavailable":
                return "421 4.3.2 Service not available, try again later"
            if fault.mode == "business_error":
                return "550 5.7.1 Message refused"
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = message_from_bytes(data, policy=default)
        assert isinstance(message, EmailMessage)
        mail_from = envelope.mail_from or ""
        self.mailbox.add(stored(message, mail_from, list(envelope.rcpt_tos)))
        if self.on_stored is not None:  # kept across restarts of `make run` (a state dir)
            self.on_stored()
        log.info("message_received recipients=%d", len(envelope.rcpt_tos))
        return "250 2.0.0 OK: queued"


def protocol_factory(handler: StoringHandler, hostname: str) -> Any:
    """A factory of aiosmtpd protocol instances for ``loop.create_server`` (SMTPUTF8 on: the
    portal's Japanese mails may carry UTF-8 headers)."""
    return lambda: SMTP(handler, hostname=hostname, enable_SMTPUTF8=True)
