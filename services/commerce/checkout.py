"""Checkout: refuse early, then create the Order and its items in ONE all-or-none composite.

Order of the checks (nothing is written to Salesforce before all pass): the request's shape →
the caller's account → a request id already used (the same order back) → products orderable
(PRODUCT_UNAVAILABLE) → SIM details → categories eligible (NOT_ELIGIBLE) → a WHMCS pay method
(PAYMENT_METHOD_REQUIRED, with the billing-address snapshot from the same billing call).

Idempotency: ``Portal_Request_Key__c`` (an external id, unique in Salesforce) is the request id
scoped to the account. A retry finds the order in ``commerce.orders``; concurrent retries in one
process share one attempt; across replicas (or after a timeout that hid a success) Salesforce
refuses the second insert with DUPLICATE_VALUE and the existing order is returned instead.

The customer's cached orders: the new order is read back into the cache and placed on the cached
pages (``order_placement.py``: a hold before the create, an edit after the read-back); any
failure after the hold drops the pages instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

import asyncpg
import structlog
from portal.commerce.v1 import orders_pb2

from services.commerce import repo
from services.commerce.catalog import Catalog
from services.commerce.mapping import composite_requests
from services.commerce.order_placement import OrderPlacement
from services.commerce.orders import Orders
from services.commerce.peers import BillingInternal
from services.commerce.validation import Line, resolve_lines, shape_violations, sim_violations
from services.common.cache import Cache, SingleFlight
from services.common.clients.salesforce import SalesforceClient
from services.common.directory import Directory
from services.common.errors import (
    DuplicateRecord,
    NotEligible,
    PaymentMethodRequired,
    ValidationFailed,
)
from services.common.idempotency import KEY_FIELD, request_key

log = structlog.get_logger("checkout")
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass
class Checkout:
    pool: asyncpg.Pool
    salesforce: SalesforceClient
    cache: Cache
    directory: Directory
    billing: BillingInternal
    catalog: Catalog
    orders: Orders
    # One creation per idempotency key in this process (a double-click waits for the first).
    _flights: SingleFlight[str] = field(default_factory=SingleFlight)

    @cached_property
    def placement(self) -> OrderPlacement:
        return OrderPlacement(self.cache, self.orders)

    async def create(
        self, user_id: str, request: orders_pb2.CreateOrderRequest
    ) -> orders_pb2.Order:
        violations = shape_violations(request)
        if violations:
            raise ValidationFailed(violations=violations)
        account_id = await self.directory.sf_account_of(user_id)
        if account_id is None:
            raise NotEligible("Your account cannot place orders online yet.")
        key = request_key(account_id, request.request_id)
        return await self._flights.run(key, lambda: self._create(user_id, account_id, key, request))

    async def _create(
        self, user_id: str, account_id: str, key: str, request: orders_pb2.CreateOrderRequest
    ) -> orders_pb2.Order:
        existing = await repo.order_by_request_key(self.pool, key)
        if existing is not None:
            return await self._placed(user_id, account_id, "", existing)
        lines = resolve_lines(request, await self.catalog.items())
        sim_violations(request, lines)
        await self._check_eligible(user_id, lines)
        profile = await self.billing.checkout_profile(user_id)
        if not profile.has_payment_method:
            raise PaymentMethodRequired()
        subs = composite_requests(
            account_id=account_id, key=key, lines=lines, sim=request.sim,
            address=profile.profile.address, today=datetime.now(TOKYO).date(),
        )  # fmt: skip
        placement = self.placement
        await placement.begin(user_id, key)
        order_id = ""
        try:
            order_id = await self._submit(key, subs)
            await placement.created(user_id, key, order_id)
            await repo.record_created_order(self.pool, order_id, account_id, key)
            log.info("order_created", order_id=order_id, lines=len(lines))
            return await self._placed(user_id, account_id, key, order_id)
        except BaseException:
            await placement.abandon(user_id, key, order_id)
            raise

    async def _check_eligible(self, user_id: str, lines: list[Line]) -> None:
        eligible = set(await self.catalog.eligible_categories(user_id))
        for line in lines:
            if line.item.product.category not in eligible:
                raise NotEligible(metadata={"product_id": line.item.product.id})

    async def _submit(self, key: str, subs: list[dict[str, object]]) -> str:
        try:
            responses = await self.salesforce.composite(subs, all_or_none=True)
        except DuplicateRecord:
            record = await self.salesforce.get_by_external_id("Order", KEY_FIELD, key)
            log.info("order_request_repeated", order_id=record["Id"])
            return str(record["Id"])
        return str(responses[0]["body"]["id"])

    async def _placed(
        self, user_id: str, account_id: str, key: str, order_id: str
    ) -> orders_pb2.Order:
        """The order read back, placed on the user's cached pages (releasing the hold of
        ``key``); they are dropped instead if it cannot be placed."""
        placement = self.placement
        record = await placement.read_back(user_id, account_id, order_id)
        await placement.place(user_id, key, record)
        return record.order
