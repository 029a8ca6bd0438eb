"""Identity's internal ``AccountDirectoryService``, as the support service needs it: who the
caller is in Salesforce (account id) and their e-mail (to find their Contact)."""

from __future__ import annotations

import grpc
import structlog
from portal.identity.v1 import account_directory_pb2, account_directory_pb2_grpc

from services.common import context
from services.common.errors import Internal, Unauthenticated, UpstreamUnavailable
from services.support.model import Caller

log = structlog.get_logger("directory")

_UNAVAILABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class DirectoryClient:
    """A thin wrapper over the generated stub; maps its failures to our typed errors."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> None:
        self._stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
        self._timeout_s = timeout_s

    async def caller(self, user_id: str) -> Caller:
        request = account_directory_pb2.GetAccountLinksRequest(user_id=user_id)
        metadata = (("x-request-id", context.request_id.get()),)
        try:
            response = await self._stub.GetAccountLinks(
                request, timeout=self._timeout_s, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise _mapped(exc) from None
        links = response.links
        if not links.sf_account_id:
            log.error("directory_user_without_account", user_id=user_id)
            raise Internal()
        return Caller(user_id=user_id, sf_account_id=links.sf_account_id, email=links.email)


def _mapped(exc: grpc.aio.AioRpcError) -> Exception:
    code = exc.code()
    log.warning("directory_call_failed", code=code.name)
    if code in _UNAVAILABLE:
        return UpstreamUnavailable()
    if code == grpc.StatusCode.NOT_FOUND:
        # A valid token for a user identity no longer knows (removed since it was issued).
        return Unauthenticated()
    return Internal()
