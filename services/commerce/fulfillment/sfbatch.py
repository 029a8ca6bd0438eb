"""Salesforce requests shared by the orders in flight.

Each order's Salesforce work (read the order and its items, mark it ``Activating``, write the
result back) is handed to a :class:`Coalescer`; what the orders ask for while the event loop is
busy goes out as one request:

- reads: one composite request with two queries, ``Order WHERE Id IN (...)`` and
  ``OrderItem WHERE OrderId IN (...)`` (at most ``READ_MAX`` orders);
- ``Activating`` marks: one sObject Collections PATCH, ``allOrNone`` false, one result per record;
- write-backs: one Composite Graph request, one graph per order (each all or none on its own, so
  one order's failure rolls back that order only).

A lone order is not delayed: a flush starts as soon as the callbacks that were ready when the
first request came have run (``asyncio.sleep(0)``), i.e. with whatever the other orders asked for
in the same turn of the loop. While requests of a kind are frequent (the last flush less than
``BUSY_S`` ago), a flush first waits ``window_s`` (``FULFILLMENT_SALESFORCE_BATCH_WINDOW_S``) for
company; and while a flush is out, new requests gather for the next one (at most ``in_flight``
flushes per kind at a time), so batches grow with the load.

Every order gets its own result or error: a record's error in a collection or a failed graph
surfaces to its order only; a failed batched read is repeated per order (the single-order read)
when it is not an outage, so a bad order cannot fail the others' reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from services.commerce.fulfillment import sforders
from services.commerce.fulfillment.model import Order
from services.common.clients import SalesforceClient, soql
from services.common.clients.salesforce import COLLECTION_MAX, GRAPH_MAX, GRAPH_NODES_MAX
from services.common.errors import NotFound, UpstreamUnavailable

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
Outcome = Any  # a result, or a BaseException for that key
Flush = Callable[[list[Any]], Awaitable[list[Outcome]]]

BUSY_S = 0.1  # a flush within this long before the next one: requests are frequent
READ_MAX = 100  # ids per IN list: two lists of 18-character ids stay well inside a URL's length
ORDERS_QUERY = (
    "SELECT Id, AccountId, Status, Activation_Status__c, WHMCS_Order_ID__c, SIM_Type__c, EID__c "
    "FROM Order WHERE Id IN {}"
)  # sforders.ORDER_FIELDS
BATCH_ITEMS_QUERY = (
    "SELECT Id, OrderId, Quantity, Product2.Name, Product2.WH_Product_ID__c, "
    "Product2.Billing_Cycle__c, Product2.SIM_Plan_Code__c FROM OrderItem WHERE OrderId IN {} "
    "ORDER BY OrderId, Id"
)
ACTIVATING = {
    "Activation_Status__c": "Activating",
    "Activation_Error_Code__c": None,
    "Activation_Error_Message__c": None,
}


class Coalescer(Generic[K, R]):
    """``await coalescer(key)``: the key joins the next flush, which gets the keys gathered
    (at most ``max_size``) and returns one outcome per key, in order (an exception instance is
    raised to that key's caller only). An exception of the flush itself goes to all of its keys.
    """

    def __init__(
        self, flush: Flush, max_size: int, in_flight: int = 1, window_s: float = 0.0
    ) -> None:
        self._flush = flush
        self.max_size = max_size
        self.in_flight = in_flight
        self.window_s = window_s
        self._last = -1e9  # loop time of the last flush
        self._pending: list[tuple[K, asyncio.Future[R]]] = []
        self._flushing = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()  # flushes under way (kept referenced)
        self.flushes = 0  # how many requests went out (for tests and diagnostics)

    async def __call__(self, key: K) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._pending and not self._scheduled and self._flushing < self.in_flight:
            self._scheduled = True
            task = asyncio.get_running_loop().create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        busy = loop.time() - self._last < BUSY_S
        # let the callbacks that are ready now add their keys; when requests are frequent, also
        # those of the next few milliseconds
        await asyncio.sleep(self.window_s if busy else 0)
        self._last = loop.time()
        self._scheduled = False
        live = [(k, f) for k, f in self._pending if not f.done()]  # cancelled callers drop out
        batch, self._pending = live[: self.max_size], live[self.max_size :]
        if not batch:
            return
        self._flushing += 1
        self.flushes += 1
        self._schedule()  # more than max_size waiting: the next batch goes out alongside
        try:
            outcomes = await self._flush([k for k, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of the batch gets it
            outcomes = [exc] * len(batch)
        finally:
            self._flushing -= 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        self._schedule()


class SalesforceOrders:
    """Fulfillment's Salesforce reads and writes, shared by the orders in flight."""

    def __init__(self, sf: SalesforceClient, in_flight: int = 1, window_s: float = 0.0) -> None:
        self.sf = sf
        self.reads: Coalescer[str, Order] = Coalescer(self._read, READ_MAX, in_flight, window_s)
        self.marks: Coalescer[str, None] = Coalescer(
            self._mark, COLLECTION_MAX, in_flight, window_s
        )
        self.writes: Coalescer[tuple[str, tuple[Mapping[str, Any], ...]], None] = Coalescer(
            self._write, GRAPH_MAX, in_flight, window_s
        )

    async def read(self, order_id: str) -> Order:
        """The order and its items, read fresh."""
        return await self.reads(order_id)

    async def mark_activating(self, order_id: str) -> None:
        await self.marks(order_id)

    async def write_back(self, order_id: str, requests: Sequence[Mapping[str, Any]]) -> None:
        """All or none: the order is Activated with everything, or unchanged."""
        await self.writes((order_id, tuple(requests)))

    # -- flushes -----------------------------------------------------------------------------
    async def _read(self, order_ids: list[str]) -> list[Outcome]:
        if len(order_ids) == 1:
            return [await _outcome(sforders.read_order(self.sf, order_ids[0]))]
        unique = list(dict.fromkeys(order_ids))
        try:
            found = await self._read_many(unique)
        except UpstreamUnavailable:
            raise  # an outage: every order of the batch retries
        except Exception:  # refused as a whole: find the culprit order by order
            return list(
                await asyncio.gather(
                    *(sforders.read_order(self.sf, i) for i in order_ids), return_exceptions=True
                )
            )
        return [found.get(i[:15]) or NotFound() for i in order_ids]

    async def _read_many(self, order_ids: list[str]) -> dict[str, Order]:
        orders_ref, items_ref = await self.sf.composite(
            [{"method": "GET", "url": "query/?" + _q(soql(ORDERS_QUERY, order_ids)),
              "referenceId": "orders"},
             {"method": "GET", "url": "query/?" + _q(soql(BATCH_ITEMS_QUERY, order_ids)),
              "referenceId": "items"}],
            all_or_none=False,
        )  # fmt: skip
        records = list(orders_ref["body"].get("records") or [])
        page = items_ref["body"]
        items = list(page.get("records") or [])
        next_url = None if page.get("done", True) else page.get("nextRecordsUrl")
        while next_url:  # more items than one query batch: read them all
            more = await self.sf.query_page(next_url=next_url)
            items.extend(more.records)
            next_url = more.next_records_url
        per_order: dict[str, list[Mapping[str, Any]]] = {}
        for item in items:
            per_order.setdefault(str(item.get("OrderId"))[:15], []).append(item)
        return {
            str(r["Id"])[:15]: sforders.order_from(r, per_order.get(str(r["Id"])[:15], []))
            for r in records
        }

    async def _mark(self, order_ids: list[str]) -> list[Outcome]:
        unique = list(dict.fromkeys(order_ids))
        errors = await self.sf.update_records([("Order", i, ACTIVATING) for i in unique])
        by_id = dict(zip(unique, errors, strict=True))
        return [by_id[i] for i in order_ids]

    async def _write(
        self, writes: list[tuple[str, tuple[Mapping[str, Any], ...]]]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        chunk: list[tuple[Mapping[str, Any], ...]] = []
        nodes = 0
        for _, requests in writes:  # a request holds at most GRAPH_NODES_MAX nodes in all
            if chunk and nodes + len(requests) > GRAPH_NODES_MAX:
                outcomes += await self._graphs(chunk)
                chunk, nodes = [], 0
            chunk.append(requests)
            nodes += len(requests)
        if chunk:
            outcomes += await self._graphs(chunk)
        return outcomes

    async def _graphs(self, chunk: list[tuple[Mapping[str, Any], ...]]) -> list[Outcome]:
        try:
            return list(await self.sf.composite_graph(chunk))
        except Exception as exc:  # this request's orders get it, not the others
            return [exc] * len(chunk)


def _q(query: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": query})


async def _outcome(call: Awaitable[R]) -> R | BaseException:
    try:
        return await call
    except Exception as exc:  # handed to the order that asked
        return exc
