"""WHMCS sandbox tests: an in-process sandbox on port 0 and a small httpx helper around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from sandbox.whmcs import RunningWhmcs, start_whmcs

CREDS = {"identifier": "portal-dev", "secret": "portal-dev-secret", "responsetype": "json"}
Form = Mapping[str, str] | Sequence[tuple[str, str]]


def paid_now() -> str:
    """AddInvoicePayment's required ``date``, as addinvoicepayment.md formats it."""
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, action: str, form: Form = (), *, creds: bool = True, **params: Any):
        pairs = list(form.items()) if isinstance(form, Mapping) else list(form)
        pairs += [(k, str(v)) for k, v in params.items()]
        base = list(CREDS.items()) if creds else [("responsetype", "json")]
        body = urlencode([*base, ("action", action), *pairs]).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return await self.client.post("/includes/api.php", content=body, headers=headers)

    async def ok(self, action: str, form: Form = (), **params: Any) -> dict[str, Any]:
        response = await self.call(action, form, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["result"] == "success", body
        return body

    async def error(self, action: str, form: Form = (), **params: Any) -> str:
        response = await self.call(action, form, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["result"] == "error", body
        return body["message"]

    async def pay(
        self, invoiceid: int, transid: str, amount: str | None = None, gateway: str = "mailin"
    ) -> dict[str, Any]:
        """An accepted AddInvoicePayment dated now: ``amount`` or, without it, the balance."""
        paid = {"amount": amount} if amount is not None else {}
        return await self.ok("AddInvoicePayment", paid, invoiceid=invoiceid, transid=transid,
                             gateway=gateway, date=paid_now())  # fmt: skip


@pytest.fixture
async def whmcs() -> AsyncIterator[RunningWhmcs]:
    running = await start_whmcs(port=0, webhook_url="")
    yield running
    await running.stop()


@pytest.fixture
async def http(whmcs: RunningWhmcs) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=whmcs.url, timeout=10) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient) -> Api:
    return Api(http)
