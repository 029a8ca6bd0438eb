"""WHMCS → API mapping and the WHMCS wire helpers, where test_mapping.py leaves gaps
(hypothesis): rows of any JSON shape never make a mapper raise and always give well-formed values
(the promise of ``services/billing/mapping.py``); loosely typed scalars (``"1"``/``1``/``""``/
``null``/absent) read the same; valid rows keep every field; and what the client writes in PHP
form and ``base64(serialize())`` the WHMCS sandbox reads back exactly."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from portal.billing.v1 import billing_pb2 as pb

from sandbox.whmcs.phpform import Params, php_b64_decode
from services.billing import mapping
from services.common.clients.whmcs_wire import (
    as_int,
    custom_field,
    id_list,
    php_form,
    php_serialize_b64,
    unwrap,
)

TODAY = date(2026, 11, 27)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
KEYS = [
    "id", "invoiceid", "invoicenum", "userid", "status", "date", "duedate", "datepaid",
    "subtotal", "tax", "tax2", "total", "balance", "items", "currencycode", "currency_code",
    "name", "translated_name", "groupname", "billingcycle", "recurringamount", "regdate",
    "nextduedate", "type", "description", "amount", "card_last_four", "expiry_date", "card_type",
    "bank_name", "gateway_name", "module", "displayname", "firstname", "lastname", "companyname",
    "email", "phonenumber", "address1", "address2", "city", "state", "fullstate", "postcode",
    "countrycode", "country",
]  # fmt: skip
# Rows whose keys are WHMCS's and whose values are anything JSON can hold.
ROWS = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=len(KEYS))
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def _day_or_unset(value: str) -> bool:
    return value == "" or date.fromisoformat(value).isoformat() == value


@given(ROWS)
def test_rows_of_any_shape_map_without_raising(row: dict[str, Any]) -> None:
    invoice = mapping.invoice(row, today=TODAY, default_currency="JPY")
    for amount in (invoice.subtotal, invoice.tax, invoice.total, invoice.balance):
        assert MONEY.match(amount), amount
    assert all(MONEY.match(i.amount) for i in invoice.items)
    assert _day_or_unset(invoice.issued_on) and _day_or_unset(invoice.due_on)
    assert re.fullmatch(r"[A-Z]{3}", invoice.currency_code)
    sub = mapping.subscription(row, default_currency="JPY")
    assert MONEY.match(sub.recurring_amount) and _day_or_unset(sub.next_due_on)
    assert _day_or_unset(sub.registered_on) and re.fullmatch(r"[A-Z]{3}", sub.currency_code)
    method = mapping.payment_method(row)
    assert re.fullmatch(r"\d{0,4}", method.last_four)
    assert re.fullmatch(r"((0[1-9]|1[0-2])/\d{2})?", method.expiry)
    mapping.gateway(row)
    profile = mapping.profile(row)
    assert profile.address.country == profile.address.country.upper()


@example("²,3")  # str.isdigit() is true of "²", which int() refuses
@given(JSON)
def test_scalars_of_any_shape_map_without_raising(value: Any) -> None:
    assert MONEY.match(mapping.money(value))
    assert _day_or_unset(mapping.day(value))
    mapping.instant(value)
    mapping.billing_cycle(value)
    mapping.pay_method_type(value)
    assert re.fullmatch(r"((0[1-9]|1[0-2])/\d{2})?", mapping.card_expiry(value))
    number = mapping.numeric_id(value)
    assert number is None or number > 0
    assert isinstance(as_int(value), int)
    assert all(n >= 0 for n in id_list(value if isinstance(value, str | int) else None))
    assert all(isinstance(r, dict) for r in unwrap(value, "item"))


# -- loose typing: "1", 1, " 1 ", "", null, absent ---------------------------------------------


@given(st.integers(0, 10**12), st.sampled_from(["int", "str", "padded"]))
def test_ids_read_the_same_however_whmcs_types_them(number: int, form: str) -> None:
    wire: Any = {"int": number, "str": str(number), "padded": f" {number} "}[form]
    row = {"id": wire, "invoiceid": wire}
    assert mapping.text(row, "id") == str(number)
    assert mapping.invoice(row, today=TODAY, default_currency="JPY").id == str(number)
    assert mapping.numeric_id(wire) == (number or None)
    assert as_int(wire) == number


@given(st.sampled_from([None, "", "   ", "MISSING"]))
def test_empty_in_any_form_is_empty(empty: Any) -> None:
    row = {} if empty == "MISSING" else {k: empty for k in KEYS}
    invoice = mapping.invoice(row, today=TODAY, default_currency="JPY")
    assert (invoice.id, invoice.number, invoice.issued_on, invoice.due_on) == ("", "", "", "")
    assert (invoice.total, invoice.balance, list(invoice.items)) == ("0.00", "0.00", [])
    assert not invoice.HasField("paid_at")
    assert mapping.profile(row) == pb.BillingProfile(address=pb.BillingProfile().address)
    assert mapping.numeric_id(empty) is None and as_int(empty, -1) == -1


# -- valid rows keep every field --------------------------------------------------------------

# Text as WHMCS stores it after trimming (the mappers trim).
WORDS = st.text(st.characters(codec="utf-8"), max_size=30).map(str.strip)
AMOUNTS = st.decimals(min_value=-(10**7), max_value=10**7, places=2)


def _loose_money(value: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([str(value), float(value), f"{value:f}"])


@given(
    st.lists(st.tuples(WORDS, WORDS, AMOUNTS), max_size=4),
    st.sampled_from(["list", "wrapped", "one"]),
    st.data(),
)
def test_invoice_items_keep_every_field(
    items: list[tuple[str, str, Any]], wrapping: str, data: st.DataObject
) -> None:
    rows = [{"id": n, "type": t, "description": d, "amount": data.draw(_loose_money(a))}
            for n, (t, d, a) in enumerate(items, 1)]  # fmt: skip
    wire: Any = {"list": rows, "wrapped": {"item": rows}, "one": rows[0] if rows else ""}[wrapping]
    invoice = mapping.invoice({"id": "7", "items": wire}, today=TODAY, default_currency="JPY")
    kept = rows[:1] if wrapping == "one" else rows
    assert [(i.type, i.description, i.amount) for i in invoice.items] == [
        (r["type"], r["description"], mapping.money(r["amount"])) for r in kept
    ]


PROFILE_KEYS = ["firstname", "lastname", "companyname", "email", "phonenumber", "address1",
                "address2", "city", "state", "postcode", "countrycode"]  # fmt: skip


@given(st.fixed_dictionaries({k: WORDS for k in PROFILE_KEYS}), st.integers(10**5, 10**9))
def test_profiles_keep_every_field(client: dict[str, str], number: int) -> None:
    # WHMCS sends phone numbers and postcodes as ints when they look like one.
    loose = {**client, "phonenumber": number, "postcode": number}
    profile = mapping.profile(loose)
    a = profile.address
    assert (profile.first_name, profile.last_name, profile.company_name, profile.email) == (
        client["firstname"], client["lastname"], client["companyname"], client["email"],
    )  # fmt: skip
    assert (a.line1, a.line2, a.city, a.country) == (
        client["address1"], client["address2"], client["city"], client["countrycode"].upper(),
    )  # fmt: skip
    assert profile.phone == a.postcode == str(number)
    assert a.state == (client["state"] or "")
    assert mapping.profile({"fullstate": client["state"]}).address.state == client["state"]


# -- what the client writes, the WHMCS sandbox reads -----------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
FIELD_IDS = st.integers(1, 10_000)


@given(st.dictionaries(FIELD_IDS, TEXT, min_size=1, max_size=4), st.data())
def test_custom_fields_round_trip_through_the_sandbox(
    fields: dict[int, str], data: st.DataObject
) -> None:
    decoded = php_b64_decode(php_serialize_b64(fields))
    assert decoded == {str(k): v for k, v in fields.items()}
    # ...and read back from GetClientsDetails however WHMCS wraps and types the list.
    entries = [{"id": data.draw(st.sampled_from([int(k), k])), "value": v}
               for k, v in decoded.items()]  # fmt: skip
    wire = data.draw(st.sampled_from([entries, {"customfield": entries}]))
    for field_id, value in fields.items():
        assert custom_field({"customfields": wire}, field_id) == (value.strip() or None)
    assert custom_field({"customfields": wire}, 10_001) is None


@given(TEXT, st.lists(TEXT, max_size=4), st.dictionaries(st.sampled_from(["a", "b"]), TEXT))
def test_php_form_round_trips_through_the_sandbox_parser(
    scalar: str, values: list[str], flags: dict[str, str]
) -> None:
    params = Params(php_form({"notes": scalar, "pid": values, "prefs": flags, "none": None}))
    assert params.get("notes") == scalar
    assert params.list("pid") == values
    assert params.mapping("prefs") == flags
    assert not params.has("none")
    assert Params(php_form({"flag": True, "off": False})).flat == {"flag": "1", "off": "0"}
