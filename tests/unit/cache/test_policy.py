from __future__ import annotations

import pytest

from services.common.cache import SharedCatalogScope, UserScope, policy
from services.common.cache.policy import HOUR, MINUTE, SAFETY_TTL, Entry

# The freshness table of docs/cache.md, restated: (ttl seconds, event-driven)
EXPECTED = {
    "catalog.products": (12 * HOUR, True),
    "catalog.prices": (12 * HOUR, True),
    "catalog.volatile": (60, False),
    "eligibility.account": (12 * HOUR, True),
    "orders.list": (12 * HOUR, True),
    "orders.detail": (12 * HOUR, True),
    "invoices.list": (5 * MINUTE, False),
    "invoices.detail": (5 * MINUTE, False),
    "subscriptions.list": (HOUR, True),
    "subscriptions.detail": (HOUR, True),
    "payments.methods": (15 * MINUTE, False),
    "payments.gateways": (HOUR, False),
    "profile.whmcs": (30 * MINUTE, False),
    "signup.customer_lookup": (30, False),
    "account_links.user": (5 * MINUTE, False),
    "sims.usage": (5 * MINUTE, False),  # docs/sims.md, "Cache"
}


def test_policy_table_matches_the_architecture() -> None:
    assert {n: (e.ttl, e.event_driven) for n, e in policy.POLICY.items()} == EXPECTED
    assert SAFETY_TTL == 12 * HOUR


def test_support_cases_are_never_cached() -> None:
    assert not [n for n in policy.POLICY if "case" in n or "support" in n]
    assert all(e.service != "support" for e in policy.ENTRIES)


def test_only_the_catalog_is_shared() -> None:
    shared = {n for n, e in policy.POLICY.items() if e.scope is SharedCatalogScope}
    assert shared == {"catalog.products", "catalog.prices", "catalog.volatile"}
    assert policy.INVOICES_LIST.scope is UserScope


def test_generations_outlive_every_entry() -> None:
    assert policy.GENERATION_TTL > policy.MAX_TTL


def test_entries_validate_their_fields() -> None:
    with pytest.raises(ValueError):
        Entry("x", "billing", "bad:resource", policy.INVOICES, 60)
    with pytest.raises(ValueError):
        Entry("x", "billing", "ok", policy.INVOICES, SAFETY_TTL + 1)
    with pytest.raises(ValueError):
        policy.Family("Bad-Name", UserScope)
