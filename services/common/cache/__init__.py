"""The per-user cache: one library for all services (``docs/cache.md``).

    cache = Cache.from_url(
        settings.redis_url.get_secret_value(), service="billing", namespace=settings.cache_namespace
    )
    scope = UserScope(ctx.user_id)
    page = await cache.get_or_load(
        policy.INVOICES_LIST, scope, lambda: whmcs.list_invoices(...), ListInvoicesResponse,
        variant=Variant.of(status="paid", offset=20, size=10),
    )
    await cache.invalidate(scope, policy.INVOICES)          # after a write / WHMCS webhook
    await cache.invalidate_all(policy.ORDERS)               # CDC GAP_* event

Lists are cached as the RPC's response message (``ListInvoicesResponse``), so no wrapper is needed.
Every Redis key (cache values, locks, generations, webhook dedupe, pub/sub channels) comes from
``keys``; services never format key text.
"""

from services.common.cache import policy
from services.common.cache.breaker import CircuitBreaker
from services.common.cache.cache import Cache
from services.common.cache.client import RedisClient, redis_from_url
from services.common.cache.flight import SingleFlight
from services.common.cache.keys import DEFAULT_NAMESPACE, NO_VARIANT, Variant
from services.common.cache.patch import DROP, Edit, Unpatchable
from services.common.cache.policy import Entry, Family
from services.common.cache.scope import (
    SHARED_CATALOG,
    CustomerNumberScope,
    Scope,
    SharedCatalogScope,
    UserScope,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "DROP",
    "NO_VARIANT",
    "SHARED_CATALOG",
    "Cache",
    "CircuitBreaker",
    "CustomerNumberScope",
    "Edit",
    "Entry",
    "Family",
    "RedisClient",
    "Scope",
    "SharedCatalogScope",
    "SingleFlight",
    "Unpatchable",
    "UserScope",
    "Variant",
    "policy",
    "redis_from_url",
]
