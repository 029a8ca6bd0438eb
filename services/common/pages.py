"""List paging shared by every service: page sizes and opaque, authenticated page tokens.

A token is ``base64url(json{"o": offset}) "." base64url(HMAC-SHA256)``. The MAC covers the payload
and whatever the list binds it to (the caller, the list, its filter...), so a token that was
edited, made up, signed with another secret, taken from another list or presented by another
caller is refused with ``VALIDATION_FAILED`` (field ``page_token``). Only canonical base64 is
accepted, so no two spellings of one token exist. Tokens carry a position only, which is the
caller's anyway, so they do not expire.

Each service builds one ``PageTokens`` with the deepest offset its lists can reach: a list read
with SOQL ends at ``SOQL_MAX_OFFSET`` (Salesforce refuses a larger ``OFFSET``), so no token past it
is issued and none is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from services.common.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000
SOQL_MAX_OFFSET = 2_000
MAX_TOKEN_LENGTH = 512


def page_size(requested: int) -> int:
    """0 → the default; above the maximum → the maximum; negative → VALIDATION_FAILED."""
    if requested < 0:
        raise ValidationFailed.of("page_size", "The page size must not be negative.")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def invalid_token() -> ValidationFailed:
    return ValidationFailed.of("page_token", "The page token is invalid.")


class PageTokens:
    def __init__(self, secret: bytes, max_offset: int = MAX_OFFSET) -> None:
        if not secret:
            raise ValueError("a page-token secret is required")
        self._secret = secret
        self.max_offset = max_offset

    def _mac(self, payload: bytes, bound: tuple[str, ...]) -> bytes:
        message = b"\x00".join((*(part.encode() for part in bound), payload))
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def encode(self, offset: int, *bound: str) -> str:
        """A token for the page starting at ``offset`` of the list identified by ``bound``."""
        payload = json.dumps({"o": offset}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload, bound))}"

    def after(self, offset: int, returned: int, more: bool, *bound: str) -> str:
        """The token of the page after one that started at ``offset`` and returned ``returned``
        rows; ``""`` when there are no more rows or the next page would start past the cap."""
        following = offset + returned
        if not more or returned == 0 or following > self.max_offset:
            return ""
        return self.encode(following, *bound)

    def decode(self, token: str, *bound: str) -> int:
        """The offset ``token`` points at (``""`` → 0), if it was issued for ``bound``."""
        if not token:
            return 0
        head, dot, tail = token.partition(".")
        if not dot or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise invalid_token()
        try:
            payload, mac = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError):
            raise invalid_token() from None
        canonical = _b64(payload) == head and _b64(mac) == tail
        if not canonical or not hmac.compare_digest(mac, self._mac(payload, bound)):
            raise invalid_token()
        try:
            offset = json.loads(payload)["o"]
        except (ValueError, KeyError, TypeError):
            raise invalid_token() from None
        if (
            not isinstance(offset, int)
            or isinstance(offset, bool)
            or not 0 < offset <= self.max_offset
        ):
            raise invalid_token()
        return offset
