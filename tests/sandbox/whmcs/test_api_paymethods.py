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


async def test_add_and_delete_pay_method(api):
    added = await api.ok(
        "AddPayMethod", clientid=3, card_number="5555 5555 5555 4444", card_expiry="0930"
    )
    assert added["clientid"] == 3
    methods = (await api.ok("GetPayMethods", clientid=3))["paymethods"]
    assert methods[0]["card_last_four"] == "4444" and methods[0]["expiry_date"] == "09/30"
    assert methods[0]["card_type"] == "MasterCard"
    bank = await api.ok(
        "AddPayMethod", clientid=3, type="BankAccount", bank_name="MUFG", set_as_default=1
    )
    methods = (await api.ok("GetPayMethods", clientid=3))["paymethods"]
    assert [m["id"] for m in methods] == [bank["paymethodid"], added["paymethodid"]]
    wrong_owner = await api.error("DeletePayMethod", clientid=1, paymethodid=added["paymethodid"])
    assert wrong_owner == "Pay Method does not belong to passed Client ID"
    deleted = await api.ok("DeletePayMethod", clientid=3, paymethodid=added["paymethodid"])
    assert deleted["paymethodid"] == added["paymethodid"]
    assert (
        await api.error("DeletePayMethod", clientid=3, paymethodid=999) == "Invalid Pay Method ID"
    )


async def test_add_pay_method_errors(api):
    assert await api.error("AddPayMethod", clientid=99, card_number="4242") == "Invalid Client ID"
    no_number = await api.error("AddPayMethod", clientid=3, card_expiry="1229")
    assert no_number == "Card Number is required for 'CreditCard' or 'RemoteCreditCard' type"
    bad = await api.error(
        "AddPayMethod", clientid=3, card_number="4242424242424242", card_expiry="1329"
    )
    assert bad == "Expiry Date is invalid"
