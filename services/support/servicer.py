"""gRPC adapters of the support service: proto → domain call → proto, nothing else."""

from __future__ import annotations

import grpc
from portal.support.v1 import support_pb2 as pb
from portal.support.v1 import support_pb2_grpc

from services.common.context import current_user_id
from services.common.unimplemented import fill_unimplemented
from services.support import validation, wire
from services.support.cases import SupportCases


@fill_unimplemented(pb.DESCRIPTOR.services_by_name["SupportService"])
class SupportServicer(support_pb2_grpc.SupportServiceServicer):
    """``portal.support.v1.SupportService``."""

    def __init__(self, cases: SupportCases) -> None:
        self._cases = cases

    async def CreateCase(
        self, request: pb.CreateCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCaseResponse:
        new = validation.new_case(
            request.subject,
            request.description,
            request.category,
            request.priority,
            request.request_id,
        )
        created = await self._cases.create(current_user_id(), new)
        return pb.CreateCaseResponse(case=wire.case(created))

    async def ListCases(
        self, request: pb.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCasesResponse:
        page = await self._cases.list(
            current_user_id(), request.status, request.page_size, request.page_token
        )
        return pb.ListCasesResponse(
            cases=[wire.case(c) for c in page.cases], next_page_token=page.next_page_token
        )

    async def GetCase(
        self, request: pb.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCaseResponse:
        found = await self._cases.get(current_user_id(), request.case_id)
        return pb.GetCaseResponse(case=wire.case(found))

    async def AddCaseComment(
        self, request: pb.AddCaseCommentRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddCaseCommentResponse:
        added = await self._cases.add_comment(current_user_id(), request.case_id, request.body)
        return pb.AddCaseCommentResponse(comment=wire.comment(added))
