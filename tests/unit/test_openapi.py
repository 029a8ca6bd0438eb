"""The OpenAPI document: generated from the protos, matching docs/api.md, committed up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from portal.identity.v1 import account_directory_pb2

from services.common.methods import METHODS
from tools import openapi
from tools.gen import DESCRIPTOR, GEN

DOC: dict[str, Any] = openapi.build(openapi.load_comments(GEN / DESCRIPTOR))
SCHEMAS = DOC["components"]["schemas"]

# docs/api.md: method → (verb, path) in OpenAPI spelling.
ROUTES = {
    "ValidateCustomerNumber": ("post", "/v1/auth/signup:validate"),
    "SignUp": ("post", "/v1/auth/signup"),
    "StartSignUp": ("post", "/v1/auth/signup:start"),
    "RequestPasswordReset": ("post", "/v1/auth/password:reset"),
    "ConfirmPasswordReset": ("post", "/v1/auth/password:confirm"),
    "ChangePassword": ("post", "/v1/auth/password:change"),
    "LinkWhmcsAccount": ("post", "/v1/auth/link"),
    "Login": ("post", "/v1/auth/login"),
    "RefreshSession": ("post", "/v1/auth/refresh"),
    "Logout": ("post", "/v1/auth/logout"),
    "GetMe": ("get", "/v1/me"),
    "GetJwks": ("get", "/.well-known/jwks.json"),
    "ListInvoices": ("get", "/v1/invoices"),
    "GetInvoice": ("get", "/v1/invoices/{invoiceId}"),
    "CreateInvoicePaymentLink": ("post", "/v1/invoices/{invoiceId}/payment-link"),
    "ListPaymentMethods": ("get", "/v1/payment-methods"),
    "ListPaymentGateways": ("get", "/v1/payment-gateways"),
    "ListSubscriptions": ("get", "/v1/subscriptions"),
    "GetSubscription": ("get", "/v1/subscriptions/{subscriptionId}"),
    "GetBillingProfile": ("get", "/v1/billing-profile"),
    "UpdateBillingProfile": ("patch", "/v1/billing-profile"),
    "ConfirmBillingEmail": ("post", "/v1/billing-profile/email:confirm"),
    "HandleWhmcsWebhook": ("post", "/v1/webhooks/whmcs"),
    "ListProducts": ("get", "/v1/catalog/products"),
    "GetProduct": ("get", "/v1/catalog/products/{productId}"),
    "GetEligibility": ("get", "/v1/catalog/eligibility"),
    "CreateOrder": ("post", "/v1/orders"),
    "ListOrders": ("get", "/v1/orders"),
    "GetOrder": ("get", "/v1/orders/{orderId}"),
    "WatchOrders": ("get", "/v1/orders:watch"),
    "ListSims": ("get", "/v1/sims"),
    "GetSimUsage": ("get", "/v1/sims/{msisdn}/usage"),
    "CancelSim": ("post", "/v1/sims/{msisdn}:cancel"),
    "CreateCase": ("post", "/v1/cases"),
    "ListCases": ("get", "/v1/cases"),
    "GetCase": ("get", "/v1/cases/{caseId}"),
    "AddCaseComment": ("post", "/v1/cases/{caseId}/comments"),
}


def _operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        op["operationId"]: (verb, path, op)
        for path, ops in DOC["paths"].items()
        for verb, op in ops.items()
    }


def _op(name: str) -> dict[str, Any]:
    return _operations()[name][2]


def test_every_public_rpc_and_nothing_else_is_documented() -> None:
    public = {m.name for m in METHODS.values() if not m.internal}
    assert public == set(ROUTES)
    assert {name: (v, p) for name, (v, p, _) in _operations().items()} == ROUTES


@pytest.mark.parametrize("method", [m for m in METHODS.values() if not m.internal], ids=str)
def test_security_follows_the_auth_option(method: Any) -> None:
    expected = [{"bearer": []}] if method.needs_token else []
    assert _op(method.name)["security"] == expected


def test_bearer_scheme_and_error_responses() -> None:
    assert DOC["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    responses = _op("GetInvoice")["responses"]
    assert responses["default"] == {"$ref": "#/components/responses/Error"}
    assert {"400", "401", "404", "409", "429", "500", "503"} <= set(responses)
    status = SCHEMAS["google.rpc.Status"]
    assert set(status["properties"]) == {"code", "message", "details"}
    assert {"google.rpc.ErrorInfo", "google.rpc.BadRequest"} <= set(SCHEMAS)


def test_message_schema_uses_the_json_mapping() -> None:
    invoice = SCHEMAS["portal.billing.v1.Invoice"]["properties"]
    assert invoice["currencyCode"] == {"type": "string"}
    assert invoice["paidAt"] == {"type": "string", "format": "date-time"}
    assert invoice["status"] == {"$ref": "#/components/schemas/portal.billing.v1.InvoiceStatus"}
    assert invoice["items"]["items"] == {
        "$ref": "#/components/schemas/portal.billing.v1.InvoiceItem"
    }
    mask = SCHEMAS["portal.billing.v1.UpdateBillingProfileRequest"]["properties"]["updateMask"]
    assert mask["type"] == "string"


def test_enums_are_string_enums_and_query_parameters() -> None:
    status = SCHEMAS["portal.billing.v1.InvoiceStatus"]
    assert status["type"] == "string"
    assert "INVOICE_STATUS_OVERDUE" in status["enum"]
    params = {p["name"]: p for p in _op("ListInvoices")["parameters"]}
    assert set(params) == {"status", "pageSize", "pageToken"}
    assert all(p["in"] == "query" for p in params.values())
    assert params["status"]["schema"]["$ref"].endswith("InvoiceStatus")


def test_int64_is_a_string() -> None:
    field = account_directory_pb2.DESCRIPTOR.message_types_by_name["AccountLinks"].fields_by_name[
        "whmcs_client_id"
    ]
    assert openapi.field_schema(field, {}) == {"type": "string", "format": "int64"}


def test_path_parameters_and_bodies() -> None:
    op = _op("AddCaseComment")
    assert op["parameters"][0] == {
        "name": "caseId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert "caseId" not in body["properties"] and "body" in body["properties"]
    login = _op("Login")["requestBody"]["content"]["application/json"]["schema"]
    assert login == {"$ref": "#/components/schemas/portal.identity.v1.LoginRequest"}


def test_webhook_takes_a_raw_signed_body() -> None:
    op = _op("HandleWhmcsWebhook")
    assert "*/*" in op["requestBody"]["content"]
    assert [p["name"] for p in op["parameters"]] == ["X-Portal-Signature"]


def test_watch_orders_is_an_event_stream() -> None:
    content = _op("WatchOrders")["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]


def test_descriptions_come_from_proto_comments() -> None:
    assert _op("ListInvoices")["summary"] == "The caller's invoices, newest first"
    assert SCHEMAS["portal.billing.v1.PaymentMethod"]["properties"]["expiry"]["description"]
    assert any(t["name"] == "BillingService" and t.get("description") for t in DOC["tags"])


def test_every_ref_resolves() -> None:
    text = json.dumps(DOC)
    for name in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        assert name in SCHEMAS, name


def test_the_committed_document_is_up_to_date(tmp_path: Path) -> None:
    fresh = openapi.write(tmp_path / "openapi.json", GEN / DESCRIPTOR)
    assert fresh.read_text() == openapi.OPENAPI_JSON.read_text()
