"""ListCases page tokens over the shared paging (``services.common.pages``).

A token is bound to the Salesforce account and the status filter of the listing that issued it:
one that was altered, signed with another secret, issued for another account or reused with
another status filter is refused with ``VALIDATION_FAILED`` (field ``page_token``).

Offsets rather than a keyset cursor: SOQL datetime literals have no milliseconds, so
``CreatedDate``/``Id`` keysets cannot be expressed exactly. The trade-off of a live list: a case
created while someone pages moves older cases down by one (a case may show twice, none is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common import pages

# SOQL's OFFSET stops at 2,000.
MAX_OFFSET = 2000


@dataclass(frozen=True)
class PageCursor:
    account_id: str
    status: int
    offset: int


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._tokens = pages.PageTokens(secret)

    def encode(self, cursor: PageCursor) -> str:
        return self._tokens.encode(cursor.offset, "cases", cursor.account_id, str(cursor.status))

    def decode(self, token: str, *, account_id: str, status: int) -> PageCursor:
        """The cursor of ``token`` for this account and filter, or :class:`ValidationFailed`."""
        if not token:
            raise pages.invalid_token()
        offset = self._tokens.decode(token, "cases", account_id, str(status), max_offset=MAX_OFFSET)
        return PageCursor(account_id, status, offset)
