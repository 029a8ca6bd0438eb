"""gRPC adapters of ``portal.commerce.v1.SimService``: proto → domain → proto."""

from __future__ import annotations

import grpc
from portal.commerce.v1 import sims_pb2, sims_pb2_grpc

from services.commerce.sims.cancel import SimCancellation
from services.commerce.sims.lines import SimLines
from services.commerce.sims.usage import SimUsageReader
from services.common import context
from services.common.unimplemented import fill_unimplemented


@fill_unimplemented(sims_pb2.DESCRIPTOR.services_by_name["SimService"])
class SimServicer(sims_pb2_grpc.SimServiceServicer):
    def __init__(self, lines: SimLines, usage: SimUsageReader, cancel: SimCancellation) -> None:
        self._lines, self._usage, self._cancel = lines, usage, cancel

    async def ListSims(
        self, request: sims_pb2.ListSimsRequest, ctx: grpc.aio.ServicerContext
    ) -> sims_pb2.ListSimsResponse:
        return sims_pb2.ListSimsResponse(sims=await self._lines.all(context.user_id.get()))

    async def GetSimUsage(
        self, request: sims_pb2.GetSimUsageRequest, ctx: grpc.aio.ServicerContext
    ) -> sims_pb2.GetSimUsageResponse:
        usage = await self._usage.get(context.user_id.get(), request.msisdn, request.refresh)
        return sims_pb2.GetSimUsageResponse(usage=usage)

    async def CancelSim(
        self, request: sims_pb2.CancelSimRequest, ctx: grpc.aio.ServicerContext
    ) -> sims_pb2.CancelSimResponse:
        sim, case_number = await self._cancel.cancel(context.user_id.get(), request)
        return sims_pb2.CancelSimResponse(sim=sim, case_number=case_number)
