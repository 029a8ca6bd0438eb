"""The mail sandbox driven over real SMTP (aiosmtplib and the standard library's smtplib): what it
accepts is listed at /__sandbox/messages; reset empties it; faults refuse like a real relay."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest

from sandbox.mail import RunningMail, start_mail
from sandbox.mail.settings import MailSandboxSettings


@pytest.fixture
async def mail() -> AsyncIterator[RunningMail]:
    running = await start_mail(port=0, smtp_port=0)
    yield running
    await running.stop()


@pytest.fixture
async def http(mail: RunningMail) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=mail.url, timeout=5) as client:
        yield client


def message(to: str, subject: str = "こんにちは") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Portal <no-reply@portal.example.jp>"
    m["To"] = to
    m["Subject"] = subject
    m.set_content("コード: 123456")
    m.add_alternative("<p>コード: <b>123456</b></p>", subtype="html")
    m["Content-Language"] = "ja"  # after the parts: set_content drops Content-* headers
    return m


async def test_a_message_sent_over_smtp_is_listed_with_both_parts(
    mail: RunningMail, http: httpx.AsyncClient
) -> None:
    await aiosmtplib.send(message("yuki.ito@example.jp"), hostname="127.0.0.1",
                          port=mail.smtp_port, start_tls=False)  # fmt: skip
    body = (await http.get("/__sandbox/messages")).json()
    [got] = body["messages"]
    assert got["rcpt_to"] == ["yuki.ito@example.jp"]
    assert got["subject"] == "こんにちは" and got["content_language"] == "ja"
    assert "123456" in got["text"] and "<b>123456</b>" in got["html"]
    assert got["mail_from"] == "no-reply@portal.example.jp"
    page = await http.get("/__sandbox/messages.html")
    assert page.status_code == 200 and "こんにちは" in page.text


async def test_messages_filter_by_recipient_and_reset_empties(
    mail: RunningMail, http: httpx.AsyncClient
) -> None:
    def send_sync() -> None:  # a second, independent SMTP client: the standard library's
        with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
            client.send_message(message("a@example.jp", "one"))
            client.send_message(message("b@example.jp", "two"))

    await asyncio.to_thread(send_sync)
    only_b = (await http.get("/__sandbox/messages", params={"to": "B@example.jp"})).json()
    assert [m["subject"] for m in only_b["messages"]] == ["two"]
    assert (await http.post("/__sandbox/reset")).json() == {"reset": True}
    assert (await http.get("/__sandbox/messages")).json() == {"messages": []}


async def test_faults_refuse_like_a_relay(mail: RunningMail, http: httpx.AsyncClient) -> None:
    armed = await http.post("/__sandbox/faults", json={"mode": "unavailable", "count": 1})
    assert armed.status_code == 200
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(message("c@example.jp"), hostname="127.0.0.1",
                              port=mail.smtp_port, start_tls=False)  # fmt: skip
    assert refused.value.code == 421
    await http.post("/__sandbox/faults", json={"mode": "business_error", "count": 1})
    with pytest.raises(aiosmtplib.SMTPResponseException) as rejected:
        await aiosmtplib.send(message("c@example.jp"), hostname="127.0.0.1",
                              port=mail.smtp_port, start_tls=False)  # fmt: skip
    assert rejected.value.code == 550
    await aiosmtplib.send(message("c@example.jp"), hostname="127.0.0.1", port=mail.smtp_port,
                          start_tls=False)  # fmt: skip
    assert len((await http.get("/__sandbox/messages")).json()["messages"]) == 1
    assert (await http.get("/__sandbox/stats")).json()["calls"] == {"DATA": 3}


async def test_only_the_newest_messages_are_kept() -> None:
    running = await start_mail(settings=MailSandboxSettings(max_messages=2))
    try:
        for n in range(3):
            await aiosmtplib.send(message("d@example.jp", f"m{n}"), hostname="127.0.0.1",
                                  port=running.smtp_port, start_tls=False)  # fmt: skip
        kept = [(m.id, m.subject) for m in running.mailbox.messages]
        assert kept == [(2, "m1"), (3, "m2")]
    finally:
        await running.stop()
