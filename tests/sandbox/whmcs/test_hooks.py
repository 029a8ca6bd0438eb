"""Hook webhooks: signed JSON posted to the portal, retried with backoff, same id on retries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from sandbox.whmcs import RunningWhmcs, start_whmcs

from .conftest import Api

SECRET = "test-hook-secret"


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    received: list[tuple[float, bytes, dict[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((time.monotonic(), body, dict(request.headers)))
        if len(self.received) <= self.fail_first:
            return web.Response(status=500, text="boom")
        return web.json_response({"ok": True})

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body, _ in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/v1/webhooks/whmcs", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/v1/webhooks/whmcs"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def hooked(receiver: Receiver) -> AsyncIterator[RunningWhmcs]:
    running = await start_whmcs(
        port=0, webhook_url=receiver.url, webhook_secret=SECRET, webhook_base_delay=0.05
    )
    yield running
    await running.stop()


async def _api(running: RunningWhmcs) -> tuple[httpx.AsyncClient, Api]:
    client = httpx.AsyncClient(base_url=running.url)
    return client, Api(client)


def _valid(body: bytes, headers: dict[str, str]) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Portal-Signature"], expected)


async def test_invoice_paid_hook_is_signed(hooked, receiver):
    client, api = await _api(hooked)
    async with client:
        await api.pay(1003, "tx-9", gateway="stripe")
    await asyncio.wait_for(hooked.hooks.wait_idle(), 5)
    events = receiver.events()
    assert sorted(e["event"] for e in events) == ["AddInvoicePayment", "InvoicePaid"]
    paid = next(e for e in events if e["event"] == "InvoicePaid")
    assert paid["clientId"] == "1" and paid["data"] == {"invoiceid": "1003"}
    assert paid["occurredAt"].endswith("Z") and paid["id"]
    for _, body, headers in receiver.received:
        assert headers["Content-Type"] == "application/json"
        assert _valid(body, headers)
        assert not _valid(body + b" ", headers)


async def test_retry_with_backoff_keeps_the_event_id(hooked, receiver):
    receiver.fail_first = 2
    client, api = await _api(hooked)
    async with client:
        await api.ok("UpdateClient", clientid=1, city="Minato-ku")
        await asyncio.wait_for(hooked.hooks.wait_idle(), 5)
        log = (await client.get("/__sandbox/webhooks")).json()["deliveries"]
    assert len(receiver.received) == 3
    ids = {e["id"] for e in receiver.events()}
    assert len(ids) == 1
    times = [t for t, _, _ in receiver.received]
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1  # doubling backoff
    event = receiver.events()[0]
    assert event["event"] == "ClientEdit" and event["data"]["city"] == "Minato-ku"
    assert event["data"]["olddata"]["city"] == "Shibuya-ku"
    assert "password" not in json.dumps(event).lower()
    assert log == [
        {
            **log[0],
            "id": next(iter(ids)),
            "attempts": 3,
            "status": "delivered",
            "responses": [500, 500, 200],
        }
    ]


async def test_gives_up_after_max_attempts(receiver):
    receiver.fail_first = 100
    running = await start_whmcs(
        port=0, webhook_url=receiver.url, webhook_base_delay=0.01, webhook_max_attempts=3
    )
    try:
        client, api = await _api(running)
        async with client:
            await api.ok("UpdateInvoice", invoiceid=1003, status="Cancelled")
        await asyncio.wait_for(running.hooks.wait_idle(), 5)
        [delivery] = running.hooks.deliveries
        assert delivery.event == "InvoiceCancelled"
        assert delivery.status == "failed" and delivery.attempts == 3
        assert len(receiver.received) == 3
    finally:
        await running.stop()


async def test_order_lifecycle_events(hooked, receiver):
    client, api = await _api(hooked)
    async with client:
        order = await api.ok(
            "AddOrder", [("clientid", "2"), ("paymentmethod", "mailin"), ("pid[0]", "301")]
        )
        await api.ok("AcceptOrder", orderid=order["orderid"], autosetup="1")
    await asyncio.wait_for(hooked.hooks.wait_idle(), 5)
    events = {e["event"]: e for e in receiver.events()}
    assert set(events) == {"InvoiceCreated", "AfterModuleCreate", "AcceptOrder"}
    assert events["InvoiceCreated"]["data"]["invoiceid"] == order["invoiceid"]
    assert events["AcceptOrder"]["data"] == {"orderid": order["orderid"]}
    assert events["AfterModuleCreate"]["data"]["params"]["serviceid"] == order["serviceids"]


async def test_disabled_hooks_send_nothing(whmcs, api):
    await api.ok("UpdateClient", clientid=1, city="Minato-ku")
    assert whmcs.hooks.deliveries == []


async def test_line_item_edit_keeping_the_totals_is_invisible_to_get_invoices(hooked, receiver):
    """An ``UpdateInvoice`` that changes an invoice's lines but not its totals (a line's text, a
    new line of 0) runs no hook and leaves the invoice's ``GetInvoices`` row as it was, its
    ``updated_at`` included, while ``GetInvoice`` shows the lines: a fresh page cannot confirm a
    cached single invoice (``docs/cache.md``, "Invoices")."""
    client, api = await _api(hooked)
    async with client:
        before = await api.ok("GetInvoices", userid=1, orderby="date", order="desc")
        detail = await api.ok("GetInvoice", invoiceid=1003)
        [line] = detail["items"]["item"]
        edit = {
            f"itemdescription[{line['id']}]": "Internet Gold Home 1G (router swapped)",
            f"itemamount[{line['id']}]": line["amount"],
            f"itemtaxed[{line['id']}]": str(line["taxed"]),
            "newitemdescription[0]": "Courtesy: router swap",
            "newitemamount[0]": "0",
            "newitemtaxed[0]": "0",
        }
        await api.ok("UpdateInvoice", edit, invoiceid=1003)
        after = await api.ok("GetInvoices", userid=1, orderby="date", order="desc")
        changed = await api.ok("GetInvoice", invoiceid=1003)
    await asyncio.wait_for(hooked.hooks.wait_idle(), 5)
    assert receiver.events() == []
    assert after["invoices"] == before["invoices"]
    assert any(row["id"] == 1003 for row in after["invoices"]["invoice"])
    lines = [(i["id"], i["description"]) for i in changed["items"]["item"]]
    assert lines[0] == (line["id"], "Internet Gold Home 1G (router swapped)")
    assert [text for _, text in lines[1:]] == ["Courtesy: router swap"]
    for name in ("subtotal", "tax", "total", "balance"):
        assert changed[name] == detail[name]


async def test_update_invoice_runs_no_hook_but_for_status_and_publishing(hooked, receiver):
    """Lines that change the totals, tax rates, credit, dates, notes and the gateway: no hook
    (the stricter reading of hooks-reference/invoices-and-quotes.md, docs/contracts/whmcs.md);
    a status change runs its status hook; publishing a draft runs ``InvoiceCreated``."""
    client, api = await _api(hooked)
    async with client:
        draft = await api.ok("CreateInvoice", userid=2, draft=1)
        await api.ok(
            "UpdateInvoice",
            {
                "itemdescription[3]": "Gold 1G", "itemamount[3]": "6000", "itemtaxed[3]": "1",
                "newitemdescription[0]": "Router", "newitemamount[0]": "500",
                "newitemtaxed[0]": "1",
            },
            invoiceid=1003, taxrate="8", taxrate2="1", credit="100", date="2031-04-01",
            duedate="2031-05-01", datepaid="2031-04-02", notes="n", paymentmethod="banktransfer",
        )  # fmt: skip
        assert (await api.ok("GetInvoice", invoiceid=1003))["total"] == "6985.00"
        await asyncio.sleep(0.2)
        assert receiver.events() == []
        await api.ok("UpdateInvoice", invoiceid=draft["invoiceid"], publish="1")
        await api.ok("UpdateInvoice", invoiceid=1003, status="Cancelled")
    await asyncio.wait_for(hooked.hooks.wait_idle(), 5)
    events = sorted(((e["event"], e["data"]) for e in receiver.events()), key=lambda e: e[0])
    assert events == [
        ("InvoiceCancelled", {"invoiceid": "1003"}),
        ("InvoiceCreated", {"source": "api", "user": "system", "invoiceid": draft["invoiceid"],
                            "status": "Unpaid"}),
    ]  # fmt: skip
