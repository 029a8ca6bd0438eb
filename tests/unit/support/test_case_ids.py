"""Case ids are checked as Salesforce (and the sandbox, written separately) define them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sandbox.salesforce.ids import make_id, normalize_id
from services.support.case_ids import normalize_case_id

ALNUM = st.text(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=12, max_size=12
)


@given(st.integers(0, 62**9 - 1))
def test_real_case_ids_in_both_forms(serial: int) -> None:
    full = make_id("500", serial)
    assert normalize_case_id(full) == full
    assert normalize_case_id(full[:15]) == full
    assert normalize_case_id(full.lower()[:15] + full[15:].lower()) == normalize_id(
        full.lower()[:15] + full[15:].lower()
    )


@given(st.text(max_size=40))
def test_agrees_with_the_sandbox_on_any_text(text: str) -> None:
    expected = normalize_id(text.rstrip("\n"))
    if expected is not None and (
        not expected.startswith("500") or text.endswith("\n") or not text.isascii()
    ):
        expected = None  # (the sandbox's ``$`` also takes a trailing newline, and its
        # case-insensitive match a Kelvin sign for k; we take neither)
    assert normalize_case_id(text) == expected


def test_trailing_newline_is_refused() -> None:
    assert normalize_case_id(make_id("500", 7)[:15] + "\n") is None


@given(ALNUM)
def test_other_prefixes_are_refused(rest: str) -> None:
    assert normalize_case_id("001" + rest) is None
    assert normalize_case_id("500" + rest) is not None
