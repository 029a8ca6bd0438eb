"""Validation, mapping and the domain service against fakes (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from portal.identity.v1.account_directory_pb2 import AccountLinks
from portal.support.v1 import support_pb2 as pb

from services.common import pages
from services.common.errors import FieldViolation, NotFound, ValidationFailed
from services.common.pages import PageTokens
from services.support import mapping, validation
from services.support.cases import SupportCases
from services.support.model import NewCase


def test_subject_is_trimmed_and_defaults_apply() -> None:
    new = validation.new_case("  Hello  ", "", 0, 0)
    assert new == NewCase("Hello", "", pb.CASE_CATEGORY_GENERAL, pb.CASE_PRIORITY_MEDIUM)


def test_every_bad_field_is_reported() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validation.new_case("", "x" * 32_001, 77, -1)
    fields = [v.field for v in caught.value.violations]
    assert fields == ["subject", "description", "category", "priority"]


def test_limits_are_inclusive() -> None:
    assert validation.new_case("s" * 255, "d" * 32_000, 1, 1).subject == "s" * 255
    assert validation.comment_body("c" * 4000) == "c" * 4000
    assert validation.comment_body("  kept verbatim \n") == "  kept verbatim \n"


def test_page_size() -> None:
    assert [pages.page_size(n) for n in (0, 1, 100, 101, 10_000)] == [20, 1, 100, 100, 100]


def test_status_mapping_falls_back_on_is_closed() -> None:
    assert mapping.status_of({"Status": "On Hold", "IsClosed": False}) == pb.CASE_STATUS_WORKING
    assert mapping.status_of({"Status": "Solved", "IsClosed": True}) == pb.CASE_STATUS_CLOSED
    assert mapping.status_of({"Status": "Escalated"}) == pb.CASE_STATUS_ESCALATED


def test_every_category_and_priority_round_trips() -> None:
    for number, value in mapping.CATEGORY_VALUE.items():
        assert mapping.category_of(value) == number
    assert mapping.category_of("VPN") == pb.CASE_CATEGORY_TECHNICAL
    assert mapping.category_of("Account") == pb.CASE_CATEGORY_GENERAL
    assert mapping.category_of(None) == pb.CASE_CATEGORY_UNSPECIFIED
    record = {"Id": "500", "Priority": "Low", "CreatedDate": "2024-05-01T09:30:00.123+0000"}
    case = mapping.case_from_record(record)
    assert case.priority == pb.CASE_PRIORITY_LOW
    assert case.created_at is not None and case.created_at.microsecond == 123_000


def test_comment_marker_is_stripped_once() -> None:
    stored = mapping.stored_comment_body(mapping.CUSTOMER_MARKER + "x")
    comment = mapping.comment_from_record({"Id": "00a", "CommentBody": stored})
    assert comment.from_customer and comment.body == mapping.CUSTOMER_MARKER + "x"
    staff = mapping.comment_from_record({"Id": "00a", "CommentBody": "From staff"})
    assert not staff.from_customer and staff.body == "From staff"


class FakeSalesforce:
    def __init__(self, create_error: Exception | None = None) -> None:
        self.queries: list[str] = []
        self.create_error = create_error

    async def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        self.queries.append(soql)
        return []

    async def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> dict[str, Any]:
        return {"Id": record_id}

    async def create(self, sobject: str, data: Mapping[str, Any]) -> str:
        if self.create_error is not None:
            raise self.create_error
        return "500000000000001AAA"


class FakeDirectory:
    async def links(self, user_id: str) -> AccountLinks | None:
        return AccountLinks(
            user_id=user_id, sf_account_id="001Dp000000000AAAA", email="a@example.jp"
        )


def _cases(sf: FakeSalesforce) -> SupportCases:
    return SupportCases(salesforce=sf, directory=FakeDirectory(), tokens=PageTokens(b"k"))


async def test_salesforce_field_errors_name_the_request_fields() -> None:
    refused = ValidationFailed(
        violations=[
            FieldViolation("Subject", "data value too large"),
            FieldViolation("Priority", "bad value for restricted picklist field"),
            FieldViolation("SomethingElse", "?"),
        ]
    )
    cases = _cases(FakeSalesforce(create_error=refused))
    with pytest.raises(ValidationFailed) as caught:
        await cases.create("u", validation.new_case("s", "", 0, 0))
    assert [v.field for v in caught.value.violations] == ["subject", "priority", "SomethingElse"]


async def test_malformed_id_never_queries() -> None:
    sf = FakeSalesforce()
    with pytest.raises(NotFound):
        await _cases(sf).get("u", "500' OR Id != null OR Id = '")
    with pytest.raises(NotFound):
        await _cases(sf).add_comment("u", "nope", "body")
    assert sf.queries == []
