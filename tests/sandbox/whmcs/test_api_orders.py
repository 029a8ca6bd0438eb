"""Orders and services: AddOrder (bracket arrays, per-product custom fields) → AcceptOrder."""

from __future__ import annotations

from sandbox.whmcs import php_b64_encode

EID = "89049032000001000000012345678901"


async def test_add_order_then_accept(api):
    form = [
        ("clientid", "1"),
        ("paymentmethod", "stripe"),
        ("pid[0]", "302"),
        ("pid[1]", "401"),
        ("billingcycle[0]", "monthly"),
        ("billingcycle[1]", "annually"),
        ("customfields[0]", php_b64_encode({501: EID, 502: "eSIM"})),
        ("notes", "sfOrderId=801000000000001AAA"),
    ]
    order = await api.ok("AddOrder", form)
    assert order["orderid"] == "2" and order["serviceids"] == "2,3"
    assert order["addonids"] == "" and order["domainids"] == ""
    invoice = await api.ok("GetInvoice", invoiceid=order["invoiceid"])
    assert invoice["status"] == "Unpaid"
    assert invoice["subtotal"] == "13780.00"  # 1900 monthly + 990 * 12
    services = await api.ok("GetClientsProducts", clientid=1, serviceid=2)
    sim = services["products"]["product"][0]
    assert sim["status"] == "Pending" and sim["pid"] == "302" and sim["groupname"] == "SIM"
    assert sim["billingcycle"] == "Monthly" and sim["recurringamount"] == "1900.00"
    fields = {f["name"]: f["value"] for f in sim["customfields"]["customfield"]}
    assert fields == {"EID": EID, "SIM Type": "eSIM"}

    orders = await api.ok("GetOrders", userid=1, status="Pending")
    assert orders["totalresults"] == 1
    row = orders["orders"]["order"][0]
    assert row["notes"] == "sfOrderId=801000000000001AAA" and row["status"] == "Pending"
    assert [li["relid"] for li in row["lineitems"]["lineitem"]] == [2, 3]
    # getorders.md's example: ordernum an int, money a plain decimal string without a symbol
    assert isinstance(row["ordernum"], int) and row["id"] == 2 and row["userid"] == 1
    assert row["requestor_id"] == 11  # the user who placed it: the client's owner
    assert [li["amount"] for li in row["lineitems"]["lineitem"]] == ["1900.00", "11880.00"]

    assert await api.ok("AcceptOrder", orderid=order["orderid"], autosetup="true") == {
        "result": "success"
    }
    services = await api.ok("GetClientsProducts", clientid=1)
    assert {p["id"]: p["status"] for p in services["products"]["product"]} == {
        "1": "Active",
        "2": "Active",
        "3": "Active",
    }
    again = await api.error("AcceptOrder", orderid=order["orderid"])
    assert again == "Order ID not found or Status not Pending"
    assert await api.error("AcceptOrder", orderid=404) == "Order ID not found or Status not Pending"


async def test_add_order_with_empty_brackets_and_qty(api, whmcs):
    form = [
        ("clientid", "2"),
        ("paymentmethod", "mailin"),
        ("pid[]", "301"),
        ("pid[]", "242"),
        ("qty[0]", "2"),
    ]
    order = await api.ok("AddOrder", form)
    assert order["serviceids"] == "2,3,4"
    installation = whmcs.store.services[4]
    assert installation.pid == 242 and installation.billingcycle == "One Time"
    rows = (await api.ok("GetClientsProducts", clientid=2))["products"]["product"]
    assert rows[-1]["nextduedate"] == "0000-00-00" and rows[-1]["recurringamount"] == "0.00"


async def test_add_order_errors(api):
    bad_gateway = await api.error("AddOrder", clientid=1, paymentmethod="paypal", pid=301)
    assert bad_gateway == "Invalid Payment Method. Valid options include stripe,banktransfer,mailin"
    assert await api.error("AddOrder", clientid=1, paymentmethod="mailin") == (
        "No items added to cart so order cannot proceed"
    )
    assert await api.error("AddOrder", clientid=99, paymentmethod="mailin", pid=301) == (
        "Client ID Not Found"
    )


async def test_add_order_refuses_a_closed_client(api, whmcs):
    await api.ok("CloseClient", clientid=2)
    message = await api.error("AddOrder", clientid=2, paymentmethod="stripe", pid=301)
    assert message == "Unable to add order when client status is Closed"
    assert [o.userid for o in whmcs.store.orders.values()] == [1]  # nothing was created


async def test_noinvoice_order(api):
    order = await api.ok(
        "AddOrder",
        [("clientid", "3"), ("paymentmethod", "mailin"), ("pid[0]", "181"), ("noinvoice", "1")],
    )
    assert order["invoiceid"] == "0"
    assert (await api.ok("GetInvoices", userid=3))["totalresults"] == 0


async def test_get_clients_products_types(api):
    body = await api.ok("GetClientsProducts", clientid=1)
    assert body["totalresults"] == "1"  # a string here, an int in GetInvoices
    assert body["numreturned"] == 1
    product = body["products"]["product"][0]
    assert product["name"] == "Internet Gold Home 1G" and product["pid"] == "182"
    assert product["status"] == "Active" and product["firstpaymentamount"] == "6500.00"
    empty = await api.ok("GetClientsProducts", clientid=3)
    assert empty["totalresults"] == "0" and empty["products"] == ""


async def test_get_orders_empty_and_get_products(api):
    empty = await api.ok("GetOrders", userid=3)
    assert empty["totalresults"] == 0 and empty["orders"] == ""
    products = await api.ok("GetProducts")
    assert products["totalresults"] == 10
    by_pid = {p["pid"]: p for p in products["products"]["product"]}
    assert by_pid[182]["name"] == "Internet Gold Home 1G"
    assert by_pid[303]["pricing"]["JPY"]["monthly"] == "2600.00"
    assert by_pid[242]["paytype"] == "onetime"
    sims = await api.ok("GetProducts", gid=3)
    assert sorted(p["pid"] for p in sims["products"]["product"]) == [301, 302, 303]


async def test_update_client_product(api):
    await api.ok("UpdateClientProduct", serviceid=1, status="Suspended")
    row = (await api.ok("GetClientsProducts", serviceid=1))["products"]["product"][0]
    assert row["status"] == "Suspended"
    assert await api.error("UpdateClientProduct", serviceid=99) == "Service ID Not Found"
