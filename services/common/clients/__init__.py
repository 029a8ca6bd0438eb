"""Clients of the systems of record: WHMCS, Salesforce (REST and Pub/Sub CDC) and Freebit.

One class per system, each raising only typed errors from ``services.common.errors`` and wrapped
in ``resilience`` (timeouts, tenacity retries for reads, a circuit breaker, a concurrency limit,
metrics and logs).
"""

from services.common.clients.cdc import ChangeEvent, KeepAlive
from services.common.clients.freebit import FreebitClient, FreebitConfig
from services.common.clients.freebit_codes import FreebitRejected
from services.common.clients.pubsub import PubSubConfig, SalesforcePubSubClient
from services.common.clients.resilience import BreakerOpen, CircuitBreaker, Policy, Upstream
from services.common.clients.salesforce import (
    QueryPage,
    SalesforceClient,
    SalesforceConfig,
    Session,
)
from services.common.clients.soql import Like, SoqlError, ident, like_contains, like_prefix, soql
from services.common.clients.whmcs import WhmcsClient, WhmcsConfig
from services.common.clients.whmcs_wire import WhmcsRejected

__all__ = [
    "BreakerOpen",
    "ChangeEvent",
    "CircuitBreaker",
    "FreebitClient",
    "FreebitConfig",
    "FreebitRejected",
    "KeepAlive",
    "Like",
    "Policy",
    "PubSubConfig",
    "QueryPage",
    "SalesforceClient",
    "SalesforceConfig",
    "SalesforcePubSubClient",
    "Session",
    "SoqlError",
    "Upstream",
    "WhmcsClient",
    "WhmcsConfig",
    "WhmcsRejected",
    "ident",
    "like_contains",
    "like_prefix",
    "soql",
]
