"""The contract as a TypeScript front end consumes it, with tools nobody here wrote: the OpenAPI
document through an independent validator (swagger-parser), types from openapi-typescript, a
small typed client (``tests/frontend/src``) compiled with ``tsc --strict``, then run against the
gateway. A change that makes the front end's life worse (a field turned optional, a reason
missing from the enum, details no longer told apart) fails the compile."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import frontend
from tests.helpers.accounts import HANAKO, auth_headers
from tools import docs_assets
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def compiled() -> None:
    frontend.install()
    assert frontend.NPM is not None
    checked = frontend.run([frontend.NPM, "run", "--silent", "check"])
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]


def test_openapi_is_valid_and_the_typed_client_compiles_strict(compiled: None) -> None:
    api = (frontend.FRONTEND / "build" / "api.d.ts").read_text()
    # Required response fields come out without `?`; the reasons as a union of literals.
    assert "accessToken: string;" in api and "total: string;" in api
    assert '"portal.ErrorReason": "ACCOUNT_ALREADY_REGISTERED" |' in api


async def test_the_typed_client_works_against_the_gateway(
    compiled: None, stack: Stack, gateway: httpx.AsyncClient
) -> None:
    await auth_headers(gateway, "/v1/auth/link", HANAKO)  # linked, so a login works
    assert frontend.NODE is not None
    script = str(frontend.FRONTEND / "build" / "js" / "src" / "run.js")
    argv = [frontend.NODE, script, stack.config.gateway_url, HANAKO["email"], HANAKO["password"]]
    done = frontend.run(argv, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["invoices"] and seen["order"]["items"] == 1
    assert seen["order"]["status"] == "ORDER_STATUS_PENDING_REVIEW"
    assert seen["case"]["number"] and seen["case"]["status"] == "CASE_STATUS_NEW"
    assert seen["refused"]["status"] == 400 and seen["refused"]["reason"] == "VALIDATION_FAILED"
    assert "requestId" in seen["refused"]["fields"], seen["refused"]
    assert seen["notFound"] == {"status": 404, "reason": "NOT_FOUND"}


def test_docs_assets_are_the_pinned_swagger_ui(compiled: None) -> None:
    assert docs_assets.stale() == [], "run `make docs-assets` after changing swagger-ui-dist"
