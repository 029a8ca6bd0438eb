"""Salesforce Change Data Capture in the commerce process: one consumer, handlers subscribe.

``Dispatcher`` routes decoded change events to the handlers registered per object; ``Consumer``
holds the leader lock, follows one Pub/Sub topic per registered object and stores the replay ids.
Cache invalidation is one set of handlers (``invalidation``); fulfillment adds its
own ``Order`` handler to the same dispatcher.
"""

from services.commerce.cdc.consumer import Consumer
from services.commerce.cdc.dispatcher import Dispatcher, Handler

__all__ = ["Consumer", "Dispatcher", "Handler"]
