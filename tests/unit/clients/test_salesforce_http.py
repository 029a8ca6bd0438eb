"""Salesforce error mapping and the sandbox adapter's URL rewriting (no network)."""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from services.common.clients.resilience import Unreachable
from services.common.clients.salesforce_http import SalesforceAdapter, map_error
from services.common.errors import (
    DuplicateRecord,
    NotFound,
    UpstreamRejected,
    ValidationFailed,
)


def _err(cls: type, status: int, code: str, fields: list[str] | None = None) -> Any:
    return cls("https://x/services", status, "r", [{"errorCode": code, "message": "m",
                                                    "fields": fields or []}])  # fmt: skip


def test_error_mapping() -> None:
    assert isinstance(map_error(_err(SalesforceResourceNotFound, 404, "NOT_FOUND")), NotFound)
    dup = map_error(_err(SalesforceMalformedRequest, 400, "DUPLICATE_VALUE"))
    assert isinstance(dup, DuplicateRecord)
    for code in ("REQUIRED_FIELD_MISSING", "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                 "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"):  # fmt: skip
        err = map_error(_err(SalesforceMalformedRequest, 400, code, ["EID__c"]))
        assert isinstance(err, ValidationFailed)
        assert [v.field for v in err.violations] == ["EID__c"]
    limit = map_error(_err(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED"))
    assert isinstance(limit, Unreachable)
    assert isinstance(map_error(_err(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE")),
                      Unreachable)  # fmt: skip
    other = map_error(_err(SalesforceMalformedRequest, 400, "INVALID_FIELD"))
    assert isinstance(other, UpstreamRejected) and other.upstream_code == "INVALID_FIELD"
    assert isinstance(map_error(requests.ConnectTimeout()), Unreachable)
    assert isinstance(map_error(requests.ConnectionError()), Unreachable)


class Recorder(SalesforceAdapter):
    def __init__(self, base: str) -> None:
        super().__init__(base, "acme.my", (1.0, 2.0))
        self.seen: list[tuple[str, Any]] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        # Exercise the rewrite of the parent without sending anything.
        original = requests.adapters.HTTPAdapter.send

        def fake(_self: Any, req: requests.PreparedRequest, *a: Any, **kw: Any) -> Any:
            self.seen.append((req.url or "", kw.get("timeout")))
            response = requests.Response()
            response.status_code = 204
            return response

        requests.adapters.HTTPAdapter.send = fake  # type: ignore[method-assign]
        try:
            return super().send(request, *args, **kwargs)
        finally:
            requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]


def _prepared(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_rewrites_only_the_sandbox_hosts_and_only_for_http() -> None:
    adapter = Recorder("http://127.0.0.1:8701")
    adapter.send(_prepared("https://127.0.0.1:8701/services/data/v60.0/query/?q=x"))
    adapter.send(_prepared("https://acme.my.salesforce.com/services/oauth2/token"))
    adapter.send(_prepared("https://example.com/other"))
    assert [u for u, _ in adapter.seen] == [
        "http://127.0.0.1:8701/services/data/v60.0/query/?q=x",
        "http://127.0.0.1:8701/services/oauth2/token",
        "https://example.com/other",
    ]
    assert all(t == (1.0, 2.0) for _, t in adapter.seen)
    real = Recorder("https://acme.my.salesforce.com")
    real.send(_prepared("https://acme.my.salesforce.com/services/data/v60.0/"))
    assert real.seen[0][0] == "https://acme.my.salesforce.com/services/data/v60.0/"
