"""Live order updates for browsers: ``POST /v1/orders:watchTicket`` then an ``EventSource`` on
``GET /v1/orders:events``, over the real gateway, with Debian's Chromium driven by Playwright.

Staff changes in Salesforce (the sandbox's REST API) reach the page through CDC; a relay between
the browser and the gateway cuts the connection, a change lands meanwhile, and the browser's own
reconnection (``Last-Event-ID``) brings it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from services.common.clients import SalesforceClient
from tests.helpers.accounts import HANAKO, auth_headers
from tests.helpers.relay import relay_to
from tools.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# The page a front end would write: a ticket with the access token, then EventSource.
PAGE = """<!doctype html><html><body><script type="module">
window.received = []; window.opens = 0;
const token = location.hash.slice(1);
const r = await fetch("/v1/orders:watchTicket", {method: "POST", body: "{}",
  headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json"}});
const {ticket} = await r.json();
const events = new EventSource(`/v1/orders:events?ticket=${encodeURIComponent(ticket)}`);
events.onopen = () => { window.opens += 1; };
events.onmessage = (e) => { window.received.push({id: e.lastEventId, order: JSON.parse(e.data)}); };
</script></body></html>"""


@pytest.fixture(scope="module")
async def hanako(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(gateway, "/v1/auth/link", HANAKO)


async def _ticket(gateway: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await gateway.post("/v1/orders:watchTicket", headers=headers, json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expireTime"]
    ticket: str = body["ticket"]
    return ticket


async def _new_order(gateway: httpx.AsyncClient, headers: dict[str, str]) -> str:
    products = (await gateway.get("/v1/catalog/products", headers=headers)).json()["products"]
    vpn = next(p["id"] for p in products if p["sku"] == "VPN-STANDARD")
    body = {
        "requestId": f"live-{uuid.uuid4().hex[:8]}",
        "items": [{"productId": vpn, "quantity": 1}],
    }
    response = await gateway.post("/v1/orders", headers=headers, json=body)
    assert response.status_code == 200, response.text
    order_id: str = response.json()["order"]["id"]
    return order_id


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """SSE events as {id, data}; comment lines come through as {comment}."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
        elif line.startswith("id: "):
            event["id"] = line.removeprefix("id: ")
        elif line.startswith("data: "):
            event["data"] = json.loads(line.removeprefix("data: "))
        elif line.startswith("retry: "):
            yield {"retry": int(line.removeprefix("retry: "))}
        elif line == "" and event:
            yield event
            event = {}


async def test_events_need_a_ticket_and_not_an_access_token(
    gateway: httpx.AsyncClient, hanako: dict[str, str]
) -> None:
    bare = await gateway.get("/v1/orders:events")
    assert bare.status_code == 401
    assert bare.json()["details"][0]["reason"] == "UNAUTHENTICATED"
    token = hanako["authorization"].removeprefix("Bearer ")
    as_token = await gateway.get("/v1/orders:events", params={"ticket": token})
    assert as_token.status_code == 401
    ticket = await _ticket(gateway, hanako)
    forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    assert (await gateway.get("/v1/orders:events", params={"ticket": forged})).status_code == 401
    no_bearer = await gateway.post("/v1/orders:watchTicket", json={})
    assert no_bearer.status_code == 401


async def test_event_stream_framing_and_resume_from_an_id(
    gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    order_id = await _new_order(gateway, hanako)
    ticket = await _ticket(gateway, hanako)
    async with gateway.stream(
        "GET", "/v1/orders:events", params={"ticket": ticket}, timeout=20
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        # no-store: never kept by a browser or proxy (stricter than no-cache; the gateway sends
        # it on every API answer).
        assert response.headers["cache-control"] == "no-store"
        assert "grpc-status" not in response.headers
        events = _events(response)
        assert await anext(events) == {"retry": 2000}
        assert await anext(events) == {"comment": "connected"}
        await sf.update("Order", order_id, {"Status": "Approved"})
        async with asyncio.timeout(15):
            async for event in events:
                data = event.get("data", {})
                if data.get("id") == order_id and data["status"] == "ORDER_STATUS_APPROVED":
                    break
        first_id = event["id"]
    # Resuming from an id before that change (the parameter form) sends the order again.
    before = f"{int(first_id.split('-')[0]) - 1}-0"
    params = {"ticket": ticket, "lastEventId": before}
    async with gateway.stream("GET", "/v1/orders:events", params=params, timeout=20) as again:
        replayed = [e async for e in _until_data(_events(again))]
    assert replayed[-1]["data"]["id"] == order_id and replayed[-1]["id"] >= first_id


async def _until_data(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    async with asyncio.timeout(15):
        async for event in events:
            yield event
            if "data" in event:
                return


async def test_a_bad_last_event_id_is_a_field_violation(
    gateway: httpx.AsyncClient, hanako: dict[str, str]
) -> None:
    ticket = await _ticket(gateway, hanako)
    response = await gateway.get(
        "/v1/orders:events", params={"ticket": ticket}, headers={"Last-Event-ID": "nonsense"}
    )
    assert response.status_code == 400
    details = {d["@type"].rsplit("/", 1)[-1]: d for d in response.json()["details"]}
    assert details["google.rpc.ErrorInfo"]["reason"] == "VALIDATION_FAILED"
    violations = details["google.rpc.BadRequest"]["fieldViolations"]
    assert [v["field"] for v in violations] == ["lastEventId"]


ORDER_STATUS_APPROVED_OR_LATER = ["ORDER_STATUS_APPROVED", "ORDER_STATUS_ACTIVATED"]


async def _wait_for_order(page: Page, order_id: str, statuses: list[str]) -> None:
    await page.wait_for_function(
        "([id, s]) => window.received.some(e => e.order.id === id && s.includes(e.order.status))",
        arg=[order_id, statuses],
        timeout=20_000,
    )


async def test_browser_event_source_sees_staff_changes_and_what_it_missed(
    stack: Stack,
    gateway: httpx.AsyncClient,
    hanako: dict[str, str],
    sf: SalesforceClient,
    tmp_path: Path,
) -> None:
    assert CHROMIUM is not None, "chromium is not installed: apt-get install chromium"
    live, missed = await _new_order(gateway, hanako), await _new_order(gateway, hanako)
    token = hanako["authorization"].removeprefix("Bearer ")
    async with relay_to(stack.config.ports.gateway) as relay, async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.route(
                f"{relay.url}/live",
                lambda route: route.fulfill(body=PAGE, content_type="text/html"),
            )
            await page.goto(f"{relay.url}/live#{token}")
            await page.wait_for_function("window.opens === 1", timeout=20_000)

            await sf.update("Order", live, {"Status": "Approved"})
            await _wait_for_order(page, live, ORDER_STATUS_APPROVED_OR_LATER)

            # A watcher of our own (not through the relay) tells when the missed change landed.
            ticket = await _ticket(gateway, hanako)
            params = {"ticket": ticket}
            async with gateway.stream("GET", "/v1/orders:events", params=params, timeout=30) as own:
                relay.cut()
                await sf.update("Order", missed, {"Status": "Approved"})
                async with asyncio.timeout(20):
                    async for event in _events(own):
                        if event.get("data", {}).get("id") == missed:
                            break
            assert not await page.evaluate(
                "(id) => window.received.some(e => e.order.id === id)", missed
            )
            relay.restore()
            # What it missed comes as the order is now (fulfillment may have activated it since).
            await _wait_for_order(page, missed, ORDER_STATUS_APPROVED_OR_LATER)
            assert await page.evaluate("window.opens") >= 2
        finally:
            await browser.close()
    reconnects = [r for r in relay.sent if b"GET /v1/orders:events" in r]
    assert any(b"last-event-id:" in r.lower() for r in reconnects[1:])
