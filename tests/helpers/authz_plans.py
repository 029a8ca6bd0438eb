"""The authorization matrix's id providers: for every (RPC, field) that names a record, the
values customer B tries (A's real ids, guessed ids, malformed ids) and what B may be answered.

``tests/e2e/test_authz_matrix.py`` fails when a reference field of the protos has no entry in
``PROVIDERS`` (or an entry names a field that is gone); ``bench/authz_timing.py`` times the
"twin" pairs.
"""

from __future__ import annotations

import calendar
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.helpers import sf_ids
from tests.helpers.authz_world import World
from tests.helpers.rpc_surface import Endpoint

ID_REASONS = frozenset({"NOT_FOUND", "VALIDATION_FAILED"})
_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits})


@dataclass(frozen=True)
class Probe:
    kind: str  # "A's", "guessed", "malformed"
    label: str
    value: str


@dataclass(frozen=True)
class Plan:
    probes: list[Probe]
    fields: dict[str, Any] = field(default_factory=dict)  # the other request fields
    allowed: frozenset[str] = ID_REASONS
    # (A's value, a value of the same shape that names nothing) for the timing-class check
    twin: tuple[str, str] | None = None
    # A create whose key B may reuse: B gets a record of B's own (never A's) or a refusal.
    own_record_ok: bool = False


def malformed(real: str) -> list[Probe]:
    values = {
        "too long": real + "9" * 4096,
        "SOQL injection": "' OR Id != null",
        "SOQL injection after the id": f"{real}' OR Id != null OR Id = '",
        "SOQL LIKE": "%' OR Name LIKE '%",
        "path traversal": "../../v1/me",
        "path traversal after the id": f"{real}/../{real}",
        "query smuggling": f"{real}?pageSize=100",
        "full-width form": real.translate(_FULLWIDTH),
        "emoji": "\U0001f680",
        "NUL": f"{real}\x00",
        "blank": " ",
        "zero": "0",
        "negative": "-1",
        "null": "null",
        "JSON operator": '{"$ne": null}',
    }
    return [Probe("malformed", label, value) for label, value in values.items()]


def numeric_plan(kind: str, **fields: Any) -> Callable[[World], Plan]:
    """WHMCS ids (invoices, services): decimal numbers."""

    def plan(w: World) -> Plan:
        mine = w.a_ids[kind]
        assert mine, f"A has no {kind}: the matrix would test nothing"
        theirs = set(w.b_ids[kind])
        probes = [Probe("A's", f"A's {kind}", i) for i in mine]
        guesses = {int(i) + d for i in mine for d in (-2, -1, 1, 2)} | {1, 10**17}
        probes += [Probe("guessed", f"neighbour {g}", str(g)) for g in sorted(guesses)]
        probes = [p for p in probes if p.value not in theirs]
        real = mine[0]
        variants = {"exponent": "1e3", "hex": f"0x{int(real):X}", "decimal point": f"{real}.0",
                    "plus sign": f"+{real}", "19 digits": "9" * 19}  # fmt: skip
        probes += [Probe("malformed", label, v) for label, v in variants.items()]
        absent = next(str(n) for n in range(int("9" * len(real)), 0, -1) if str(n) not in w.known())
        return Plan(probes + malformed(real), dict(fields), twin=(real, absent))

    return plan


def salesforce_plan(kind: str, prefix: str, **fields: Any) -> Callable[[World], Plan]:
    """Salesforce ids: 15 or 18 characters, key prefix, case-safe checksum."""

    def plan(w: World) -> Plan:
        mine = w.a_ids[kind]
        assert mine, f"A has no {kind}: the matrix would test nothing"
        theirs = set(w.b_ids[kind])
        probes = [Probe("A's", f"A's {kind}", i) for i in mine]
        probes += [Probe("A's", f"A's {kind}, 15-character form", i[:15]) for i in mine]
        guesses = {sf_ids.neighbour(i, d) for i in mine for d in (-2, -1, 1, 2)}
        probes += [Probe("guessed", "neighbour", g) for g in sorted(guesses - set(mine) - theirs)]
        probes += [Probe("guessed", "nobody's", sf_ids.nobodys(prefix))]
        probes += [Probe("guessed", "a third account's", i) for i in w.other_ids[kind]]
        probes += [Probe("guessed", "A's id lower-cased", mine[0].lower())]
        probes += [Probe("guessed", "A's Account id", w.a.account_id)]
        real = mine[0]
        wrong = real[:15] + ("AAA" if real[15:] != "AAA" else "BBB")
        probes += [Probe("malformed", "wrong checksum", wrong)]
        return Plan(probes + malformed(real), dict(fields), twin=(real, sf_ids.nobodys(prefix)))

    return plan


def page_token_plan(rpc: str) -> Callable[[World], Plan]:
    """Page tokens are signed and bound to the user and the list: A's are no use to B."""

    def plan(w: World) -> Plan:
        tokens = {name: t for name, t in w.a_page_tokens.items() if t}
        assert tokens, "A has no second page anywhere: the matrix would test nothing"
        probes = [Probe("A's", f"A's token of {name}", t) for name, t in tokens.items()]
        real = tokens.get(rpc) or next(iter(tokens.values()))
        middle = len(real) // 2
        forged = real[:middle] + ("A" if real[middle] != "A" else "B") + real[middle + 1 :]
        probes += [Probe("guessed", "A's token with one character changed", forged)]
        probes += [Probe("guessed", "A's token truncated", real[:-4])]
        twin = (real, forged) if rpc in tokens else None
        return Plan(probes + malformed(real), {"pageSize": 1}, twin=twin)

    return plan


def product_plan(w: World) -> Plan:
    """The catalog is shared, so there is no "A's product"; hidden, inactive and made-up ids
    must all be NOT_FOUND, never the hidden product."""
    visible = w.products["VPN-STANDARD"]
    probes = [
        Probe("guessed", f"{sku} (not in the portal catalog)", w.products[sku])
        for sku in ("SIM-ACTIVATION-FEE", "STAFF-TEST-PRODUCT", "INTERNET-BRONZE-HOME-100M")
    ]
    probes += [Probe("guessed", "nobody's", sf_ids.nobodys("01t"))]
    probes += [Probe("guessed", "A's order id", w.a_ids["order"][0])]
    return Plan(probes + malformed(visible))


def order_line_plan(w: World) -> Plan:
    """CreateOrder's product ids: unknown, hidden or malformed, never an order."""
    base = product_plan(w)
    fields = {"requestId": f"authz-b-{uuid.uuid4().hex}", "items": [{"quantity": 1}]}
    allowed = frozenset({"VALIDATION_FAILED", "PRODUCT_UNAVAILABLE"})
    return Plan(base.probes, fields, allowed)


def request_id_plan(w: World) -> Plan:
    """A's idempotency keys from B must start B's own checkout (which stops: B may not order
    Internet), never answer with A's order."""
    line = {"productId": w.products["VPN-STANDARD"], "quantity": 1}
    probes = [Probe("A's", "A's request id", r) for r in w.a_request_ids]
    probes += [Probe("guessed", "A's order id as request id", w.a_ids["order"][0])]
    allowed = frozenset({"VALIDATION_FAILED", "NOT_ELIGIBLE", "PAYMENT_METHOD_REQUIRED"})
    return Plan(probes + malformed(w.a_request_ids[0]), {"items": [line]}, allowed)


def case_request_id_plan(w: World) -> Plan:
    """A's CreateCase idempotency keys from B file a case of B's own, never answer A's case
    (the key is scoped to the account); malformed keys are VALIDATION_FAILED."""
    probes = [Probe("A's", "A's case request id", r) for r in w.a_case_request_ids]
    probes += [Probe("guessed", "A's order request id", r) for r in w.a_request_ids]
    probes += [Probe("guessed", "A's case id as request id", w.a_ids["case"][0])]
    fields = {"subject": "B's own question"}
    return Plan(probes + malformed(w.a_case_request_ids[0]), fields, own_record_ok=True)


def msisdn_plan(**fields: Any) -> Callable[[World], Plan]:
    """Mobile numbers: 11 digits; neighbours are other customers' lines or nobody's."""

    def plan(w: World) -> Plan:
        mine = w.a_ids["sim"]
        assert mine, "A has no line: the matrix would test nothing"
        real = mine[0]
        probes = [Probe("A's", "A's line", m) for m in mine]
        guesses = {f"{int(real) + d:011d}" for d in (-2, -1, 1, 2)} - set(mine)
        probes += [Probe("guessed", f"neighbour {g}", g) for g in sorted(guesses)]
        probes += [Probe("guessed", "A's line without the leading 0", real[1:])]
        probes += [Probe("guessed", "A's line as +81", f"+81{real[1:]}")]
        absent = next(f"{int(real) + d:011d}" for d in range(3, 100) if f"{int(real) + d:011d}"
                      not in w.known())  # fmt: skip
        return Plan(probes + malformed(real), dict(fields), twin=(real, absent))

    return plan


def cancel_fields() -> dict[str, Any]:
    """A valid cancellation (end of this month, JST), so only the id decides the answer."""
    today = datetime.now(timezone(timedelta(hours=9))).date()
    run = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return {"requestId": f"authz-b-{uuid.uuid4().hex}", "runDate": run.isoformat()}


def cancel_request_id_plan(w: World) -> Plan:
    """CancelSim's idempotency key from B, aimed at A's line: NOT_FOUND before anything else,
    never A's cancellation (and A's line is never cancelled)."""
    probes = [Probe("guessed", "A's order request id", r) for r in w.a_request_ids]
    probes += [Probe("guessed", "A's case request id", r) for r in w.a_case_request_ids]
    fields = {"msisdn": w.a_ids["sim"][0], "runDate": cancel_fields()["runDate"]}
    return Plan(probes + malformed(w.a_request_ids[0]), fields)


PROVIDERS: dict[str, Callable[[World], Plan]] = {
    "portal.billing.v1.BillingService.ListInvoices:page_token": page_token_plan("ListInvoices"),
    "portal.billing.v1.BillingService.GetInvoice:invoice_id": numeric_plan("invoice"),
    "portal.billing.v1.BillingService.CreateInvoicePaymentLink:invoice_id": numeric_plan("invoice"),
    "portal.billing.v1.BillingService.ListSubscriptions:page_token": page_token_plan(
        "ListSubscriptions"
    ),
    "portal.billing.v1.BillingService.GetSubscription:subscription_id": numeric_plan(
        "subscription"
    ),
    "portal.commerce.v1.CatalogService.GetProduct:product_id": product_plan,
    "portal.commerce.v1.OrderService.CreateOrder:request_id": request_id_plan,
    "portal.commerce.v1.OrderService.CreateOrder:items.product_id": order_line_plan,
    "portal.commerce.v1.OrderService.ListOrders:page_token": page_token_plan("ListOrders"),
    "portal.commerce.v1.OrderService.GetOrder:order_id": salesforce_plan("order", "801"),
    "portal.commerce.v1.SimService.GetSimUsage:msisdn": msisdn_plan(),
    "portal.commerce.v1.SimService.CancelSim:msisdn": msisdn_plan(**cancel_fields()),
    "portal.commerce.v1.SimService.CancelSim:request_id": cancel_request_id_plan,
    "portal.support.v1.SupportService.CreateCase:request_id": case_request_id_plan,
    "portal.support.v1.SupportService.ListCases:page_token": page_token_plan("ListCases"),
    "portal.support.v1.SupportService.GetCase:case_id": salesforce_plan("case", "500"),
    "portal.support.v1.SupportService.AddCaseComment:case_id": salesforce_plan(
        "case", "500", body="A comment B should never be able to leave."
    ),
}
# Lists: whose items they hold. A new list RPC must be added here.
LISTS = {
    "ListInvoices": "own",
    "ListSubscriptions": "own",
    "ListOrders": "own",
    "ListSims": "own",
    "ListCases": "own",
    "ListPaymentMethods": "own",
    "ListProducts": "shared",
    "ListPaymentGateways": "shared",
}


def key(endpoint: Endpoint, field_name: str) -> str:
    return f"{endpoint.full_name}:{field_name}"
