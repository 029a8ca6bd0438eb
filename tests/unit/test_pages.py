"""The shared page tokens: round trip, any edit refused, bound to their list, garbage refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.errors import ValidationFailed
from services.common.pages import MAX_PAGE_SIZE, SOQL_MAX_OFFSET, PageTokens, page_size

TOKENS = PageTokens(b"unit-secret")
bound = st.lists(st.text(max_size=20), max_size=3).map(tuple)


@given(st.integers(1, 1_000_000), bound)
def test_round_trip(offset: int, parts: tuple[str, ...]) -> None:
    assert TOKENS.decode(TOKENS.encode(offset, *parts), *parts) == offset


@given(st.integers(1, 5000), st.data())
def test_any_single_character_change_is_refused(offset: int, data: st.DataObject) -> None:
    token = TOKENS.encode(offset, "u1", "orders")
    i = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[i]))
    with pytest.raises(ValidationFailed) as err:
        TOKENS.decode(token[:i] + other + token[i + 1 :], "u1", "orders")
    assert [v.field for v in err.value.violations] == ["page_token"]


def test_bound_to_its_list_and_secret() -> None:
    token = TOKENS.encode(40, "user-1", "invoices", "Paid")
    assert TOKENS.decode(token, "user-1", "invoices", "Paid") == 40
    for parts in (("user-2", "invoices", "Paid"), ("user-1", "orders", "Paid"),
                  ("user-1", "invoices", "Unpaid"), ("user-1", "invoicesPaid", "")):  # fmt: skip
        with pytest.raises(ValidationFailed):
            TOKENS.decode(token, *parts)
    with pytest.raises(ValidationFailed):
        PageTokens(b"other-secret").decode(token, "user-1", "invoices", "Paid")


@pytest.mark.parametrize("token", [".", "a.b", "é.é", "x" * 600, "eyJvIjoxfQ.AAAA"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(ValidationFailed):
        TOKENS.decode(token, "u")


def test_offsets_beyond_the_cap_are_refused() -> None:
    soql = PageTokens(b"unit-secret", SOQL_MAX_OFFSET)
    assert soql.decode("", "u") == 0
    assert soql.decode(TOKENS.encode(SOQL_MAX_OFFSET, "u"), "u") == SOQL_MAX_OFFSET
    with pytest.raises(ValidationFailed):
        soql.decode(TOKENS.encode(SOQL_MAX_OFFSET + 1, "u"), "u")


def test_the_next_page_token_ends_at_the_last_row_and_at_the_cap() -> None:
    soql = PageTokens(b"unit-secret", SOQL_MAX_OFFSET)
    assert soql.decode(soql.after(0, 20, True, "u", "orders"), "u", "orders") == 20
    assert soql.after(0, 20, False, "u", "orders") == ""  # the last page
    assert soql.after(40, 0, True, "u", "orders") == ""  # an empty page never points further
    assert soql.after(1990, 10, True, "u") != ""  # the cap itself is still a page
    assert soql.after(1990, 20, True, "u") == ""  # SOQL refuses an OFFSET past 2,000


def test_page_size() -> None:
    assert [page_size(n) for n in (0, 1, 100, 101)] == [20, 1, 100, MAX_PAGE_SIZE]
    with pytest.raises(ValidationFailed):
        page_size(-1)
