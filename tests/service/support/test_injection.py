"""Hostile text in every input is stored verbatim or refused; it never changes a query, so no
other account's case ever shows up."""

from __future__ import annotations

import grpc
import pytest
from portal.support.v1 import support_pb2 as pb

from services.support.mapping import CUSTOMER_MARKER
from tests.service.support.conftest import World

HOSTILE = [
    "' OR Id != null",
    "') OR (AccountId != null",
    "x' OR AccountId != null OR Subject = 'x",
    "\\' OR Id != null --",
    "back\\slash \\\\ and \\n",
    "100% _match_ %' OR Subject LIKE '%",
    "日本語の件名 🚀 \u202e right-to-left",
    'double "quotes" and `ticks`',
]


async def _foreign_subject(world: World) -> str:
    await world.staff_case("AC-000102", Subject="SECRET of another account")
    return "SECRET of another account"


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_case_text_is_stored_verbatim(world: World, text: str) -> None:
    secret = await _foreign_subject(world)
    request = pb.CreateCaseRequest(subject=text, description=text + "\n" + text)
    created = (await world.stub.CreateCase(request, metadata=world.auth())).case
    record = await world.staff.get("Case", created.id)
    assert (record["Subject"], record["Description"]) == (text.strip(), text + "\n" + text)
    assert created.subject == text.strip()
    listed = await world.stub.ListCases(pb.ListCasesRequest(page_size=100), metadata=world.auth())
    assert secret not in [c.subject for c in listed.cases]
    assert {c.id for c in listed.cases} >= {created.id}


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_comment_is_stored_verbatim(world: World, text: str) -> None:
    case_id = await world.staff_case("AC-000101")
    request = pb.AddCaseCommentRequest(case_id=case_id, body=text)
    added = (await world.stub.AddCaseComment(request, metadata=world.auth())).comment
    assert added.body == text
    stored = await world.staff.get("CaseComment", added.id)
    assert stored["CommentBody"] == CUSTOMER_MARKER + text
    got = await world.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=world.auth())
    assert [c.body for c in got.case.comments] == [text]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_ids_are_not_found_without_a_query(world: World, text: str) -> None:
    theirs = await world.staff_case("AC-000102")
    before = await world.control.calls()
    for case_id in (text, theirs + text, theirs[:15] + text, "500" + text):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await world.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=world.auth())
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert await world.control.calls() == before


async def test_very_long_text_is_refused_before_salesforce(world: World) -> None:
    before = await world.control.calls()
    huge = "' OR Id != null " * 10_000
    for request in (
        pb.CreateCaseRequest(subject=huge),
        pb.CreateCaseRequest(subject="ok", description=huge),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await world.stub.CreateCase(request, metadata=world.auth())
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.stub.ListCases(pb.ListCasesRequest(page_token=huge), metadata=world.auth())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await world.control.calls() == before
