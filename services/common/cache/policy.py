"""The freshness policy: ONE table, the single source of truth (``docs/cache.md``).

Services name an entry (``policy.INVOICES_LIST``), never a number. Each entry declares the
scope type its keys take (``Entry[UserScope]`` vs ``Entry[SharedCatalogScope]``), so mypy rejects
building a key for account data without a user, and the family whose generation drops it.

Event-driven entries are cleared by CDC / webhooks / our own writes (``Cache.invalidate``);
their TTL is only the safety net (12 h) for a missed event. A CDC ``GAP_*`` event or a lost replay
position drops the whole family for every user (``Cache.invalidate_all``).

Support cases are deliberately absent: they are always read live from Salesforce (a case a customer
just opened or an agent just answered must show at once), so there is no entry to name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from services.common.cache.scope import (
    CustomerNumberScope,
    Scope,
    SharedCatalogScope,
    UserScope,
)

S = TypeVar("S", bound=Scope)

MINUTE = 60
HOUR = 60 * MINUTE
SAFETY_TTL = 12 * HOUR
"""TTL of event-driven entries: the bound on staleness if an invalidation event is lost."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Family(Generic[S]):
    """Entries dropped together by one generation bump (e.g. every invoice page of a user)."""

    name: str
    scope: type[S]

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"bad family name {self.name!r}")


@dataclass(frozen=True, slots=True)
class Entry(Generic[S]):
    """One cached resource: where its keys live, how long they live, which family drops them.

    ``version`` is bumped by hand to discard old values whose meaning changed without the message
    schema changing (the schema itself is hashed into the key automatically). ``patchable``: each
    fill also records the value's key in the scope's index of the entry, so an event can edit
    every cached value in place (``Cache.patch``) instead of dropping the family.
    """

    name: str
    service: str
    resource: str
    family: Family[S]
    ttl: int
    event_driven: bool = False
    version: int = 1
    patchable: bool = False

    @property
    def scope(self) -> type[S]:
        return self.family.scope

    def __post_init__(self) -> None:
        if not (_NAME.match(self.service) and _NAME.match(self.resource)):
            raise ValueError(f"bad service/resource in entry {self.name!r}")
        if not 0 < self.ttl <= SAFETY_TTL:
            raise ValueError(f"entry {self.name!r}: TTL must be in (0, {SAFETY_TTL}] s")


# -- families ------------------------------------------------------------------------------------
CATALOG = Family("catalog", SharedCatalogScope)
ELIGIBILITY = Family("eligibility", UserScope)
ORDERS = Family("orders", UserScope)
ORDER_DETAILS = Family("order_details", UserScope)
INVOICES = Family("invoices", UserScope)
INVOICE_DETAILS = Family("invoice_details", UserScope)
SUBSCRIPTIONS = Family("subscriptions", UserScope)
PAYMENTS = Family("payments", UserScope)
PROFILE = Family("profile", UserScope)
ACCOUNT_LINKS = Family("account_links", UserScope)
SIGNUP_LOOKUP = Family("signup_lookup", CustomerNumberScope)
SIM_USAGE = Family("sim_usage", UserScope)

# -- the table -----------------------------------------------------------------------------------
# Catalog: Product2/PricebookEntry CDC; "volatile" bits (stock/availability flags) 60 s.
CATALOG_PRODUCTS = Entry(
    "catalog.products", "commerce", "products", CATALOG, SAFETY_TTL, event_driven=True
)
CATALOG_PRICES = Entry(
    "catalog.prices", "commerce", "prices", CATALOG, SAFETY_TTL, event_driven=True
)
CATALOG_VOLATILE = Entry("catalog.volatile", "commerce", "volatile", CATALOG, MINUTE)
# Eligibility per account: Account CDC (Portal_Eligible_Categories__c).
ELIGIBILITY_ACCOUNT = Entry(
    "eligibility.account", "commerce", "eligibility", ELIGIBILITY, SAFETY_TTL, event_driven=True
)
# Orders: Order/OrderItem CDC. The list pages and the single orders are two families: a new order
# (an Order CREATE event) changes the pages only (an order that did not exist has no cached copy:
# NOT_FOUND is never cached), a change of an existing order or of its items changes both. An
# Order UPDATE of the fields the portal shows (status, activation status and error) that carries
# the order's LastModifiedDate is applied to the cached copies in place (``Cache.patch``,
# ``commerce/cdc/order_patch.py``) when it is newer than the copy; an order the customer's own
# checkout creates is placed on the cached first pages by checkout, under a 30 s hold
# (``commerce/order_placement.py``), and its creation's events leave them; anything else drops
# the families.
ORDERS_LIST = Entry(
    "orders.list", "commerce", "orders", ORDERS, SAFETY_TTL, event_driven=True, patchable=True
)
ORDER_DETAIL = Entry(
    "orders.detail",
    "commerce",
    "order",
    ORDER_DETAILS,
    SAFETY_TTL,
    event_driven=True,
    patchable=True,
)
# SIM data usage (Freebit PA05-01), per user and line: 5 min. Freebit pushes nothing, so only a
# TTL can bound staleness; usage moves by a few MB an hour, which 5 min cannot misrepresent,
# while a customer reloading the page does not become one PA05-01 call per view (Freebit asks
# operators not to poll it heavily). Only lines the caller owns are stored (the loader checks
# ownership first). A "refresh" read drops the user's family when the cached figures are older
# than the throttle (``COMMERCE_SIM_USAGE_REFRESH_MIN_S``); a cancellation drops it too.
SIM_USAGE_LINE = Entry("sims.usage", "commerce", "sim_usage", SIM_USAGE, 5 * MINUTE)
# Billing (WHMCS): WHMCS webhooks (``services/billing/webhooks.py``) and our writes clear the
# families; the TTL bounds what changes without a hook.
# Invoices: TTLs. The hooks cover payments, status changes, refunds, new invoices, late fees and
# changes of line items, but WHMCS's hooks reference ("Invoices and Quotes") has none for a
# deleted invoice or for an UpdateInvoice of the due date, the issue date (the pages' order), the
# tax rate or the credit: 5 min bounds those, for the pages and the single invoices alike. The
# value holds WHMCS's own status; OVERDUE is derived from the cached due date when served
# (``billing/invoices.py``), and a page of the Overdue filter is cached per day, so the day
# changing needs no TTL. The pages and the single invoices are two families: a new invoice
# changes the pages only. ``version`` 2: values hold WHMCS's status, not OVERDUE. A single
# invoice's 5 min run from its GetInvoice: a page read does not restart them, since a page's rows
# carry no lines and no balance, and an UpdateInvoice of lines that keeps the totals may run no
# hook (the hooks reference names UpdateInvoiceTotal for line changes without saying whether the
# API runs it; the sandbox does not), so a matching row proves nothing about the lines
# (``docs/cache.md``, "Invoices").
INVOICES_LIST = Entry("invoices.list", "billing", "invoices", INVOICES, 5 * MINUTE, version=2)
INVOICE_DETAIL = Entry(
    "invoices.detail", "billing", "invoice", INVOICE_DETAILS, 5 * MINUTE, version=2
)
# Subscriptions (WHMCS services): event-driven. Every change of what the portal shows has a hook:
# status (AfterModuleCreate/Suspend/Unsuspend/Terminate, ServiceEdit, ServiceDelete), the next due
# date (a renewal moves it when its invoice is paid: InvoicePaid; an edit: ServiceEdit), plan and
# amount (AfterModuleChangePackage, ServiceEdit), new services (AcceptOrder). One hour, not 12 h:
# a product renamed by staff (a product, not a client, change) and edits through the API whose
# hooks WHMCS does not document reach the portal by expiry.
SUBSCRIPTIONS_LIST = Entry(
    "subscriptions.list", "billing", "subscriptions", SUBSCRIPTIONS, HOUR, event_driven=True
)
SUBSCRIPTION_DETAIL = Entry(
    "subscriptions.detail", "billing", "subscription", SUBSCRIPTIONS, HOUR, event_driven=True
)
# Pay methods: TTL. WHMCS has no hook when a client adds, removes or replaces a card (only events
# naming a ``paymethodid`` drop it); an empty list is confirmed live (``billing/payments.py``).
PAYMENT_METHODS = Entry("payments.methods", "billing", "pay_methods", PAYMENTS, 15 * MINUTE)
PAYMENT_GATEWAYS = Entry("payments.gateways", "billing", "gateways", PAYMENTS, HOUR)
# Profile: ClientEdit (every change of the client's details) and our own updates; 30 min bounds a
# lost hook delivery. An update drops it and reads it back (``billing/profile.py``); a ClientEdit
# whose fields are the cached ones keeps the copy, in place (``billing/webhooks.py``).
WHMCS_PROFILE = Entry("profile.whmcs", "billing", "profile", PROFILE, 30 * MINUTE, patchable=True)
# Sign-up: Salesforce account by customer number, 30 s to keep the form responsive.
SIGNUP_CUSTOMER_LOOKUP = Entry(
    "signup.customer_lookup", "identity", "customer_lookup", SIGNUP_LOOKUP, 30
)
# Account links (identity's AccountDirectory: user -> WHMCS client id / Salesforce account id),
# read on nearly every billing/commerce request; identity alone fills and invalidates it. 5 min:
# the mapping changes only on sign-up/link (identity invalidates the family on those writes), so
# the TTL only bounds how long a change made outside the portal (an admin re-link in Postgres) can
# route a user to the old ids; 5 min keeps that window short while still absorbing almost every
# directory call. Lookups that find no link
# raise NotFound in the loader and are never cached, so a fresh sign-up is visible immediately.
ACCOUNT_LINKS_USER = Entry(
    "account_links.user", "identity", "account_links", ACCOUNT_LINKS, 5 * MINUTE
)
# Support cases: never cached (read live from Salesforce); intentionally no entry.

ENTRIES: tuple[Entry[Any], ...] = (
    CATALOG_PRODUCTS,
    CATALOG_PRICES,
    CATALOG_VOLATILE,
    ELIGIBILITY_ACCOUNT,
    ORDERS_LIST,
    ORDER_DETAIL,
    SIM_USAGE_LINE,
    INVOICES_LIST,
    INVOICE_DETAIL,
    SUBSCRIPTIONS_LIST,
    SUBSCRIPTION_DETAIL,
    PAYMENT_METHODS,
    PAYMENT_GATEWAYS,
    WHMCS_PROFILE,
    SIGNUP_CUSTOMER_LOOKUP,
    ACCOUNT_LINKS_USER,
)
POLICY: Mapping[str, Entry[Any]] = {entry.name: entry for entry in ENTRIES}
FAMILIES: Mapping[str, Family[Any]] = {entry.family.name: entry.family for entry in ENTRIES}
MAX_TTL = max(entry.ttl for entry in ENTRIES)
GENERATION_TTL = 2 * MAX_TTL
"""Generation counters outlive every entry they guard (see ``keys``); must stay > ``MAX_TTL``."""
