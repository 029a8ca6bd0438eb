"""The OpenAPI document and its docs page (Swagger UI), served by the gateway itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.helpers.accounts import HANAKO, auth_headers
from tools.docs_assets import ASSETS, SERVED
from tools.openapi import OPENAPI_JSON
from tools.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


async def test_openapi_json_is_the_committed_file(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == OPENAPI_JSON.read_bytes()


async def test_docs_page_and_its_assets_are_public_and_self_hosted(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script src="/docs/swagger-ui-bundle.js">' in response.text
    assert "<script>" not in response.text and "http" not in response.text.split("-->")[-1]
    for name, content_type in SERVED.items():
        asset = await gateway.get(f"/docs/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"] == content_type
        assert asset.content == (ASSETS / name).read_bytes()


async def _expand(page: Page, tag: str, operation: str) -> None:
    block = page.locator(f"#operations-{tag}-{operation}")
    await block.locator(".opblock-summary").first.click()
    await block.locator(".try-out__btn").click()


async def test_docs_render_schemas_and_answer_try_it_calls_in_a_browser(
    stack: Stack, gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    # `make test` installs Debian's chromium when it is missing (tools/system_packages.sh).
    assert CHROMIUM is not None, "chromium is not installed: apt-get install chromium"
    token = (await auth_headers(gateway, "/v1/auth/link", HANAKO))["authorization"].split()[1]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            # Swagger UI renders the schema list virtualised: a tall viewport shows every schema.
            await page.set_viewport_size({"width": 1280, "height": 24000})
            elsewhere: list[str] = []
            page.on(
                "request",
                lambda r: (
                    None if r.url.startswith(stack.config.gateway_url) else elsewhere.append(r.url)
                ),
            )
            await page.goto(f"{stack.config.gateway_url}/docs")
            await expect(page.locator("#operations-BillingService-ListInvoices")).to_be_visible()
            # A schema with its required fields and an enum's values.
            models = page.locator("section.models")
            await expect(models).to_contain_text("portal.billing.v1.Invoice")
            status_enum = models.get_by_role("article").filter(
                has=page.get_by_role("button", name="portal.billing.v1.InvoiceStatus", exact=True)
            )
            await status_enum.get_by_role("button", name="Expand all").click()
            await expect(status_enum).to_contain_text("INVOICE_STATUS_PAID")
            invoice = models.get_by_role("article").filter(
                has=page.get_by_role("button", name="portal.billing.v1.Invoice", exact=True)
            )
            await invoice.get_by_role("button", name="Expand all").click()
            required = invoice.locator(".json-schema-2020-12-property--required")
            await expect(required.filter(has_text="currencyCode")).to_have_count(1)
            await expect(required.filter(has_text="paidAt")).to_have_count(0)

            # Try it out with the bearer token from the Authorize dialog.
            await page.locator(".auth-wrapper .authorize").click()
            await page.locator(".auth-container input").fill(token)
            await page.locator(".auth-btn-wrapper .authorize").click()
            await page.locator(".auth-btn-wrapper .btn-done").click()
            await _expand(page, "IdentityService", "GetMe")
            get_me = page.locator("#operations-IdentityService-GetMe")
            await get_me.locator(".execute").click()
            status = get_me.locator(".live-responses-table td.response-col_status:not(.col_header)")
            await expect(status).to_have_text("200")
            await expect(get_me.locator(".live-responses-table")).to_contain_text(HANAKO["email"])
            assert elsewhere == [], elsewhere
        finally:
            await browser.close()
