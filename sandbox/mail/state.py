"""What the mail sandbox has received: a plain state object (a list of messages) that a reset
empties and that a snapshot can serialise as it is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class StoredMessage:
    id: int
    mail_from: str
    rcpt_to: list[str]
    subject: str
    to: str
    content_language: str
    text: str
    html: str
    received_at: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return "" if body is None else str(body.get_content())


def stored(message: EmailMessage, mail_from: str, rcpt_to: list[str]) -> StoredMessage:
    """The parts a test or a person reads of one accepted message."""
    return StoredMessage(
        id=0,  # numbered by the mailbox that keeps it
        mail_from=mail_from,
        rcpt_to=list(rcpt_to),
        subject=str(message.get("Subject", "")),
        to=str(message.get("To", "")),
        content_language=str(message.get("Content-Language", "")),
        text=_part(message, "plain"),
        html=_part(message, "html"),
        received_at=datetime.now(UTC).isoformat(),
    )


@dataclass
class Mailbox:
    messages: list[StoredMessage] = field(default_factory=list)
    max_messages: int = 1000
    next_id: int = 1

    def add(self, message: StoredMessage) -> None:
        self.messages.append(replace(message, id=self.next_id))
        self.next_id += 1
        del self.messages[: max(0, len(self.messages) - self.max_messages)]

    def to(self, address: str) -> list[StoredMessage]:
        """Messages with ``address`` among the envelope recipients (case-insensitively)."""
        wanted = address.casefold()
        return [m for m in self.messages if wanted in (r.casefold() for r in m.rcpt_to)]

    def clear(self) -> None:
        self.messages.clear()
        self.next_id = 1
