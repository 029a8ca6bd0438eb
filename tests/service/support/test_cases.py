"""CreateCase / ListCases / GetCase / AddCaseComment against the sandbox, through real gRPC."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from portal.support.v1 import support_pb2 as pb

from services.support.mapping import CUSTOMER_MARKER
from tests.helpers.grpc_errors import bad_request, error_info, status_of
from tests.service.support.conftest import World


async def failure(call: grpc.aio.UnaryUnaryCall) -> tuple[grpc.StatusCode, str, list[str]]:
    """(code, reason, violated fields) of a call expected to fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    status = await status_of(call)
    assert status is not None
    bad = bad_request(status)
    fields = [v.field for v in bad.field_violations] if bad else []
    return caught.value.code(), error_info(status).reason, fields


async def test_create_case_writes_salesforce_and_reads_back(world: World) -> None:
    request = pb.CreateCaseRequest(
        subject="  No internet since this morning  ",
        description="The ONU light is off.",
        category=pb.CASE_CATEGORY_TECHNICAL,
        priority=pb.CASE_PRIORITY_HIGH,
    )
    created = (await world.stub.CreateCase(request, metadata=world.auth())).case
    assert created.id.startswith("500") and len(created.id) == 18
    assert created.case_number
    assert created.subject == "No internet since this morning"
    assert created.status == pb.CASE_STATUS_NEW
    assert created.priority == pb.CASE_PRIORITY_HIGH
    assert created.category == pb.CASE_CATEGORY_TECHNICAL
    assert created.created_at.seconds > 0
    record = await world.staff.get("Case", created.id)
    assert record["AccountId"] == world.accounts["AC-000101"]
    assert record["Origin"] == "Portal Website"
    assert record["Status"] == "New"
    assert record["Type"] == "Technical"
    assert record["Priority"] == "High"
    contacts = await world.staff.query(
        "SELECT Id FROM Contact WHERE Email = 'hanako.yamada@example.jp'"
    )
    assert record["ContactId"] == contacts[0]["Id"]
    assert record["CaseNumber"] == created.case_number


async def test_create_case_defaults_and_no_contact(world: World) -> None:
    request = pb.CreateCaseRequest(subject="Question")
    created = (await world.stub.CreateCase(request, metadata=world.auth("user-yuki"))).case
    assert created.category == pb.CASE_CATEGORY_GENERAL
    assert created.priority == pb.CASE_PRIORITY_MEDIUM
    record = await world.staff.get("Case", created.id)
    assert record["ContactId"] is None
    assert record["AccountId"] == world.accounts["AC-000104"]
    assert record["Type"] == "Other"


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.CreateCaseRequest(subject="   "), ["subject"]),
        (pb.CreateCaseRequest(subject="x" * 256), ["subject"]),
        (pb.CreateCaseRequest(subject="a\nb"), ["subject"]),
        (pb.CreateCaseRequest(subject="ok", description="d" * 32_001), ["description"]),
        (pb.CreateCaseRequest(subject="ok", category=99, priority=42), ["category", "priority"]),
        (pb.CreateCaseRequest(subject="", description="\x00"), ["subject", "description"]),
        (pb.CreateCaseRequest(subject="ok", request_id="r" * 65), ["requestId"]),
        (pb.CreateCaseRequest(subject="ok", request_id="a\x00b"), ["requestId"]),
    ],
)
async def test_create_case_validation(
    world: World, request_: pb.CreateCaseRequest, fields: list[str]
) -> None:
    before = await world.control.calls()
    outcome = await failure(world.stub.CreateCase(request_, metadata=world.auth()))
    assert outcome == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED", fields)
    assert await world.control.calls() == before


async def test_list_only_own_account_newest_first(world: World) -> None:
    staff_id = await world.staff_case("AC-000101", Subject="Staff opened")
    await world.staff_case("AC-000102", Subject="Someone else's")
    mine = await world.stub.CreateCase(pb.CreateCaseRequest(subject="Mine"), metadata=world.auth())
    listed = await world.stub.ListCases(pb.ListCasesRequest(), metadata=world.auth())
    subjects = [c.subject for c in listed.cases]
    assert subjects[:2] == ["Mine", "Staff opened"]
    assert "Someone else's" not in subjects
    assert "Router light blinking red" in subjects  # the seeded (closed) case
    assert listed.next_page_token == ""
    ids = [c.id for c in listed.cases]
    assert ids[:2] == [mine.case.id, staff_id]
    stamps = [c.created_at.ToNanoseconds() for c in listed.cases]
    assert stamps == sorted(stamps, reverse=True)


async def test_list_status_filter(world: World) -> None:
    await world.staff_case("AC-000101", Subject="Being worked on", Status="Working")
    working = await world.stub.ListCases(
        pb.ListCasesRequest(status=pb.CASE_STATUS_WORKING), metadata=world.auth()
    )
    assert [c.subject for c in working.cases] == ["Being worked on"]
    closed = await world.stub.ListCases(
        pb.ListCasesRequest(status=pb.CASE_STATUS_CLOSED), metadata=world.auth()
    )
    assert [c.subject for c in closed.cases] == ["Router light blinking red"]
    assert closed.cases[0].category == pb.CASE_CATEGORY_TECHNICAL  # Type "Internet"


async def test_get_case_with_published_comments_only(world: World) -> None:
    case_id = await world.staff_case("AC-000101", Subject="With comments")
    await world.staff.create(
        "CaseComment", {"ParentId": case_id, "CommentBody": "We are on it.", "IsPublished": True}
    )
    await world.staff.create(
        "CaseComment", {"ParentId": case_id, "CommentBody": "internal note", "IsPublished": False}
    )
    request = pb.AddCaseCommentRequest(case_id=case_id, body="Thanks!")
    await world.stub.AddCaseComment(request, metadata=world.auth())
    got = (await world.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=world.auth())).case
    assert got.subject == "With comments"
    assert [(c.body, c.from_customer) for c in got.comments] == [
        ("We are on it.", False),
        ("Thanks!", True),
    ]


async def test_get_case_accepts_the_15_character_id(world: World) -> None:
    case_id = await world.staff_case("AC-000101")
    got = await world.stub.GetCase(pb.GetCaseRequest(case_id=case_id[:15]), metadata=world.auth())
    assert got.case.id == case_id


async def test_add_comment_is_published_and_marked(world: World) -> None:
    case_id = await world.staff_case("AC-000101")
    request = pb.AddCaseCommentRequest(case_id=case_id, body="It works again.")
    added = (await world.stub.AddCaseComment(request, metadata=world.auth())).comment
    assert added.body == "It works again."
    assert added.from_customer
    assert added.id.startswith("00a")
    stored = await world.staff.get("CaseComment", added.id)
    assert stored["IsPublished"] is True
    assert stored["ParentId"] == case_id
    assert stored["CommentBody"] == CUSTOMER_MARKER + "It works again."


async def test_comment_on_closed_case_is_refused(world: World) -> None:
    case_id = await world.staff_case("AC-000101", Status="Closed")
    call = world.stub.AddCaseComment(
        pb.AddCaseCommentRequest(case_id=case_id, body="Hello?"), metadata=world.auth()
    )
    code, reason, _ = await failure(call)
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CASE_CLOSED")
    comments = await world.staff.query(f"SELECT Id FROM CaseComment WHERE ParentId = '{case_id}'")
    assert comments == []


@pytest.mark.parametrize("body", ["", "   \n", "b" * 4001])
async def test_comment_body_validation(world: World, body: str) -> None:
    case_id = await world.staff_case("AC-000101")
    call = world.stub.AddCaseComment(
        pb.AddCaseCommentRequest(case_id=case_id, body=body), metadata=world.auth()
    )
    assert await failure(call) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED", ["body"])


async def test_comment_body_of_4000_characters_is_accepted(world: World) -> None:
    case_id = await world.staff_case("AC-000101")
    request = pb.AddCaseCommentRequest(case_id=case_id, body="b" * 4000)
    added = (await world.stub.AddCaseComment(request, metadata=world.auth())).comment
    assert added.body == "b" * 4000


async def _cases_with_key(world: World, request_id: str) -> list[dict[str, object]]:
    return await world.staff.query(
        f"SELECT Id, AccountId FROM Case WHERE Portal_Request_Key__c LIKE '%:{request_id}'"
    )


async def test_create_case_with_a_request_id_is_idempotent(world: World) -> None:
    request_id = uuid.uuid4().hex
    request = pb.CreateCaseRequest(subject="Router keeps rebooting", request_id=request_id)
    first = (await world.stub.CreateCase(request, metadata=world.auth())).case
    again = (await world.stub.CreateCase(request, metadata=world.auth())).case
    assert again.id == first.id and again.case_number == first.case_number
    stored = await _cases_with_key(world, request_id)
    assert [r["Id"] for r in stored] == [first.id]


async def test_concurrent_creates_with_one_request_id_file_one_case(world: World) -> None:
    request_id = uuid.uuid4().hex
    request = pb.CreateCaseRequest(subject="Double-clicked submit", request_id=request_id)
    created = await asyncio.gather(
        *(world.stub.CreateCase(request, metadata=world.auth()) for _ in range(5))
    )
    assert len({c.case.id for c in created}) == 1
    assert len(await _cases_with_key(world, request_id)) == 1


async def test_request_ids_are_scoped_to_the_account(world: World) -> None:
    request_id = uuid.uuid4().hex
    request = pb.CreateCaseRequest(subject="Same key, two customers", request_id=request_id)
    hanako = (await world.stub.CreateCase(request, metadata=world.auth())).case
    yuki = (await world.stub.CreateCase(request, metadata=world.auth("user-yuki"))).case
    assert hanako.id != yuki.id  # another account's key never returns someone else's case
    stored = await _cases_with_key(world, request_id)
    assert {r["AccountId"] for r in stored} == {
        world.accounts["AC-000101"],
        world.accounts["AC-000104"],
    }


async def test_cases_without_a_request_id_are_never_merged(world: World) -> None:
    request = pb.CreateCaseRequest(subject="No key")
    first = (await world.stub.CreateCase(request, metadata=world.auth())).case
    second = (await world.stub.CreateCase(request, metadata=world.auth())).case
    assert first.id != second.id
