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

redis-py's cluster client and keyspace-notification modules load on the first use of their names
(a ``redis+cluster://`` URL): registered here, before redis-py's first import
(``services.common.lean.defer_unused_imports``).
"""

from services.common import lean

lean.defer_unused_imports()

from services.common.cache import policy  # noqa: E402
from services.common.cache.breaker import CircuitBreaker  # noqa: E402
from services.common.cache.cache import Cache  # noqa: E402
from services.common.cache.client import RedisClient, redis_from_url  # noqa: E402
from services.common.cache.flight import SingleFlight  # noqa: E402
from services.common.cache.keys import DEFAULT_NAMESPACE, NO_VARIANT, Variant  # noqa: E402
from services.common.cache.patch import DROP, Edit, Unpatchable  # noqa: E402
from services.common.cache.policy import Entry, Family  # noqa: E402
from services.common.cache.scope import (  # noqa: E402
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
