"""The cached billing profile around the customer's own updates (``billing/profile.py``): the
update leaves what WHMCS holds cached, a drop racing it wins, a failed write leaves nothing stale,
and the ClientEdit hook of the update keeps the copy while any other ClientEdit drops it.

"What WHMCS holds" is always a cache-bypassing read: GetClientsDetails straight from the sandbox,
mapped as billing maps it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import grpc
import pytest
from google.api import httpbody_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from portal.billing.v1 import billing_pb2 as pb
from portal.billing.v1 import billing_pb2_grpc

from sandbox.whmcs import RunningWhmcs
from sandbox.whmcs.clients import client_body
from services.billing import mapping
from tests.service.billing.conftest import WEBHOOK_SECRET
from tests.service.billing.helpers import Caller, WhmcsControl, signature, webhook_body

GET = pb.GetBillingProfileRequest()


def update(mask: list[str], **fields: str) -> pb.UpdateBillingProfileRequest:
    profile = pb.BillingProfile()
    for path, value in fields.items():
        if path.startswith("address_"):
            setattr(profile.address, path.removeprefix("address_"), value)
        else:
            setattr(profile, path, value)
    return pb.UpdateBillingProfileRequest(profile=profile, update_mask=FieldMask(paths=mask))


async def in_whmcs(whmcs: WhmcsControl, client_id: int = 1) -> pb.BillingProfile:
    """The profile as WHMCS holds it, bypassing the cache."""
    return mapping.profile((await whmcs.api("GetClientsDetails", clientid=client_id))["client"])


async def details_calls(whmcs: WhmcsControl) -> int:
    return (await whmcs.calls())["GetClientsDetails"]


async def read(caller: Caller, whmcs: WhmcsControl) -> tuple[pb.BillingProfile, int]:
    """GetBillingProfile through the service, and the GetClientsDetails calls it made."""
    before = await details_calls(whmcs)
    profile = (await caller.call("GetBillingProfile", GET)).profile
    return profile, await details_calls(whmcs) - before


async def deliver_client_edit(
    channel: grpc.aio.Channel, sandbox: RunningWhmcs, client_id: int = 1
) -> None:
    """The ClientEdit hook as the sandbox makes it (the client's fields after the edit, strings)."""
    client = sandbox.store.clients[client_id]
    data = {k: v for k, v in client_body(sandbox.ctx, client).items() if isinstance(v, str)}
    data["olddata"] = json.dumps({})
    body = webhook_body(client_id, "ClientEdit", **data)
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    request = pb.HandleWhmcsWebhookRequest(
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    metadata = (("x-portal-signature", signature(WEBHOOK_SECRET, body)),)
    await stub.HandleWhmcsWebhook(request, metadata=metadata)


@pytest.fixture
async def formatted_phones(whmcs_sandbox: RunningWhmcs) -> AsyncIterator[None]:
    """WHMCS's "Phone Numbers" setting on: a saved number is stored as ``+<cc>.<number>``."""
    ctx = whmcs_sandbox.ctx
    plain = ctx.settings
    ctx.settings = dataclasses.replace(plain, phone_numbers_formatted=True)
    yield
    ctx.settings = plain


async def test_the_next_read_after_an_update_is_a_hit_holding_what_whmcs_returns(
    hanako: Caller, whmcs: WhmcsControl, formatted_phones: None
) -> None:
    await hanako.call("GetBillingProfile", GET)
    request = update(["phone", "address.city"], phone="03-9999-0000", address_city="Minato-ku")
    answer = (await hanako.call("UpdateBillingProfile", request)).profile
    # WHMCS stored the number in its own form; the answer and the cache hold that, not the input.
    assert answer.phone == "+81.399990000" and answer.address.city == "Minato-ku"
    cached, calls = await read(hanako, whmcs)
    assert calls == 0
    assert cached == answer == await in_whmcs(whmcs)


async def test_the_hook_of_the_own_update_keeps_the_copy_and_another_edit_drops_it(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl, whmcs_sandbox: RunningWhmcs
) -> None:
    await hanako.call("UpdateBillingProfile", update(["phone"], phone="+81 3 5555 0101"))
    await deliver_client_edit(channel, whmcs_sandbox)  # the update's own ClientEdit
    cached, calls = await read(hanako, whmcs)
    assert calls == 0 and cached.phone == "+81 3 5555 0101"
    # Staff change the city in WHMCS: its ClientEdit reports fields the copy does not hold.
    await whmcs.api("UpdateClient", clientid=1, city="Setagaya-ku")
    await deliver_client_edit(channel, whmcs_sandbox)
    fresh, calls = await read(hanako, whmcs)
    assert calls == 1
    assert fresh == await in_whmcs(whmcs) and fresh.address.city == "Setagaya-ku"


async def test_a_staff_edit_and_its_hook_during_the_write_are_not_lost(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl, whmcs_sandbox: RunningWhmcs
) -> None:
    await hanako.call("GetBillingProfile", GET)
    await whmcs.fault("latency", action="UpdateClient", count=1, latency_ms=400)
    write = asyncio.create_task(
        hanako.call("UpdateBillingProfile", update(["phone"], phone="+81 3 5555 0202"))
    )
    await asyncio.sleep(0.15)  # the customer's UpdateClient is in WHMCS, not yet applied
    await whmcs.api("UpdateClient", clientid=1, city="Meguro-ku")
    await deliver_client_edit(channel, whmcs_sandbox)
    await write
    cached, _ = await read(hanako, whmcs)
    expected = await in_whmcs(whmcs)
    assert (expected.phone, expected.address.city) == ("+81 3 5555 0202", "Meguro-ku")
    assert cached == expected


async def test_two_sessions_updating_at_once_leave_what_whmcs_holds(
    hanako: Caller, whmcs: WhmcsControl
) -> None:
    """The slower session's update was validated against the profile before the other's; what
    it leaves cached is nevertheless WHMCS's profile after both."""
    await hanako.call("GetBillingProfile", GET)
    await whmcs.fault("latency", action="UpdateClient", count=1, latency_ms=400)
    slow = asyncio.create_task(
        hanako.call("UpdateBillingProfile", update(["phone"], phone="+81 3 5555 0303"))
    )
    await asyncio.sleep(0.15)
    await hanako.call("UpdateBillingProfile", update(["address.city"], address_city="Koto-ku"))
    await slow
    cached, calls = await read(hanako, whmcs)
    expected = await in_whmcs(whmcs)
    assert (expected.phone, expected.address.city) == ("+81 3 5555 0303", "Koto-ku")
    assert cached == expected and calls == 0


async def test_a_hook_during_the_read_back_wins(
    channel: grpc.aio.Channel, hanako: Caller, whmcs: WhmcsControl, whmcs_sandbox: RunningWhmcs
) -> None:
    """A drop between the read-back's generation read and its store makes it store nothing."""
    await hanako.call("GetBillingProfile", GET)
    await whmcs.fault("latency", action="GetClientsDetails", count=1, latency_ms=400)
    write = asyncio.create_task(
        hanako.call("UpdateBillingProfile", update(["phone"], phone="+81 3 5555 0404"))
    )
    await asyncio.sleep(0.15)  # written; the read-back waits in WHMCS
    await whmcs.api("UpdateClient", clientid=1, city="Nerima-ku")
    await deliver_client_edit(channel, whmcs_sandbox)
    await write
    fresh, calls = await read(hanako, whmcs)
    assert calls == 1  # the read-back raced the hook's drop and was not stored
    assert fresh == await in_whmcs(whmcs) and fresh.address.city == "Nerima-ku"


async def test_a_failed_write_leaves_nothing_stale(hanako: Caller, whmcs: WhmcsControl) -> None:
    await hanako.call("GetBillingProfile", GET)
    # A change WHMCS made without a hook reaching the portal: the cached copy is behind it.
    await whmcs.api("UpdateClient", clientid=1, companyname="Yamada Shoji")
    await whmcs.fault("unavailable", action="UpdateClient", count=1)
    code, _, _ = await hanako.fails(
        "UpdateBillingProfile", update(["phone"], phone="+81 3 5555 0505")
    )
    assert code == grpc.StatusCode.UNAVAILABLE
    fresh, calls = await read(hanako, whmcs)
    assert calls == 1
    assert fresh == await in_whmcs(whmcs) and fresh.company_name == "Yamada Shoji"


async def test_a_timed_out_write_that_lands_later_leaves_nothing_stale(
    hanako: Caller, whmcs: WhmcsControl
) -> None:
    await hanako.call("GetBillingProfile", GET)
    # Longer than billing's WHMCS deadline (2 s in the tests): billing gives up, WHMCS writes.
    await whmcs.fault("latency", action="UpdateClient", count=1, latency_ms=2600)
    code, _, _ = await hanako.fails(
        "UpdateBillingProfile", update(["phone"], phone="+81 3 5555 0606")
    )
    assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    await asyncio.sleep(1.0)  # the write lands in WHMCS
    fresh, calls = await read(hanako, whmcs)
    assert calls == 1
    assert fresh == await in_whmcs(whmcs) and fresh.phone == "+81 3 5555 0606"
