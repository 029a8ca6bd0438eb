"""identity's AccountDirectoryService, as fulfillment needs it: Salesforce account → WHMCS client
(over ``services.common.peers.AccountDirectory``: typed errors, timeouts)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from services.common.peers import AccountDirectory


@dataclass(frozen=True)
class WhmcsClients:
    directory: AccountDirectory

    @classmethod
    def over(cls, channel: grpc.aio.Channel, timeout_s: float = 3.0) -> WhmcsClients:
        return cls(AccountDirectory(channel, timeout_s))

    async def of_sf_account(self, sf_account_id: str) -> int | None:
        """The WHMCS client mapped to a Salesforce account (None when nobody is linked)."""
        links = await self.directory.users_of_sf_account(sf_account_id)
        ids = [link.whmcs_client_id for link in links if link.whmcs_client_id > 0]
        return ids[0] if ids else None
