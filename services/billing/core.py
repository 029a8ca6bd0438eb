"""What every billing domain module works with: WHMCS, the cache, the directory, page tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from services.billing.accounts import Accounts
from services.billing.paging import PageTokens
from services.common.cache import Cache
from services.common.clients import WhmcsClient


@dataclass(frozen=True)
class Billing:
    whmcs: WhmcsClient
    cache: Cache
    accounts: Accounts
    tokens: PageTokens
    currency: str = "JPY"
    today: Callable[[], date] = field(default=date.today)
