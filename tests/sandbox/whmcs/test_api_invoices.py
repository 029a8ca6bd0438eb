"""Invoice actions: list/detail shapes, filters, staff-side changes."""

from __future__ import annotations

from datetime import date

from .conftest import paid_now


async def test_get_invoices_loose_types(api):
    body = await api.ok("GetInvoices", userid=1)
    assert body["totalresults"] == 3 and body["numreturned"] == 3 and body["startnumber"] == 0
    rows = body["invoices"]["invoice"]
    assert [r["id"] for r in rows] == [
        1003,
        1002,
        1001,
    ]  # ints as in getinvoices.md; newest due first
    paid = rows[2]
    assert paid["status"] == "Paid" and paid["total"] == "7150.00" and paid["tax"] == "650.00"
    assert paid["datepaid"] != "0000-00-00 00:00:00"
    assert rows[0]["datepaid"] == "0000-00-00 00:00:00"
    assert rows[0]["currencycode"] == "JPY" and rows[0]["userid"] == 1


async def test_get_invoices_paging_and_order(api):
    body = await api.ok(
        "GetInvoices", userid=1, limitstart=1, limitnum=1, orderby="id", order="asc"
    )
    assert body["totalresults"] == 3 and body["startnumber"] == 1 and body["numreturned"] == 1
    assert body["invoices"]["invoice"][0]["id"] == 1002


async def test_overdue_is_derived_from_unpaid_past_due(api):
    overdue = await api.ok("GetInvoices", userid=1, status="Overdue")
    assert [r["id"] for r in overdue["invoices"]["invoice"]] == [1002]
    assert overdue["invoices"]["invoice"][0]["status"] == "Unpaid"  # stored status stays Unpaid
    assert date.fromisoformat(overdue["invoices"]["invoice"][0]["duedate"]) < date.today()
    unpaid = await api.ok("GetInvoices", userid=1, status="Unpaid")
    assert {r["id"] for r in unpaid["invoices"]["invoice"]} == {1002, 1003}


async def test_get_invoices_empty_list(api):
    body = await api.ok("GetInvoices", userid=2)
    assert body["totalresults"] == 0 and body["numreturned"] == 0
    assert body["invoices"] == {"invoice": []}


async def test_get_invoice_detail(api):
    body = await api.ok("GetInvoice", invoiceid=1003)
    assert body["invoiceid"] == 1003 and body["balance"] == "7150.00"  # getinvoice.md: an int
    item = body["items"]["item"][0]
    assert item["type"] == "Hosting" and item["relid"] == 1 and item["amount"] == "6500.00"
    assert item["taxed"] == 1 and body["taxrate"] == "10.000"
    assert body["transactions"] == ""  # no payments: an empty string, not a list
    paid = await api.ok("GetInvoice", invoiceid=1001)
    assert paid["balance"] == "0.00"
    assert paid["transactions"]["transaction"][0]["amountin"] == "7150.00"
    assert await api.error("GetInvoice", invoiceid=9) == "Invoice ID Not Found"


async def test_create_invoice_with_numbered_items(api):
    form = {
        "userid": "2",
        "duedate": "2030-01-31",
        "itemdescription1": "Router rental",
        "itemamount1": "500",
        "itemtaxed1": "1",
        "itemdescription2": "Discount",
        "itemamount2": "-100.5",
        "taxrate": "10",
    }
    body = await api.ok("CreateInvoice", form)
    assert body["status"] == "Unpaid"
    detail = await api.ok("GetInvoice", invoiceid=body["invoiceid"])
    assert (
        detail["subtotal"] == "399.50" and detail["tax"] == "50.00" and detail["total"] == "449.50"
    )
    assert detail["duedate"] == "2030-01-31"
    assert await api.error("CreateInvoice", userid=999) == "Client ID Not Found"
    draft = await api.ok("CreateInvoice", userid=2, draft=1)
    assert draft["status"] == "Draft"


async def test_update_invoice_status_and_due_date(api):
    await api.ok("UpdateInvoice", invoiceid=1003, duedate="2031-05-01", status="Cancelled")
    detail = await api.ok("GetInvoice", invoiceid=1003)
    assert detail["status"] == "Cancelled" and detail["duedate"] == "2031-05-01"
    assert await api.error("UpdateInvoice", invoiceid=5) == "Invoice ID Not Found"


async def test_add_invoice_payment_marks_paid_and_renews_service(api, whmcs):
    before = whmcs.store.services[1].nextduedate
    partial = await api.pay(1002, "t1", amount="1000")
    assert partial == {"result": "success"}
    assert (await api.ok("GetInvoice", invoiceid=1002))["status"] == "Unpaid"
    await api.pay(1002, "t2")
    detail = await api.ok("GetInvoice", invoiceid=1002)
    assert detail["status"] == "Paid" and detail["balance"] == "0.00"
    assert detail["datepaid"].startswith(date.today().isoformat())
    assert len(detail["transactions"]["transaction"]) == 2
    assert whmcs.store.services[1].nextduedate > before


async def test_payment_on_cancelled_invoice_is_refused(api):
    await api.ok("UpdateInvoice", invoiceid=1003, status="Cancelled")
    message = await api.error(
        "AddInvoicePayment", invoiceid=1003, transid="x", gateway="mailin", date=paid_now()
    )
    assert message == "It is not possible to add a payment to an invoice that is Cancelled"


async def test_update_invoice_refuses_an_unknown_status(api):
    message = await api.error("UpdateInvoice", invoiceid=1003, status="Settled")
    assert message == "Invalid status Settled"  # updateinvoice.md's "Invalid status $status"
