"""Identity's internal ``AccountDirectoryService``, as the support service needs it: who the
caller is in Salesforce (account id) and their e-mail (to find their Contact)."""

from __future__ import annotations

import grpc
import structlog

from services.common.errors import Internal, Unauthenticated
from services.common.peers import AccountDirectory
from services.support.model import Caller

log = structlog.get_logger("directory")


class DirectoryClient:
    """The caller's account over :class:`AccountDirectory` (typed errors, timeouts)."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> None:
        self._directory = AccountDirectory(channel, timeout_s)

    async def caller(self, user_id: str) -> Caller:
        links = await self._directory.links(user_id)
        if links is None:
            # A valid token for a user identity no longer knows (removed since it was issued).
            raise Unauthenticated()
        if not links.sf_account_id:
            log.error("directory_user_without_account", user_id=user_id)
            raise Internal()
        return Caller(user_id=user_id, sf_account_id=links.sf_account_id, email=links.email)
