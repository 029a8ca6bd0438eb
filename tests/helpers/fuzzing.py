"""The OpenAPI fuzz's parts (tests/e2e/test_openapi_fuzz.py): the document as schemathesis
reads it, the error-shape check of docs/api.md, customer-like request bodies, and the runner that
sends one operation's generated cases through the gateway and collects what the checks found."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.accounts import HANAKO
from tools.openapi import OPENAPI_JSON

DOCUMENT = json.loads(OPENAPI_JSON.read_text())
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI_JSON))
# Our own valid token goes on every request instead of generated (invalid) credentials.
SCHEMA.config.generation.update(with_security_parameters=False)
OPERATIONS: dict[str, APIOperation] = {
    op.label: op
    for op in (result.ok() for result in SCHEMA.get_all_operations())  # type: ignore[union-attr]
}
WATCH = "GET /v1/orders:watch"  # server-streaming, never ends: opened once by the tests instead
WEBHOOK = "POST /v1/webhooks/whmcs"
AUTH_ROUTES = {f"POST /v1/auth/{name}" for name in (
    "signup", "signup:validate", "signup:start", "link", "login", "refresh", "password:reset",
    "password:confirm")}  # fmt: skip

# Examples per operation and mode. The auth routes stay under the gateway's bucket of 50
# requests per route per 10 s, so their handlers (not only the 429 reply) are fuzzed.
MAX_EXAMPLES = 40
MAX_AUTH_EXAMPLES = 30

# ErrorInfo.reason → gRPC code: the reason table of docs/api.md.
REASON_CODES = {
    "VALIDATION_FAILED": 3, "CUSTOMER_NUMBER_REQUIRED": 3, "CUSTOMER_NUMBER_NOT_FOUND": 5,
    "ACCOUNT_ALREADY_REGISTERED": 6, "EMAIL_ALREADY_REGISTERED": 6, "INVALID_CREDENTIALS": 16,
    "UNAUTHENTICATED": 16, "WHMCS_ACCOUNT_NOT_LINKABLE": 9, "NOT_FOUND": 5,
    "WHMCS_TWO_FACTOR_ENABLED": 9, "WHMCS_NO_OWNED_CLIENT": 9, "WHMCS_SEVERAL_OWNED_CLIENTS": 9,
    "PAYMENT_METHOD_REQUIRED": 9, "NOT_ELIGIBLE": 9, "PRODUCT_UNAVAILABLE": 9, "RATE_LIMITED": 8,
    "UPSTREAM_UNAVAILABLE": 14, "INVALID_SIGNATURE": 16, "INTERNAL": 13, "CASE_CLOSED": 9,
    "INVOICE_NOT_PAYABLE": 9, "UNIMPLEMENTED": 12, "METHOD_NOT_ALLOWED": 12,
    "EMAIL_NOT_ON_ACCOUNT": 9,
    "VERIFICATION_CODE_INVALID": 3, "VERIFICATION_CODE_EXPIRED": 9, "TOO_MANY_STREAMS": 8,
}  # fmt: skip
# gRPC code → HTTP status (the standard mapping the transcoder uses).
HTTP_OF_CODE = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409,
                11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}  # fmt: skip
# Envoy's own replies that keep their HTTP status (tools/envoy_config.py LOCAL_REPLIES).
LOCAL_REPLY_STATUSES = {(413, 3), (431, 3), (502, 14), (504, 14)}


def error_shape(ctx: CheckContext | None, response: Response, case: Case | None) -> bool | None:
    """A schemathesis check: a non-2xx answer is the JSON error shape of docs/api.md."""
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) >= {"code", "message", "details"}, body
    code = body["code"]
    assert isinstance(body["message"], str) and body["message"], body
    status = response.status_code
    assert HTTP_OF_CODE.get(code) == status or (status, code) in LOCAL_REPLY_STATUSES, body
    infos = [d for d in body["details"] if d.get("@type", "").endswith("/google.rpc.ErrorInfo")]
    assert len(infos) == 1 and infos[0]["domain"] == "portal", body
    assert REASON_CODES.get(infos[0]["reason"]) == code, body
    for detail in body["details"]:
        if detail["@type"].endswith("/google.rpc.BadRequest"):
            violations = detail["fieldViolations"]
            assert violations and all(v["field"] and v["description"] for v in violations), body
    return None


# negative_data_rejection is left out on purpose: the proto3 JSON mapping accepts more than a
# JSON schema can say (null for any field = its default, enum numbers, quoted integers, enum
# names in any case), so "schema-violating" requests are legitimately answered 200.
CHECKS: list[Callable[..., bool | None]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # first line → whole report

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


# Path parameter → (list path, list field): ids of the customer's own resources, so the fuzz
# reaches past NOT_FOUND (a random id is never the caller's).
ID_SOURCES = {
    "invoiceId": ("/v1/invoices", "invoices"),
    "subscriptionId": ("/v1/subscriptions", "subscriptions"),
    "productId": ("/v1/catalog/products", "products"),
    "caseId": ("/v1/cases", "cases"),
    "orderId": ("/v1/orders", "orders"),
}
CREATE_ORDER = "POST /v1/orders"
UPDATE_PROFILE = "PATCH /v1/billing-profile"
CREATE_CASE = "POST /v1/cases"
ADD_COMMENT = "POST /v1/cases/{caseId}/comments"
# Characters that break naive quoting, storage or framing, so examples hit them often.
NASTY = st.text(st.sampled_from(list("\x00\n\r\t '\"\\%_{}<>&;é€日\u2028")), min_size=1, max_size=8)
# Free text as a customer types it: anything but NUL and lone surrogates (not JSON-encodable).
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200)


def _enum(name: str) -> list[str]:
    return list(DOCUMENT["components"]["schemas"][name]["enum"])


def comments() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({"body": TEXT | NASTY})


def new_cases() -> st.SearchStrategy[dict[str, object]]:
    """CreateCase bodies a customer could send: any text, any category and priority."""
    return st.fixed_dictionaries(
        {
            "subject": (TEXT | NASTY).map(lambda t: t[:80]),
            "description": TEXT | NASTY,
            "category": st.sampled_from(_enum("portal.support.v1.CaseCategory")),
            "priority": st.sampled_from(_enum("portal.support.v1.CasePriority")),
        }
    )


def sign_ups() -> st.SearchStrategy[dict[str, object]]:
    """Sign-up forms for the seeded unregistered customer numbers (sandbox/SEED.md), with odd
    text in the free fields and a guessed code (none was mailed, so none registers a number)."""
    words = TEXT.map(lambda t: t[:40]) | NASTY
    address = st.fixed_dictionaries(
        {"line1": words, "line2": words, "city": words, "state": words,
         "postcode": st.just("460-0003") | words, "country": st.just("JP")}
    )  # fmt: skip
    return st.fixed_dictionaries(
        {
            "customerNumber": st.sampled_from(["AC-000102", "AC-000104"]) | NASTY,
            "email": st.uuids().map(lambda u: f"fuzz-{u.hex[:12]}@example.jp") | words,
            "password": st.just("fuzz-password-1") | words, "firstName": words,
            "lastName": words, "phone": st.just("+81-90-0000-0104") | words, "address": address,
            "code": st.just("123456") | words,
        }
    )  # fmt: skip


def _bodies(**fields: st.SearchStrategy[object]) -> Callable[[], st.SearchStrategy[object]]:
    return lambda: st.fixed_dictionaries(fields)


CREDENTIALS = _bodies(email=st.sampled_from([HANAKO["email"]]) | TEXT | NASTY,
                      password=TEXT | NASTY)  # fmt: skip
AUTH_BODIES = {
    "POST /v1/auth/login": CREDENTIALS, "POST /v1/auth/link": CREDENTIALS,
    "POST /v1/auth/signup": sign_ups,
    "POST /v1/auth/signup:validate": _bodies(
        customerNumber=st.sampled_from(["AC-000101", "AC-000103", "AC-999999"]) | TEXT | NASTY
    ),
    "POST /v1/auth/signup:start": _bodies(
        customerNumber=st.sampled_from(["AC-000102", "AC-000103", "AC-999999"]) | TEXT | NASTY,
        email=st.sampled_from(["taro.suzuki@example.jp"]) | TEXT | NASTY, language=TEXT,
    ),
    "POST /v1/auth/password:reset": _bodies(email=TEXT | NASTY, language=TEXT),
    "POST /v1/auth/password:confirm": _bodies(email=TEXT | NASTY, code=TEXT | NASTY,
                                              newPassword=TEXT | NASTY),
    "POST /v1/auth/refresh": _bodies(refreshToken=TEXT | NASTY),
    "POST /v1/auth/logout": _bodies(refreshToken=TEXT | NASTY),
}  # fmt: skip

# Free-text profile fields (the others have formats): any text within the limit is valid.
PROFILE_TEXT = {"firstName": None, "lastName": None, "companyName": None, "line1": "address",
                "line2": "address", "city": "address", "state": "address"}  # fmt: skip


def profile_updates() -> st.SearchStrategy[dict[str, object]]:
    """Profile updates of some free-text fields, in the mask, with any non-blank text."""
    text = st.text(st.characters(codec="utf-8"), max_size=100)

    def body(values: dict[str, str]) -> dict[str, object]:
        profile: dict[str, object] = {k: v for k, v in values.items() if not PROFILE_TEXT[k]}
        profile["address"] = {k: v for k, v in values.items() if PROFILE_TEXT[k]}
        mask = [f"{PROFILE_TEXT[k]}.{k}" if PROFILE_TEXT[k] else k for k in values]
        return {"profile": profile, "updateMask": ",".join(mask)}

    names = st.lists(st.sampled_from(sorted(PROFILE_TEXT)), min_size=1, unique=True)
    values = names.flatmap(
        lambda keys: st.fixed_dictionaries({k: text.filter(str.strip) for k in keys})
    )
    return values.map(body)


@dataclass
class Fuzzer:
    base_url: str
    headers: dict[str, str]
    ids: dict[str, list[str]]  # path parameter → the customer's ids
    # Credentials the session's log scan looks for (tests/helpers/secret_ledger.py). Hypothesis
    # also draws the string constants of the code under test, the sandbox's seeded passwords
    # among them; a case that would put one in its URL or headers is dropped, since the access
    # log records what the client sent there.
    secrets: tuple[str, ...] = ()
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)

    def strategy(self, operation: APIOperation, mode: GenerationMode) -> st.SearchStrategy[Case]:
        """Generated cases, mixed with cases on the customer's own resources (real ids in the
        path) and, for the writes, bodies a customer could send (real product ids in a
        checkout, free text in cases, comments and the profile), which get past validation."""
        generated = operation.as_strategy(generation_mode=mode)
        names = [p.name for p in operation.path_parameters if p.name in self.ids]
        own = [
            operation.as_strategy(generation_mode=mode, path_parameters={name: value})
            for name in names
            for value in self.ids[name]
        ]
        bodies = {
            CREATE_ORDER: self.checkout_bodies, UPDATE_PROFILE: profile_updates,
            CREATE_CASE: new_cases, ADD_COMMENT: comments, **AUTH_BODIES,
        }  # fmt: skip
        if operation.label in bodies and mode == GenerationMode.POSITIVE:
            paths = st.one_of(own) if own else generated
            own.append(st.tuples(paths, bodies[operation.label]()).map(_with_body))
        return st.one_of(st.one_of(own), generated) if own else generated

    def shows_a_secret(self, case: Case) -> bool:
        """Whether a path or query parameter, a header or a cookie holds a known credential."""
        shown = [case.path_parameters, case.query, case.headers, case.cookies]
        text = repr([sorted((part or {}).items()) for part in shown])
        return any(secret in text for secret in self.secrets)

    def checkout_bodies(self) -> st.SearchStrategy[dict[str, object]]:
        quantity = st.integers(min_value=1, max_value=3) | st.integers(-1, 2**31 - 1)
        item = st.fixed_dictionaries(
            {"productId": st.sampled_from(self.ids["productId"]), "quantity": quantity}
        )
        request_id = st.uuids().map(str) | st.text(max_size=70) | NASTY
        return st.fixed_dictionaries(
            {"requestId": request_id, "items": st.lists(item, min_size=1, max_size=4)}
        )

    def run(self, operation: APIOperation, mode: GenerationMode) -> Outcome:
        """Send ``operation``'s generated cases (blocking: call it in a thread) and check each
        response; failures are collected, not raised, so one run reports all of them."""
        outcome = self.outcomes[(operation.label, mode.value)] = Outcome()
        session = requests.Session()
        budget = MAX_AUTH_EXAMPLES if operation.label in AUTH_ROUTES else MAX_EXAMPLES

        @given(case=self.strategy(operation, mode))
        @settings(
            max_examples=budget,
            derandomize=True,  # the same requests on every run (CI)
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Case) -> None:
            if self.shows_a_secret(case):
                reject()
            response = case.call(base_url=self.base_url, session=session,
                                 headers=self.headers, timeout=30)  # fmt: skip
            outcome.statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=self.headers)
            except BaseExceptionGroup as failures:  # schemathesis' FailureGroup
                outcome.failures.setdefault(str(failures).strip().split("\n")[2], str(failures))

        try:
            fuzz()
        finally:
            session.close()
        return outcome


def _with_body(pair: tuple[Case, dict[str, object]]) -> Case:
    case, body = pair
    case.body = body  # type: ignore[assignment]
    return case


def negatable(label: str) -> bool:
    """Whether a negative (schema-violating) case exists: a query parameter, a header or a
    body. Any string is a valid path parameter and there is nothing else to break."""
    method, path = label.split(" ", 1)
    op = DOCUMENT["paths"][path][method.lower()]
    params = [p for p in op.get("parameters", []) if p["in"] != "path"]
    return bool(params) or "requestBody" in op


def assert_error_shape(response: httpx.Response) -> None:
    """:func:`error_shape` for a response httpx received."""
    assert response.status_code >= 400, response.text
    error_shape(None, Response.from_any(response), None)
