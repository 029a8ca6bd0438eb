"""What every billing domain module works with: WHMCS, the cache, the directory, page tokens,
and the caller's WHMCS client id (``client_of``), which every per-user read starts from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from services.common.cache import Cache
from services.common.clients import WhmcsClient
from services.common.directory import Directory
from services.common.errors import NotFound
from services.common.pages import PageTokens


class NoBillingAccount(NotFound):
    default_message = "No billing account is linked to this login."


@dataclass(frozen=True)
class Billing:
    whmcs: WhmcsClient
    cache: Cache
    directory: Directory
    tokens: PageTokens
    currency: str = "JPY"
    today: Callable[[], date] = field(default=date.today)

    async def client_of(self, user_id: str) -> int:
        """The caller's WHMCS client id; ``NoBillingAccount`` when the user has none."""
        client_id = await self.directory.whmcs_client_of(user_id)
        if client_id is None:
            raise NoBillingAccount()
        return client_id
