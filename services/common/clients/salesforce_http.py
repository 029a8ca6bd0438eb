"""What sits under and around simple-salesforce: the transport adapter and the error mapping.

:class:`SalesforceAdapter` is mounted on the ``requests.Session`` given to simple-salesforce. It

- puts an explicit (connect, read) timeout on every request (simple-salesforce's login sends
  none, and its data calls only when asked);
- for a plain-HTTP sandbox only (the configured URL is ``http://``): rewrites requests to
  ``https://<configured host:port>`` and to the login host ``https://<domain>.salesforce.com``
  (which simple-salesforce hard-codes) to ``http://<configured host:port>``; every other URL
  passes untouched, and nothing is rewritten for an ``https://`` configuration;
- remembers the organization id from the OAuth token response's ``id`` URL
  (``.../id/<orgId>/<userId>``), which the Pub/Sub API needs as ``tenantid`` and
  simple-salesforce does not keep;
- verifies TLS with one context per CA location (:func:`verifying_context`) shared by all its
  connections. Given none, urllib3 builds a context and parses the CA bundle for every new
  connection, and each live connection keeps its own copy: ~0.6 MiB per kept-alive connection
  (8 concurrent calls over HTTPS: +5.8 MiB, +1.0 with the shared context; bench/README.md
  "Memory"). The context is the one urllib3 would build for the connection (same function, same
  arguments, the same CA file or directory requests chose), made once.

:func:`map_error` turns simple-salesforce and requests exceptions into our typed errors.
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)
from urllib3.util.ssl_ import create_urllib3_context

from services.common.clients.resilience import Unreachable
from services.common.clients.salesforce import SYSTEM
from services.common.errors import (
    DuplicateRecord,
    FieldViolation,
    NotFound,
    PortalError,
    UpstreamRejected,
    ValidationFailed,
)

TOKEN_PATH = "/services/oauth2/token"
VALIDATION_CODES = frozenset(
    {
        "REQUIRED_FIELD_MISSING",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "STRING_TOO_LONG",
        "INVALID_EMAIL_ADDRESS",
    }
)


class SalesforceAdapter(HTTPAdapter):
    def __init__(self, base_url: str, domain: str, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout
        self.org_id: str | None = None
        base = urlsplit(base_url)
        self._plain_http = base.scheme == "http"
        self._target = base.netloc
        self._rewritten = {base.netloc, f"{domain}.salesforce.com"}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        parts = urlsplit(request.url or "")
        if self._plain_http and parts.scheme == "https" and parts.netloc in self._rewritten:
            request.url = urlunsplit(("http", self._target, *parts[2:]))
        response = super().send(request, *args, **kwargs)
        if parts.path == TOKEN_PATH and response.status_code == 200:
            self._remember_org(response)
        return response

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:
        attributes: Any = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params, pool_kwargs = attributes
        if host_params["scheme"] == "https" and verify is not False and cert is None:
            location = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
            pool_kwargs["ssl_context"] = verifying_context(location)
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        context = getattr(conn, "conn_kw", {}).get("ssl_context")
        if context is not None and any(context is c for c in _CONTEXTS.values()):
            # The shared context holds the CA locations already: not loaded again into it at
            # every new connection.
            conn.ca_certs = conn.ca_cert_dir = None

    def _remember_org(self, response: requests.Response) -> None:
        try:
            identity = str(response.json().get("id", ""))
        except ValueError:
            return
        pieces = identity.rstrip("/").split("/")
        if len(pieces) >= 2 and pieces[-3:-2] == ["id"]:
            self.org_id = pieces[-2]


_CONTEXTS: dict[str, ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def verifying_context(location: str) -> ssl.SSLContext:
    """What urllib3 builds for each verified connection when given no context (its
    ``create_urllib3_context`` with certificates required, the CA file or directory loaded),
    built once per CA location (under a lock: the pool's threads connect at once at first)."""
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(location)
        if context is None:
            context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            if os.path.isdir(location):
                context.load_verify_locations(capath=location)
            else:
                context.load_verify_locations(cafile=location)
            _CONTEXTS[location] = context
        return context


def _errors(exc: SalesforceError) -> list[dict[str, Any]]:
    content = exc.content
    if isinstance(content, list):
        return [e for e in content if isinstance(e, dict)]
    if isinstance(content, dict):
        return [content]
    return []


def error_from_items(status: int, items: list[dict[str, Any]]) -> PortalError:
    """The typed error for a Salesforce error array (a REST answer or a composite sub-answer)."""
    codes = [str(e.get("errorCode", "")) for e in items]
    first = codes[0] if codes else f"HTTP_{status}"
    if status == 404 or "NOT_FOUND" in codes:
        return NotFound()
    if "DUPLICATE_VALUE" in codes:
        return DuplicateRecord(SYSTEM, "DUPLICATE_VALUE", _message(items))
    if status == 300:
        return DuplicateRecord(SYSTEM, "MULTIPLE_RECORDS", "several records match")
    if any(c in VALIDATION_CODES for c in codes):
        violations = [
            FieldViolation(str(field), str(e.get("message", "invalid")))
            for e in items
            if e.get("errorCode") in VALIDATION_CODES
            for field in (e.get("fields") or ["record"])
        ]
        return ValidationFailed(violations=violations)
    if status in (401, 403) or status >= 500:
        return Unreachable(f"HTTP {status} {first}")
    return UpstreamRejected(SYSTEM, first, _message(items))


def _message(items: list[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("message", "")) for e in items)[:500]


def map_error(exc: Exception) -> Exception:
    """simple-salesforce / requests exception → typed error (anything else is returned as is and
    becomes ``UpstreamUnavailable`` in ``resilience``)."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return Unreachable("login failed")
    if isinstance(exc, SalesforceResourceNotFound):
        return NotFound()
    if isinstance(exc, SalesforceMoreThanOneRecord):
        return error_from_items(300, [])
    if isinstance(exc, SalesforceMalformedRequest):
        return error_from_items(400, _errors(exc))
    if isinstance(exc, SalesforceError):
        return error_from_items(int(exc.status or 500), _errors(exc))
    if isinstance(exc, requests.Timeout):
        return Unreachable("timeout")
    if isinstance(exc, requests.RequestException):
        return Unreachable(type(exc).__name__)
    return exc
