"""CreateSsoToken: a one-time, short-lived link that opens a session for that client only."""

from __future__ import annotations

import asyncio

import httpx

from sandbox.whmcs import start_whmcs

from .conftest import Api


async def _token(api: Api, client_id: int = 1, path: str = "viewinvoice.php?id=1003") -> dict:
    return await api.ok(
        "CreateSsoToken",
        client_id=client_id,
        destination="sso:custom_redirect",
        sso_redirect_path=path,
    )


async def test_sso_link_opens_the_invoice_once(api, whmcs):
    body = await _token(api, path="/viewinvoice.php?id=1003")
    assert body["redirect_url"].startswith(f"{whmcs.url}/oauth/singlesignon.php?access_token=")
    assert body["access_token"] in body["redirect_url"]
    async with httpx.AsyncClient() as browser:
        first = await browser.get(body["redirect_url"])
        assert first.status_code == 302
        assert first.headers["location"] == f"{whmcs.url}/viewinvoice.php?id=1003"
        page = await browser.get(first.headers["location"])
        assert page.status_code == 200
        assert "Invoice #1003" in page.text and "Unpaid" in page.text
        assert "Pay Now" in page.text
        other = await browser.get(f"{whmcs.url}/viewinvoice.php?id=1001")
        assert other.status_code == 200  # same client, same session
        reused = await browser.get(body["redirect_url"])
        assert reused.status_code == 403
        assert "text/html" in reused.headers["content-type"]


async def test_session_is_limited_to_its_client(api, whmcs):
    body = await _token(api, client_id=2)
    async with httpx.AsyncClient() as browser:
        first = await browser.get(body["redirect_url"])
        assert first.status_code == 302
        page = await browser.get(first.headers["location"])
        assert page.status_code == 403 and "Invalid Access Attempt" in page.text


async def test_invoice_page_needs_a_session(whmcs):
    async with httpx.AsyncClient() as browser:
        page = await browser.get(f"{whmcs.url}/viewinvoice.php?id=1003")
        assert page.status_code == 403
        forged = await browser.get(f"{whmcs.url}/oauth/singlesignon.php?access_token=forged")
        assert forged.status_code == 403


async def test_expired_token_is_refused():
    running = await start_whmcs(port=0, webhook_url="", sso_ttl=0.05)
    try:
        async with httpx.AsyncClient(base_url=running.url) as client:
            body = await _token(Api(client))
            await asyncio.sleep(0.1)
            expired = await client.get(body["redirect_url"])
            assert expired.status_code == 401 and "expired" in expired.text
            assert "set-cookie" not in expired.headers
    finally:
        await running.stop()


async def test_named_destinations_and_errors(api, whmcs):
    body = await api.ok("CreateSsoToken", client_id=1, destination="clientarea:invoices")
    async with httpx.AsyncClient() as browser:
        first = await browser.get(body["redirect_url"])
        assert first.headers["location"] == f"{whmcs.url}/clientarea.php?action=invoices"
        page = await browser.get(first.headers["location"])
        assert page.status_code == 200 and "#1002" in page.text
    assert await api.error("CreateSsoToken", client_id=99) == "Invalid client_id"
    missing = await api.error("CreateSsoToken", destination="clientarea:invoices")
    assert missing == "A valid client_id or user_id is required"
    bad = await api.error("CreateSsoToken", client_id=1, destination="clientarea:nowhere")
    assert bad == "Invalid destination"
    offsite = await api.error(
        "CreateSsoToken",
        client_id=1,
        destination="sso:custom_redirect",
        sso_redirect_path="https://evil.example/",
    )
    assert offsite == "Invalid destination"


async def test_public_url_setting_is_used_for_links():
    running = await start_whmcs(port=0, webhook_url="", public_url="https://billing.example.jp/")
    try:
        async with httpx.AsyncClient(base_url=running.url) as client:
            body = await _token(Api(client))
        assert body["redirect_url"].startswith("https://billing.example.jp/oauth/singlesignon.php?")
    finally:
        await running.stop()
