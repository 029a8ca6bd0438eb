"""Page tokens: they round-trip, and any change, other secret, account or filter is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.errors import ValidationFailed
from services.support.page_tokens import PageCursor, PageTokens

TOKENS = PageTokens(b"unit-secret")
cursors = st.builds(
    PageCursor, st.text(min_size=1, max_size=40), st.integers(0, 4), st.integers(1, 2000)
)


@given(cursors)
def test_round_trip(cursor: PageCursor) -> None:
    token = TOKENS.encode(cursor)
    assert token.isascii()
    assert TOKENS.decode(token, account_id=cursor.account_id, status=cursor.status) == cursor


@given(cursors, st.data())
def test_any_single_character_change_is_refused(cursor: PageCursor, data: st.DataObject) -> None:
    token = TOKENS.encode(cursor)
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[i]))
    forged = token[:i] + replacement + token[i + 1 :]
    try:
        decoded = TOKENS.decode(forged, account_id=cursor.account_id, status=cursor.status)
    except ValidationFailed as exc:
        assert [v.field for v in exc.violations] == ["page_token"]
    else:
        # base64 without padding: the last character may carry unused bits.
        assert decoded == cursor


@given(cursors)
def test_bound_to_account_status_and_secret(cursor: PageCursor) -> None:
    token = TOKENS.encode(cursor)
    for account, status in ((cursor.account_id + "x", cursor.status), (cursor.account_id, 9)):
        with pytest.raises(ValidationFailed):
            TOKENS.decode(token, account_id=account, status=status)
    with pytest.raises(ValidationFailed):
        PageTokens(b"other").decode(token, account_id=cursor.account_id, status=cursor.status)


@pytest.mark.parametrize("token", ["", ".", "a.b", "....", "é.é", "x" * 10_000])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(ValidationFailed):
        TOKENS.decode(token, account_id="a", status=0)
