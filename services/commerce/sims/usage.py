"""A line's data usage (Freebit PA05-01), cached per user and line (``policy.SIM_USAGE_LINE``).

The loader checks that the line is the caller's before it asks Freebit, so only owned lines are
ever cached, and a stranger's MSISDN is NOT_FOUND like a missing one. ``refresh`` reads Freebit
again, but only when the cached figures are older than ``refresh_min_s`` (a throttle: each
refresh is one PA05-01 call, which Freebit asks operators not to make in bulk); younger figures
are answered as they are, with their ``fetched_at``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2
from portal.commerce.v1 import sims_pb2

from services.commerce.sims.lines import SimLines
from services.common.cache import Cache, UserScope, Variant, policy
from services.common.clients import FreebitRejected
from services.common.errors import NotFound, SimCancelled


def _mb(value: Any) -> int:
    try:
        return max(int(str(value)), 0)
    except ValueError:
        return 0


def _month(yyyymm: Any) -> str:
    value = str(yyyymm or "")
    return f"{value[:4]}-{value[4:6]}" if len(value) == 6 and value.isdigit() else ""


def _day(yyyymmdd: Any) -> str:
    value = str(yyyymmdd or "")
    ok = len(value) == 8 and value.isdigit()
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if ok else ""


def usage_from(msisdn: str, info: dict[str, Any], fetched_at: float) -> sims_pb2.SimUsage:
    months = [
        sims_pb2.MonthlyUsage(month=_month(m.get("month")), used_mb=_mb(m.get("used")))
        for m in info.get("months") or []
        if isinstance(m, dict)
    ]
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.fromtimestamp(fetched_at, UTC))
    return sims_pb2.SimUsage(
        msisdn=msisdn,
        used_today_mb=_mb(info.get("today")),
        used_this_month_mb=_mb(info.get("thisMonth")),
        previous_months=months,
        has_quota="quota" in info,
        remaining_quota_mb=_mb(info.get("quota")),
        as_of_date=_day(info.get("date")),
        fetched_at=stamp,
    )


@dataclass(frozen=True)
class SimUsageReader:
    lines: SimLines
    cache: Cache
    refresh_min_s: float

    async def get(self, user_id: str, msisdn: str, refresh: bool) -> sims_pb2.SimUsage:
        usage = await self._cached(user_id, msisdn)
        age = time.time() - usage.fetched_at.ToDatetime(tzinfo=UTC).timestamp()
        if refresh and age >= self.refresh_min_s:
            await self.cache.invalidate(UserScope(user_id), policy.SIM_USAGE)
            usage = await self._cached(user_id, msisdn)
        return usage

    async def _cached(self, user_id: str, msisdn: str) -> sims_pb2.SimUsage:
        response = await self.cache.get_or_load(
            policy.SIM_USAGE_LINE,
            UserScope(user_id),
            lambda: self._load(user_id, msisdn),
            sims_pb2.GetSimUsageResponse,
            variant=Variant.of(line=msisdn),
        )
        return response.usage

    async def _load(self, user_id: str, msisdn: str) -> sims_pb2.GetSimUsageResponse:
        await self.lines.owned(user_id, msisdn)
        try:
            info = await self.lines.freebit.traffic(msisdn)
        except FreebitRejected as exc:
            if exc.name == "ALREADY_CANCELLED":
                raise SimCancelled() from None
            if exc.name == "ACCOUNT_NOT_FOUND":  # a line Salesforce names and Freebit lost
                raise NotFound("Line not found.") from None
            raise
        return sims_pb2.GetSimUsageResponse(usage=usage_from(msisdn, info, time.time()))
