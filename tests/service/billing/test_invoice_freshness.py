"""What bounds a cached single invoice (real Redis, the WHMCS sandbox): a change WHMCS reports
with no hook reaches it by its TTL from the last ``GetInvoice``, and a fresh page of the invoice
list does not restart that TTL. A page carries no lines (``GetInvoices``), and an ``UpdateInvoice``
of an invoice's lines that keeps its totals is invisible on the page (``docs/cache.md``,
"Invoices")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from portal.billing.v1 import billing_pb2 as pb
from redis.asyncio import Redis

from services.billing.invoices import get_invoice, list_invoices
from services.billing.server import Deps
from services.common.cache import UserScope, Variant, policy
from services.common.cache.keys import keys_for, schema_hash
from tests.service.billing.helpers import Caller, WhmcsControl
from tools import infra


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    _, url = infra.urls_from_env()
    client = Redis.from_url(url)
    yield client
    await client.aclose()


def detail_key(deps: Deps, user_id: str, number: int) -> str:
    entry = policy.INVOICE_DETAIL
    schema = schema_hash(pb.Invoice, entry.version)
    variant = Variant.of(number=number)
    cache = deps.billing.cache
    return keys_for(
        cache.namespace, entry, UserScope(user_id), schema, variant, cluster=False
    ).value


async def test_a_fresh_page_leaves_the_ttl_of_a_cached_invoice_alone(
    deps: Deps, hanako: Caller, whmcs: WhmcsControl, raw: Redis
) -> None:
    billing, user = deps.billing, hanako.user_id
    before = await get_invoice(billing, user, "1003")
    key = detail_key(deps, user, 1003)
    ttl_after_fill = await raw.pttl(key)
    assert 0 < ttl_after_fill <= policy.INVOICE_DETAIL.ttl * 1000

    # An edit of a line that keeps the totals, through the API: the sandbox runs no hook for it.
    [line] = (await whmcs.api("GetInvoice", invoiceid=1003))["items"]["item"]
    await whmcs.api(
        "UpdateInvoice",
        invoiceid=1003,
        **{
            f"itemdescription[{line['id']}]": "Internet Gold Home 1G (router swapped)",
            f"itemamount[{line['id']}]": line["amount"],
            f"itemtaxed[{line['id']}]": line["taxed"],
        },
    )
    await asyncio.sleep(0.3)
    calls = await whmcs.calls()
    page = await list_invoices(billing, user, pb.INVOICE_STATUS_UNSPECIFIED, 10, "")
    assert (await whmcs.calls() - calls)["GetInvoices"] == 1  # a fresh page
    row = next(i for i in page.invoices if i.id == "1003")
    for name in ("status", "issued_on", "due_on", "subtotal", "tax", "total"):
        assert getattr(row, name) == getattr(before, name)  # the page shows no change
    assert (await get_invoice(billing, user, "1003")).items == before.items  # cached
    assert 0 < await raw.pttl(key) < ttl_after_fill - 200  # not restarted by the page

    await raw.pexpire(key, 1)  # the TTL from the fill runs out
    await asyncio.sleep(0.01)
    after = await get_invoice(billing, user, "1003")
    assert [i.description for i in after.items] == ["Internet Gold Home 1G (router swapped)"]
    assert [i.description for i in before.items] != ["Internet Gold Home 1G (router swapped)"]
    assert (after.subtotal, after.tax, after.total) == (before.subtotal, before.tax, before.total)
