"""The per-user cache: one library for all services (ARCHITECTURE.md, "Cache (Redis)").

    cache = Cache.from_url(settings.redis_url.get_secret_value(), service="billing")
    scope = UserScope(ctx.user_id)
    page = await cache.get_or_load(
        policy.INVOICES_LIST, scope, lambda: whmcs.list_invoices(...), ListInvoicesResponse,
        variant=f"page={n}",
    )
    await cache.invalidate(scope, policy.INVOICES)          # after a write / WHMCS webhook
    await cache.invalidate_all(policy.ORDERS)               # CDC GAP_* event

Lists are cached as the RPC's response message (``ListInvoicesResponse``), so no wrapper is needed.
"""

from services.common.cache import policy
from services.common.cache.breaker import CircuitBreaker
from services.common.cache.cache import Cache
from services.common.cache.client import RedisClient, redis_from_url
from services.common.cache.policy import Entry, Family
from services.common.cache.scope import (
    SHARED_CATALOG,
    CustomerNumberScope,
    Scope,
    SharedCatalogScope,
    UserScope,
)

__all__ = [
    "SHARED_CATALOG",
    "Cache",
    "CircuitBreaker",
    "CustomerNumberScope",
    "Entry",
    "Family",
    "RedisClient",
    "Scope",
    "SharedCatalogScope",
    "UserScope",
    "policy",
    "redis_from_url",
]
