"""Page tokens: round trip, and every kind of foreign or edited token is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.billing.paging import MAX_PAGE_SIZE, PageTokens, Position, next_token, page_size
from services.common.errors import ValidationFailed

TOKENS = PageTokens(b"unit-secret")


@given(st.integers(1, 10**6), st.sampled_from(["", "Unpaid", "Payment Pending"]))
def test_round_trip(offset: int, filter: str) -> None:
    token = TOKENS.encode("user-1", "invoices", Position(offset, filter))
    assert TOKENS.decode("user-1", "invoices", token, filter) == offset


@given(st.integers(1, 10**6), st.data())
def test_any_edit_is_refused(offset: int, data: st.DataObject) -> None:
    token = TOKENS.encode("user-1", "invoices", Position(offset, ""))
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCxyz019-_.").filter(lambda c: c != token[i]))
    edited = token[:i] + replacement + token[i + 1 :]
    with pytest.raises(ValidationFailed):
        TOKENS.decode("user-1", "invoices", edited, "")


def test_foreign_tokens_are_refused() -> None:
    token = TOKENS.encode("user-1", "invoices", Position(20, "Paid"))
    attempts = [
        (TOKENS, "user-2", "invoices", "Paid"),  # another user
        (TOKENS, "user-1", "subscriptions", "Paid"),  # another list
        (TOKENS, "user-1", "invoices", "Unpaid"),  # another filter
        (PageTokens(b"other-secret"), "user-1", "invoices", "Paid"),  # not ours
    ]
    for tokens, user, kind, filter in attempts:
        with pytest.raises(ValidationFailed):
            tokens.decode(user, kind, token, filter)
    for junk in ("x", "a.b", "." * 600, "eyJvIjo1LCJmIjoiIn0.AAAA"):
        with pytest.raises(ValidationFailed):
            TOKENS.decode("user-1", "invoices", junk, "")


def test_page_size_and_next_token() -> None:
    assert page_size(0) == 20 and page_size(5) == 5 and page_size(10_000) == MAX_PAGE_SIZE
    with pytest.raises(ValidationFailed):
        page_size(-1)
    start = Position(0, "")
    assert next_token(TOKENS, "u", "invoices", start, 20, 20) == ""
    assert next_token(TOKENS, "u", "invoices", start, 0, 50) == ""
    token = next_token(TOKENS, "u", "invoices", start, 20, 50)
    assert TOKENS.decode("u", "invoices", token, "") == 20
