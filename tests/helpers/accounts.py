"""Customers of the end-to-end tests and how they get an access token through the gateway.

The e2e stack is shared by the session, so a customer may already be linked or signed up by
another test module: then the customer signs in instead. A sign-up goes the customer's way:
``signup:start``, the code from the stack's mail sandbox, then ``signup`` with it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.helpers import stacks
from tests.helpers.sandboxes import mail_messages

# A seeded customer who links her existing account.
HANAKO = {"email": "hanako.yamada@example.jp", "password": "demo-password-1"}
# A seeded Salesforce account without a portal user: signs up.
YUKI = {
    "customerNumber": "AC-000104", "email": "yuki.ito@example.jp", "password": "yuki-password-1",
    "firstName": "Yuki", "lastName": "Ito", "phone": "+81-90-0000-0104",
    "address": {"line1": "5-6-7 Nishiki", "city": "Naka-ku", "state": "Aichi",
                "postcode": "460-0003", "country": "JP"},
}  # fmt: skip


def mail_url_of(gateway: httpx.AsyncClient) -> str:
    """The mail sandbox of the stack behind ``gateway`` (a stack this session started)."""
    base = str(gateway.base_url).rstrip("/")
    for stack, _ in stacks.STARTED:
        if stack.config.gateway_url == base:
            return f"http://127.0.0.1:{stack.config.ports.mail}"
    raise AssertionError(f"no stack of this session serves {base}")


async def signup_code(gateway: httpx.AsyncClient, number: str, email: str) -> str | None:
    """``signup:start`` and the code it mailed; None when the account already has a portal user
    (the mail sandbox got the notice that says so instead of a code) or a code or notice went out
    less than a minute ago."""
    mail = mail_url_of(gateway)
    before = {m["id"] for m in await mail_messages(mail, email)}
    start = await gateway.post("/v1/auth/signup:start",
                               json={"customerNumber": number, "email": email})  # fmt: skip
    if start.status_code == 429:  # asked again within the minute: registered by then, or not
        return None  # ... and the login that follows tells which
    assert start.status_code == 200, start.text
    for _ in range(200):
        new = [m for m in await mail_messages(mail, email) if m["id"] not in before]
        if new:
            found = re.search(r"\b(\d{6})\b", new[-1]["text"])
            return found.group(1) if found else None
        await asyncio.sleep(0.05)
    raise AssertionError(f"signup:start mailed nothing to {email}")


async def post_sign_in(
    gateway: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> httpx.Response | None:
    """POST ``path``; for ``/v1/auth/signup`` without a code, the code step first (None when the
    account turned out to be registered already)."""
    if path == "/v1/auth/signup" and "code" not in body:
        code = await signup_code(gateway, str(body["customerNumber"]), str(body["email"]))
        if code is None:
            return None
        body = {**body, "code": code}
    return await gateway.post(path, json=body)


async def session_token(gateway: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str | None:
    """The access token of a session from POST ``path`` (link, signup or login), or None when the
    customer is already linked / signed up (400 or 409)."""
    response = await post_sign_in(gateway, path, body)
    if response is None:
        return None
    if response.status_code == 200:
        return str(response.json()["session"]["accessToken"])
    assert response.status_code in (400, 409), response.text  # already linked / signed up
    return None


async def customer_token(gateway: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    """An access token of the customer in ``body``: from ``path``, or from a login when another
    e2e test registered this customer first."""
    token = await session_token(gateway, path, body)
    if token is None:  # another e2e test registered this customer first: sign in instead
        login = {"email": body["email"], "password": body["password"]}
        token = await session_token(gateway, "/v1/auth/login", login)
    assert token is not None
    return token


async def auth_headers(
    gateway: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> dict[str, str]:
    """:func:`customer_token` as an ``authorization`` header."""
    return {"authorization": f"Bearer {await customer_token(gateway, path, body)}"}
