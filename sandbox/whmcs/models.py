"""The sandbox's WHMCS tables (tblusers, tblclients, tblinvoices, tblhosting, tblorders) as
dataclasses.

Since WHMCS 8 a user (a login) is apart from a client (a billing account): a client has one owner
user and may have invited users; one user may reach several clients. Ids are separate sequences.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sandbox.whmcs.wire import CENT

_PBKDF2_ROUNDS = 20_000


def hash_password(password: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _PBKDF2_ROUNDS)
    return f"pbkdf2_sha256${_PBKDF2_ROUNDS}${salt}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _algo, rounds, salt, expected = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds))
    return hmac.compare_digest(digest.hex(), expected)


@dataclass
class User:
    id: int
    firstname: str
    lastname: str
    email: str
    password_hash: str
    two_factor: bool = False
    datecreated: datetime = field(default_factory=datetime.now)


@dataclass
class Client:
    id: int
    firstname: str
    lastname: str
    email: str
    owner_user_id: int
    companyname: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = "JP"
    phonenumber: str = ""
    status: str = "Active"
    defaultgateway: str = ""
    invited_user_ids: list[int] = field(default_factory=list)
    datecreated: date = field(default_factory=date.today)
    customfields: dict[int, str] = field(default_factory=dict)
    email_preferences: dict[str, int] = field(default_factory=dict)
    notes: str = ""


@dataclass
class PayMethod:
    id: int
    userid: int
    type: str  # CreditCard, RemoteCreditCard, BankAccount, RemoteBankAccount
    description: str = ""
    gateway_name: str = ""
    card_last_four: str = ""
    expiry_date: str = ""  # MM/YY
    card_type: str = ""
    bank_name: str = ""
    last_updated: datetime = field(default_factory=datetime.now)
    order: int = 0


@dataclass
class InvoiceItem:
    id: int
    type: str  # Hosting, Item, Setup, ...
    relid: int
    description: str
    amount: Decimal
    taxed: bool = True


@dataclass
class Transaction:
    id: int
    userid: int
    gateway: str
    date: datetime
    transid: str
    amountin: Decimal
    fees: Decimal
    invoiceid: int


@dataclass
class Invoice:
    id: int
    userid: int
    date: dt.date
    duedate: dt.date
    status: str = "Unpaid"
    paymentmethod: str = "mailin"
    datepaid: datetime | None = None
    date_refunded: datetime | None = None
    date_cancelled: datetime | None = None
    taxrate: Decimal = Decimal(0)
    taxrate2: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    notes: str = ""
    invoicenum: str = ""
    items: list[InvoiceItem] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    created_at: datetime | None = None  # None: the invoice date at 00:00:00
    updated_at: datetime | None = None  # None: created_at

    def __post_init__(self) -> None:
        if self.created_at is None:
            self.created_at = datetime.combine(self.date, dt.time())
        if self.updated_at is None:
            self.updated_at = self.created_at

    @property
    def subtotal(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal(0))

    @property
    def taxable(self) -> Decimal:
        return sum((i.amount for i in self.items if i.taxed), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return (self.taxable * self.taxrate / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def tax2(self) -> Decimal:
        """Second-level tax on the same taxed lines, not compounded on the first."""
        return (self.taxable * self.taxrate2 / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax + self.tax2 - self.credit

    @property
    def balance(self) -> Decimal:
        paid = sum((t.amountin for t in self.transactions), Decimal(0))
        return self.total - paid

    def overdue(self, today: dt.date) -> bool:
        return self.status == "Unpaid" and self.duedate < today


@dataclass(frozen=True)
class Product:
    pid: int
    gid: int
    name: str
    groupname: str
    monthly: Decimal
    setupfee: Decimal = Decimal(0)
    paytype: str = "recurring"  # recurring | onetime
    customfields: tuple[tuple[int, str], ...] = ()  # (field id, name)


@dataclass
class Service:
    id: int
    userid: int
    orderid: int
    pid: int
    regdate: date
    billingcycle: str  # Monthly, Quarterly, ..., One Time
    firstpaymentamount: Decimal
    recurringamount: Decimal
    nextduedate: date | None
    paymentmethod: str
    status: str = "Pending"
    customfields: dict[str, str] = field(default_factory=dict)
    configoptions: dict[str, str] = field(default_factory=dict)


@dataclass
class Order:
    id: int
    ordernum: str
    userid: int
    date: datetime
    amount: Decimal
    paymentmethod: str
    invoiceid: int
    status: str = "Pending"
    notes: str = ""
    serviceids: list[int] = field(default_factory=list)
