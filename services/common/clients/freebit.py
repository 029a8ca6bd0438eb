"""Freebit MVNO "PA" API client (``POST <base>/emptool/api/<path>/`` with one ``json`` field).

The ``authKey`` from ``authOem`` is cached and shared by concurrent calls; when Freebit answers
with an auth-key failure the client authenticates again once and repeats the call (inside the same
attempt: a call refused for its key was not executed, so repeating even a write is safe). Result
codes are classified in ``freebit_codes``. ``oemKey``, ``authKey`` and ``masterPassword`` travel
only in the request body and are never logged.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from services.common.client_interceptors import add_request_id_header
from services.common.clients import freebit_codes as codes
from services.common.clients.http import transport
from services.common.clients.resilience import Policy, Unreachable, Upstream
from services.common.secret import SecretStr


@dataclass(frozen=True)
class FreebitConfig:
    url: str = "http://127.0.0.1:8703"
    oem_id: str = "PORTALDEV"
    oem_key: SecretStr = field(default_factory=lambda: SecretStr("portal-dev-key"))
    account_detail_path: str = "master/getAcnt/"  # PA03-02's path is not public
    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    policy: Policy = field(default_factory=lambda: Policy(timeout_s=20.0))


class _AuthKeyRejected(Exception):
    """Internal signal: the cached authKey was refused."""


class FreebitClient:
    def __init__(self, config: FreebitConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=self._timeout,
            event_hooks={"request": [add_request_id_header]},
            transport=transport(config.policy.max_concurrency),
        )
        self._base = config.url.rstrip("/") + "/emptool/api/"
        self._auth_key: str | None = None
        self._auth_lock = asyncio.Lock()
        self.upstream = Upstream(codes.SYSTEM, config.policy)

    async def aclose(self) -> None:
        self.upstream.close()
        if self._own_http:
            await self._http.aclose()

    # -- plumbing --------------------------------------------------------------------------------
    async def call(
        self, path: str, payload: dict[str, Any], *, read: bool = False
    ) -> dict[str, Any]:
        """One API call with the cached authKey (re-authenticating once if it was refused)."""
        operation = path.strip("/")
        return await self.upstream.call(
            operation, lambda: self._authorised(path, payload), idempotent=read
        )

    async def _authorised(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        key = await self._key()
        try:
            return await self._checked(path, {**payload, "authKey": key})
        except _AuthKeyRejected:
            key = await self._key(stale=key)
        try:
            return await self._checked(path, {**payload, "authKey": key})
        except _AuthKeyRejected:
            raise Unreachable("authKey refused right after authOem") from None

    async def _key(self, stale: str | None = None) -> str:
        """The cached authKey; ``stale`` (a refused key) forces a new one unless another call
        already replaced it."""
        async with self._auth_lock:
            if self._auth_key is None or self._auth_key == stale:
                body = await self._post("authOem", self._oem_credentials())
                result, status = _codes(body)
                if result != codes.SUCCESS or not body.get("authKey"):
                    raise Unreachable(f"authOem refused {result}/{status}")
                self._auth_key = str(body["authKey"])
            return self._auth_key

    def _oem_credentials(self) -> dict[str, str]:
        return {"oemId": self.config.oem_id, "oemKey": self.config.oem_key.get_secret_value()}

    async def _checked(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = await self._post(path, payload)
        result, status = _codes(body)
        if result == codes.SUCCESS:
            return body
        if codes.is_auth_key_failure(result, status):
            raise _AuthKeyRejected()
        if codes.is_oem_auth_failure(result, status) or codes.is_unavailable(result, status):
            raise Unreachable(f"resultCode {result}/{status}")
        message = str((body.get("status") or {}).get("message", ""))
        raise codes.FreebitRejected(result, status, message)

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = self._base + path.strip("/") + "/"
        try:
            resp = await self._http.post(
                url, data={"json": json.dumps(payload)}, timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise Unreachable("timeout") from None
        except httpx.HTTPError as exc:
            raise Unreachable(type(exc).__name__) from None
        if resp.status_code != 200:
            raise Unreachable(f"HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise Unreachable("non-JSON answer") from None
        if not isinstance(body, dict) or "resultCode" not in body:
            raise Unreachable("unexpected answer shape")
        return body

    # -- calls used by fulfillment ----------------------------------------------------------------
    async def add_physical_account(
        self,
        *,
        master_account: str,
        master_password: SecretStr,
        account: str,
        product_number: str,
        plan_code: str,
        ship_date: date,
    ) -> dict[str, Any]:
        """PA02-01: register a physical-SIM line (asynchronous: active within ~10 minutes)."""
        payload = {
            "masterAccount": master_account,
            "masterPassword": master_password.get_secret_value(),
            "account": account,
            "productNumber": product_number,
            "planCode": plan_code,
            "shipDate": f"{ship_date:%Y%m%d}",
        }
        return _without_codes(await self.call("master/addAcnt/", payload))

    async def activate_esim(
        self,
        *,
        eid: str,
        account: str,
        plan_code: str,
        sim_kind: str = "E2",
        add_kind: str = "N",
        aladin_operated: bool = False,
        create_type: str = "",
        contract_line: str = "5G",
    ) -> dict[str, Any]:
        """PA05-41: eSIM activation. ``aladin_operated`` only with ``add_kind="N"`` (400-356)."""
        payload = {
            "eid": eid, "simKind": sim_kind, "addKind": add_kind, "planCode": plan_code,
            "account": account, "aladinOperated": "10" if aladin_operated else "20",
            "createType": create_type, "contractLine": contract_line,
        }  # fmt: skip
        return _without_codes(await self.call("mvno/esim/addAcnt/", payload))

    async def account_detail(self, account: str) -> dict[str, Any]:
        """PA03-02: the line's detail (``state``, ``planCode``, ...)."""
        payload = {"version": "2", "requestDatas": [{"kind": "MVNO", "account": account}]}
        body = await self.call(self.config.account_detail_path, payload, read=True)
        details = body.get("responseDatas") or []
        if not details or not isinstance(details[0], dict):
            raise Unreachable("account detail without responseDatas")
        return dict(details[0])

    async def cancel_account(self, account: str, *, run_date: date | None = None) -> dict[str, Any]:
        """PA02-04: cancel a line (immediately when ``run_date`` is absent; asynchronous)."""
        payload: dict[str, Any] = {"kind": "MVNO", "account": account}
        if run_date is not None:
            payload["runDate"] = f"{run_date:%Y%m%d}"
        return _without_codes(await self.call("master/cnclAcnt/", payload))

    async def traffic(self, account: str) -> dict[str, Any]:
        """PA05-01: usage figures (``trafficInfo``)."""
        body = await self.call("mvno/getTrafficInfo/", {"account": account}, read=True)
        return dict(body.get("trafficInfo") or {})


def _codes(body: dict[str, Any]) -> tuple[str, str]:
    status = body.get("status") if isinstance(body.get("status"), dict) else {}
    return str(body.get("resultCode", "")), str((status or {}).get("statusCode", ""))


def _without_codes(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("resultCode", "status", "authKey")}
