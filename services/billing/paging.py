"""Page sizes and opaque, authenticated page tokens.

A token is ``base64url(json{"o": offset, "f": filter}) + "." + base64url(HMAC-SHA256)``; the MAC
covers the payload *and* the caller's user id and the list it belongs to (``invoices`` /
``subscriptions``), so a token that was edited, made up, taken from another list or presented by
another user is refused with ``VALIDATION_FAILED``. Tokens do not expire: they only carry a
position, which is public to the caller anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from services.common.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000


def page_size(requested: int) -> int:
    """0 → the default; above the maximum → the maximum; negative → VALIDATION_FAILED."""
    if requested < 0:
        raise ValidationFailed.of("page_size", "The page size must not be negative.")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Position:
    offset: int
    filter: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, user_id: str, kind: str, payload: bytes) -> bytes:
        message = b"\x00".join((kind.encode(), user_id.encode(), payload))
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def encode(self, user_id: str, kind: str, position: Position) -> str:
        body = {"o": position.offset, "f": position.filter}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(user_id, kind, payload))}"

    def decode(self, user_id: str, kind: str, token: str, filter: str) -> int:
        """The offset a token points at; ``""`` → 0. The token must be ours, this user's, this
        list's, and carry the same filter as the request."""
        if not token:
            return 0
        position = self._verify(user_id, kind, token)
        if position is None or position.filter != filter:
            raise ValidationFailed.of("page_token", "The page token is invalid.")
        return position.offset

    def _verify(self, user_id: str, kind: str, token: str) -> Position | None:
        head, dot, tail = token.partition(".")
        if not dot or len(token) > 512:
            return None
        try:
            payload, mac = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac(user_id, kind, payload)):
            return None
        try:
            body = json.loads(payload)
            offset, filter = body["o"], body["f"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(offset, int) or not isinstance(filter, str):
            return None
        return Position(offset, filter) if 0 < offset <= MAX_OFFSET else None


def next_token(
    tokens: PageTokens, user_id: str, kind: str, position: Position, returned: int, total: int
) -> str:
    """The token of the page after one that started at ``position`` (``""`` at the end)."""
    after = position.offset + returned
    if returned == 0 or after >= total:
        return ""
    return tokens.encode(user_id, kind, Position(after, position.filter))
