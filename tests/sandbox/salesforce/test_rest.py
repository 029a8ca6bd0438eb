"""REST data API through the real simple-salesforce client (https->http adapter session)."""

from __future__ import annotations

import asyncio

import pytest
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sandbox.salesforce.ids import checksum


async def test_query_paginates_with_next_records_url(sf, client, run_sync):
    first = await run_sync(client.query, "SELECT Id, Name FROM Product2 ORDER BY Name")
    assert first["done"] is False
    assert len(first["records"]) == 3  # batch_size=3 in the fixture
    assert first["nextRecordsUrl"].startswith("/services/data/v")
    everything = await run_sync(client.query_all, "SELECT Id, Name FROM Product2 ORDER BY Name")
    names = [r["Name"] for r in everything["records"]]
    assert everything["totalSize"] == len(names) == len(sf.store.live("Product2")) == 14
    assert names == sorted(names, key=str.casefold)
    assert sf.state.control.calls["query:more"] >= 4


async def test_parent_fields_and_where(client, run_sync):
    soql = (
        "SELECT Id, UnitPrice, Product2.Name, Product2.WH_Product_ID__c, Pricebook2.Name "
        "FROM PricebookEntry WHERE Pricebook2.Name = 'Portal Pricebook' AND IsActive = true "
        "AND Product2.Portal_Catalog__c = true AND (Product2.Product2Categories1__c = 'SIM' "
        "OR Product2.WH_Product_ID__c IN (181, 401)) ORDER BY Product2.Display_Order__c DESC"
    )
    res = await run_sync(client.query_all, soql)
    pids = [r["Product2"]["WH_Product_ID__c"] for r in res["records"]]
    assert pids == [401.0, 303.0, 302.0, 301.0, 181.0]
    rec = res["records"][0]
    assert rec["attributes"]["type"] == "PricebookEntry"
    assert rec["Product2"]["attributes"]["type"] == "Product2"
    assert rec["Pricebook2"]["Name"] == "Portal Pricebook"
    assert rec["UnitPrice"] == 1100.0


async def test_nested_parent_path_and_count(client, run_sync):
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000101")
    order = await run_sync(
        client.Order.create,
        {"AccountId": acc["Id"], "EffectiveDate": "2026-11-27", "Status": "Pending Review"},
    )
    entry = (
        await run_sync(
            client.query,
            "SELECT Id FROM PricebookEntry WHERE "
            "Pricebook2.Name = 'Portal Pricebook' AND Product2.StockKeepingUnit = "
            "'INTERNET-GOLD-HOME-1G'",
        )
    )["records"][0]
    await run_sync(
        client.OrderItem.create,
        {"OrderId": order["id"], "PricebookEntryId": entry["Id"], "Quantity": 2, "UnitPrice": 5980},
    )
    res = await run_sync(
        client.query,
        "SELECT Quantity, PricebookEntry.Product2.Name, "
        f"Order.Account.SF_Account_No__c FROM OrderItem WHERE OrderId = '{order['id'][:15]}'",
    )
    item = res["records"][0]
    assert item["PricebookEntry"]["Product2"]["Name"] == "Internet Gold Home 1G"
    assert item["Order"]["Account"]["SF_Account_No__c"] == "AC-000101"
    count = await run_sync(
        client.query, "SELECT COUNT() FROM Order WHERE Status = 'Pending Review'"
    )
    assert count["totalSize"] == 1 and count["records"] == []
    got = await run_sync(client.Order.get, order["id"])
    assert got["TotalAmount"] == 11960.0 and got["OrderNumber"] == "00000100"
    assert got["Pricebook2Id"] is not None


async def test_crud_round_trip(sf, client, run_sync):
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000102")
    created = await run_sync(
        client.Case.create,
        {
            "AccountId": acc["Id"],
            "Subject": "No internet",
            "Origin": "Portal Website",
            "Type": "Internet",
            "Description": "Since this morning",
        },
    )
    assert created["success"] is True and created["errors"] == []
    case_id = created["id"]
    assert len(case_id) == 18 and case_id.startswith("500")
    assert case_id[15:] == checksum(case_id[:15])
    case = await run_sync(client.Case.get, case_id)
    assert case["Status"] == "New" and case["Priority"] == "Medium"
    assert case["CaseNumber"] == "00001002"  # 00001001 is the seed case
    assert case["CreatedDate"].endswith("+0000") and len(case["CreatedDate"]) == 28
    assert await run_sync(client.Case.update, case_id, {"Status": "Working"}) == 204
    assert (await run_sync(client.Case.get, case_id))["Status"] == "Working"
    comment = await run_sync(
        client.CaseComment.create,
        {"ParentId": case_id, "CommentBody": "It's back", "IsPublished": True},
    )
    assert comment["id"].startswith("00a")
    assert await run_sync(client.Case.delete, case_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        await run_sync(client.Case.get, case_id)
    assert sf.store.records["CaseComment"][comment["id"]]["IsDeleted"] is True
    deleted = await run_sync(
        client.query_all, f"SELECT Id FROM Case WHERE Id = '{case_id}'", include_deleted=True
    )
    assert deleted["totalSize"] == 1
    assert sf.state.control.calls["sobjects:Case:PATCH"] == 1


async def test_upsert_by_external_id_created_then_updated(client, run_sync):
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000103")
    body = {"AccountId": acc["Id"], "EffectiveDate": "2026-11-27", "Status": "Pending Review"}
    resp = await run_sync(
        client.Order.upsert, "Portal_Request_Key__c/req-1", body, raw_response=True
    )
    assert resp.status_code == 201 and resp.json()["created"] is True
    again = await run_sync(
        client.Order.upsert,
        "Portal_Request_Key__c/req-1",
        {"Status": "Approved"},
        raw_response=True,
    )
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["id"] == resp.json()["id"]
    order = await run_sync(client.Order.get_by_custom_id, "Portal_Request_Key__c", "req-1")
    assert order["Status"] == "Approved"


async def test_duplicate_external_id_and_multiple_matches(sf, client, run_sync):
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000103")
    body = {"AccountId": acc["Id"], "EffectiveDate": "2026-11-27", "Portal_Request_Key__c": "k"}
    await run_sync(client.Order.create, body)
    with pytest.raises(SalesforceMalformedRequest) as err:
        await run_sync(client.Order.create, body)
    assert err.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    # two records with the same key can only appear through data loads; emulate one
    clone = dict(next(iter(sf.store.records["Order"].values())), Id="801Dp000000ZZZZIAA")
    sf.store.records["Order"][clone["Id"]] = clone
    with pytest.raises(SalesforceMoreThanOneRecord):
        await run_sync(client.Order.upsert, "Portal_Request_Key__c/k", {"Status": "Approved"})


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 5", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY"),
        ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id, Owner.Name FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nothing__c", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE Id = 'xyz'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
async def test_query_errors_map_to_malformed_request(client, run_sync, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as err:
        await run_sync(client.query, soql)
    assert err.value.status == 400
    assert err.value.content[0]["errorCode"] == code


async def test_write_validation_errors(client, run_sync):
    cases = [
        (
            {"Name": "x", "Portal_Status__c": "Bogus"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Portal_Status__c"],
        ),
        ({"Phone": "1"}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ({"Name": "x", "Nope__c": 1}, "INVALID_FIELD", []),
        ({"Name": "x", "Id": "001Dp0000004C94IAE"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Id"]),
    ]
    for body, code, fields in cases:
        with pytest.raises(SalesforceMalformedRequest) as err:
            await run_sync(client.Account.create, body)
        assert err.value.content[0]["errorCode"] == code, body
        assert err.value.content[0]["fields"] == fields
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000104")
    with pytest.raises(SalesforceMalformedRequest) as err:
        await run_sync(
            client.Order.create,
            {"AccountId": acc["Id"], "EffectiveDate": "2026-11-27", "SIM_Type__c": "eSIM"},
        )
    assert err.value.content[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as err:
        await run_sync(client.Contact.create, {"LastName": "x", "AccountId": "not-an-id"})
    assert err.value.content[0]["errorCode"] == "MALFORMED_ID"
    with pytest.raises(SalesforceResourceNotFound) as nf:
        await run_sync(client.Account.get, "001Dp0000009999IAE"[:15])
    assert nf.value.content[0]["errorCode"] == "NOT_FOUND"


async def test_soql_escaping_quotes_backslashes_and_like(client, run_sync):
    tricky = "O'Brien \\ Co"
    await run_sync(client.Account.create, {"Name": tricky})
    await run_sync(client.Account.create, {"Name": "100% Fiber_Co"})
    await run_sync(client.Account.create, {"Name": "1000 FiberXCo"})
    escaped = tricky.replace("\\", "\\\\").replace("'", "\\'")
    res = await run_sync(client.query, f"SELECT Name FROM Account WHERE Name = '{escaped}'")
    assert [r["Name"] for r in res["records"]] == [tricky]
    res = await run_sync(client.query, "SELECT Name FROM Account WHERE Name LIKE 'o\\'brien%'")
    assert [r["Name"] for r in res["records"]] == [tricky]  # LIKE is case-insensitive
    res = await run_sync(
        client.query_all, "SELECT Name FROM Account WHERE Name LIKE '100\\% Fiber\\_Co'"
    )
    assert [r["Name"] for r in res["records"]] == ["100% Fiber_Co"]
    res = await run_sync(
        client.query_all, "SELECT Name FROM Account WHERE Name LIKE '100_ Fiber_Co'"
    )
    assert sorted(r["Name"] for r in res["records"]) == ["100% Fiber_Co", "1000 FiberXCo"]


async def test_order_by_multi_field_nulls_limit_offset(client, run_sync):
    res = await run_sync(
        client.query_all,
        "SELECT SIM_Plan_Code__c, Name FROM Product2 ORDER BY "
        "SIM_Plan_Code__c DESC NULLS LAST, Name ASC LIMIT 5 OFFSET 1",
    )
    codes = [r["SIM_Plan_Code__c"] for r in res["records"]]
    assert codes == ["PNEW_3G", "PNEW_10G", None, None, None]  # offset 1 skips PNEW_V10G
    names = [r["Name"] for r in res["records"][2:]]
    assert names == sorted(names)


async def test_composite_references_and_all_or_none_rollback(sf, client, run_sync):
    acc = await run_sync(client.Account.get_by_custom_id, "SF_Account_No__c", "AC-000101")
    entry = (
        await run_sync(
            client.query,
            "SELECT Id FROM PricebookEntry WHERE Pricebook2.Name = "
            "'Portal Pricebook' AND Product2.WH_Product_ID__c = 182",
        )
    )["records"][0]["Id"]
    base = f"/services/data/v{client.sf_version}"

    def composite(items: list[dict], all_or_none: bool = True) -> dict:
        return client.restful(
            "composite", method="POST", json={"allOrNone": all_or_none, "compositeRequest": items}
        )

    order = {
        "method": "POST",
        "url": f"{base}/sobjects/Order",
        "referenceId": "newOrder",
        "body": {
            "AccountId": acc["Id"],
            "EffectiveDate": "2026-11-27",
            "Status": "Pending Review",
            "Portal_Request_Key__c": "c-1",
        },
    }
    item = {
        "method": "POST",
        "url": f"{base}/sobjects/OrderItem",
        "referenceId": "item",
        "body": {
            "OrderId": "@{newOrder.id}",
            "PricebookEntryId": entry,
            "Quantity": 1,
            "UnitPrice": 5980,
        },
    }
    read = {
        "method": "GET",
        "url": f"{base}/sobjects/Order/@{{newOrder.id}}",
        "referenceId": "read",
    }
    ok = await run_sync(composite, [order, item, read])
    statuses = [r["httpStatusCode"] for r in ok["compositeResponse"]]
    assert statuses == [201, 201, 200]
    assert ok["compositeResponse"][2]["body"]["Portal_Request_Key__c"] == "c-1"
    orders_before = len(sf.store.live("Order"))
    bad_item = dict(item, body=dict(item["body"], Quantity=None))
    order2 = dict(order, body=dict(order["body"], Portal_Request_Key__c="c-2"))
    failed = await run_sync(composite, [order2, bad_item, read])
    results = failed["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [400, 400, 400]
    assert results[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert results[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert len(sf.store.live("Order")) == orders_before  # rolled back
    partial = await run_sync(composite, [order2, bad_item], False)
    assert [r["httpStatusCode"] for r in partial["compositeResponse"]] == [201, 400]
    assert len(sf.store.live("Order")) == orders_before + 1
    assert sf.state.control.calls["composite"] == 3


async def test_token_expiry_triggers_relogin(sf, h, run_sync):
    short = await h.start(token_lifetime_s=0.3)
    try:
        client = await run_sync(h.make_client, short)
        await run_sync(client.query, "SELECT Id FROM Account")
        await asyncio.sleep(0.4)
        res = await run_sync(client.query, "SELECT Id FROM Account")
        assert res["totalSize"] == 4
        assert short.state.control.calls["oauth:token"] == 2
    finally:
        await short.stop()


async def test_oauth_errors_and_limit_header(http, token):
    bad = await http.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("portal-dev", "wrong"),
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    form = await http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "portal-dev",
            "client_secret": "portal-dev-secret",
        },
    )
    body = form.json()
    assert body["token_type"] == "Bearer" and body["instance_url"].startswith("https://")
    resp = await http.get(
        "/services/data/v62.0/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200
    assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=1/")
    anon = await http.get("/services/data/v62.0/query", params={"q": "SELECT Id FROM Account"})
    assert anon.status_code == 401 and anon.json()[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_bad_credentials_raise_in_simple_salesforce(sf, h, run_sync):
    with pytest.raises(SalesforceAuthenticationFailed):
        await run_sync(h.make_client, sf, consumer_secret="nope")
