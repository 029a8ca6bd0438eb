"""What the tests do as the portal and as staff: create orders in Salesforce over REST (Pending
Review), approve them, and look at the three systems of record afterwards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.common.clients import FreebitClient, SalesforceClient, WhmcsClient, soql

ESIM_EID = "89049032000001000000000000001234"
ACCOUNTS = {"hanako": "AC-000101", "taro": "AC-000102", "kenji": "AC-000103", "yuki": "AC-000104"}


@dataclass
class Portal:
    sf: SalesforceClient
    whmcs: WhmcsClient
    freebit: FreebitClient

    async def account_id(self, who: str) -> str:
        rows = await self.sf.query(
            soql("SELECT Id FROM Account WHERE SF_Account_No__c = {}", ACCOUNTS[who])
        )
        return str(rows[0]["Id"])

    async def entries(self) -> dict[str, dict[str, Any]]:
        rows = await self.sf.query(
            "SELECT Id, UnitPrice, Pricebook2Id, Product2.StockKeepingUnit FROM PricebookEntry "
            "WHERE Pricebook2.Name = 'Portal Pricebook'"
        )
        return {str(r["Product2"]["StockKeepingUnit"]): r for r in rows}

    async def create_order(self, who: str, skus: list[str], **fields: Any) -> str:
        """As checkout does: an Order in Pending Review with its items."""
        entries = await self.entries()
        order_id = await self.sf.create(
            "Order",
            {"AccountId": await self.account_id(who), "Status": "Pending Review",
             "EffectiveDate": date.today().isoformat(),
             "Pricebook2Id": entries[skus[0]]["Pricebook2Id"], "Order_Type__c": "New", **fields},
        )  # fmt: skip
        for sku in skus:
            entry = entries[sku]
            await self.sf.create(
                "OrderItem",
                {"OrderId": order_id, "PricebookEntryId": entry["Id"], "Quantity": 1,
                 "UnitPrice": entry["UnitPrice"]},
            )  # fmt: skip
        return order_id

    async def approve(self, order_id: str) -> None:
        await self.sf.update("Order", order_id, {"Status": "Approved"})

    async def approve_together(self, order_ids: list[str]) -> None:
        """Staff approve several orders in one transaction (one composite, all or none)."""
        await self.sf.composite(
            [
                {"method": "PATCH", "url": f"sobjects/Order/{oid}", "referenceId": f"a{i}",
                 "body": {"Status": "Approved"}}
                for i, oid in enumerate(order_ids)
            ]
        )  # fmt: skip

    async def order(self, order_id: str) -> dict[str, Any]:
        return await self.sf.get("Order", order_id)

    async def items(self, order_id: str) -> list[dict[str, Any]]:
        return await self.sf.query(
            soql("SELECT Id, WHMCS_Service_ID__c FROM OrderItem WHERE OrderId = {}", order_id)
        )

    async def settled(
        self, order_id: str, within: float = 20.0, states: tuple[str, ...] = ("Activated", "Failed")
    ) -> dict[str, Any]:
        """The order once Activated or Failed (or in one of ``states``)."""
        deadline = time.monotonic() + within
        while True:
            order = await self.order(order_id)
            if order.get("Activation_Status__c") in states:
                return order
            assert time.monotonic() < deadline, f"order still {order.get('Activation_Status__c')}"
            await asyncio.sleep(0.1)

    async def whmcs_orders(self, client_id: int, order_id: str) -> list[dict[str, Any]]:
        page = await self.whmcs.get_orders(user_id=client_id, limitnum=500)
        return [o for o in page.rows if o.get("notes") == f"sfOrderId={order_id}"]
