"""Sign-up and sign-in input (hypothesis): a control character in any text field is
VALIDATION_FAILED naming that field (a NUL must never reach Postgres or the SOQL builder), and a
form without one is accepted with its text only trimmed."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.errors import ValidationFailed
from services.identity.login import require_credentials
from services.identity.validation import Address, SignUpForm, check

CONTROL = st.characters(categories=["Cc"])
# Text a form field may hold: no control characters, not only whitespace.
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1,
                max_size=30).filter(str.strip)  # fmt: skip
VALID = SignUpForm(
    customer_number="AC-000104", email="yuki.ito@example.jp", password="yuki-password-1",
    first_name="Yuki", last_name="Ito", phone="+81-90-0000-0104",
    address=Address("5-6-7 Nishiki", "", "Naka-ku", "Aichi", "460-0003", "JP"),
)  # fmt: skip
TEXT_FIELDS = ["customer_number", "first_name", "last_name"]
ADDRESS_TEXT = ["line1", "line2", "city", "state", "postcode"]


def _with(form: SignUpForm, field: str, value: str) -> SignUpForm:
    if field in ADDRESS_TEXT:
        return dataclasses.replace(
            form, address=dataclasses.replace(form.address, **{field: value})
        )
    return dataclasses.replace(form, **{field: value})


def _violated(form: SignUpForm) -> set[str]:
    with pytest.raises(ValidationFailed) as failed:
        check(form)
    return {v.field for v in failed.value.violations}


@given(st.sampled_from(TEXT_FIELDS + ADDRESS_TEXT), WORDS, CONTROL, st.data())
def test_a_control_character_in_any_field_names_that_field(
    field: str, words: str, control: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(words)), label="at")
    # Inside the text: trimming may take a line break at either end away, and that is fine.
    form = _with(VALID, field, f"{words[:at]}x{control}x{words[at:]}")
    name = f"address.{field}" if field in ADDRESS_TEXT else field
    assert name in _violated(form)


@given(CONTROL, st.data())
def test_a_control_character_in_the_email_is_refused_at_sign_up_and_sign_in(
    control: str, data: st.DataObject
) -> None:
    email = data.draw(st.sampled_from([f"a{control}b@example.jp", f"ab@exa{control}mple.jp"]))
    assert "email" in _violated(dataclasses.replace(VALID, email=email))
    with pytest.raises(ValidationFailed) as failed:
        require_credentials(email, "any-password")
    assert [v.field for v in failed.value.violations] == ["email"]


@given(st.fixed_dictionaries({f: WORDS for f in TEXT_FIELDS + ADDRESS_TEXT}))
def test_forms_without_control_characters_keep_their_text(values: dict[str, str]) -> None:
    form = VALID
    for field, value in values.items():
        form = _with(form, field, value)
    checked = check(form)
    for field, value in values.items():
        source = checked.address if field in ADDRESS_TEXT else checked
        assert getattr(source, field) == value.strip()
    assert not any(unicodedata.category(ch) == "Cc" for ch in checked.email)


@given(st.text(max_size=30).filter(bool))
def test_a_password_may_hold_anything(password: str) -> None:
    require_credentials("hanako.yamada@example.jp", password)
