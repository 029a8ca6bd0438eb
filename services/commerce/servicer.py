"""gRPC adapters of the commerce service. RPCs not defined here answer UNIMPLEMENTED."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2
from portal.commerce.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    sims_pb2,
    sims_pb2_grpc,
)

from services.commerce.catalog import Catalog
from services.commerce.checkout import Checkout
from services.commerce.order_events import CONTENT_TYPE, OrderEvents
from services.commerce.orders import Orders
from services.commerce.sims.cancel import SimCancellation
from services.commerce.sims.lines import SimLines
from services.commerce.sims.usage import SimUsageReader
from services.commerce.watch_stream import OrderWatch
from services.commerce.watch_tickets import WatchTickets
from services.common.context import current_token_expires_at, current_user_id
from services.common.unimplemented import fill_unimplemented


@fill_unimplemented(catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"])
class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """``portal.commerce.v1.CatalogService``: thin adapters proto → domain → proto."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def ListProducts(
        self, request: catalog_pb2.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListProductsResponse:
        products = await self._catalog.list_products(current_user_id(), request.category)
        return catalog_pb2.ListProductsResponse(products=products)

    async def GetProduct(
        self, request: catalog_pb2.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetProductResponse:
        product = await self._catalog.product(current_user_id(), request.product_id)
        return catalog_pb2.GetProductResponse(product=product)

    async def GetEligibility(
        self, request: catalog_pb2.GetEligibilityRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetEligibilityResponse:
        categories = await self._catalog.eligible_categories(current_user_id())
        return catalog_pb2.GetEligibilityResponse(eligible_categories=categories)


@fill_unimplemented(orders_pb2.DESCRIPTOR.services_by_name["OrderService"])
class OrderServicer(orders_pb2_grpc.OrderServiceServicer):
    """``portal.commerce.v1.OrderService``: thin adapters proto → domain → proto."""

    def __init__(
        self,
        orders: Orders,
        checkout: Checkout,
        watch: OrderWatch,
        events: OrderEvents,
        tickets: WatchTickets,
    ) -> None:
        self._orders, self._checkout, self._watch = orders, checkout, watch
        self._events, self._tickets = events, tickets

    async def CreateOrder(
        self, request: orders_pb2.CreateOrderRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.CreateOrderResponse:
        order = await self._checkout.create(current_user_id(), request)
        return orders_pb2.CreateOrderResponse(order=order)

    async def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ListOrdersResponse:
        return await self._orders.page(current_user_id(), request.page_size, request.page_token)

    async def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.GetOrderResponse:
        order = await self._orders.get(current_user_id(), request.order_id)
        return orders_pb2.GetOrderResponse(order=order)

    async def WatchOrders(
        self, request: orders_pb2.WatchOrdersRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orders_pb2.WatchOrdersResponse]:
        stream = self._watch.stream(current_user_id(), current_token_expires_at())
        first = await anext(stream)  # a refusal (NOT_FOUND) before any header is sent
        await context.send_initial_metadata(SSE_HEADERS)
        yield first
        async for response in stream:
            yield response

    async def CreateWatchTicket(
        self, request: orders_pb2.CreateWatchTicketRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.CreateWatchTicketResponse:
        ticket = self._tickets.issue(current_user_id(), current_token_expires_at())
        return orders_pb2.CreateWatchTicketResponse(
            ticket=self._tickets.encode(ticket),
            expire_time=timestamp_pb2.Timestamp(seconds=ticket.expires_at),
        )

    async def StreamOrderEvents(
        self, request: orders_pb2.StreamOrderEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        ticket = self._tickets.redeem(request.ticket)
        last_event_id = request.last_event_id or _header(context, "last-event-id")
        frames = self._events.frames(ticket, last_event_id)
        first = await anext(frames)  # refusals (NOT_FOUND, a bad id) before any header is sent
        await context.send_initial_metadata(SSE_HEADERS)
        yield httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=first)
        async for frame in frames:
            yield httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=frame)


# An event stream is never cached, nor buffered by a proxy on its way.
SSE_HEADERS = (("cache-control", "no-store"), ("x-accel-buffering", "no"))


def _header(context: grpc.aio.ServicerContext, name: str) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == name and isinstance(value, str):
            return value
    return ""


@fill_unimplemented(sims_pb2.DESCRIPTOR.services_by_name["SimService"])
class SimServicer(sims_pb2_grpc.SimServiceServicer):
    """``portal.commerce.v1.SimService``."""

    def __init__(self, lines: SimLines, usage: SimUsageReader, cancel: SimCancellation) -> None:
        self._lines, self._usage, self._cancel = lines, usage, cancel

    async def ListSims(
        self, request: sims_pb2.ListSimsRequest, context: grpc.aio.ServicerContext
    ) -> sims_pb2.ListSimsResponse:
        return sims_pb2.ListSimsResponse(sims=await self._lines.all(current_user_id()))

    async def GetSimUsage(
        self, request: sims_pb2.GetSimUsageRequest, context: grpc.aio.ServicerContext
    ) -> sims_pb2.GetSimUsageResponse:
        usage = await self._usage.get(current_user_id(), request.msisdn, request.refresh)
        return sims_pb2.GetSimUsageResponse(usage=usage)

    async def CancelSim(
        self, request: sims_pb2.CancelSimRequest, context: grpc.aio.ServicerContext
    ) -> sims_pb2.CancelSimResponse:
        sim, case_number = await self._cancel.cancel(current_user_id(), request)
        return sims_pb2.CancelSimResponse(sim=sim, case_number=case_number)
