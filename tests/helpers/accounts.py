"""Customers of the end-to-end tests and how they get an access token through the gateway.

The e2e stack is shared by the session, so a customer may already be linked or signed up by
another test module: then the customer signs in instead.
"""

from __future__ import annotations

from typing import Any

import httpx

# A seeded customer who links her existing account.
HANAKO = {"email": "hanako.yamada@example.jp", "password": "demo-password-1"}
# A seeded Salesforce account without a portal user: signs up.
YUKI = {
    "customerNumber": "AC-000104", "email": "yuki.ito@example.jp", "password": "yuki-password-1",
    "firstName": "Yuki", "lastName": "Ito", "phone": "+81-90-0000-0104",
    "address": {"line1": "5-6-7 Nishiki", "city": "Naka-ku", "state": "Aichi",
                "postcode": "460-0003", "country": "JP"},
}  # fmt: skip


async def session_token(gateway: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str | None:
    """The access token of a session from POST ``path`` (link, signup or login), or None when the
    customer is already linked / signed up (400 or 409)."""
    response = await gateway.post(path, json=body)
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
