"""OVERDUE is derived from the cached due date when an invoice is served, not when it is cached:
a cached unpaid invoice turns OVERDUE the day after its due date without a WHMCS call (real
Redis, the WHMCS sandbox)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from portal.billing.v1 import billing_pb2 as pb

from services.billing.invoices import get_invoice, list_invoices
from services.billing.server import Deps
from tests.service.billing.helpers import Caller, WhmcsControl


async def test_a_cached_unpaid_invoice_turns_overdue_after_its_due_date(
    deps: Deps, hanako: Caller, whmcs: WhmcsControl
) -> None:
    day = [date.today()]
    billing = dataclasses.replace(deps.billing, today=lambda: day[0])
    user = hanako.user_id
    page = await list_invoices(billing, user, pb.INVOICE_STATUS_UNSPECIFIED, 10, "")
    unpaid = next(i for i in page.invoices if i.id == "1003")  # due in 9 days (seed)
    assert unpaid.status == pb.INVOICE_STATUS_UNPAID
    assert (await get_invoice(billing, user, "1003")).status == pb.INVOICE_STATUS_UNPAID
    calls = await whmcs.calls()

    day[0] = date.fromisoformat(unpaid.due_on) + timedelta(days=1)
    page = await list_invoices(billing, user, pb.INVOICE_STATUS_UNSPECIFIED, 10, "")
    assert next(i for i in page.invoices if i.id == "1003").status == pb.INVOICE_STATUS_OVERDUE
    assert (await get_invoice(billing, user, "1003")).status == pb.INVOICE_STATUS_OVERDUE
    day[0] = date.fromisoformat(unpaid.due_on)  # the due date itself is not overdue yet
    assert (await get_invoice(billing, user, "1003")).status == pb.INVOICE_STATUS_UNPAID
    assert await whmcs.calls() == calls  # all from the cache


async def test_overdue_filter_pages_are_cached_per_day(
    deps: Deps, hanako: Caller, whmcs: WhmcsControl
) -> None:
    """The Overdue filter's members change with the day: a page cached one day is not the next
    day's page."""
    day = [date.today()]
    billing = dataclasses.replace(deps.billing, today=lambda: day[0])
    overdue = pb.INVOICE_STATUS_OVERDUE
    first = await list_invoices(billing, hanako.user_id, overdue, 10, "")
    assert [i.id for i in first.invoices] == ["1002"]
    calls = (await whmcs.calls())["GetInvoices"]
    await list_invoices(billing, hanako.user_id, overdue, 10, "")
    assert (await whmcs.calls())["GetInvoices"] == calls  # cached the same day
    day[0] += timedelta(days=1)
    await list_invoices(billing, hanako.user_id, overdue, 10, "")
    assert (await whmcs.calls())["GetInvoices"] == calls + 1  # read again the next day
