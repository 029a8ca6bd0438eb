"""Mail sandbox: an SMTP server (aiosmtpd) that keeps every message it accepts and shows them over
HTTP at ``/__sandbox/messages`` (JSON) and ``/__sandbox/messages.html``.

Start it with ``python -m sandbox.mail`` or, in tests, ``await start_mail(smtp_port=0, port=0)``.
"""

from sandbox.mail.app import RunningMail, start_mail
from sandbox.mail.state import Mailbox, StoredMessage

__all__ = ["Mailbox", "RunningMail", "StoredMessage", "start_mail"]
