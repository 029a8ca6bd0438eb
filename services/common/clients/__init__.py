"""Clients of the systems of record: WHMCS, Salesforce (REST and Pub/Sub CDC) and Freebit.

One class per system, each raising only typed errors from ``services.common.errors`` and wrapped
in ``resilience`` (timeouts, tenacity retries for reads, a circuit breaker, a concurrency limit,
metrics and logs).

Submodules are imported on first use (PEP 562), so a service that only talks to WHMCS never loads
simple-salesforce (requests) or fastavro: tens of MB of RSS and a second of start-up. Before any of
them, modules those libraries import but the portal does not use (simple-salesforce's Metadata API
with zeep and lxml and its Bulk API 2.0, requests' charset detection) are set to load on first use
(``services.common.lean.defer_unused_imports``).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from services.common import lean

# Light and always needed; ``soql`` must be bound eagerly (the function shares its name with its
# submodule, which Python would otherwise put on the package when the submodule loads).
from services.common.clients.resilience import BreakerOpen, CircuitBreaker, Policy, Upstream
from services.common.clients.soql import (
    Like,
    SoqlError,
    ident,
    like_contains,
    like_prefix,
    soql,
)

lean.defer_unused_imports()

# httpx logs one INFO line per request ("HTTP Request: POST ..."): every call through these
# clients is already counted and timed by ``Upstream`` (and logged when it fails), so the line only
# costs a JSON log record per upstream request (several per order in a fulfillment burst).
logging.getLogger("httpx").setLevel(logging.WARNING)

if TYPE_CHECKING:
    from services.common.clients.cdc import ChangeEvent, KeepAlive
    from services.common.clients.freebit import FreebitClient, FreebitConfig
    from services.common.clients.freebit_codes import FreebitRejected
    from services.common.clients.pubsub import PubSubConfig, SalesforcePubSubClient
    from services.common.clients.salesforce import (
        QueryPage,
        SalesforceClient,
        SalesforceConfig,
        Session,
    )
    from services.common.clients.whmcs import WhmcsClient, WhmcsConfig
    from services.common.clients.whmcs_wire import WhmcsRejected

_WHERE = {
    "ChangeEvent": "cdc",
    "FreebitClient": "freebit",
    "FreebitConfig": "freebit",
    "FreebitRejected": "freebit_codes",
    "KeepAlive": "cdc",
    "PubSubConfig": "pubsub",
    "QueryPage": "salesforce",
    "SalesforceClient": "salesforce",
    "SalesforceConfig": "salesforce",
    "SalesforcePubSubClient": "pubsub",
    "Session": "salesforce",
    "WhmcsClient": "whmcs",
    "WhmcsConfig": "whmcs",
    "WhmcsRejected": "whmcs_wire",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
