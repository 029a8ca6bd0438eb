"""Composite Graph (``composite/graph``): each graph is all or none on its own, with Salesforce's
limits and response shape; and the composite request's limit on query/collection sub-requests
(docs/contracts/salesforce.md "Composite Graph")."""

from __future__ import annotations

from typing import Any

from eventbus.v1 import pubsub_api_pb2 as pb

BASE = "/services/data/v62.0"


async def _accounts(http, bearer, n: int) -> list[dict[str, Any]]:
    q = f"SELECT Id, Name FROM Account ORDER BY Id LIMIT {n}"
    resp = await http.get(f"{BASE}/query", params={"q": q}, headers=bearer)
    return list(resp.json()["records"])


def _patch(ref: str, record_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"method": "PATCH", "url": f"{BASE}/sobjects/Account/{record_id}", "referenceId": ref,
            "body": body}  # fmt: skip


async def _name(http, bearer, record_id: str) -> str:
    resp = await http.get(f"{BASE}/sobjects/Account/{record_id}", headers=bearer)
    return str(resp.json()["Name"])


async def test_a_failed_graph_rolls_back_alone(http, bearer):
    a, b, c = await _accounts(http, bearer, 3)
    body = {"graphs": [
        {"graphId": "ok", "compositeRequest": [_patch("a1", a["Id"], {"Name": "Graph A"})]},
        {"graphId": "bad", "compositeRequest": [
            _patch("b1", b["Id"], {"Name": "Graph B"}),
            _patch("b2", c["Id"], {"Name": None}),  # Name is required: this node fails
        ]},
    ]}  # fmt: skip
    resp = await http.post(f"{BASE}/composite/graph", headers=bearer, json=body)
    assert resp.status_code == 200, resp.text
    ok, bad = resp.json()["graphs"]
    assert ok["graphId"] == "ok" and ok["isSuccessful"] is True
    assert [r["httpStatusCode"] for r in ok["graphResponse"]["compositeResponse"]] == [204]
    assert bad["graphId"] == "bad" and bad["isSuccessful"] is False
    first, second = bad["graphResponse"]["compositeResponse"]
    assert first["referenceId"] == "b1" and first["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert second["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert await _name(http, bearer, a["Id"]) == "Graph A"
    assert await _name(http, bearer, b["Id"]) == b["Name"]  # rolled back with its graph
    assert await _name(http, bearer, c["Id"]) == c["Name"]


async def test_each_graph_is_its_own_transaction(http, bearer, pubsub, metadata, h):
    a, b = await _accounts(http, bearer, 2)
    sub = h.Subscription(pubsub, metadata, "/data/AccountChangeEvent")
    try:
        await sub.ready()
        body = {"graphs": [
            {"graphId": "1", "compositeRequest": [_patch("a", a["Id"], {"Phone": "03-1111"})]},
            {"graphId": "2", "compositeRequest": [_patch("b", b["Id"], {"Phone": "03-1111"})]},
            {"graphId": "3", "compositeRequest": [_patch("c", "001000000000000AAA", {})]},
        ]}  # fmt: skip
        resp = await http.post(f"{BASE}/composite/graph", headers=bearer, json=body)
        assert [g["isSuccessful"] for g in resp.json()["graphs"]] == [True, True, False]
        events = await sub.events(2)
        extra = await sub.next(2.0)  # a keep-alive: nothing from the failed graph
    finally:
        sub.close()
    assert not extra.events
    headers = []
    for event in events:
        schema = await pubsub.GetSchema(
            pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata
        )
        headers.append(h.decode_event(schema.schema_json, event)["ChangeEventHeader"])
    # identical changes, but two transactions: two events, not one merged event
    assert [hd["recordIds"] for hd in headers] == [[a["Id"]], [b["Id"]]]
    assert headers[0]["transactionKey"] != headers[1]["transactionKey"]


async def test_more_than_14_failed_graphs_halt_the_rest(http, bearer):
    (a,) = await _accounts(http, bearer, 1)
    missing = "001000000000000AAA"
    graphs = [{"graphId": f"f{i}", "compositeRequest": [_patch(f"f{i}", missing, {})]}
              for i in range(15)]  # fmt: skip
    graphs.append({"graphId": "late", "compositeRequest": [_patch("late", a["Id"], {"Name": "L"})]})
    resp = await http.post(f"{BASE}/composite/graph", headers=bearer, json={"graphs": graphs})
    late = resp.json()["graphs"][-1]
    assert late["isSuccessful"] is False
    (node,) = late["graphResponse"]["compositeResponse"]
    assert node["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert await _name(http, bearer, a["Id"]) == a["Name"]


async def test_graph_limits_and_supported_urls(http, bearer):
    (a,) = await _accounts(http, bearer, 1)

    async def post(graphs: list[dict[str, Any]]) -> Any:
        return await http.post(f"{BASE}/composite/graph", headers=bearer, json={"graphs": graphs})

    def graph(i: int, nodes: list[dict[str, Any]]) -> dict[str, Any]:
        return {"graphId": f"g{i}", "compositeRequest": nodes}

    too_many = await post([graph(i, [_patch(f"n{i}", a["Id"], {})]) for i in range(76)])
    assert too_many.status_code == 400
    assert too_many.json()[0]["errorCode"] == "INVALID_BATCH_REQUEST"
    nodes = [_patch(f"n{i}", a["Id"], {}) for i in range(501)]
    assert (await post([graph(0, nodes)])).status_code == 400
    query = {"method": "GET", "url": f"{BASE}/query/?q=SELECT+Id+FROM+Account", "referenceId": "q"}
    assert (await post([graph(0, [query])])).status_code == 400
    kinds = [{"method": "GET", "url": f"{BASE}/sobjects/{o}/{a['Id']}", "referenceId": o}
             for o in ("Account", "Contact", "Order", "OrderItem", "Product2", "Case", "User",
                       "Pricebook2", "PricebookEntry", "Lead", "Opportunity", "Task", "Event",
                       "Asset", "Contract", "Campaign")]  # fmt: skip
    assert (await post([graph(0, kinds)])).status_code == 400  # 16 different nodes
    same_ref = await post([graph(0, [_patch("x", a["Id"], {})]),
                           graph(1, [_patch("x", a["Id"], {})])])  # fmt: skip
    assert same_ref.status_code == 400
    same_graph = await post([graph(0, [_patch("x", a["Id"], {})]),
                             graph(0, [_patch("y", a["Id"], {})])])  # fmt: skip
    assert same_graph.status_code == 400
    assert (await post([graph(0, [_patch("ok", a["Id"], {})])])).status_code == 200


async def test_composite_allows_at_most_five_queries(http, bearer):
    def query(i: int) -> dict[str, Any]:
        return {"method": "GET", "url": f"{BASE}/query/?q=SELECT+Id+FROM+Account+LIMIT+1",
                "referenceId": f"q{i}"}  # fmt: skip

    five = await http.post(f"{BASE}/composite", headers=bearer,
                           json={"compositeRequest": [query(i) for i in range(5)]})  # fmt: skip
    assert five.status_code == 200, five.text
    six = await http.post(f"{BASE}/composite", headers=bearer,
                          json={"compositeRequest": [query(i) for i in range(6)]})  # fmt: skip
    assert six.status_code == 400 and six.json()[0]["errorCode"] == "INVALID_BATCH_REQUEST"
