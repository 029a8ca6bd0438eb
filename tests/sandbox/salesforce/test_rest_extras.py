"""REST and SOQL a developer of the portal reaches for while debugging: date literals, FIELDS(),
the version list, describe, sObject Collections; and the refusals with Salesforce's message shape
(``ERROR at Row:1:Column:<n>``)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from eventbus.v1 import pubsub_api_pb2 as pb

from sandbox.salesforce.date_literals import day_range

BASE = "/services/data/v62.0"


async def _query(http, bearer, q: str):
    return await http.get(f"{BASE}/query", params={"q": q}, headers=bearer)


async def test_date_literals_filter_by_day_ranges(http, bearer):
    recent = await _query(http, bearer, "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:30")
    everything = await _query(http, bearer, "SELECT Id FROM Account")
    future = await _query(http, bearer, "SELECT Id FROM Account WHERE CreatedDate > TODAY")
    before = await _query(http, bearer, "SELECT Id FROM Account WHERE CreatedDate < YESTERDAY")
    assert recent.status_code == 200, recent.text
    # The seed was created just now: every account is within the last 30 days, none after today.
    assert recent.json()["totalSize"] == everything.json()["totalSize"] > 0
    assert future.json()["totalSize"] == 0 and before.json()["totalSize"] == 0


def test_date_literal_ranges():
    today = date(2026, 3, 4)  # a Wednesday
    assert day_range("TODAY", today) == (today, today + timedelta(days=1))
    assert day_range("LAST_N_DAYS:30", today) == (date(2026, 2, 2), date(2026, 3, 5))
    assert day_range("NEXT_N_DAYS:2", today) == (date(2026, 3, 5), date(2026, 3, 7))
    assert day_range("THIS_WEEK", today) == (date(2026, 3, 1), date(2026, 3, 8))  # Sunday first
    assert day_range("LAST_MONTH", today) == (date(2026, 2, 1), date(2026, 3, 1))
    assert day_range("this_month", date(2026, 12, 9)) == (date(2026, 12, 1), date(2027, 1, 1))


async def test_date_literal_on_a_text_field_is_refused(http, bearer):
    resp = await _query(http, bearer, "SELECT Id FROM Account WHERE Name = TODAY")
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "MALFORMED_QUERY"


async def test_fields_standard_and_the_limit_rule(http, bearer):
    resp = await _query(http, bearer, "SELECT FIELDS(STANDARD) FROM Account LIMIT 1")
    assert resp.status_code == 200, resp.text
    (record,) = resp.json()["records"]
    assert "Name" in record and "Id" in record
    assert not any(k.endswith("__c") for k in record)
    custom = await _query(http, bearer, "SELECT FIELDS(CUSTOM) FROM Account LIMIT 1")
    assert "SF_Account_No__c" in custom.json()["records"][0]
    unbounded = await _query(http, bearer, "SELECT FIELDS(ALL) FROM Account")
    assert unbounded.status_code == 400
    assert unbounded.json()[0]["errorCode"] == "MALFORMED_QUERY"


@pytest.mark.parametrize(
    ("soql", "column"),
    [
        ("SELECT Name, COUNT(Id) FROM Account GROUP BY Name", 13),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", 11),
        ("SELECT Id FROM Account GROUP BY Name", 23),
        ("SELECT Id FROM Account WHERE", 28),
    ],
)
async def test_refusals_carry_the_position(http, bearer, soql, column):
    resp = await _query(http, bearer, soql)
    assert resp.status_code == 400
    (error,) = resp.json()
    assert error["errorCode"] == "MALFORMED_QUERY"
    lines = error["message"].split("\n")
    assert lines[1] == soql and lines[2] == " " * column + "^"
    assert lines[3] == f"ERROR at Row:1:Column:{column + 1}"


async def test_versions_and_describe(http, bearer):
    versions = await http.get("/services/data/")  # public, no session needed
    assert versions.status_code == 200
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in (
        versions.json()
    )
    described = await http.get(f"{BASE}/sobjects/Order/describe", headers=bearer)
    assert described.status_code == 200, described.text
    body = described.json()
    fields = {f["name"]: f for f in body["fields"]}
    assert body["name"] == "Order" and body["keyPrefix"] == "801"
    assert "Approved" in [p["value"] for p in fields["Status"]["picklistValues"]]
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    listing = await http.get(f"{BASE}/sobjects", headers=bearer)
    assert "PricebookEntry" in [s["name"] for s in listing.json()["sobjects"]]
    unknown = await http.get(f"{BASE}/sobjects/Nope__c/describe", headers=bearer)
    assert unknown.status_code == 404


async def _entries(http, bearer, n: int) -> list[str]:
    resp = await _query(http, bearer, f"SELECT Id FROM PricebookEntry ORDER BY Id LIMIT {n}")
    return [str(r["Id"]) for r in resp.json()["records"]]


async def test_collection_update_is_one_transaction_with_one_merged_event(
    http, bearer, pubsub, metadata, h
):
    ids = await _entries(http, bearer, 3)
    sub = h.Subscription(pubsub, metadata, "/data/PricebookEntryChangeEvent")
    try:
        await sub.ready()
        records = [{"attributes": {"type": "PricebookEntry"}, "id": i, "UnitPrice": 999}
                   for i in ids]  # fmt: skip
        resp = await http.patch(f"{BASE}/composite/sobjects", headers=bearer,
                                json={"allOrNone": True, "records": records})  # fmt: skip
        assert resp.status_code == 200, resp.text
        (event,) = await sub.events(1)
    finally:
        sub.close()
    assert [r["success"] for r in resp.json()] == [True, True, True]
    schema = await pubsub.GetSchema(
        pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata
    )
    header = h.decode_event(schema.schema_json, event)["ChangeEventHeader"]
    assert sorted(header["recordIds"]) == sorted(ids)


async def test_collection_create_all_or_none_rolls_back(http, bearer):
    good = {"attributes": {"type": "Account"}, "Name": "Collection One"}
    bad = {"attributes": {"type": "Account"}}  # Name is required
    resp = await http.post(f"{BASE}/composite/sobjects", headers=bearer,
                           json={"allOrNone": True, "records": [good, bad]})  # fmt: skip
    assert resp.status_code == 200
    first, second = resp.json()
    assert first["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert second["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    found = await _query(http, bearer, "SELECT Id FROM Account WHERE Name = 'Collection One'")
    assert found.json()["totalSize"] == 0
    partial = await http.post(f"{BASE}/composite/sobjects", headers=bearer,
                              json={"allOrNone": False, "records": [good, bad]})  # fmt: skip
    assert [r["success"] for r in partial.json()] == [True, False]
    too_many = await http.post(f"{BASE}/composite/sobjects", headers=bearer,
                               json={"records": [good] * 201})  # fmt: skip
    assert too_many.status_code == 400
