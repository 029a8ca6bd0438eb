"""Billing's lists over the shared paging (``services.common.pages``): a token is bound to the
caller's user id, the list (``invoices`` / ``subscriptions``) and its status filter, so a token
edited, made up, taken from another list, reused with another filter or presented by another user
is refused with ``VALIDATION_FAILED``."""

from __future__ import annotations

from dataclasses import dataclass

from services.common import pages
from services.common.pages import MAX_PAGE_SIZE, page_size

__all__ = ["MAX_PAGE_SIZE", "PageTokens", "Position", "next_token", "page_size"]


@dataclass(frozen=True)
class Position:
    offset: int
    filter: str


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._tokens = pages.PageTokens(secret)

    def encode(self, user_id: str, kind: str, position: Position) -> str:
        return self._tokens.encode(position.offset, user_id, kind, position.filter)

    def decode(self, user_id: str, kind: str, token: str, filter: str) -> int:
        """The offset a token points at; ``""`` → 0. The token must be ours, this user's, this
        list's, and carry the same filter as the request."""
        return self._tokens.decode(token, user_id, kind, filter)


def next_token(
    tokens: PageTokens, user_id: str, kind: str, position: Position, returned: int, total: int
) -> str:
    """The token of the page after one that started at ``position`` (``""`` at the end)."""
    after = position.offset + returned
    if returned == 0 or after >= total:
        return ""
    return tokens.encode(user_id, kind, Position(after, position.filter))
