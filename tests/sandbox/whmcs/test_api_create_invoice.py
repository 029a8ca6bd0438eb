"""CreateInvoice (api-reference/createinvoice.md), the GetInvoices / GetInvoice fields of the
example responses, and AddInvoicePayment (api-reference/addinvoicepayment.md): each refusal
leaves nothing behind.

Seed: clients 1 (invoices 1001 paid, 1002 overdue, 1003 unpaid) and 2 (no invoices); gateways
stripe, banktransfer, mailin.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sandbox.whmcs import RunningWhmcs

from .conftest import Api, paid_now

GETINVOICES_ROW = (
    "id", "userid", "firstname", "lastname", "companyname", "invoicenum", "date", "duedate",
    "datepaid", "last_capture_attempt", "date_refunded", "date_cancelled", "subtotal", "credit",
    "tax", "tax2", "total", "taxrate", "taxrate2", "status", "paymentmethod", "paymethodid",
    "notes", "created_at", "updated_at", "currencycode", "currencyprefix", "currencysuffix",
)  # fmt: skip
GETINVOICE_BODY = (
    "result", "invoiceid", "invoicenum", "userid", "date", "duedate", "datepaid",
    "lastcaptureattempt", "subtotal", "credit", "tax", "tax2", "total", "balance", "taxrate",
    "taxrate2", "status", "paymentmethod", "notes", "ccgateway", "items", "transactions",
)  # fmt: skip
ZERO = "0000-00-00 00:00:00"


async def row(api: Api, userid: int, invoiceid: int) -> dict[str, Any]:
    body = await api.ok("GetInvoices", userid=userid, limitnum=100)
    return next(r for r in body["invoices"]["invoice"] if r["id"] == invoiceid)


def counts(whmcs: RunningWhmcs) -> tuple[int, int, int]:
    store = whmcs.store
    lines = sum(len(i.items) for i in store.invoices.values())
    payments = sum(len(i.transactions) for i in store.invoices.values())
    return len(store.invoices), lines, payments


# -- GetInvoices / GetInvoice fields ---------------------------------------------------------------
async def test_a_getinvoices_row_has_the_example_fields_in_order_with_their_types(api):
    listed = await row(api, 1, 1003)
    assert tuple(listed) == GETINVOICES_ROW
    assert listed["date_refunded"] == listed["date_cancelled"] == ZERO
    assert listed["paymethodid"] is None  # null in getinvoices.md's example
    assert isinstance(listed["id"], int) and isinstance(listed["userid"], int)
    strings = set(GETINVOICES_ROW) - {"id", "userid", "paymethodid"}
    assert all(isinstance(listed[name], str) for name in strings)


async def test_getinvoice_has_the_example_fields_in_order_and_no_others(api):
    body = await api.ok("GetInvoice", invoiceid=1003)
    assert tuple(body) == GETINVOICE_BODY  # no currency, created_at or the row's dates
    assert isinstance(body["invoiceid"], int) and isinstance(body["userid"], int)
    assert body["ccgateway"] is True  # stripe captures a stored card
    mailin = await api.ok("CreateInvoice", userid=2, paymentmethod="mailin")
    assert (await api.ok("GetInvoice", invoiceid=mailin["invoiceid"]))["ccgateway"] is False


async def test_cancelling_and_refunding_stamp_their_dates(api):
    await api.ok("UpdateInvoice", invoiceid=1003, status="Cancelled")
    cancelled = await row(api, 1, 1003)
    assert cancelled["date_cancelled"] == cancelled["updated_at"] != ZERO
    assert cancelled["date_refunded"] == ZERO
    await api.ok("UpdateInvoice", invoiceid=1001, status="Refunded")
    refunded = await row(api, 1, 1001)
    assert refunded["date_refunded"] != ZERO and refunded["datepaid"] == ZERO
    await api.ok("UpdateInvoice", invoiceid=1003, status="Unpaid")
    assert (await row(api, 1, 1003))["date_cancelled"] == ZERO  # cleared on leaving Cancelled


async def test_closing_a_client_stamps_its_cancelled_invoices(api):
    await api.ok("CloseClient", clientid=1)
    assert (await row(api, 1, 1003))["date_cancelled"] != ZERO
    assert (await row(api, 1, 1001))["date_cancelled"] == ZERO  # paid: stays paid


# -- CreateInvoice -------------------------------------------------------------------------------
async def test_the_documented_example_creates_the_documented_invoice(api):
    form = {
        "userid": "2", "status": "Unpaid", "sendinvoice": "1", "paymentmethod": "mailin",
        "taxrate": "10.00", "date": "2016-01-01", "duedate": "2016-01-08",
        "itemdescription1": "Sample Invoice Item", "itemamount1": "15.95", "itemtaxed1": "0",
        "itemdescription2": "Sample Second Invoice Item", "itemamount2": "1.00",
        "itemtaxed2": "1", "autoapplycredit": "0", "notes": "From the docs",
    }  # fmt: skip
    created = await api.ok("CreateInvoice", form)
    assert tuple(created) == ("result", "invoiceid", "status")
    assert isinstance(created["invoiceid"], str) and created["status"] == "Unpaid"
    detail = await api.ok("GetInvoice", invoiceid=created["invoiceid"])
    assert (detail["date"], detail["duedate"], detail["paymentmethod"], detail["notes"]) == (
        "2016-01-01", "2016-01-08", "mailin", "From the docs",
    )  # fmt: skip
    assert [(i["description"], i["amount"], i["taxed"]) for i in detail["items"]["item"]] == [
        ("Sample Invoice Item", "15.95", 0), ("Sample Second Invoice Item", "1.00", 1),
    ]  # fmt: skip
    # totals from the lines: 10 % of the one taxed line
    assert (detail["subtotal"], detail["tax"], detail["total"], detail["balance"]) == (
        "16.95", "0.10", "17.05", "17.05",
    )  # fmt: skip
    assert detail["taxrate"] == "10.000" and detail["taxrate2"] == "0.000"


async def test_defaults_unpaid_today_and_the_clients_gateway(api, whmcs):
    whmcs.store.clients[2].defaultgateway = "banktransfer"
    created = await api.ok("CreateInvoice", userid=2)
    assert created["status"] == "Unpaid"
    detail = await api.ok("GetInvoice", invoiceid=created["invoiceid"])
    today = date.today().isoformat()
    assert (detail["date"], detail["duedate"], detail["paymentmethod"]) == (
        today, today, "banktransfer",
    )  # fmt: skip
    assert detail["items"] == {"item": []} and detail["total"] == "0.00"


async def test_a_paid_or_cancelled_invoice_is_created_with_its_date(api):
    created = await api.ok("CreateInvoice", userid=2, status="Paid")
    listed = await row(api, 2, int(created["invoiceid"]))
    assert listed["status"] == "Paid" and listed["datepaid"] == listed["created_at"]
    assert listed["date_cancelled"] == ZERO
    cancelled = await api.ok("CreateInvoice", userid=2, status="Cancelled")
    listed = await row(api, 2, int(cancelled["invoiceid"]))
    assert listed["date_cancelled"] == listed["created_at"] and listed["datepaid"] == ZERO


async def test_a_draft_by_flag_or_status(api):
    assert (await api.ok("CreateInvoice", userid=2, draft=1))["status"] == "Draft"
    assert (await api.ok("CreateInvoice", userid=2, status="Draft"))["status"] == "Draft"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"userid": "999"}, "Client ID Not Found"),
        ({}, "Client ID Not Found"),
        ({"userid": "2x"}, "Client ID Not Found"),
        ({"userid": "2", "draft": "1", "sendinvoice": "1"},
         "Cannot create and send a draft invoice in a single API request. Please create and send"
         " separately."),
        ({"userid": "2", "status": "Draft", "sendinvoice": "true"},
         "Cannot create and send a draft invoice in a single API request. Please create and send"
         " separately."),
        ({"userid": "2", "status": "Settled"}, "Invalid status Settled"),
        ({"userid": "2", "status": "unpaid"}, "Invalid status unpaid"),
        ({"userid": "2", "status": ""}, "Invalid status "),
        ({"userid": "2", "draft": "1", "status": "Unpaid"},
         "draft creates a Draft invoice: status Unpaid contradicts it"),
        ({"userid": "2", "draft": "yes"}, "Invalid value for draft: yes"),
        ({"userid": "2", "sendinvoice": "maybe"}, "Invalid value for sendinvoice: maybe"),
        ({"userid": "2", "autoapplycredit": "2"}, "Invalid value for autoapplycredit: 2"),
        ({"userid": "2", "paymentmethod": "paypal"},
         "Invalid Payment Method. Valid options include stripe,banktransfer,mailin"),
        ({"userid": "2", "taxrate": "ten"}, "Invalid value for taxrate: ten"),
        ({"userid": "2", "taxrate2": "-5"}, "Invalid value for taxrate2: -5"),
        ({"userid": "2", "taxrate": "NaN"}, "Invalid value for taxrate: NaN"),
        ({"userid": "2", "date": "2030-02-30"},
         "Invalid date for date: 2030-02-30. Format: YYYY-mm-dd"),
        ({"userid": "2", "duedate": "31/01/2030"},
         "Invalid date for duedate: 31/01/2030. Format: YYYY-mm-dd"),
        ({"userid": "2", "itemdescription1": "A", "itemamount1": "12,50"},
         "Invalid value for itemamount1: 12,50"),
        ({"userid": "2", "itemdescription1": "A", "itemamount1": ""},
         "Invalid value for itemamount1: "),
        ({"userid": "2", "itemdescription1": "A", "itemamount1": "Infinity"},
         "Invalid value for itemamount1: Infinity"),
        ({"userid": "2", "itemdescription1": "A", "itemamount1": "1", "itemtaxed1": "yes"},
         "Invalid value for itemtaxed1: yes"),
        ({"userid": "2", "itemdescription1": "A"},
         "Missing Variables: itemdescription1 and itemamount1 are required for each invoice"
         " line"),
        ({"userid": "2", "itemamount2": "5"},
         "Missing Variables: itemdescription2 and itemamount2 are required for each invoice"
         " line"),
        ({"userid": "2", "itemdescription1": " ", "itemamount1": "5"},
         "Invalid value for itemdescription1: an empty description"),
        ({"userid": "2", "itemdescriptionx": "A", "itemamountx": "5"},
         "itemamountx is not a CreateInvoice parameter: lines are sent as itemdescription<n>,"
         " itemamount<n>, itemtaxed<n> with <n> an integer"),
        ({"userid": "2", "itemdescription[1]": "A", "itemamount[1]": "5"},
         "itemamount[...] is not a CreateInvoice parameter: lines are sent as"
         " itemdescription<n>, itemamount<n>, itemtaxed<n>"),
    ],
)  # fmt: skip
async def test_each_refusal_creates_nothing(api, whmcs, form, message):
    before = counts(whmcs)
    last_invoice = max(whmcs.store.invoices)
    last_line = max(i.id for inv in whmcs.store.invoices.values() for i in inv.items)
    # a valid line besides the refused parameter: nothing of it may be kept either
    full = {"itemdescription0": "Valid line", "itemamount0": "100", **form}
    assert await api.error("CreateInvoice", full) == message
    assert counts(whmcs) == before
    created = await api.ok("CreateInvoice", userid=2, itemdescription1="A", itemamount1="1")
    detail = await api.ok("GetInvoice", invoiceid=created["invoiceid"])
    # no id was used up by the refused call
    assert detail["invoiceid"] == last_invoice + 1
    assert detail["items"]["item"][0]["id"] == last_line + 1


# -- AddInvoicePayment -----------------------------------------------------------------------------
async def test_a_payment_records_its_transaction_and_pays_at_its_date(api):
    await api.ok(
        "AddInvoicePayment", invoiceid=1003, transid="ch_1", gateway="stripe", amount="7000",
        fees="210.5", date="2030-01-02 03:04:05", noemail="1",
    )  # fmt: skip
    part = await api.ok("GetInvoice", invoiceid=1003)
    assert part["status"] == "Unpaid" and part["balance"] == "150.00" and part["datepaid"] == ZERO
    tx = part["transactions"]["transaction"][0]
    assert (tx["transid"], tx["gateway"], tx["date"], tx["amountin"], tx["fees"]) == (
        "ch_1", "stripe", "2030-01-02 03:04:05", "7000.00", "210.50",
    )  # fmt: skip
    await api.ok(
        "AddInvoicePayment", invoiceid=1003, transid="ch_2", gateway="stripe",
        date="2030-01-03 10:00:00",
    )  # fmt: skip
    paid = await api.ok("GetInvoice", invoiceid=1003)
    assert paid["status"] == "Paid" and paid["balance"] == "0.00"
    assert paid["datepaid"] == "2030-01-03 10:00:00"  # the payment's date, not the call's
    assert paid["transactions"]["transaction"][1]["amountin"] == "150.00"  # the balance


@pytest.mark.parametrize(
    ("invoiceid", "form", "message"),
    [
        (9, {}, "Invoice ID Not Found"),
        (1003, {"transid": ""}, "Missing Variables: transid is required"),
        (1003, {"gateway": ""}, "Missing Variables: gateway is required"),
        (1003, {"date": ""}, "Missing Variables: date is required"),
        (1003, {"gateway": "paypal"},
         "Invalid Payment Method. Valid options include stripe,banktransfer,mailin"),
        (1003, {"date": "2030-01-02"},
         "Invalid date for date: 2030-01-02. Format: YYYY-mm-dd HH:ii:ss"),
        (1003, {"date": "2030-01-02 25:00:00"},
         "Invalid date for date: 2030-01-02 25:00:00. Format: YYYY-mm-dd HH:ii:ss"),
        (1003, {"amount": "abc"}, "Invalid value for amount: abc"),
        (1003, {"amount": "0"}, "Invalid value for amount: 0"),
        (1003, {"amount": "-5"}, "Invalid value for amount: -5"),
        (1003, {"amount": "7150.01"}, "Amount 7150.01 exceeds the invoice balance 7150.00"),
        (1003, {"fees": "x"}, "Invalid value for fees: x"),
        (1003, {"amount": "10", "fees": "11"}, "Invalid value for fees: 11"),
        (1003, {"noemail": "perhaps"}, "Invalid value for noemail: perhaps"),
        (1003, {"transid": "ch_seed_1001"}, "Transaction ID ch_seed_1001 is already recorded"),
        (1001, {}, "Invoice 1001 has no balance to pay"),
    ],
)  # fmt: skip
async def test_each_payment_refusal_records_nothing(api, whmcs, invoiceid, form, message):
    before, status = counts(whmcs), whmcs.store.invoices[1003].status
    full = {"transid": "ch_new", "gateway": "stripe", "date": paid_now(), **form}
    assert await api.error("AddInvoicePayment", full, invoiceid=invoiceid) == message
    assert counts(whmcs) == before and whmcs.store.invoices[1003].status == status


async def test_no_payment_on_a_cancelled_or_draft_invoice(api):
    draft = await api.ok("CreateInvoice", userid=2, draft=1)
    form = {"transid": "ch_d", "gateway": "mailin", "date": paid_now()}
    message = await api.error("AddInvoicePayment", form, invoiceid=draft["invoiceid"])
    assert message == "It is not possible to add a payment to an invoice that is Draft"
    await api.ok("UpdateInvoice", invoiceid=1003, status="Cancelled")
    message = await api.error("AddInvoicePayment", form, invoiceid=1003)
    assert message == "It is not possible to add a payment to an invoice that is Cancelled"
