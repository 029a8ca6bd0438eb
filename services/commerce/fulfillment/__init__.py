"""Fulfillment: Salesforce order approval → WHMCS order → Freebit SIM activation →
Salesforce write-back, exactly once, inside the commerce process.

``handle = await start_fulfillment(settings, settings.fulfillment, clients=...)`` (commerce's
clients); ``await handle.stop()``. See ``docs/services.md``,
"Fulfillment".
"""

from services.commerce.fulfillment.service import Clients, Fulfillment, start_fulfillment
from services.commerce.fulfillment.settings import FulfillmentSettings

__all__ = ["Clients", "Fulfillment", "FulfillmentSettings", "start_fulfillment"]
