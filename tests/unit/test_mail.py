"""Outgoing mail: which addresses are sent to, and the message's two parts."""

from __future__ import annotations

import pytest

from services.common.mail import Mail, deliverable, message_of


@pytest.mark.parametrize(
    "address", ["yuki.ito@example.jp", "a+tag@sub.example.jp", "\u0130nci@example.jp",
                "\uff48\uff41\uff4e\uff41\uff4b\uff4f@example.jp"],
)  # fmt: skip
def test_ordinary_addresses_are_deliverable(address: str) -> None:
    assert deliverable(address)


@pytest.mark.parametrize(
    "address", ["a,b@example.jp", 'a"b@example.jp', "a b@example.jp", "a\x00b@example.jp",
                "a\u2028b@example.jp", "<a@example.jp>", "no-at-sign", "@example.jp", "a@"],
)  # fmt: skip
def test_addresses_a_header_would_read_otherwise_are_not(address: str) -> None:
    assert not deliverable(address)


def test_a_message_has_text_html_and_its_language() -> None:
    message = message_of(Mail("a@example.jp", "件名", "本文", "<p>本文</p>", "ja"), "P <p@x.jp>")
    assert message["Content-Language"] == "ja" and message["Subject"] == "件名"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
