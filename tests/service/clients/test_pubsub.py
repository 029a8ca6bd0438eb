"""SalesforcePubSubClient against the sandbox's Pub/Sub service: CDC for REST writes, resume,
flow control, reconnects, re-auth, corrupted replay ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from structlog.testing import capture_logs

from services.common.clients import SalesforceClient, soql
from services.common.clients.cdc import ChangeEvent, KeepAlive
from services.common.clients.pubsub import SalesforcePubSubClient
from services.common.errors import ReplayIdInvalid
from services.common.metrics import value

TOPIC = "/data/AccountChangeEvent"
Stream = AsyncIterator[ChangeEvent | KeepAlive]


async def _account(sf: SalesforceClient, number: str = "AC-000104") -> str:
    rows = await sf.query(soql("SELECT Id FROM Account WHERE SF_Account_No__c = {}", number))
    return str(rows[0]["Id"])


async def _ready(stream: Stream) -> bytes:
    """Wait for the first keep-alive: the server has taken its starting position."""
    item = await asyncio.wait_for(anext(stream), 3)
    assert isinstance(item, KeepAlive)
    return item.latest_replay_id


async def _events(stream: Stream, n: int, within: float = 5.0) -> list[ChangeEvent]:
    out: list[ChangeEvent] = []
    async with asyncio.timeout(within):
        while len(out) < n:
            item = await anext(stream)
            if isinstance(item, ChangeEvent):
                out.append(item)
    return out


async def test_change_event_for_a_rest_write(pubsub, sf, sf_control) -> None:
    account_id = await _account(sf)
    stream = pubsub.subscribe(TOPIC)
    await _ready(stream)
    await sf.update("Account", account_id, {"Name": "Yuki Ito-Renamed", "BillingCity": "Osaka"})
    await sf.update("Account", account_id, {"Portal_Status__c": "Active"})
    first, second = await _events(stream, 2)
    await stream.aclose()
    assert (first.entity, first.change_type, first.record_ids) == (
        "Account",
        "UPDATE",
        (account_id,),
    )
    assert "Name" in first.changed_fields and "BillingAddress.City" in first.changed_fields
    assert first.fields["Name"] == "Yuki Ito-Renamed"
    assert isinstance(first.commit_timestamp, datetime) and first.transaction_key
    assert "Portal_Status__c" in second.changed_fields
    assert second.replay_id > first.replay_id
    calls = await sf_control.calls()
    assert calls["pubsub:GetSchema"] == 1  # one schema id, fetched once


async def test_resume_from_stored_replay_id_without_loss_or_repeat(pubsub, sf) -> None:
    account_id = await _account(sf)
    stream = pubsub.subscribe(TOPIC)
    await _ready(stream)
    await sf.update("Account", account_id, {"Name": "v1"})
    (one,) = await _events(stream, 1)
    stored = one.replay_id
    await stream.aclose()
    for name in ("v2", "v3"):
        await sf.update("Account", account_id, {"Name": name})
    resumed = pubsub.subscribe(TOPIC, replay_from=stored)
    events = await _events(resumed, 2)
    await resumed.aclose()
    assert [e.fields["Name"] for e in events] == ["v2", "v3"]


async def test_pull_flow_control_asks_again(pubsub, sf) -> None:
    account_id = await _account(sf)
    stream = pubsub.subscribe(TOPIC, batch=2)
    await _ready(stream)
    for i in range(5):
        await sf.update("Account", account_id, {"Name": f"n{i}"})
    events = await _events(stream, 5)
    await stream.aclose()
    assert [e.fields["Name"] for e in events] == [f"n{i}" for i in range(5)]


async def test_drop_stream_reconnects_and_continues(pubsub, sf, sf_control) -> None:
    account_id = await _account(sf)
    stream = pubsub.subscribe(TOPIC)
    await _ready(stream)
    await sf.update("Account", account_id, {"Name": "before"})
    (before,) = await _events(stream, 1)
    await sf_control.fault("drop_stream", count=1)
    await asyncio.sleep(0.2)  # the server notices the knob and drops the stream
    for name in ("after1", "after2"):
        await sf.update("Account", account_id, {"Name": name})
    events = await _events(stream, 2)
    await stream.aclose()
    assert [e.fields["Name"] for e in events] == ["after1", "after2"]
    assert all(e.replay_id > before.replay_id for e in events)
    assert (await sf_control.calls())["pubsub:Subscribe"] >= 2


async def test_unavailable_and_expired_token_reconnect(pubsub, sf, sf_control) -> None:
    account_id = await _account(sf)
    await sf_control.fault("unavailable", count=1, action="pubsub:Subscribe")
    await sf_control.fault("expire_session", count=1, action="pubsub:Subscribe")
    tokens_before = (await sf_control.calls()).get("oauth:token", 0)
    stream = pubsub.subscribe(TOPIC)
    await _ready(stream)
    await sf.update("Account", account_id, {"Name": "after reauth"})
    (event,) = await _events(stream, 1)
    await stream.aclose()
    assert event.fields["Name"] == "after reauth"
    calls = await sf_control.calls()
    assert calls["pubsub:Subscribe"] == 3  # unavailable, unauthenticated, then fine
    assert calls["oauth:token"] == tokens_before + 1  # the Pub/Sub auth error made it log in


async def test_corrupted_replay_id(pubsub: SalesforcePubSubClient) -> None:
    for bad in (b"\x00" * 8, b"junk"):
        stream = pubsub.subscribe(TOPIC, replay_from=bad)
        with pytest.raises(ReplayIdInvalid):
            await asyncio.wait_for(anext(stream), 3)


async def test_gap_events(pubsub, sf, sf_control) -> None:
    account_id = await _account(sf)
    stream = pubsub.subscribe(TOPIC)
    await _ready(stream)
    await sf_control.fault("gap", count=1)
    await sf.update("Account", account_id, {"Name": "gap"})
    (event,) = await _events(stream, 1)
    await stream.aclose()
    assert event.change_type == "GAP_UPDATE" and event.is_gap
    assert event.record_ids == (account_id,)


async def test_duplicate_delivery_is_surfaced(pubsub, sf, sf_control) -> None:
    account_id = await _account(sf)
    stream = pubsub.subscribe(TOPIC)
    await _ready(stream)
    await sf_control.fault("duplicate_delivery", count=1)
    await sf.update("Account", account_id, {"Name": "twice"})
    first, again = await _events(stream, 2)
    await stream.aclose()
    assert first.replay_id == again.replay_id  # at-least-once: the caller dedupes


async def test_no_token_in_logs(pubsub, sf, sf_control, caplog) -> None:
    caplog.set_level("DEBUG")
    with capture_logs() as logs:
        old = await sf.session()
        await sf_control.fault("expire_session", count=1, action="pubsub:Subscribe")
        stream = pubsub.subscribe(TOPIC)
        await _ready(stream)
        await stream.aclose()
        new = await sf.session()
    assert any(e["event"] == "upstream_call_failed" and e["system"] == "salesforce_pubsub"
               for e in logs)  # fmt: skip
    text = repr(logs) + caplog.text
    for secret in (old.access_token, new.access_token, "portal-dev-secret"):
        assert secret not in text


async def test_demand_kept_up_so_an_idle_stream_stays_open(
    pubsub, sf, sf_control, sf_sandbox
) -> None:
    settings = sf_sandbox.state.settings
    settings.idle_close_s = 0.3
    try:
        account_id = await _account(sf)
        stream = pubsub.subscribe(TOPIC, batch=2)
        await _ready(stream)
        for i in range(3):  # more than the first demand
            await sf.update("Account", account_id, {"Name": f"d{i}"})
        await _events(stream, 3)
        await asyncio.sleep(1.0)  # idle for several idle-close periods
        await sf.update("Account", account_id, {"Name": "after the quiet"})
        (late,) = await _events(stream, 1)
        await stream.aclose()
    finally:
        settings.idle_close_s = 60.0
    assert late.fields["Name"] == "after the quiet"
    assert (await sf_control.calls())["pubsub:Subscribe"] == 1  # never closed by the server


async def test_stream_closed_by_the_server_resumes_after_the_last_event(
    pubsub, sf, sf_control, sf_sandbox
) -> None:
    settings = sf_sandbox.state.settings
    settings.idle_close_s = 0.3
    ended = {"system": "salesforce_pubsub", "operation": "Subscribe", "outcome": "ended"}
    ended_before = value("portal_upstream_calls_total", ended)
    try:
        account_id = await _account(sf)
        stream = pubsub.subscribe(TOPIC, batch=1)
        await _ready(stream)
        await sf.update("Account", account_id, {"Name": "first"})
        (first,) = await _events(stream, 1)
        # A slow handler: the one requested event was delivered and no more was asked for, so
        # the server completes the stream; the change made meanwhile must not be lost.
        await sf.update("Account", account_id, {"Name": "while closed"})
        await asyncio.sleep(1.0)
        (second,) = await _events(stream, 1)
        await stream.aclose()
    finally:
        settings.idle_close_s = 60.0
    assert second.fields["Name"] == "while closed" and second.replay_id > first.replay_id
    assert (await sf_control.calls())["pubsub:Subscribe"] == 2
    # Counted as a stream the server ended, not as an outage.
    assert value("portal_upstream_calls_total", ended) == ended_before + 1
