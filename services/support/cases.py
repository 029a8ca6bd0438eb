"""The support cases of the caller's account, live from Salesforce (never cached).

Every read is filtered by the caller's ``AccountId`` in the query itself, so another account's case
is indistinguishable from a missing one (``NotFound``), and a malformed id never reaches
Salesforce. Upstream outages surface as ``UpstreamUnavailable`` from the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from portal.identity.v1.account_directory_pb2 import AccountLinks

from services.common import pages
from services.common.errors import (
    CaseClosed,
    DuplicateRecord,
    FieldViolation,
    Internal,
    NotFound,
    Unauthenticated,
    UpstreamUnavailable,
    ValidationFailed,
)
from services.common.idempotency import KEY_FIELD, request_key
from services.support import mapping, queries, validation
from services.support.case_ids import normalize_case_id
from services.support.model import Caller, Case, CasePage, Comment, NewCase

log = structlog.get_logger("cases")

Record = dict[str, Any]


class Salesforce(Protocol):
    async def query(self, soql: str, *, include_deleted: bool = False) -> list[Record]: ...
    async def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> Record: ...
    async def create(self, sobject: str, data: Mapping[str, Any]) -> str: ...
    async def get_by_external_id(self, sobject: str, field: str, value: str) -> Record: ...


class Directory(Protocol):
    async def links(self, user_id: str) -> AccountLinks | None: ...


@dataclass(frozen=True)
class SupportCases:
    salesforce: Salesforce
    directory: Directory
    tokens: pages.PageTokens

    async def _caller(self, user_id: str) -> Caller:
        """Who the caller is in Salesforce: their account id and e-mail (to find their Contact)."""
        links = await self.directory.links(user_id)
        if links is None:
            # A valid token for a user identity no longer knows (removed since it was issued).
            raise Unauthenticated()
        if not links.sf_account_id:
            log.error("directory_user_without_account", user_id=user_id)
            raise Internal()
        return Caller(user_id=user_id, sf_account_id=links.sf_account_id, email=links.email)

    async def create(self, user_id: str, new: NewCase) -> Case:
        caller = await self._caller(user_id)
        contact_id = await self._contact_id(caller)
        fields = {
            "AccountId": caller.sf_account_id,
            "Subject": new.subject,
            "Description": new.description or None,
            "Status": "New",
            "Origin": "Portal Website",
            "Type": mapping.CATEGORY_VALUE[new.category],
            "Priority": mapping.PRIORITY_VALUE[new.priority],
        }
        if contact_id:
            fields["ContactId"] = contact_id
        if new.request_id:
            fields[KEY_FIELD] = request_key(caller.sf_account_id, new.request_id)
        try:
            case_id = await self._create("Case", fields)
        except DuplicateRecord:  # this request id filed a case already: that one, not a second
            case_id = await self._case_of_request(str(fields[KEY_FIELD]))
            log.info("case_request_repeated", case_id=case_id)
        else:
            log.info("case_created", case_id=case_id, with_contact=bool(contact_id))
        record = await self._read_back("Case", case_id, mapping.CASE_FIELDS, fields)
        return mapping.case_from_record(record)

    async def list(self, user_id: str, status: int, page_size: int, token: str) -> CasePage:
        status = validation.status_filter(status)
        size = pages.page_size(page_size)
        caller = await self._caller(user_id)
        account = caller.sf_account_id
        offset = self.tokens.decode(token, "cases", account, str(status))
        soql = queries.cases_of(account, status, size + 1, offset)
        records = await self.salesforce.query(soql)
        cases = tuple(mapping.case_from_record(r) for r in records[:size])
        more = len(records) > size
        token_out = self.tokens.after(offset, size, more, "cases", account, str(status))
        return CasePage(cases, token_out)

    async def get(self, user_id: str, raw_id: str) -> Case:
        caller = await self._caller(user_id)
        record = await self._owned_case(caller, raw_id)
        records = await self.salesforce.query(queries.published_comments(record["Id"]))
        comments = tuple(mapping.comment_from_record(r) for r in records)
        return mapping.case_from_record(record, comments)

    async def add_comment(self, user_id: str, raw_id: str, body: str) -> Comment:
        body = validation.comment_body(body)
        caller = await self._caller(user_id)
        record = await self._owned_case(caller, raw_id)
        if record.get("IsClosed"):
            raise CaseClosed()
        fields = {
            "ParentId": record["Id"],
            "CommentBody": mapping.stored_comment_body(body),
            "IsPublished": True,
        }
        comment_id = await self._create("CaseComment", fields)
        log.info("case_comment_added", case_id=record["Id"], comment_id=comment_id)
        stored = await self._read_back("CaseComment", comment_id, mapping.COMMENT_FIELDS, fields)
        return mapping.comment_from_record(stored)

    # -- helpers ---------------------------------------------------------------------------------
    async def _contact_id(self, caller: Caller) -> str | None:
        if not caller.email:
            return None
        found = await self.salesforce.query(queries.contact_of(caller.sf_account_id, caller.email))
        return str(found[0]["Id"]) if found else None

    async def _case_of_request(self, key: str) -> str:
        """The case an earlier create with this idempotency key filed (the key holds the
        account id, so it is the caller's own)."""
        record = await self.salesforce.get_by_external_id("Case", KEY_FIELD, key)
        return str(record["Id"])

    async def _owned_case(self, caller: Caller, raw_id: str) -> Record:
        case_id = normalize_case_id(raw_id)
        if case_id is None:
            raise NotFound("Case not found.")
        found = await self.salesforce.query(queries.case_of(caller.sf_account_id, case_id))
        if not found:
            raise NotFound("Case not found.")
        return found[0]

    async def _read_back(
        self, sobject: str, record_id: str, fields: Sequence[str], written: Mapping[str, Any]
    ) -> Record:
        """The record just created, as Salesforce stores it. If that read fails the record exists
        all the same: answer with what was written (server-made fields such as ``CaseNumber``
        left empty) rather than "try again later", which the customer would answer by filing it
        a second time."""
        try:
            return await self.salesforce.get(sobject, record_id, fields)
        except UpstreamUnavailable:
            log.warning("read_back_failed", sobject=sobject, record_id=record_id)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f%z")
            return {**written, "Id": record_id, "CreatedDate": now}

    async def _create(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """Create a record; Salesforce's field errors are reported on the request's fields."""
        try:
            return await self.salesforce.create(sobject, fields)
        except ValidationFailed as exc:
            raise _on_request_fields(exc) from None


def _on_request_fields(exc: ValidationFailed) -> ValidationFailed:
    violations = [
        FieldViolation(mapping.REQUEST_FIELD.get(v.field, v.field), v.description)
        for v in exc.violations
    ]
    log.info("salesforce_validation_failed", fields=[v.field for v in violations])
    return ValidationFailed(violations=violations)
