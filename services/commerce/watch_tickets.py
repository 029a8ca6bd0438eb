"""Watch tickets: what lets a browser's ``EventSource`` open ``GET /v1/orders:events``.

``EventSource`` cannot send an ``Authorization`` header, and an access token in a URL would end up
in browser history, proxies and logs for its whole life. A ticket is issued to a caller holding a
valid access token (``CreateWatchTicket``) and is ``base64url(json{"u": user, "x": expiry}) "."
base64url(HMAC-SHA256)``, the MAC bound to this one purpose. It opens that stream only, never
any other call, and expires with the access token it was issued for, capped at
``MAX_LIFETIME_S``, so a ticket seen in a log is worth little and soon nothing. It stays valid for
the same stream until it expires because ``EventSource`` reconnects by itself with the same URL
(sending ``Last-Event-ID``); after that the client asks for a new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from services.common.errors import Unauthenticated

MAX_LIFETIME_S = 900
_PURPOSE = b"portal.commerce.v1.OrderService/StreamOrderEvents"
_MAX_LENGTH = 512


@dataclass(frozen=True)
class Ticket:
    user_id: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> Unauthenticated:
    return Unauthenticated("The live-update ticket is missing, invalid or expired.")


class WatchTickets:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a watch-ticket secret is required")
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _PURPOSE + b"\x00" + payload, hashlib.sha256).digest()

    def issue(self, user_id: str, token_expires_at: int, now: float | None = None) -> Ticket:
        now = time.time() if now is None else now
        return Ticket(user_id, min(token_expires_at, int(now) + MAX_LIFETIME_S))

    def encode(self, ticket: Ticket) -> str:
        payload = json.dumps({"u": ticket.user_id, "x": ticket.expires_at}, separators=(",", ":"))
        raw = payload.encode()
        return f"{_b64(raw)}.{_b64(self._mac(raw))}"

    def redeem(self, text: str, now: float | None = None) -> Ticket:
        """The ticket ``text`` stands for, or UNAUTHENTICATED when forged, altered or expired."""
        head, dot, tail = text.partition(".")
        if not dot or len(text) > _MAX_LENGTH or not text.isascii():
            raise _refused()
        try:
            payload, mac = _unb64(head), _unb64(tail)
            body = json.loads(payload) if hmac.compare_digest(mac, self._mac(payload)) else None
        except (binascii.Error, ValueError):
            raise _refused() from None
        if not isinstance(body, dict) or not isinstance(body.get("u"), str):
            raise _refused()
        expires_at = body.get("x")
        if not isinstance(expires_at, int) or expires_at <= (time.time() if now is None else now):
            raise _refused()
        return Ticket(body["u"], expires_at)
