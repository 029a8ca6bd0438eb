"""Support end to end: REST through Envoy to the support service, identity's directory and the
stack's Salesforce sandbox. Staff act directly in Salesforce through the sandbox's REST API.

The stack is shared by the whole e2e session, so nothing here resets the sandboxes: every test
works on cases it creates, and faults are armed for a few calls and cleared afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import HANAKO, customer_token
from tools.stack import Stack

pytestmark = pytest.mark.e2e

TARO = {
    "customerNumber": "AC-000102",
    "email": "taro.suzuki@example.jp",
    "password": "taro-password-1",
    "firstName": "Taro",
    "lastName": "Suzuki",
    "phone": "+81-90-0000-0102",
    "address": {
        "line1": "2-3-4 Shinjuku",
        "city": "Shinjuku-ku",
        "state": "Tokyo",
        "postcode": "160-0022",
        "country": "JP",
    },
}
HOSTILE = [
    "' OR Id != null",
    "x' OR AccountId != null OR Subject = 'x",
    "\\' OR Id != null --",
    "back\\slash \\\\",
    "100% _match_ %' OR Subject LIKE '%",
    "日本語の件名 🚀",
]


class Staff:
    """Salesforce as support staff see it (the sandbox's REST API with the dev credentials)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def login(self) -> None:
        response = await self.http.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("portal-dev", "portal-dev-secret"),
        )
        assert response.status_code == 200, response.text
        self.http.headers["authorization"] = f"Bearer {response.json()['access_token']}"

    async def create(self, sobject: str, body: dict[str, Any]) -> str:
        response = await self.http.post(f"/services/data/v60.0/sobjects/{sobject}/", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/services/data/v60.0/sobjects/{sobject}/{record_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def query(self, soql: str) -> list[dict[str, Any]]:
        response = await self.http.get("/services/data/v60.0/query/", params={"q": soql})
        assert response.status_code == 200, response.text
        return list(response.json()["records"])

    async def account_id(self, number: str) -> str:
        rows = await self.query(f"SELECT Id FROM Account WHERE SF_Account_No__c = '{number}'")
        return str(rows[0]["Id"])

    async def fault(self, mode: str, **body: Any) -> None:
        response = await self.http.post("/__sandbox/faults", json={"mode": mode, **body})
        assert response.status_code == 200, response.text


@dataclass
class Customer:
    headers: dict[str, str]
    account_id: str


@pytest.fixture(scope="module")
async def staff(stack: Stack) -> AsyncIterator[Staff]:
    url = f"http://127.0.0.1:{stack.config.ports.salesforce}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        person = Staff(http)
        await person.login()
        yield person


@pytest.fixture(scope="module")
async def hanako(gateway: httpx.AsyncClient, staff: Staff) -> Customer:
    token = await customer_token(gateway, "/v1/auth/link", HANAKO)
    return Customer({"authorization": f"Bearer {token}"}, await staff.account_id("AC-000101"))


@pytest.fixture(scope="module")
async def taro(gateway: httpx.AsyncClient, staff: Staff) -> Customer:
    token = await customer_token(gateway, "/v1/auth/signup", TARO)
    return Customer({"authorization": f"Bearer {token}"}, await staff.account_id("AC-000102"))


def reason(response: httpx.Response) -> str:
    return str(response.json()["details"][0]["reason"])


async def _create(gateway: httpx.AsyncClient, who: Customer, **body: Any) -> dict[str, Any]:
    response = await gateway.post("/v1/cases", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["case"])


async def _all_cases(gateway: httpx.AsyncClient, who: Customer) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    token = ""
    while True:
        params = {"pageSize": "100", **({"pageToken": token} if token else {})}
        response = await gateway.get("/v1/cases", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        cases += body.get("cases", [])
        token = body.get("nextPageToken", "")
        if not token:
            return cases


async def test_create_case_through_the_gateway(
    gateway: httpx.AsyncClient, hanako: Customer, staff: Staff
) -> None:
    body = {
        "subject": "  Slow connection  ",
        "description": "Evenings only.",
        "category": "CASE_CATEGORY_TECHNICAL",
        "priority": "CASE_PRIORITY_HIGH",
    }
    created = await _create(gateway, hanako, **body)
    assert created["subject"] == "Slow connection"
    assert created["caseNumber"]
    assert created["status"] == "CASE_STATUS_NEW"
    assert (created["category"], created["priority"]) == (
        "CASE_CATEGORY_TECHNICAL",
        "CASE_PRIORITY_HIGH",
    )
    assert created["createdAt"].endswith("Z")
    record = await staff.get("Case", created["id"])
    assert record["AccountId"] == hanako.account_id
    assert (record["Origin"], record["Status"], record["Type"]) == (
        "Portal Website",
        "New",
        "Technical",
    )
    contact = await staff.query(
        f"SELECT Id FROM Contact WHERE AccountId = '{hanako.account_id}'"
        " AND Email = 'hanako.yamada@example.jp'"
    )
    assert record["ContactId"] == contact[0]["Id"]


async def test_create_case_validation(gateway: httpx.AsyncClient, hanako: Customer) -> None:
    response = await gateway.post(
        "/v1/cases", json={"subject": " ", "description": "x" * 32_001}, headers=hanako.headers
    )
    assert response.status_code == 400
    assert reason(response) == "VALIDATION_FAILED"
    violations = response.json()["details"][1]["fieldViolations"]
    assert [v["field"] for v in violations] == ["subject", "description"]


async def test_list_shows_staff_cases_of_the_account_only(
    gateway: httpx.AsyncClient, hanako: Customer, taro: Customer, staff: Staff
) -> None:
    staff_id = await staff.create(
        "Case", {"AccountId": hanako.account_id, "Subject": "Opened by staff", "Origin": "Phone"}
    )
    foreign = await staff.create(
        "Case", {"AccountId": taro.account_id, "Subject": "Taro's by staff", "Origin": "Phone"}
    )
    mine = await _create(gateway, hanako, subject="Newest of mine")
    listed = await _all_cases(gateway, hanako)
    ids = [c["id"] for c in listed]
    assert ids[:2] == [mine["id"], staff_id]
    assert foreign not in ids
    stamps = [c["createdAt"] for c in listed]
    assert stamps == sorted(stamps, reverse=True)
    assert foreign in [c["id"] for c in await _all_cases(gateway, taro)]
    closed = await gateway.get(
        "/v1/cases", params={"status": "CASE_STATUS_CLOSED"}, headers=hanako.headers
    )
    assert {c["status"] for c in closed.json()["cases"]} == {"CASE_STATUS_CLOSED"}


async def test_paging_with_opaque_tokens(
    gateway: httpx.AsyncClient, hanako: Customer, taro: Customer
) -> None:
    for n in range(3):
        await _create(gateway, hanako, subject=f"paging {n}")
    first = await gateway.get("/v1/cases", params={"pageSize": "2"}, headers=hanako.headers)
    body = first.json()
    assert len(body["cases"]) == 2 and body["nextPageToken"]
    second = await gateway.get(
        "/v1/cases",
        params={"pageSize": "2", "pageToken": body["nextPageToken"]},
        headers=hanako.headers,
    )
    assert second.status_code == 200
    assert not {c["id"] for c in body["cases"]} & {c["id"] for c in second.json()["cases"]}
    for bad in (body["nextPageToken"] + "x", "not-a-token"):
        refused = await gateway.get("/v1/cases", params={"pageToken": bad}, headers=hanako.headers)
        assert (refused.status_code, reason(refused)) == (400, "VALIDATION_FAILED")
    foreign = await gateway.get(
        "/v1/cases", params={"pageToken": body["nextPageToken"]}, headers=taro.headers
    )
    assert (foreign.status_code, reason(foreign)) == (400, "VALIDATION_FAILED")


async def test_get_case_with_published_comments_and_comment(
    gateway: httpx.AsyncClient, hanako: Customer, staff: Staff
) -> None:
    case = await _create(gateway, hanako, subject="Comments please")
    await staff.create(
        "CaseComment", {"ParentId": case["id"], "CommentBody": "Staff reply", "IsPublished": True}
    )
    await staff.create(
        "CaseComment", {"ParentId": case["id"], "CommentBody": "internal", "IsPublished": False}
    )
    added = await gateway.post(
        f"/v1/cases/{case['id']}/comments", json={"body": "Customer reply"}, headers=hanako.headers
    )
    assert added.status_code == 200, added.text
    assert added.json()["comment"]["body"] == "Customer reply"
    assert added.json()["comment"]["fromCustomer"] is True
    got = await gateway.get(f"/v1/cases/{case['id']}", headers=hanako.headers)
    assert got.status_code == 200
    comments = got.json()["case"]["comments"]
    assert [(c["body"], c.get("fromCustomer", False)) for c in comments] == [
        ("Staff reply", False),
        ("Customer reply", True),
    ]
    stored = await staff.get("CaseComment", added.json()["comment"]["id"])
    assert stored["IsPublished"] is True


async def test_comment_on_closed_case_is_refused(
    gateway: httpx.AsyncClient, hanako: Customer, staff: Staff
) -> None:
    closed = await staff.create(
        "Case", {"AccountId": hanako.account_id, "Subject": "Done", "Status": "Closed"}
    )
    response = await gateway.post(
        f"/v1/cases/{closed}/comments", json={"body": "One more thing"}, headers=hanako.headers
    )
    assert (response.status_code, reason(response)) == (400, "CASE_CLOSED")
    assert await staff.query(f"SELECT Id FROM CaseComment WHERE ParentId = '{closed}'") == []


async def test_another_accounts_case_is_not_found(
    gateway: httpx.AsyncClient, hanako: Customer, taro: Customer, staff: Staff
) -> None:
    theirs = (await _create(gateway, taro, subject="Taro's own"))["id"]
    missing = theirs[:-6] + "zzzzzz"
    answers = []
    for case_id in (theirs, theirs[:15], missing, "500' OR Id != null"):
        got = await gateway.get(f"/v1/cases/{case_id}", headers=hanako.headers)
        answers.append((got.status_code, got.json()))
    assert all(a == answers[0] for a in answers)
    assert answers[0][0] == 404 and answers[0][1]["details"][0]["reason"] == "NOT_FOUND"
    comment = await gateway.post(
        f"/v1/cases/{theirs}/comments", json={"body": "sneaky"}, headers=hanako.headers
    )
    assert comment.status_code == 404
    assert await staff.query(f"SELECT Id FROM CaseComment WHERE ParentId = '{theirs}'") == []


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_input_is_stored_verbatim_and_leaks_nothing(
    gateway: httpx.AsyncClient, hanako: Customer, taro: Customer, staff: Staff, text: str
) -> None:
    created = await _create(gateway, hanako, subject=text, description=text)
    record = await staff.get("Case", created["id"])
    assert (record["Subject"], record["Description"]) == (text.strip(), text)
    comment = await gateway.post(
        f"/v1/cases/{created['id']}/comments", json={"body": text}, headers=hanako.headers
    )
    assert comment.json()["comment"]["body"] == text
    by_id = await gateway.get(f"/v1/cases/{created['id']}{text}", headers=hanako.headers)
    assert by_id.status_code in (400, 404)  # Envoy may refuse the path itself
    listed = await _all_cases(gateway, hanako)
    owners = await staff.query("SELECT Id FROM Case WHERE AccountId = '" + hanako.account_id + "'")
    assert {c["id"] for c in listed} == {r["Id"] for r in owners}
    assert not {c["id"] for c in listed} & {c["id"] for c in await _all_cases(gateway, taro)}


@pytest.mark.parametrize("mode", ["unavailable", "rate_limit"])
async def test_salesforce_outage_is_503(
    gateway: httpx.AsyncClient, hanako: Customer, staff: Staff, mode: str
) -> None:
    case = await _create(gateway, hanako, subject=f"before the {mode}")
    try:
        calls = [
            ("GET", "/v1/cases", None, "query:Case"),
            ("GET", f"/v1/cases/{case['id']}", None, "query:Case"),
            ("POST", "/v1/cases", {"subject": "during"}, "query:Contact"),
            ("POST", f"/v1/cases/{case['id']}/comments", {"body": "x"}, "query:Case"),
        ]
        for method, path, body, action in calls:
            await staff.fault(mode, count=3, action=action)  # every attempt of one read
            response = await gateway.request(method, path, json=body, headers=hanako.headers)
            assert response.status_code == 503, response.text
            assert reason(response) == "UPSTREAM_UNAVAILABLE"
            assert "try again later" in response.json()["message"]
            # Served again at once: three failures stay under the circuit breaker's threshold.
            after = await gateway.get(f"/v1/cases/{case['id']}", headers=hanako.headers)
            assert after.status_code == 200, after.text
    finally:
        await staff.fault("none")


async def test_a_retried_create_with_its_request_id_files_one_case(
    gateway: httpx.AsyncClient, staff: Staff, hanako: Customer
) -> None:
    body = {"subject": "Submitted twice (the answer got lost)", "requestId": uuid.uuid4().hex}
    first = await _create(gateway, hanako, **body)
    again = await _create(gateway, hanako, **body)
    assert again["id"] == first["id"] and again["caseNumber"] == first["caseNumber"]
    rows = await staff.query(f"SELECT Id FROM Case WHERE Subject = '{body['subject']}'")
    assert [r["Id"] for r in rows] == [first["id"]]
    bad = await gateway.post(
        "/v1/cases", json={**body, "requestId": "x" * 65}, headers=hanako.headers
    )
    assert bad.status_code == 400 and reason(bad) == "VALIDATION_FAILED"
