"""Seed data loader: demo accounts/contacts, the Portal Pricebook catalog and a closed case.

The data itself lives in ``seed_data.json`` beside this module (agreement: sandbox/SEED.md).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .store import Store

DATA_FILE = Path(__file__).with_name("seed_data.json")


@cache
def seed_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


def load(store: Store, pricebook_name: str) -> None:
    """Create the seed records; no CDC events are emitted for them."""
    data = seed_data()
    standard = store.create("Pricebook2", {"Name": "Standard Price Book", "IsActive": True})
    store.records["Pricebook2"][standard]["IsStandard"] = True
    portal = store.create(
        "Pricebook2",
        {"Name": pricebook_name, "IsActive": True, "Description": "Products sold in the portal"},
    )
    accounts: dict[str, str] = {}
    for account in data["accounts"]:
        fields = {k: v for k, v in account.items() if k != "Contact"}
        account_id = store.create("Account", fields)
        accounts[account["SF_Account_No__c"]] = account_id
        store.create("Contact", {"AccountId": account_id, **account["Contact"]})
    for product in data["products"]:
        fields = {k: v for k, v in product.items() if k != "UnitPrice"}
        fields.update(
            ProductCode=product["StockKeepingUnit"],
            Description=f"{product['Name']} ({product['Product2Categories1__c']})",
        )
        product_id = store.create("Product2", fields)
        for book in (standard, portal):
            entry = {"Pricebook2Id": book, "Product2Id": product_id}
            entry.update(UnitPrice=product["UnitPrice"], IsActive=product["IsActive"])
            store.create("PricebookEntry", entry)
    for case in data["cases"]:
        fields = {k: v for k, v in case.items() if k not in ("Account", "Comments")}
        case_id = store.create("Case", {"AccountId": accounts[case["Account"]], **fields})
        for comment in case["Comments"]:
            store.create("CaseComment", {"ParentId": case_id, **comment})
    store.drain()
