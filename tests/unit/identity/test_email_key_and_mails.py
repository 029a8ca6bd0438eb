"""The one normal form of an e-mail (NFKC + case fold) and the identity mails' two languages."""

from __future__ import annotations

import pytest

from services.common.emails import email_key
from services.identity import mails


@pytest.mark.parametrize(
    "spelling",
    ["hanako@example.jp", "HANAKO@EXAMPLE.JP", " Hanako@Example.jp ",
     "\uff48\uff41\uff4e\uff41\uff4b\uff4f@example.jp"],  # full-width letters
)  # fmt: skip
def test_spellings_of_one_address_share_one_key(spelling: str) -> None:
    assert email_key(spelling) == "hanako@example.jp"


def test_dotted_capital_i_folds_to_i_with_a_dot_not_to_i() -> None:
    # Python's lower()/casefold() and Postgres's lower() disagree on U+0130; the key is computed
    # in Python only, and this is what it is.
    assert email_key("\u0130kuko@example.jp") == "i\u0307kuko@example.jp"
    assert email_key("\u0130kuko@example.jp") != email_key("ikuko@example.jp")
    assert email_key("i\u0307kuko@EXAMPLE.JP") == email_key("\u0130kuko@example.jp")


def test_sharp_s_is_case_folded() -> None:
    assert email_key("STRASSE@example.de") == email_key("stra\u00dfe@example.de")


@pytest.mark.parametrize(("requested", "language"), [("ja", "ja"), ("ja-JP", "ja"), ("", "en"),
                                                     ("en", "en"), ("fr", "en")])  # fmt: skip
def test_mails_are_japanese_when_asked_else_english(requested: str, language: str) -> None:
    mail = mails.render("signup_code", "a@example.jp", requested, code="123456", minutes=10)
    assert mail.language == language and "123456" in mail.text and "123456" in mail.html
    assert f'lang="{language}"' in mail.html


def test_html_escapes_what_it_shows() -> None:
    mail = mails.render("reset_code", "a@example.jp", "en", code="<b>", minutes=10)
    assert "&lt;b&gt;" in mail.html and "<b>" not in mail.html.replace("<body>", "")
