"""Salesforce outages and rate limits, and identity's directory being away: UPSTREAM_UNAVAILABLE
with a friendly message, never a 500 and never partial data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from portal.support.v1 import support_pb2 as pb
from portal.support.v1 import support_pb2_grpc

from sandbox.salesforce import RunningSalesforce
from services.support.server import build_deps, create_support_server
from tests.helpers.policies import FAST
from tests.service.support.conftest import World, support_settings
from tests.service.support.test_cases import failure
from tools.stack import free_port

UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", [])

Call = Callable[[World, str], grpc.aio.UnaryUnaryCall]
CALLS: dict[str, Call] = {
    "create": lambda w, _: w.stub.CreateCase(
        pb.CreateCaseRequest(subject="Help"), metadata=w.auth()
    ),
    "list": lambda w, _: w.stub.ListCases(pb.ListCasesRequest(), metadata=w.auth()),
    "get": lambda w, case_id: w.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=w.auth()),
    "comment": lambda w, case_id: w.stub.AddCaseComment(
        pb.AddCaseCommentRequest(case_id=case_id, body="hi"), metadata=w.auth()
    ),
}


@pytest.mark.parametrize("mode", ["unavailable", "rate_limit"])
@pytest.mark.parametrize("rpc", sorted(CALLS))
async def test_salesforce_outage_is_upstream_unavailable(world: World, mode: str, rpc: str) -> None:
    case_id = await world.staff_case("AC-000101")
    await world.control.fault(mode, count=20)
    call = CALLS[rpc](world, case_id)
    assert await failure(call) == UNAVAILABLE
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await CALLS[rpc](world, case_id)
    assert "try again later" in (caught.value.details() or "")


async def test_a_write_failing_after_the_checks_is_unavailable(world: World) -> None:
    case_id = await world.staff_case("AC-000101")
    await world.control.fault("unavailable", count=5, action="sobjects:CaseComment:POST")
    assert await failure(CALLS["comment"](world, case_id)) == UNAVAILABLE
    await world.control.fault("unavailable", count=5, action="sobjects:Case:POST")
    assert await failure(CALLS["create"](world, case_id)) == UNAVAILABLE


async def test_directory_away_is_upstream_unavailable(
    world: World, keys_dir: Path, sf_sandbox: RunningSalesforce
) -> None:
    settings = support_settings(keys_dir, sf_sandbox, free_port(), directory_timeout_s=0.5)
    deps = build_deps(settings, policy=FAST)
    built = create_support_server(settings, deps)
    built.closers.append(deps.aclose)
    await built.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            stub = support_pb2_grpc.SupportServiceStub(channel)
            call = stub.ListCases(pb.ListCasesRequest(), metadata=world.auth())
            assert await failure(call) == UNAVAILABLE
    finally:
        await built.stop(0)


async def test_user_unknown_to_the_directory_must_sign_in_again(world: World) -> None:
    before = await world.control.calls()
    call = world.stub.ListCases(pb.ListCasesRequest(), metadata=world.auth("user-nobody"))
    code, reason, _ = await failure(call)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert await world.control.calls() == before
