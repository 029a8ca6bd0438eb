"""UpdateInvoice (api-reference/updateinvoice.md): lines by id, new lines, deleted lines, the
invoice's own fields, totals computed from lines, tax rates and credit, and each refusal.

Seeded invoice 1003: one taxed line (id 3) of 6500.00 at a tax rate of 10 %, nothing paid.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api

MISSING = (
    "Missing Variables: itemdescription, itemamount and itemtaxed are required for each item"
    " being changed"
)


async def row(api: Api, invoiceid: int) -> dict[str, Any]:
    body = await api.ok("GetInvoices", userid=1, limitnum=100)
    return next(r for r in body["invoices"]["invoice"] if r["id"] == invoiceid)


def totals(detail: dict[str, Any]) -> tuple[str, ...]:
    names = ("subtotal", "tax", "tax2", "credit", "total", "balance")
    return tuple(detail[name] for name in names)


def lines(detail: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(i["description"], i["amount"], i["taxed"]) for i in detail["items"]["item"]]


async def test_a_line_is_changed_by_its_id(api):
    form = {"itemdescription[3]": "Gold 1G, discounted", "itemamount[3]": "5000",
            "itemtaxed[3]": "0"}  # fmt: skip
    assert await api.ok("UpdateInvoice", form, invoiceid=1003) == {
        "result": "success",
        "invoiceid": "1003",
    }
    detail = await api.ok("GetInvoice", invoiceid=1003)
    assert [i["id"] for i in detail["items"]["item"]] == [3]  # changed, not added
    assert lines(detail) == [("Gold 1G, discounted", "5000.00", 0)]
    assert totals(detail) == ("5000.00", "0.00", "0.00", "0.00", "5000.00", "5000.00")


async def test_new_lines_are_added_in_index_order(api):
    form = [
        ("newitemdescription[1]", "Installation"), ("newitemamount[1]", "250.5"),
        ("newitemtaxed[1]", "false"),
        ("newitemdescription[0]", "Router rental"), ("newitemamount[0]", "1000"),
        ("newitemtaxed[0]", "true"),
    ]  # fmt: skip
    await api.ok("UpdateInvoice", form, invoiceid=1003)
    detail = await api.ok("GetInvoice", invoiceid=1003)
    items = detail["items"]["item"]
    assert lines(detail)[1:] == [("Router rental", "1000.00", 1), ("Installation", "250.50", 0)]
    assert items[1]["id"] > 3 and items[2]["id"] > items[1]["id"]
    assert items[1]["type"] == "Item" and items[1]["relid"] == 0
    # 6500 + 1000 taxed at 10 %, 250.50 untaxed
    assert totals(detail) == ("7750.50", "750.00", "0.00", "0.00", "8500.50", "8500.50")


async def test_lines_are_deleted_by_id(api):
    form = {"newitemdescription[0]": "Router rental", "newitemamount[0]": "1000",
            "newitemtaxed[0]": "1", "deletelineids[0]": "3"}  # fmt: skip
    await api.ok("UpdateInvoice", form, invoiceid=1003)
    detail = await api.ok("GetInvoice", invoiceid=1003)
    assert lines(detail) == [("Router rental", "1000.00", 1)]
    assert totals(detail) == ("1000.00", "100.00", "0.00", "0.00", "1100.00", "1100.00")
    listed = await row(api, 1003)
    assert (listed["subtotal"], listed["tax"], listed["total"]) == ("1000.00", "100.00", "1100.00")


async def test_the_documented_example_edits_adds_and_deletes_in_one_call(api):
    """updateinvoice.md's example: one line changed, two added, two deleted."""
    setup = [
        ("newitemdescription[]", "A"), ("newitemamount[]", "1"), ("newitemtaxed[]", "0"),
        ("newitemdescription[]", "B"), ("newitemamount[]", "2"), ("newitemtaxed[]", "0"),
    ]  # fmt: skip
    await api.ok("UpdateInvoice", setup, invoiceid=1003)
    a, b = (i["id"] for i in (await api.ok("GetInvoice", invoiceid=1003))["items"]["item"][1:])
    form = [
        ("status", "Unpaid"),
        ("itemdescription[3]", "Sample Updated Invoice Item"), ("itemamount[3]", "16.95"),
        ("itemtaxed[3]", "0"),
        ("newitemdescription[0]", "New Line Item 1"), ("newitemdescription[1]", "New Line Item 2"),
        ("newitemamount[0]", "10.00"), ("newitemamount[1]", "2.95"),
        ("newitemtaxed[0]", "1"), ("newitemtaxed[1]", "0"),
        ("deletelineids[]", str(a)), ("deletelineids[]", str(b)),
    ]  # fmt: skip
    await api.ok("UpdateInvoice", form, invoiceid=1003)
    detail = await api.ok("GetInvoice", invoiceid=1003)
    assert lines(detail) == [
        ("Sample Updated Invoice Item", "16.95", 0),
        ("New Line Item 1", "10.00", 1),
        ("New Line Item 2", "2.95", 0),
    ]
    assert totals(detail) == ("29.90", "1.00", "0.00", "0.00", "30.90", "30.90")


async def test_tax_rates_and_credit_feed_the_totals(api):
    await api.ok("UpdateInvoice", invoiceid=1003, taxrate="8", taxrate2="2.5", credit="1000")
    detail = await api.ok("GetInvoice", invoiceid=1003)
    assert (detail["taxrate"], detail["taxrate2"]) == ("8.000", "2.500")
    # 6500 + 8 % (520.00) + 2.5 % of the same taxed lines (162.50) - 1000 credit
    assert totals(detail) == ("6500.00", "520.00", "162.50", "1000.00", "6182.50", "6182.50")
    listed = await row(api, 1003)
    assert (listed["tax2"], listed["taxrate2"], listed["credit"], listed["total"]) == (
        "162.50", "2.500", "1000.00", "6182.50",
    )  # fmt: skip


async def test_a_line_change_after_a_partial_payment_leaves_the_rest_to_pay(api):
    await api.pay(1002, "t1", amount="1000")
    await api.ok(
        "UpdateInvoice",
        {"itemdescription[2]": "Gold 1G", "itemamount[2]": "6000", "itemtaxed[2]": "1"},
        invoiceid=1002,
    )
    detail = await api.ok("GetInvoice", invoiceid=1002)
    assert (detail["total"], detail["balance"], detail["status"]) == (
        "6600.00",
        "5600.00",
        "Unpaid",
    )


async def test_dates_notes_and_gateway(api):
    await api.ok(
        "UpdateInvoice", invoiceid=1003, date="2031-04-01", duedate="2031-05-01",
        datepaid="2031-04-20", notes="Paid at the counter", paymentmethod="banktransfer",
    )  # fmt: skip
    detail = await api.ok("GetInvoice", invoiceid=1003)
    assert (detail["date"], detail["duedate"], detail["datepaid"]) == (
        "2031-04-01", "2031-05-01", "2031-04-20 00:00:00",
    )  # fmt: skip
    assert (detail["notes"], detail["paymentmethod"]) == ("Paid at the counter", "banktransfer")
    await api.ok("UpdateInvoice", invoiceid=1003, notes="")
    assert (await api.ok("GetInvoice", invoiceid=1003))["notes"] == ""


async def test_status_paid_and_back(api):
    await api.ok("UpdateInvoice", invoiceid=1003, status="Paid")
    paid = await api.ok("GetInvoice", invoiceid=1003)
    assert paid["status"] == "Paid" and paid["datepaid"] != "0000-00-00 00:00:00"
    await api.ok("UpdateInvoice", invoiceid=1003, status="Unpaid")
    unpaid = await api.ok("GetInvoice", invoiceid=1003)
    assert unpaid["status"] == "Unpaid" and unpaid["datepaid"] == "0000-00-00 00:00:00"


async def test_publishing_a_draft(api):
    draft = await api.ok("CreateInvoice", userid=2, draft=1)
    await api.ok("UpdateInvoice", invoiceid=draft["invoiceid"], publish="1")
    assert (await api.ok("GetInvoice", invoiceid=draft["invoiceid"]))["status"] == "Unpaid"
    message = await api.error("UpdateInvoice", invoiceid=draft["invoiceid"], publish="1")
    assert message == "Invoice must be in Draft status to be published"  # updateinvoice.md
    message = await api.error("UpdateInvoice", invoiceid=1003, publishandsendemail="1")
    assert message == "Invoice must be in Draft status to be published"


async def test_rows_carry_created_at_and_updated_at(api):
    """getinvoices.md's example row has both; getinvoice.md's example has neither."""
    before = await row(api, 1003)
    assert before["created_at"] == before["updated_at"] != "0000-00-00 00:00:00"
    assert before["created_at"].startswith(before["date"])
    assert "updated_at" not in await api.ok("GetInvoice", invoiceid=1003)
    await api.ok("UpdateInvoice", invoiceid=1003, duedate="2031-05-01")
    moved = await row(api, 1003)
    assert moved["created_at"] == before["created_at"]
    assert moved["updated_at"] > before["updated_at"]
    await api.ok("UpdateInvoice", invoiceid=1003, notes="")  # notes already ""
    assert await row(api, 1003) == moved  # nothing on the row changed: updated_at stays
    created = await api.ok("CreateInvoice", userid=1)
    fresh = await row(api, int(created["invoiceid"]))
    assert fresh["created_at"] == fresh["updated_at"] and fresh["created_at"] >= moved["updated_at"]


async def test_a_partial_payment_leaves_the_row_and_its_updated_at(api):
    before = await row(api, 1002)
    await api.pay(1002, "t1", amount="1")
    assert await row(api, 1002) == before
    await api.pay(1002, "t2")
    paid = await row(api, 1002)
    assert paid["status"] == "Paid" and paid["updated_at"] > before["updated_at"]


async def test_create_invoice_takes_both_tax_rates(api):
    form = {"itemdescription1": "Router", "itemamount1": "1000", "itemtaxed1": "1"}
    created = await api.ok("CreateInvoice", form, userid=2, taxrate="10", taxrate2="5")
    detail = await api.ok("GetInvoice", invoiceid=created["invoiceid"])
    assert (detail["tax"], detail["tax2"], detail["total"]) == ("100.00", "50.00", "1150.00")


async def test_a_line_change_that_moves_the_total_moves_updated_at(api):
    before = await row(api, 1003)
    form = {"itemdescription[3]": "Gold", "itemamount[3]": "6000", "itemtaxed[3]": "1"}
    await api.ok("UpdateInvoice", form, invoiceid=1003)
    after = await row(api, 1003)
    assert after["total"] == "6600.00" and after["updated_at"] > before["updated_at"]


REFUSALS: list[tuple[str, list[tuple[str, str]], str]] = [
    ("description without amount and taxed", [("itemdescription[3]", "x")], MISSING),
    ("amount without description", [("itemamount[3]", "1"), ("itemtaxed[3]", "1")], MISSING),
    (
        "taxed of another line",
        [("itemdescription[3]", "x"), ("itemamount[3]", "1"), ("itemtaxed[2]", "1")],
        MISSING,
    ),
    (
        "a line of another invoice",
        [("itemdescription[2]", "x"), ("itemamount[2]", "1"), ("itemtaxed[2]", "1")],
        "Line item ID 2 in itemdescription is not on invoice 1003",
    ),
    (
        "no such line",
        [("itemdescription[999]", "x"), ("itemamount[999]", "1"), ("itemtaxed[999]", "1")],
        "Line item ID 999 in itemdescription is not on invoice 1003",
    ),
    (
        "a line id that is no number",
        [("itemdescription[a]", "x"), ("itemamount[a]", "1"), ("itemtaxed[a]", "1")],
        "Line item ID a in itemdescription is not on invoice 1003",
    ),
    (
        "CreateInvoice's numbered form",
        [("itemdescription1", "x"), ("itemamount1", "1"), ("itemtaxed1", "1")],
        "itemamount1 is not an UpdateInvoice parameter: lines are changed with"
        " itemdescription[<line id>], itemamount[<line id>], itemtaxed[<line id>]",
    ),
    (
        "a total, removed in WHMCS 7.8",
        [("total", "100")],
        "total is not an UpdateInvoice parameter since WHMCS 7.8: adjust invoice items and tax"
        " rates to adjust it",
    ),
    (
        "a scalar where an array is due",
        [("itemdescription", "x")],
        "itemdescription must be an array: itemdescription[<key>]=<value>",
    ),
    (
        "an amount that is no number",
        [("itemdescription[3]", "x"), ("itemamount[3]", "ten"), ("itemtaxed[3]", "1")],
        "Invalid value for itemamount[3]: ten",
    ),
    (
        "a taxed that is no bool",
        [("itemdescription[3]", "x"), ("itemamount[3]", "1"), ("itemtaxed[3]", "yes")],
        "Invalid value for itemtaxed[3]: yes",
    ),
    (
        "a new line without amount",
        [("newitemdescription[0]", "x"), ("newitemtaxed[0]", "0")],
        "Missing Variables: newitemdescription, newitemamount and newitemtaxed are required for"
        " each new item",
    ),
    (
        "new lines not numerically indexed",
        [("newitemdescription[a]", "x"), ("newitemamount[a]", "1"), ("newitemtaxed[a]", "0")],
        "newitemdescription, newitemamount and newitemtaxed must be numerically indexed",
    ),
    (
        "a new amount that is empty",
        [("newitemdescription[0]", "x"), ("newitemamount[0]", ""), ("newitemtaxed[0]", "0")],
        "Invalid value for newitemamount[0]: ",
    ),
    (
        "deleting a line of another invoice",
        [("deletelineids[]", "1")],
        "Line item ID 1 in deletelineids is not on invoice 1003",
    ),
    (
        "deletelineids as a scalar",
        [("deletelineids", "3")],
        "deletelineids must be an array: deletelineids[<key>]=<value>",
    ),
    (
        "a line changed and deleted",
        [
            ("itemdescription[3]", "x"),
            ("itemamount[3]", "1"),
            ("itemtaxed[3]", "1"),
            ("deletelineids[]", "3"),
        ],
        "Line item ID 3 is both changed and deleted",
    ),
    ("a negative tax rate", [("taxrate", "-1")], "Invalid value for taxrate: -1"),
    ("a tax rate that is no number", [("taxrate2", "high")], "Invalid value for taxrate2: high"),
    ("a negative credit", [("credit", "-5")], "Invalid value for credit: -5"),
    ("a credit that is no number", [("credit", "")], "Invalid value for credit: "),
    (
        "a credit above the invoice",
        [("credit", "7150.01")],
        "Credit 7150.01 exceeds the invoice total 7150.00",
    ),
    (
        "a credit left above the invoice by a deletion",
        [("credit", "100"), ("deletelineids[]", "3")],
        "Credit 100.00 exceeds the invoice total 0.00",
    ),
    (
        "a date in another format",
        [("date", "2031/05/01")],
        "Invalid date for date: 2031/05/01. Format: YYYY-mm-dd",
    ),
    (
        "a due date without dashes",
        [("duedate", "20310501")],
        "Invalid date for duedate: 20310501. Format: YYYY-mm-dd",
    ),
    (
        "a date paid that does not exist",
        [("datepaid", "2031-02-30")],
        "Invalid date for datepaid: 2031-02-30. Format: YYYY-mm-dd",
    ),
    ("an empty status", [("status", "")], "Invalid status "),
    (
        "an unknown gateway",
        [("paymentmethod", "paypal")],
        "Invalid Payment Method. Valid options include stripe,banktransfer,mailin",
    ),
]


@pytest.mark.parametrize(
    ("form", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
async def test_refusals_change_nothing(api, form, message):
    detail = await api.ok("GetInvoice", invoiceid=1003)
    listed = await row(api, 1003)
    valid = [("duedate", "2031-05-01"), ("notes", "changed"), ("paymentmethod", "mailin")]
    valid = [(k, v) for k, v in valid if k not in dict(form)]
    assert await api.error("UpdateInvoice", [*valid, *form], invoiceid=1003) == message
    assert await api.ok("GetInvoice", invoiceid=1003) == detail
    assert await row(api, 1003) == listed


async def test_an_unknown_invoice_is_refused_before_its_parameters(api):
    form = {"itemdescription[3]": "x"}
    assert await api.error("UpdateInvoice", form, invoiceid=5) == "Invoice ID Not Found"
