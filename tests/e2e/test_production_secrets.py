"""Production never runs on the development secrets: a stack outside development without its
own secrets does not start, and a stack with its own webhook secret refuses a dev-signed hook."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.helpers.logbook import LogBook
from tests.helpers.stacks import running_stack

pytestmark = pytest.mark.e2e

DEV_WEBHOOK_SECRET = b"portal-dev-webhook-secret"


def _hook() -> bytes:
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"id": f"evt_e2e_{uuid.uuid4().hex}", "event": "InvoicePaid", "occurredAt": moment,
            "clientId": "1", "data": {}}  # fmt: skip
    return json.dumps(body).encode()


def _signed(body: bytes, secret: bytes) -> dict[str, str]:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-portal-signature": f"sha256={digest}"}


async def test_a_stack_outside_development_without_secrets_does_not_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    logbook = LogBook()
    run_dir = tmp_path_factory.mktemp("prod_run")
    with pytest.raises(RuntimeError, match="exited during start-up"):
        async with running_stack(
            run_dir, logbook, prefix="portal_prod", extra_env={"PORTAL_ENV": "production"},
            wait_cdc=False,
        ):  # fmt: skip
            pytest.fail("the stack started on development secrets")
    # The first service to exit stops the start-up (the others are stopped, maybe before they
    # printed anything): whoever got that far named the variables and served nothing.
    services = ("identity", "billing", "commerce", "support")
    told = ["\n".join(logbook.of(s)) for s in services if logbook.of(s)]
    assert told
    for text in told:
        assert "WHMCS_WEBHOOK_SECRET: required outside development" in text, text
        assert "portal-dev-webhook-secret" not in text and "service_started" not in text


async def test_a_dev_signed_webhook_is_refused_by_a_stack_with_its_own_secret(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The reproduction: a forged InvoicePaid signed with the dev secret was accepted."""
    own = secrets.token_urlsafe(32)
    run_dir = tmp_path_factory.mktemp("own_secret_run")
    env = {"WHMCS_WEBHOOK_SECRET": own, "WHMCS_SANDBOX_WEBHOOK_SECRET": own}
    async with (
        running_stack(
            run_dir, LogBook(), prefix="portal_own", extra_env=env, wait_cdc=False
        ) as stack,
        httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as gateway,
    ):
        hook = _hook()
        forged = await gateway.post(
            "/v1/webhooks/whmcs", content=hook, headers=_signed(hook, DEV_WEBHOOK_SECRET)
        )
        assert forged.status_code == 401
        assert forged.json()["details"][0]["reason"] == "INVALID_SIGNATURE"
        genuine = _hook()
        accepted = await gateway.post(
            "/v1/webhooks/whmcs", content=genuine, headers=_signed(genuine, own.encode())
        )
        assert accepted.status_code == 200, accepted.text
