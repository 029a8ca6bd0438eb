"""WHMCS → API mapping against WHMCS-shaped input, including its loose typing (hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from portal.billing.v1 import billing_pb2 as pb
from portal.common.v1 import types_pb2

from services.billing import mapping

TODAY = date(2026, 11, 27)
ZERO_DATES = st.sampled_from(["0000-00-00", "0000-00-00 00:00:00", "", None])
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
MONEY = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)


def loose(value: Any) -> st.SearchStrategy[Any]:
    """The same value as WHMCS may send it: string, int/float, or missing."""
    return st.sampled_from([value, str(value)])


def money_like() -> st.SearchStrategy[Any]:
    return MONEY.flatmap(lambda d: st.sampled_from([str(d), float(d), f"{d:f}"]))


def maybe_missing(row: dict[str, Any], drop: st.DataObject) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not drop.draw(st.booleans(), label=f"drop {k}")}


@given(MONEY, st.sampled_from(["str", "float"]))
def test_money_is_a_two_place_decimal_string(amount: Decimal, form: str) -> None:
    raw: Any = str(amount) if form == "str" else float(amount)
    text = mapping.money(raw)
    assert text == f"{Decimal(str(raw)).quantize(Decimal('0.01')):f}"
    assert "." in text and len(text.split(".")[1]) == 2


@given(st.one_of(st.text(max_size=12), st.none(), st.booleans(), st.lists(st.integers())))
def test_money_never_raises(raw: Any) -> None:
    assert mapping.money(raw).count(".") == 1


@given(ZERO_DATES)
def test_zero_dates_are_unset(raw: Any) -> None:
    assert mapping.day(raw) == "" and mapping.instant(raw) is None


@given(DATES, st.booleans())
def test_dates_keep_the_day(day: date, with_time: bool) -> None:
    raw = f"{day.isoformat()} 12:34:56" if with_time else day.isoformat()
    assert mapping.day(raw) == day.isoformat()
    stamp = mapping.instant(raw)
    assert stamp is not None and stamp.ToDatetime().date() == day


@given(
    st.integers(1, 10**7), st.integers(1, 10**6), st.sampled_from(sorted(mapping.INVOICE_STATUS)),
    DATES, st.one_of(DATES.map(str), ZERO_DATES), money_like(), st.data(),
)  # fmt: skip
def test_invoice_rows(
    invoice_id: int, user: int, status: str, due: date, paid: Any, total: Any, data: st.DataObject
) -> None:
    row = {
        "id": data.draw(loose(invoice_id)), "userid": data.draw(loose(user)),
        "status": data.draw(st.sampled_from([status, status.upper(), status.title()])),
        "date": str(due), "duedate": str(due), "datepaid": paid, "total": total,
        "subtotal": total, "tax": "0.00", "tax2": 0, "currencycode": "JPY",
        "items": data.draw(st.sampled_from(["", [], {"item": []}])),
    }  # fmt: skip
    row = maybe_missing(row, data) | {"id": row.get("id", invoice_id), "status": row["status"]}
    message = mapping.invoice(row, today=TODAY, default_currency="EUR")
    assert message.id == str(invoice_id)
    assert message.status != pb.INVOICE_STATUS_UNSPECIFIED
    if message.status == pb.INVOICE_STATUS_OVERDUE and status == "unpaid":
        assert due < TODAY
    assert message.currency_code in {"JPY", "EUR"}
    assert list(message.items) == []
    assert mapping.money(message.total) == message.total


def test_overdue_is_derived_from_unpaid_and_due_date() -> None:
    row = {"status": "Unpaid", "duedate": "2026-11-26"}
    assert mapping.invoice_status(row, TODAY) == pb.INVOICE_STATUS_OVERDUE
    row["duedate"] = "2026-11-27"
    assert mapping.invoice_status(row, TODAY) == pb.INVOICE_STATUS_UNPAID
    row["duedate"] = "0000-00-00"
    assert mapping.invoice_status(row, TODAY) == pb.INVOICE_STATUS_UNPAID


def test_items_arrive_wrapped_bare_or_single() -> None:
    item = {"id": "1", "type": "Hosting", "description": "Gold", "amount": "6500.00"}
    for items in ([item], {"item": [item]}, {"item": item}, item):
        message = mapping.invoice({"id": 1, "items": items}, today=TODAY, default_currency="JPY")
        assert [(i.type, i.amount) for i in message.items] == [("Hosting", "6500.00")]


CYCLES = st.sampled_from(sorted(mapping.BILLING_CYCLE))
SERVICE_STATUSES = st.sampled_from(sorted(mapping.SUBSCRIPTION_STATUS))


@given(CYCLES, SERVICE_STATUSES, st.one_of(DATES.map(str), ZERO_DATES), money_like(), st.data())
def test_subscription_rows(
    cycle: str, status: str, next_due: Any, amount: Any, data: st.DataObject
) -> None:
    base = {"name": "Internet Gold Home 1G", "groupname": "Internet", "regdate": "2026-01-01",
            "nextduedate": next_due, "recurringamount": amount, "customfields": ""}  # fmt: skip
    fixed = {"id": data.draw(loose(7)), "billingcycle": cycle.title(), "status": status.title()}
    row = maybe_missing(base, data) | fixed
    message = mapping.subscription(row, default_currency="JPY")
    assert message.id == "7" and message.currency_code == "JPY"
    assert message.billing_cycle != types_pb2.BILLING_CYCLE_UNSPECIFIED
    assert message.status != pb.SUBSCRIPTION_STATUS_UNSPECIFIED
    assert message.next_due_on in {"", str(next_due)[:10]}


def test_unknown_values_map_to_unspecified() -> None:
    assert mapping.billing_cycle("Fortnightly") == types_pb2.BILLING_CYCLE_UNSPECIFIED
    assert mapping.billing_cycle(3) == types_pb2.BILLING_CYCLE_UNSPECIFIED
    assert mapping.pay_method_type("PayPal") == pb.PAYMENT_METHOD_TYPE_UNSPECIFIED
    sub = mapping.subscription({"status": "Exploded"}, default_currency="JPY")
    assert sub.status == pb.SUBSCRIPTION_STATUS_UNSPECIFIED


@given(
    st.sampled_from(sorted(mapping.PAY_METHOD_TYPE)), st.integers(1, 12), st.integers(0, 99),
    st.sampled_from(["{m:02d}/{y:02d}", "{m:02d}{y:02d}", "{m:02d}/20{y:02d}"]), st.data(),
)  # fmt: skip
def test_pay_methods(kind: str, month: int, year: int, fmt: str, data: st.DataObject) -> None:
    spelled = data.draw(st.sampled_from([kind, kind.lower(), kind.upper()]))
    row = {"id": data.draw(loose(5)), "type": spelled, "card_last_four": "4242",
           "expiry_date": fmt.format(m=month, y=year), "card_type": "Visa",
           "bank_name": "Mizuho", "gateway_name": "stripe"}  # fmt: skip
    message = mapping.payment_method(row)
    assert message.id == "5" and message.gateway_name == "stripe"
    if kind.endswith("creditcard"):
        assert message.expiry == f"{month:02d}/{year:02d}" and message.last_four == "4242"
        assert message.bank_name == ""
    else:
        assert (message.expiry, message.last_four, message.bank_name) == ("", "", "Mizuho")


def test_pay_method_types() -> None:
    assert [mapping.pay_method_type(t) for t in ("CreditCard", "RemoteCreditCard", "BankAccount",
            "RemoteBankAccount")] == [
        pb.PAYMENT_METHOD_TYPE_CARD, pb.PAYMENT_METHOD_TYPE_REMOTE_CARD,
        pb.PAYMENT_METHOD_TYPE_BANK_ACCOUNT, pb.PAYMENT_METHOD_TYPE_REMOTE_BANK_ACCOUNT,
    ]  # fmt: skip
    assert (
        mapping.card_expiry("13/28") == mapping.card_expiry("") == mapping.card_expiry(None) == ""
    )


@given(st.dictionaries(st.sampled_from(["firstname", "lastname", "email", "countrycode",
                       "country", "phonenumber", "postcode", "state"]),
                       st.one_of(st.text(max_size=8), st.integers(), st.none())))  # fmt: skip
def test_profile_never_raises_on_loose_clients(client: dict[str, Any]) -> None:
    profile = mapping.profile(client)
    assert profile.address.country == profile.address.country.upper()


@given(st.one_of(st.text(max_size=20), st.integers(-5, 10**20), st.none(), st.booleans()))
def test_numeric_ids(raw: Any) -> None:
    number = mapping.numeric_id(raw)
    if number is not None:
        assert number > 0 and int(str(raw).strip()) == number
    assert mapping.numeric_id("12a") is None and mapping.numeric_id(True) is None


def test_a_client_edit_hook_reads_as_get_clients_details_and_needs_every_field() -> None:
    """The hook's variables (``hooks-reference/client.md``): ``country`` is the ISO code, no
    ``countrycode``/``fullstate``; a hook missing a field the profile reads gives no profile."""
    hook = {
        "userid": 7, "firstname": "Hanako", "lastname": "Yamada", "companyname": "",
        "email": "h@example.jp", "phonenumber": "+81.312345678", "address1": "1-2-3 Jingumae",
        "address2": "", "city": "Shibuya-ku", "state": "Tokyo", "postcode": "150-0001",
        "country": "JP", "olddata": {"city": "Minato-ku"},
    }  # fmt: skip
    details = {**hook, "countrycode": "JP", "fullstate": "Tokyo", "countryname": "Japan"}
    assert mapping.hook_profile(hook) == mapping.profile(details)
    for name in mapping.HOOK_PROFILE_FIELDS:
        assert mapping.hook_profile({k: v for k, v in hook.items() if k != name}) is None
