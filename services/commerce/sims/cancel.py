"""CancelSim: a Salesforce Case for staff, then the Freebit cancellation (PA02-04) on the run date.

Idempotent per request id without a table of its own: the Case carries the request id scoped to
the account (``Portal_Request_Key__c``, unique in Salesforce), so a repeat finds the Case of the
first attempt and only finishes what is missing (the Freebit call, if that attempt stopped before
it). A new request for a line that is already cancelled or already has a cancellation scheduled
says so (SIM_CANCELLED / SIM_CANCELLATION_PENDING) and opens nothing. Freebit's state is read
before the Case is opened, so a Freebit outage stops the request before anything is written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import asyncpg
import structlog
from portal.commerce.v1 import orders_pb2, sims_pb2

from services.commerce.sims import cancel_rules, repo
from services.commerce.sims.lines import SimLines
from services.commerce.sims.records import LineRecord
from services.common.cache import Cache, UserScope, policy
from services.common.clients import FreebitRejected, SalesforceClient, soql
from services.common.errors import (
    DuplicateRecord,
    NotFound,
    SimCancellationPending,
    SimCancelled,
    ValidationFailed,
)
from services.common.idempotency import KEY_FIELD, request_key

log = structlog.get_logger("sims")
CASE_TYPE = "SIM Cancellation"
CASE_QUERY = "SELECT Id, CaseNumber FROM Case WHERE Portal_Request_Key__c = {} LIMIT 1"
SCHEDULED = ("cancelling", "cancelled")
PAST = "The cancellation date has already passed at the mobile network. Please choose a later one."


class LineNotifier(Protocol):
    async def line_changed(self, user_id: str, msisdn: str) -> None: ...


@dataclass(frozen=True)
class CaseRef:
    id: str
    number: str


@dataclass(frozen=True)
class SimCancellation:
    lines: SimLines
    salesforce: SalesforceClient
    pool: asyncpg.Pool
    cache: Cache
    notify: LineNotifier

    async def cancel(
        self, user_id: str, request: sims_pb2.CancelSimRequest
    ) -> tuple[orders_pb2.Sim, str]:
        today = cancel_rules.today_jst()
        run_date = cancel_rules.checked(request.request_id, request.run_date, today)
        line = await self.lines.owned(user_id, request.msisdn)
        account_id = await self.lines.directory.sf_account_of(user_id)
        if account_id is None:
            raise NotFound("Line not found.")
        key = request_key(account_id, f"sim-cancel:{request.request_id}")
        case = await self._case_of(key)
        detail = await self.lines.detail(line.msisdn)
        if not detail:  # Freebit does not know the line: nothing to cancel, nothing written
            raise NotFound("Line not found.")
        state = str(detail.get("state", ""))
        if case is None:
            _refuse_if_scheduled(state)
            case = await self._open_case(account_id, line, run_date, key)
        if state not in SCHEDULED:
            await self._schedule(line.msisdn, run_date)
        await repo.record(self.pool, line.msisdn, user_id, account_id, run_date, case.id)
        await self.cache.invalidate(UserScope(user_id), policy.SIM_USAGE)
        await self.notify.line_changed(user_id, line.msisdn)
        log.info("sim_cancellation_scheduled", case_id=case.id, run_date=run_date.isoformat())
        return await self.lines.current(line), case.number

    async def _case_of(self, key: str) -> CaseRef | None:
        found = await self.salesforce.query(soql(CASE_QUERY, key))
        return CaseRef(str(found[0]["Id"]), str(found[0]["CaseNumber"])) if found else None

    async def _open_case(
        self, account_id: str, line: LineRecord, run_date: date, key: str
    ) -> CaseRef:
        fields: dict[str, Any] = {
            "AccountId": account_id,
            "Subject": f"SIM cancellation request: {line.msisdn}",
            "Description": (
                f"The customer asked for line {line.msisdn} ({line.plan_name or 'SIM'}, "
                f"{line.plan_code or 'no plan code'}) to be cancelled on {run_date.isoformat()}. "
                "The portal has scheduled the cancellation at Freebit for that date."
            ),
            "Status": "New",
            "Origin": "Portal Website",
            "Type": CASE_TYPE,
            "Priority": "Medium",
            KEY_FIELD: key,
        }
        # DuplicateRecord: a concurrent repeat of this request opened it: that one, not a second.
        with contextlib.suppress(DuplicateRecord):
            await self.salesforce.create("Case", fields)
        case = await self._case_of(key)
        assert case is not None, "a Case just created is readable by its key"
        return case

    async def _schedule(self, msisdn: str, run_date: date) -> None:
        try:
            await self.lines.freebit.cancel_account(msisdn, run_date=run_date)
        except FreebitRejected as exc:
            if exc.name == "RUN_DATE_IN_THE_PAST":  # Freebit's calendar is ahead of ours
                raise ValidationFailed.of("run_date", PAST) from None
            # A concurrent repeat of this request got there first.
            if exc.name not in ("CANCELLATION_PENDING", "ALREADY_CANCELLED"):
                raise


def _refuse_if_scheduled(state: str) -> None:
    if state == "cancelled":
        raise SimCancelled()
    if state == "cancelling":
        raise SimCancellationPending()
