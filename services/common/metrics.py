"""Prometheus metrics shared by the library and the services (one definition each).

Exposed over HTTP by each service (see the production-shape work); tests read them through
``REGISTRY`` / ``value()``.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# -- RPCs served -------------------------------------------------------------------------------
RPC_HANDLED = Counter(
    "portal_rpc_handled_total", "RPCs served, by method and gRPC status code.", ["method", "code"]
)
RPC_LATENCY = Histogram(
    "portal_rpc_latency_seconds",
    "Time to serve an RPC (a stream: until it ends), by method.",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# -- cache -------------------------------------------------------------------------------------
CACHE_REQUESTS = Counter(
    "portal_cache_requests_total",
    "Cache lookups by policy entry and result (hit, miss, error, bypass).",
    ["entry", "result"],
)
CACHE_MISSES = Counter(
    "portal_cache_misses_total",
    'Cache misses by policy entry, why and the RPC being served (rpc="background" outside '
    "any): first (never filled), expired (TTL or eviction), invalidated (an event or a write "
    "moved the scope's generation since the fill), unreadable (did not parse), unknown (the "
    "fill marker could not be read).",
    ["entry", "why", "rpc"],
)
CACHE_ERRORS = Counter(
    "portal_cache_errors_total", "Redis errors and timeouts by operation.", ["operation"]
)
CACHE_NEAR_HITS = Counter(
    "portal_cache_near_hits_total",
    "Cache hits served from the process's own short-lived copy, without Redis, by policy entry "
    '(also counted as result="hit" in portal_cache_requests_total).',
    ["entry"],
)
CACHE_NEAR_SUBSCRIBED = Gauge(
    "portal_cache_near_subscribed",
    "1 while the cache's invalidation connection is subscribed (copies of hits are kept).",
)
CACHE_BREAKER_OPEN = Gauge(
    "portal_cache_breaker_open", "1 while the cache's circuit breaker is open (Redis skipped)."
)

# -- upstream systems (whmcs, salesforce, salesforce_pubsub, freebit) ---------------------------
UPSTREAM_CALLS = Counter(
    "portal_upstream_calls_total",
    "Calls to systems of record by system, operation and outcome.",
    ["system", "operation", "outcome"],
)
UPSTREAM_CALLS_BY_RPC = Counter(
    "portal_upstream_calls_by_rpc_total",
    "Calls made to systems of record, by system and the RPC being served when they were made "
    '(rpc="background": outside any RPC, e.g. the CDC consumer, fulfillment, the outbox).',
    ["system", "rpc"],
)
UPSTREAM_LATENCY = Histogram(
    "portal_upstream_latency_seconds",
    "Latency of calls to systems of record.",
    ["system", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UPSTREAM_BREAKER_OPEN = Gauge(
    "portal_upstream_breaker_open", "1 while a system's circuit breaker is open.", ["system"]
)


# -- live order streams (commerce) --------------------------------------------------------------
WATCH_OPEN_STREAMS = Gauge(
    "portal_watch_open_streams", "WatchOrders and order-event streams open on this replica."
)
WATCH_SUBSCRIBED_CHANNELS = Gauge(
    "portal_watch_subscribed_channels",
    "Users' order-change channels this replica is subscribed to in Redis (pub/sub).",
)


# -- fulfillment (commerce) ------------------------------------------------------------------------
FULFILLMENT_STEPS = Counter(
    "portal_fulfillment_steps_total",
    "Fulfillment steps by step and outcome (done, failed, retry).",
    ["step", "outcome"],
)
FULFILLMENT_FAILURES = Counter(
    "portal_fulfillment_failures_total", "Orders marked Failed, by error code.", ["code"]
)
FULFILLMENT_LAG = Histogram(
    "portal_fulfillment_lag_seconds",
    "From an approval taken in to the Salesforce write-back of the activated order.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)


def value(
    name: str, labels: dict[str, str] | None = None, registry: CollectorRegistry = REGISTRY
) -> float:
    """Current value of one sample (0 when absent); for tests and benchmarks."""
    return registry.get_sample_value(name, labels or {}) or 0.0
