"""Pay methods (a bare list) and gateways (a wrapped list)."""

from __future__ import annotations


async def test_get_pay_methods_is_a_bare_list(api):
    body = await api.ok("GetPayMethods", clientid=1)
    methods = body["paymethods"]
    assert isinstance(methods, list) and len(methods) == 2
    card, bank = methods
    assert card["type"] == "RemoteCreditCard" and card["card_last_four"] == "4242"
    assert card["expiry_date"] == "12/28" and card["card_type"] == "Visa"
    assert bank["type"] == "BankAccount" and bank["bank_name"]
    only_bank = await api.ok("GetPayMethods", clientid=1, type="BankAccount")
    assert [m["id"] for m in only_bank["paymethods"]] == [bank["id"]]
    assert (await api.ok("GetPayMethods", clientid=3))["paymethods"] == []
    assert await api.error("GetPayMethods", clientid=77) == "Client Not Found"


async def test_get_payment_methods(api):
    body = await api.ok("GetPaymentMethods")
    rows = body["paymentmethods"]["paymentmethod"]
    assert body["totalresults"] == 3
    assert {r["module"]: r["displayname"] for r in rows} == {
        "stripe": "Credit Card",
        "banktransfer": "Bank Transfer",
        "mailin": "Mail In Payment",
    }


async def test_get_pay_methods_shapes_and_errors(api):
    body = await api.ok("GetPayMethods", clientid=1)
    assert body["clientid"] == "1"  # a string, ids inside are ints (getpaymethods.md example)
    card, bank = body["paymethods"]
    assert card["id"] == 1 and card["gateway_name"] == "stripe"
    assert bank["gateway_name"] == ""  # stored locally in WHMCS, as the example's bank account
    assert await api.error("GetPayMethods") == "Client ID Is Required"
    bad_type = await api.error("GetPayMethods", clientid=1, type="Cash")
    assert bad_type == "Invalid Pay Method Type. Should be 'BankAccount' or 'CreditCard'"


async def test_add_and_delete_pay_method(api):
    added = await api.ok(
        "AddPayMethod", clientid=3, card_number="5555 5555 5555 4444", card_expiry="0930"
    )
    assert added["clientid"] == "3" and isinstance(added["paymethodid"], str)
    methods = (await api.ok("GetPayMethods", clientid=3))["paymethods"]
    assert methods[0]["card_last_four"] == "4444" and methods[0]["expiry_date"] == "09/30"
    assert methods[0]["card_type"] == "MasterCard"
    assert methods[0]["type"] == "CreditCard" and methods[0]["gateway_name"] == ""
    bank = await api.ok(
        "AddPayMethod", clientid=3, type="BankAccount", bank_name="MUFG", bank_code="0005",
        bank_account="1234567", set_as_default=1,
    )  # fmt: skip
    methods = (await api.ok("GetPayMethods", clientid=3))["paymethods"]
    assert [str(m["id"]) for m in methods] == [bank["paymethodid"], added["paymethodid"]]
    assert methods[0]["type"] == "BankAccount" and methods[0]["gateway_name"] == ""
    wrong_owner = await api.error("DeletePayMethod", clientid=1, paymethodid=added["paymethodid"])
    assert wrong_owner == "Pay Method does not belong to passed Client ID"
    deleted = await api.ok("DeletePayMethod", clientid=3, paymethodid=added["paymethodid"])
    assert deleted["paymethodid"] == added["paymethodid"]
    assert (
        await api.error("DeletePayMethod", clientid=3, paymethodid=999) == "Invalid Pay Method ID"
    )


async def test_remote_card_names_its_gateway(api):
    added = await api.ok(
        "AddPayMethod", clientid=3, type="RemoteCreditCard", gateway_module_name="stripe",
        card_number="4242424242424242", card_expiry="0130",
    )  # fmt: skip
    methods = (await api.ok("GetPayMethods", clientid=3))["paymethods"]
    row = next(m for m in methods if str(m["id"]) == added["paymethodid"])
    assert (row["type"], row["gateway_name"]) == ("RemoteCreditCard", "stripe")


async def test_add_pay_method_errors(api):
    card = {"clientid": "3", "card_number": "4242424242424242", "card_expiry": "1229"}
    assert await api.error("AddPayMethod", {**card, "clientid": ""}) == "Client ID Is Required"
    assert await api.error("AddPayMethod", {**card, "clientid": "99"}) == "Invalid Client ID"
    kind = await api.error("AddPayMethod", {**card, "type": "RemoteBankAccount"})
    assert kind == (
        "Invalid Pay Method Type. Type should be one of 'BankAccount', 'CreditCard', "
        "or 'RemoteCreditCard'"
    )
    no_number = await api.error("AddPayMethod", {**card, "card_number": ""})
    assert no_number == "Card Number is required for 'CreditCard' or 'RemoteCreditCard' type"
    no_expiry = await api.error("AddPayMethod", {**card, "card_expiry": ""})
    assert no_expiry == "Expiry Date is required for 'CreditCard' or 'RemoteCreditCard' type"
    bad = await api.error("AddPayMethod", {**card, "card_expiry": "1329"})
    assert bad == "Expiry Date is invalid"
    remote = await api.error("AddPayMethod", {**card, "type": "RemoteCreditCard"})
    assert remote == "Gateway is Required for RemoteCreditCard type"
    unknown = await api.error("AddPayMethod", {**card, "gateway_module_name": "paypal"})
    assert unknown == "Invalid Gateway Module Name. Must be one of: stripe, banktransfer, mailin"
    offline = await api.error("AddPayMethod", {**card, "gateway_module_name": "mailin"})
    assert offline == "Unsupported Gateway Type for Storage"
    bank = {"clientid": "3", "type": "BankAccount", "bank_code": "0005", "bank_account": "12345"}
    assert await api.error("AddPayMethod", {**bank, "bank_code": ""}) == (
        "Routing number is required"
    )
    assert await api.error("AddPayMethod", {**bank, "bank_account": ""}) == (
        "Account number is required"
    )
    offline_bank = await api.error("AddPayMethod", {**bank, "gateway_module_name": "banktransfer"})
    assert offline_bank == "Unsupported Gateway Type for Storage"
