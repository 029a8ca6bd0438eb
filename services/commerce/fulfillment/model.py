"""The fulfillment state machine's vocabulary: states, failure codes, the order snapshot (no I/O).

A row's ``state`` is the next step to run. Steps run in :data:`STEPS` order; SIM provisioning
is skipped for orders without a SIM line. ``failed`` keeps ``failed_step`` so a retry resumes
where the order stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ACTIVATING = "activating"  # Salesforce Activation_Status__c = Activating
ORDERING = "ordering"  # WHMCS order created (found by note when an earlier attempt may have)
ACCEPTING = "accepting"  # WHMCS AcceptOrder
PROVISIONING = "provisioning"  # Freebit eSIM / physical registration (SIM orders)
AWAITING_ACTIVATION = "awaiting_activation"  # poll Freebit until the line is active
WRITING_BACK = "writing_back"  # one composite write to Salesforce
DONE, FAILED, SKIPPED = "done", "failed", "skipped"

STEPS = (ACTIVATING, ORDERING, ACCEPTING, PROVISIONING, AWAITING_ACTIVATION, WRITING_BACK)
FINAL = frozenset({DONE, FAILED, SKIPPED})

# Activation_Error_Code__c values.
PAYMENT_METHOD_MISSING = "PAYMENT_METHOD_MISSING"
WHMCS_CLIENT_MISSING = "WHMCS_CLIENT_MISSING"
WHMCS_ERROR = "WHMCS_ERROR"
FREEBIT_ERROR = "FREEBIT_ERROR"
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
ORDER_INVALID = "ORDER_INVALID"


def next_step(step: str, *, sim: bool) -> str:
    """The step after ``step`` (``done`` after the write-back)."""
    i = STEPS.index(step) + 1
    while i < len(STEPS) and not sim and STEPS[i] in (PROVISIONING, AWAITING_ACTIVATION):
        i += 1
    return STEPS[i] if i < len(STEPS) else DONE


class FulfillmentFailed(Exception):
    """A step failed for good: the order gets ``Activation_Status__c = Failed`` with ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ClaimLost(Exception):
    """This worker's lease on the order's row lapsed: it stops working the order, which another
    worker may have claimed (``worker``)."""


@dataclass(frozen=True)
class Item:
    id: str
    product_name: str
    wh_product_id: int | None
    billing_cycle: str  # WHMCS billing cycle ("monthly", "onetime", "annually")
    quantity: int
    plan_code: str | None


@dataclass(frozen=True)
class Order:
    id: str
    account_id: str
    status: str
    activation_status: str
    whmcs_order_id: str | None
    sim_type: str | None
    eid: str | None
    items: tuple[Item, ...]

    @property
    def sim_item(self) -> Item | None:
        """The SIM line (one per order: the Order has one ``SIM_Account__c``)."""
        return next((i for i in self.items if i.plan_code), None)

    @property
    def whmcs_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.wh_product_id)


@dataclass(frozen=True)
class Row:
    """One ``commerce.fulfillments`` row."""

    sf_order_id: str
    state: str
    failed_step: str | None
    attempts: int
    last_error: str | None
    error_code: str | None
    whmcs_client_id: int | None
    whmcs_order_id: int | None
    service_ids: tuple[int, ...]
    msisdn: str | None
    add_order_at: datetime | None  # last AddOrder attempt (None: none was made for this row)
    retry_since: datetime | None
    failed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: Any) -> Row:
        values = dict(record)
        values["service_ids"] = tuple(values.get("service_ids") or ())
        return cls(**{k: values[k] for k in cls.__dataclass_fields__})
