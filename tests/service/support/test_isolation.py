"""Another account's case is exactly as absent as a missing one; malformed ids never reach
Salesforce; page tokens are bound to their account and filter and cannot be altered."""

from __future__ import annotations

import base64

import grpc
import pytest
from portal.support.v1 import support_pb2 as pb

from tests.service.support.conftest import World
from tests.service.support.test_cases import failure

NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "NOT_FOUND", [])


async def test_other_accounts_case_is_not_found(world: World) -> None:
    theirs = await world.staff_case("AC-000102", Subject="Taro's")
    missing = theirs[:-6] + "zzzzzz"
    for case_id in (theirs, theirs[:15]):
        get = world.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=world.auth())
        assert await failure(get) == NOT_FOUND
        add = world.stub.AddCaseComment(
            pb.AddCaseCommentRequest(case_id=case_id, body="hi"), metadata=world.auth()
        )
        assert await failure(add) == NOT_FOUND
    absent = world.stub.GetCase(pb.GetCaseRequest(case_id=missing), metadata=world.auth())
    with pytest.raises(grpc.aio.AioRpcError) as one:
        await world.stub.GetCase(pb.GetCaseRequest(case_id=theirs), metadata=world.auth())
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await absent
    assert one.value.details() == other.value.details()
    assert await world.staff.query(f"SELECT Id FROM CaseComment WHERE ParentId = '{theirs}'") == []
    # and the owner sees it
    own = await world.stub.GetCase(
        pb.GetCaseRequest(case_id=theirs), metadata=world.auth("user-taro")
    )
    assert own.case.subject == "Taro's"


@pytest.mark.parametrize(
    "case_id",
    [
        "",
        "500",
        "001Dp000000F4u8AAA",  # an Account id
        "500Dp000000F4u8",  # well formed (15 characters): asked, nothing found
        "500Dp000000F4u8AAZ",  # bad suffix
        "500Dp000000F4u8AAA' OR Id != null",
        "500' OR AccountId != null OR Id = '",
        "500Dp000000F4u8\\",
        "\uff15\uff10\uff10Dp000000F4u8AAA",  # full-width digits
        "500Dp000000F4u8\u212aAA",  # Kelvin sign, equal to k when case is ignored
        "500Dp000000F4u8AAA" + "A" * 5000,
    ],
)
async def test_malformed_ids_do_not_call_salesforce(world: World, case_id: str) -> None:
    before = await world.control.calls()
    call = world.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=world.auth())
    assert await failure(call) == NOT_FOUND
    after = await world.control.calls()
    if case_id == "500Dp000000F4u8":  # well formed: asked, found nothing
        assert after.get("query:Case", 0) == before.get("query:Case", 0) + 1
    else:
        assert after == before


async def test_paging_walks_every_case_once(world: World) -> None:
    for n in range(7):
        await world.staff_case("AC-000101", Subject=f"case {n}")
    await world.staff_case("AC-000102", Subject="not mine")
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        request = pb.ListCasesRequest(page_size=3, page_token=token)
        page = await world.stub.ListCases(request, metadata=world.auth())
        assert len(page.cases) <= 3
        seen += [c.subject for c in page.cases]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3  # 7 staff cases + the seeded one = 8
    assert seen == [f"case {n}" for n in range(6, -1, -1)] + ["Router light blinking red"]


async def test_page_size_defaults_and_caps(world: World) -> None:
    for n in range(22):
        await world.staff_case("AC-000101", Subject=f"case {n}")
    first = await world.stub.ListCases(pb.ListCasesRequest(), metadata=world.auth())
    assert len(first.cases) == 20 and first.next_page_token
    big = await world.stub.ListCases(pb.ListCasesRequest(page_size=1000), metadata=world.auth())
    assert len(big.cases) == 23 and not big.next_page_token
    negative = world.stub.ListCases(pb.ListCasesRequest(page_size=-1), metadata=world.auth())
    assert (await failure(negative))[2] == ["pageSize"]


async def _token(world: World, user: str = "user-hanako", status: int = 0) -> str:
    for n in range(3):
        await world.staff_case("AC-000101", Subject=f"case {n}")
    request = pb.ListCasesRequest(page_size=1, status=status)
    page = await world.stub.ListCases(request, metadata=world.auth(user))
    assert page.next_page_token
    return page.next_page_token


def _tampered(token: str) -> list[str]:
    head, _, mac = token.partition(".")
    payload = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    forged = base64.urlsafe_b64encode(payload.replace(b'"o":1', b'"o":0')).rstrip(b"=").decode()
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    return [f"{forged}.{mac}", f"{head}.{flipped}", head, "garbage", token + "x", "ü.ü"]


async def test_tampered_tokens_are_refused(world: World) -> None:
    token = await _token(world)
    for bad in _tampered(token):
        call = world.stub.ListCases(pb.ListCasesRequest(page_token=bad), metadata=world.auth())
        assert (await failure(call))[1:] == ("VALIDATION_FAILED", ["pageToken"]), bad


async def test_token_is_bound_to_account_and_filter(world: World) -> None:
    token = await _token(world)
    foreign = world.stub.ListCases(
        pb.ListCasesRequest(page_token=token), metadata=world.auth("user-taro")
    )
    assert (await failure(foreign))[1:] == ("VALIDATION_FAILED", ["pageToken"])
    refiltered = world.stub.ListCases(
        pb.ListCasesRequest(page_token=token, status=pb.CASE_STATUS_NEW), metadata=world.auth()
    )
    assert (await failure(refiltered))[1:] == ("VALIDATION_FAILED", ["pageToken"])
    ok = await world.stub.ListCases(pb.ListCasesRequest(page_token=token), metadata=world.auth())
    assert ok.cases


async def test_token_signed_with_another_secret_is_refused(world: World) -> None:
    from services.common.pages import PageTokens

    forged = PageTokens(b"another deployment").encode(1, "cases", world.accounts["AC-000101"], "0")
    call = world.stub.ListCases(pb.ListCasesRequest(page_token=forged), metadata=world.auth())
    assert (await failure(call))[1:] == ("VALIDATION_FAILED", ["pageToken"])
