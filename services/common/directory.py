"""identity's internal ``AccountDirectoryService`` for the other services: who a portal user is
in WHMCS and Salesforce, and back.

One "not linked" behaviour: a user identity does not know and a user without an id in the system
asked about are the same answer, ``None`` (or an empty list); what that means is the caller's
domain decision (no billing account, nothing to list, not eligible). identity caches the per-user
links itself, so no service caches them again; a found WHMCS client id and a found Salesforce
account id are remembered in the process for ``MEMO_SECONDS``: identity writes a user's links once,
with the user, and never changes or deletes them, and billing asks for the client on every request
as commerce asks for the account on every SIM read, checkout and order stream. :meth:`links` is
always asked: it carries the e-mail address, which the customer can change. An id a user has not
got is not remembered. gRPC failures become typed errors (``services.common.peers``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from portal.identity.v1 import account_directory_pb2 as pb
from portal.identity.v1 import account_directory_pb2_grpc as pb_grpc

from services.common.peers import answer_or_none

MEMO_SECONDS = 30.0
MEMO_MAX = 10_000
PEER = "identity"


@dataclass(frozen=True)
class Directory:
    stub: pb_grpc.AccountDirectoryServiceStub
    timeout_s: float = 3.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    # user id → (WHMCS client id or 0, Salesforce account id or "", monotonic deadline)
    _memo: dict[str, tuple[int, str, float]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> Directory:
        return cls(pb_grpc.AccountDirectoryServiceStub(channel), timeout_s)

    async def links(self, user_id: str) -> pb.AccountLinks | None:
        """All links of a portal user; None when identity knows no such user."""
        if not user_id:
            return None
        request = pb.GetAccountLinksRequest(user_id=user_id)
        found = await answer_or_none(
            PEER, self.stub.GetAccountLinks(request, timeout=self.timeout_s)
        )
        return found.links if found is not None else None

    async def sf_account_of(self, user_id: str) -> str | None:
        """The Salesforce account id of a portal user; None when not linked."""
        return (await self._ids(user_id, want_whmcs=False))[1] or None

    async def whmcs_client_of(self, user_id: str) -> int | None:
        """The WHMCS client id of a portal user; None when not linked."""
        return (await self._ids(user_id, want_whmcs=True))[0] or None

    async def _ids(self, user_id: str, *, want_whmcs: bool) -> tuple[int, str]:
        """A user's (WHMCS client id or 0, Salesforce account id or ""), from memory when the id
        wanted was found there less than ``MEMO_SECONDS`` ago."""
        remembered, wanted = self._memo.get(user_id), 0 if want_whmcs else 1
        if remembered is not None and self.clock() < remembered[2] and remembered[wanted]:
            return remembered[0], remembered[1]
        links = await self.links(user_id)
        if links is None:
            return 0, ""
        ids = (max(links.whmcs_client_id, 0), links.sf_account_id)
        if ids[0] or ids[1]:
            if len(self._memo) >= MEMO_MAX:
                self._memo.clear()
            self._memo[user_id] = (*ids, self.clock() + MEMO_SECONDS)
        return ids

    async def links_of_sf_account(self, sf_account_id: str) -> list[pb.AccountLinks]:
        """The links of every portal user mapped to a Salesforce account (often one, maybe none)."""
        request = pb.ListUsersBySalesforceAccountRequest(sf_account_id=sf_account_id)
        call = self.stub.ListUsersBySalesforceAccount(request, timeout=self.timeout_s)
        found = await answer_or_none(PEER, call)
        return list(found.links) if found is not None else []

    async def users_of_sf_account(self, sf_account_id: str) -> list[str]:
        """The portal user ids mapped to a Salesforce account."""
        return [link.user_id for link in await self.links_of_sf_account(sf_account_id)]

    async def whmcs_client_of_sf_account(self, sf_account_id: str) -> int | None:
        """The WHMCS client mapped to a Salesforce account; None when not linked."""
        links = await self.links_of_sf_account(sf_account_id)
        ids = [link.whmcs_client_id for link in links if link.whmcs_client_id > 0]
        return ids[0] if ids else None

    async def user_of_whmcs_client(self, whmcs_client_id: int) -> str | None:
        """The portal user mapped to a WHMCS client; None when not linked."""
        request = pb.GetUserByWhmcsClientRequest(whmcs_client_id=whmcs_client_id)
        call = self.stub.GetUserByWhmcsClient(request, timeout=self.timeout_s)
        found = await answer_or_none(PEER, call)
        return (found.links.user_id or None) if found is not None else None
