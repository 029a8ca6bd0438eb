"""Salesforce Change Data Capture in the commerce process: one consumer, handlers subscribe.

``Dispatcher`` routes decoded change events to the handlers registered per object; ``Consumer``
holds the leader lock, follows one Pub/Sub topic per registered object and stores the replay ids.
The cache invalidation is one set of handlers (``invalidation``); fulfillment adds its own
``Order`` handler (``services.commerce.fulfillment.cdc_intake``) to the same dispatcher, so the
process holds one stream per topic.
"""

from services.commerce.cdc.consumer import Consumer
from services.commerce.cdc.dispatcher import Dispatcher, Handler

__all__ = ["Consumer", "Dispatcher", "Handler"]
