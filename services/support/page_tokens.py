"""Opaque, authenticated ListCases page tokens.

A token is ``base64url(json) "." base64url(HMAC-SHA256(secret, json))``. The payload holds the
offset of the next page and what it is bound to: the Salesforce account and the status filter of
the listing that issued it. A token that was altered, signed with another secret, issued for
another account or reused with another status filter is refused with ``VALIDATION_FAILED``
(field ``page_token``); nothing in it is trusted before the signature checks out.

Offsets rather than a keyset cursor: SOQL datetime literals have no milliseconds, so
``CreatedDate``/``Id`` keysets cannot be expressed exactly. The trade-off of a live list: a case
created while someone pages moves older cases down by one (a case may show twice, none is lost).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from services.common.errors import ValidationFailed

VERSION = 1


@dataclass(frozen=True)
class PageCursor:
    account_id: str
    status: int
    offset: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> ValidationFailed:
    return ValidationFailed.of("page_token", "The page token is invalid or has expired.")


@dataclass(frozen=True)
class PageTokens:
    secret: bytes

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()

    def encode(self, cursor: PageCursor) -> str:
        body = {"v": VERSION, "a": cursor.account_id, "s": cursor.status, "o": cursor.offset}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, token: str, *, account_id: str, status: int) -> PageCursor:
        """The cursor of ``token`` for this account and filter, or :class:`ValidationFailed`."""
        payload = self._verified(token)
        try:
            body = json.loads(payload)
            cursor = PageCursor(str(body["a"]), int(body["s"]), int(body["o"]))
            fresh = body["v"] == VERSION
        except (ValueError, KeyError, TypeError):
            raise _invalid() from None
        if not fresh or cursor.account_id != account_id or cursor.status != status:
            raise _invalid()
        if cursor.offset <= 0:
            raise _invalid()
        return cursor

    def _verified(self, token: str) -> bytes:
        head, dot, tail = token.partition(".")
        if not dot or not token.isascii():
            raise _invalid()
        try:
            payload, mac = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise _invalid()
        return payload
