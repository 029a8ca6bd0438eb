"""Clients of the systems of record: WHMCS, Salesforce (REST and Pub/Sub CDC) and Freebit.

One class per system, each raising only typed errors from ``services.common.errors`` and wrapped
in ``resilience`` (timeouts, tenacity retries for reads, a circuit breaker, a concurrency limit,
metrics and logs).
"""

from services.common.clients.resilience import BreakerOpen, CircuitBreaker, Policy, Upstream
from services.common.clients.whmcs import WhmcsClient, WhmcsConfig
from services.common.clients.whmcs_wire import WhmcsRejected

__all__ = [
    "BreakerOpen",
    "CircuitBreaker",
    "Policy",
    "Upstream",
    "WhmcsClient",
    "WhmcsConfig",
    "WhmcsRejected",
]
