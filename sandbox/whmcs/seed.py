"""Demo seed data, per ``sandbox/SEED.md`` (the agreement with the Salesforce sandbox).

Dates are relative to the day of the reset so "paid", "unpaid" and "overdue" stay true.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from sandbox.whmcs.models import (
    Client,
    Invoice,
    InvoiceItem,
    Order,
    PayMethod,
    Product,
    Service,
    Transaction,
    User,
    hash_password,
)

CUSTOMER_NUMBER_FIELD = 198
CLIENT_CUSTOM_FIELDS: dict[int, str] = {CUSTOMER_NUMBER_FIELD: "Customer Number"}
TAX_RATE = Decimal("10.00")  # Japanese consumption tax

GATEWAYS: dict[str, str] = {
    "stripe": "Credit Card",
    "banktransfer": "Bank Transfer",
    "mailin": "Mail In Payment",
}

_SIM_FIELDS = ((501, "EID"), (502, "SIM Type"), (503, "Phone Number"))

PRODUCTS: dict[int, Product] = {
    p.pid: p
    for p in (
        Product(181, 1, "Internet Silver Home 1G", "Internet", Decimal("4800.00")),
        Product(182, 1, "Internet Gold Home 1G", "Internet", Decimal("6500.00")),
        Product(183, 1, "Internet Platinum Home 1G", "Internet", Decimal("8800.00")),
        Product(
            242, 2, "Internet Installation (single)", "Internet Installation",
            Decimal("22000.00"), paytype="onetime",
        ),
        Product(
            245, 2, "Internet Installation (weekend)", "Internet Installation",
            Decimal("27500.00"), paytype="onetime",
        ),
        Product(246, 1, "Home Phone add-on", "Internet", Decimal("550.00")),
        Product(301, 3, "SIM Data 3GB", "SIM", Decimal("1100.00"), customfields=_SIM_FIELDS),
        Product(302, 3, "SIM Data 10GB", "SIM", Decimal("1900.00"), customfields=_SIM_FIELDS),
        Product(303, 3, "SIM Voice 10GB", "SIM", Decimal("2600.00"), customfields=_SIM_FIELDS),
        Product(401, 4, "VPN Standard", "VPN", Decimal("990.00")),
    )
}  # fmt: skip

ALL_EMAIL_PREFERENCES = {
    "general": 1,
    "invoice": 1,
    "support": 1,
    "product": 1,
    "domain": 1,
    "affiliate": 1,
}


@lru_cache(maxsize=8)
def _seed_hash(password: str) -> str:
    """Seed passwords are hashed once per process; resets stay cheap."""
    return hash_password(password)


# The seeded users: id, first name, last name, email, password, two-factor. User ids (11+)
# never equal a client id (1+): code that mixes them up fails here.
SEED_USERS = (
    (11, "Hanako", "Yamada", "hanako.yamada@example.jp", "demo-password-1", False),
    (12, "Kenji", "Sato", "kenji.sato@example.jp", "demo-password-2", False),
    (13, "No", "Number", "no.number@example.jp", "demo-password-3", False),
    (14, "Aiko", "Yamada", "aiko.yamada@example.jp", "demo-password-4", False),
    (15, "Mei", "Tanaka", "mei.tanaka@example.jp", "demo-password-5", True),
)
SEED_PASSWORDS = tuple(row[4] for row in SEED_USERS)


def seed_users(today: date) -> list[User]:
    created = datetime.combine(today - timedelta(days=400), time(9, 0))
    return [
        User(uid, first, last, email, _seed_hash(password), two_factor, created)
        for uid, first, last, email, password, two_factor in SEED_USERS
    ]


def seed_clients(today: date) -> list[Client]:
    return [
        Client(
            id=1, firstname="Hanako", lastname="Yamada", email="hanako.yamada@example.jp",
            owner_user_id=11, invited_user_ids=[14], address1="1-2-3 Jingumae",
            city="Shibuya-ku", state="Tokyo", postcode="150-0001", phonenumber="+81.312345678",
            datecreated=today - timedelta(days=400),
            customfields={CUSTOMER_NUMBER_FIELD: "AC-000101"},
            email_preferences=dict(ALL_EMAIL_PREFERENCES),
        ),
        Client(
            id=2, firstname="Kenji", lastname="Sato", email="kenji.sato@example.jp",
            owner_user_id=12, address1="4-5-6 Umeda",
            city="Kita-ku", state="Osaka", postcode="530-0001", phonenumber="+81.612345678",
            datecreated=today - timedelta(days=200),
            customfields={CUSTOMER_NUMBER_FIELD: "AC-000103"},
            email_preferences=dict(ALL_EMAIL_PREFERENCES),
        ),
        Client(
            id=3, firstname="No", lastname="Number", email="no.number@example.jp",
            owner_user_id=13, address1="7-8-9 Sakae",
            city="Naka-ku", state="Aichi", postcode="460-0008", phonenumber="+81.522345678",
            datecreated=today - timedelta(days=30),
            email_preferences=dict(ALL_EMAIL_PREFERENCES),
        ),
        Client(
            id=4, firstname="Mei", lastname="Tanaka", email="mei.tanaka@example.jp",
            owner_user_id=15, address1="2-1-1 Tenjin",
            city="Chuo-ku", state="Fukuoka", postcode="810-0001", phonenumber="+81.922345678",
            datecreated=today - timedelta(days=60),
            email_preferences=dict(ALL_EMAIL_PREFERENCES),
        ),
    ]  # fmt: skip


def seed_paymethods(today: date) -> list[PayMethod]:
    updated = datetime.combine(today - timedelta(days=90), time(10, 0))
    return [
        PayMethod(
            id=1, userid=1, type="RemoteCreditCard", gateway_name="stripe",
            card_last_four="4242", expiry_date="12/28", card_type="Visa", last_updated=updated,
        ),
        PayMethod(  # stored locally in WHMCS: no gateway, as in GetPayMethods' example
            id=2, userid=1, type="BankAccount", gateway_name="",
            bank_name="Mizuho Bank", last_updated=updated, order=1,
        ),
        PayMethod(
            id=3, userid=2, type="RemoteCreditCard", gateway_name="stripe",
            card_last_four="4444", expiry_date="06/27", card_type="MasterCard",
            last_updated=updated,
        ),
    ]  # fmt: skip


def _gold_item(item_id: int, start: date) -> InvoiceItem:
    end = start + timedelta(days=29)
    text = f"Internet - Internet Gold Home 1G ({start:%d/%m/%Y} - {end:%d/%m/%Y})"
    return InvoiceItem(item_id, "Hosting", 1, text, Decimal("6500.00"))


def seed_invoices(today: date) -> list[Invoice]:
    paid = Invoice(
        id=1001, userid=1, date=today - timedelta(days=65), duedate=today - timedelta(days=51),
        status="Paid", paymentmethod="stripe", taxrate=TAX_RATE,
        items=[_gold_item(1, today - timedelta(days=51))],
    )  # fmt: skip
    paid.datepaid = datetime.combine(today - timedelta(days=52), time(9, 30))
    paid.transactions.append(
        Transaction(1, 1, "stripe", paid.datepaid, "ch_seed_1001", paid.total, Decimal(0), 1001)
    )
    overdue = Invoice(
        id=1002, userid=1, date=today - timedelta(days=35), duedate=today - timedelta(days=21),
        paymentmethod="stripe", taxrate=TAX_RATE, items=[_gold_item(2, today - timedelta(days=21))],
    )  # fmt: skip
    unpaid = Invoice(
        id=1003, userid=1, date=today - timedelta(days=5), duedate=today + timedelta(days=9),
        paymentmethod="stripe", taxrate=TAX_RATE, items=[_gold_item(3, today + timedelta(days=9))],
    )  # fmt: skip
    return [paid, overdue, unpaid]


def seed_services(today: date) -> list[Service]:
    return [
        Service(
            id=1, userid=1, orderid=1, pid=182, regdate=today - timedelta(days=81),
            billingcycle="Monthly", firstpaymentamount=Decimal("6500.00"),
            recurringamount=Decimal("6500.00"), nextduedate=today - timedelta(days=21),
            paymentmethod="stripe", status="Active",
        )
    ]  # fmt: skip


def seed_orders(today: date) -> list[Order]:
    placed = datetime.combine(today - timedelta(days=81), time(14, 5))
    return [
        Order(
            id=1, ordernum="5830194726", userid=1, date=placed, amount=Decimal("7150.00"),
            paymentmethod="stripe", invoiceid=1001, status="Active", serviceids=[1],
        )
    ]  # fmt: skip
