"""SalesforceClient against the Salesforce sandbox: SOQL, CRUD, composite, errors, every fault."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from services.common.clients import (
    BreakerOpen,
    SalesforceClient,
    like_contains,
    soql,
)
from services.common.errors import (
    DuplicateRecord,
    NotFound,
    UpstreamRejected,
    UpstreamUnavailable,
    ValidationFailed,
)

ACCOUNT_BY_NUMBER = "SELECT Id, Name, Portal_Status__c FROM Account WHERE SF_Account_No__c = {}"


async def _account_id(sf: SalesforceClient, number: str) -> str:
    rows = await sf.query(soql(ACCOUNT_BY_NUMBER, number))
    assert len(rows) == 1
    return str(rows[0]["Id"])


async def test_query_with_escaped_values(sf: SalesforceClient) -> None:
    rows = await sf.query(soql(ACCOUNT_BY_NUMBER, "AC-000101"))
    assert [r["Name"] for r in rows] == ["Hanako Yamada"]
    assert rows[0]["Portal_Status__c"] == "Not Registered"
    for hostile in ("x' OR Name != '", "AC-000101' OR SF_Account_No__c != '", "\\' OR 1=1"):
        assert await sf.query(soql(ACCOUNT_BY_NUMBER, hostile)) == []
    in_list = soql(
        "SELECT Id FROM Account WHERE SF_Account_No__c IN {}", ["AC-000101", "AC-000102"]
    )
    assert len(await sf.query(in_list)) == 2


async def test_like_escapes_wildcards(sf: SalesforceClient) -> None:
    found = await sf.query(soql("SELECT Id FROM Account WHERE Name LIKE {}", like_contains("Yama")))
    assert len(found) == 1
    for wildcard in ("%", "_", "%a%"):
        pattern = like_contains(wildcard)
        assert await sf.query(soql("SELECT Id FROM Account WHERE Name LIKE {}", pattern)) == []


async def test_query_follows_pagination(sf: SalesforceClient, sf_control) -> None:
    first = await sf.query_page("SELECT Id, Name FROM Product2")
    assert len(first.records) == 3 and first.next_records_url  # sandbox batch size is 3
    everything = await sf.query("SELECT Id, Name FROM Product2")
    assert len(everything) == first.total_size > 6
    assert len({r["Id"] for r in everything}) == len(everything)
    assert (await sf_control.calls())["query:more"] >= 2


async def test_get_and_external_id(sf: SalesforceClient) -> None:
    account_id = await _account_id(sf, "AC-000101")
    record = await sf.get("Account", account_id, fields=["Name", "SF_Account_No__c"])
    assert record["SF_Account_No__c"] == "AC-000101"
    by_number = await sf.get_by_external_id("Account", "SF_Account_No__c", "AC-000101")
    assert by_number["Id"] == account_id
    with pytest.raises(NotFound):
        await sf.get_by_external_id("Account", "SF_Account_No__c", "AC-999999")
    with pytest.raises(NotFound):
        await sf.get("Account", "001000000000000AAA")


async def test_create_update_delete(sf: SalesforceClient) -> None:
    account_id = await _account_id(sf, "AC-000102")
    contact_id = await sf.create(
        "Contact", {"AccountId": account_id, "LastName": "Suzuki", "Email": "t@example.jp"}
    )
    assert contact_id.startswith("003") and len(contact_id) == 18
    await sf.update("Contact", contact_id, {"FirstName": "Taro"})
    assert (await sf.get("Contact", contact_id))["FirstName"] == "Taro"
    await sf.delete("Contact", contact_id)
    with pytest.raises(NotFound):
        await sf.get("Contact", contact_id)


async def test_upsert_by_external_id(sf: SalesforceClient) -> None:
    new_id, created = await sf.upsert_by_external_id(
        "Account", "SF_Account_No__c", "AC-000900", {"Name": "New Customer"}
    )
    assert created and new_id.startswith("001")
    same_id, created_again = await sf.upsert_by_external_id(
        "Account", "SF_Account_No__c", "AC-000900", {"Name": "Renamed"}
    )
    assert (same_id, created_again) == (new_id, False)
    assert (await sf.get("Account", new_id))["Name"] == "Renamed"


async def test_errors_are_typed(sf: SalesforceClient) -> None:
    with pytest.raises(DuplicateRecord):
        await sf.create("Account", {"Name": "Dup", "SF_Account_No__c": "AC-000101"})
    with pytest.raises(ValidationFailed) as missing:
        await sf.create("Contact", {"FirstName": "No last name"})
    assert [v.field for v in missing.value.violations] == ["LastName"]
    account_id = await _account_id(sf, "AC-000104")
    with pytest.raises(ValidationFailed) as picklist:
        await sf.update("Account", account_id, {"Portal_Status__c": "Sleeping"})
    assert [v.field for v in picklist.value.violations] == ["Portal_Status__c"]
    with pytest.raises(UpstreamRejected) as bad_query:
        await sf.query("SELECT Id FROM Account GROUP BY Name")
    assert bad_query.value.upstream_code == "MALFORMED_QUERY"


async def test_composite_all_or_none(sf: SalesforceClient) -> None:
    ok = await sf.composite(
        [
            {"method": "POST", "url": "sobjects/Account", "referenceId": "acc",
             "body": {"Name": "Composite Co", "SF_Account_No__c": "AC-000901"}},
            {"method": "POST", "url": "sobjects/Contact", "referenceId": "con",
             "body": {"AccountId": "@{acc.id}", "LastName": "Comp"}},
        ]
    )  # fmt: skip
    assert [r["httpStatusCode"] for r in ok] == [201, 201]
    with pytest.raises(ValidationFailed):
        await sf.composite(
            [
                {"method": "POST", "url": "sobjects/Account", "referenceId": "acc",
                 "body": {"Name": "Rolled Back", "SF_Account_No__c": "AC-000902"}},
                {"method": "POST", "url": "sobjects/Contact", "referenceId": "con",
                 "body": {"AccountId": "@{acc.id}"}},
            ]
        )  # fmt: skip
    assert await sf.query(soql(ACCOUNT_BY_NUMBER, "AC-000902")) == []


async def test_session_for_pubsub(sf: SalesforceClient, sf_sandbox) -> None:
    session = await sf.session()
    assert session.tenant_id == sf_sandbox.state.settings.tenant_id
    assert session.access_token and session.access_token not in repr(session)
    refreshed = await sf.session(refresh=True)
    assert refreshed.access_token != session.access_token


async def test_expired_session_relogs_in_transparently(sf: SalesforceClient, sf_control) -> None:
    await _account_id(sf, "AC-000101")
    await sf_control.fault("expire_session", count=1)
    assert await _account_id(sf, "AC-000101")
    calls = await sf_control.calls()
    assert calls["oauth:token"] == 2  # the first login and the transparent re-login
    assert calls["query:Account"] == 3  # 1 + the rejected one + its repeat


async def test_unavailable_read_retried_write_attempted_once(sf: SalesforceClient, sf_control):
    await _account_id(sf, "AC-000101")  # log in first
    await sf_control.fault("unavailable", count=2, action="query:Account")
    assert await _account_id(sf, "AC-000101")
    assert (await sf_control.calls())["query:Account"] == 4
    await sf_control.fault("unavailable", count=1, action="sobjects:Contact:POST")
    with pytest.raises(UpstreamUnavailable):
        await sf.create("Contact", {"LastName": "Once"})
    assert (await sf_control.calls())["sobjects:Contact:POST"] == 1


async def test_rate_limit_and_latency_are_unavailable(sf: SalesforceClient, sf_control) -> None:
    account_id = await _account_id(sf, "AC-000101")
    await sf_control.fault("rate_limit", count=1, action="sobjects:Account:PATCH")
    with pytest.raises(UpstreamUnavailable):
        await sf.update("Account", account_id, {"Name": "x"})
    await sf_control.fault("latency", count=1, latency_ms=2500, action="sobjects:Account:PATCH")
    with pytest.raises(UpstreamUnavailable):
        await sf.update("Account", account_id, {"Name": "y"})
    assert (await sf_control.calls())["sobjects:Account:PATCH"] == 2


async def test_breaker_opens_and_closes(sf: SalesforceClient, sf_control) -> None:
    await _account_id(sf, "AC-000101")
    await sf_control.fault("unavailable", count=3, action="query:Account")
    with pytest.raises(UpstreamUnavailable):
        await _account_id(sf, "AC-000101")
    assert sf.upstream.breaker.state == "open"
    with pytest.raises(BreakerOpen):
        await sf.get_by_external_id("Account", "SF_Account_No__c", "AC-000101")
    await asyncio.sleep(1.05)
    assert await _account_id(sf, "AC-000101")
    assert sf.upstream.breaker.state == "closed"


async def test_no_token_or_secret_in_logs(sf: SalesforceClient, sf_control, caplog) -> None:
    caplog.set_level("DEBUG")
    with capture_logs() as logs:
        first = await sf.session()
        await sf_control.fault("expire_session", count=1)
        await _account_id(sf, "AC-000101")
        await sf_control.fault("unavailable", count=1, action="sobjects:Contact:POST")
        with pytest.raises(UpstreamUnavailable):
            await sf.create("Contact", {"LastName": "x"})
        second = await sf.session()
    assert any(e["event"] == "upstream_call_failed" for e in logs)
    text = repr(logs) + caplog.text
    for secret in ("portal-dev-secret", first.access_token, second.access_token):
        assert secret not in text
