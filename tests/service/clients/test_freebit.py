"""FreebitClient against the Freebit sandbox: calls, result codes, auth-key re-auth, faults."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from structlog.testing import capture_logs

from services.common.clients import BreakerOpen, FreebitClient, FreebitConfig, FreebitRejected
from services.common.errors import UpstreamUnavailable
from services.common.secret import SecretStr

EID = "89049032000001000000000000000123"
MSISDN = "08012345678"


async def _wait_state(freebit: FreebitClient, account: str, state: str) -> dict:
    for _ in range(40):
        detail = await freebit.account_detail(account)
        if detail["state"] == state:
            return detail
        await asyncio.sleep(0.05)
    raise AssertionError(f"{account} never became {state}")


async def test_esim_lifecycle(freebit: FreebitClient, freebit_control) -> None:
    result = await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_10G")
    assert result["account"] == MSISDN and "authKey" not in result
    detail = await _wait_state(freebit, MSISDN, "active")
    assert (detail["planCode"], detail["simType"]) == ("PNEW_10G", "esim")
    traffic = await freebit.traffic(MSISDN)
    assert traffic["unit"] == "MB"
    await freebit.cancel_account(MSISDN)
    await _wait_state(freebit, MSISDN, "cancelled")
    assert (await freebit_control.calls())["authOem"] == 1  # the authKey is cached


async def test_physical_sim(freebit: FreebitClient) -> None:
    await freebit.add_physical_account(
        master_account="PORTAL", master_password=SecretStr("m-pass"), account="09012345678",
        product_number="ABCDEF123456789", plan_code="PNEW_3G", ship_date=date(2026, 12, 1),
    )  # fmt: skip
    assert (await freebit.account_detail("09012345678"))["simType"] == "physical"


async def test_business_errors_carry_codes(freebit: FreebitClient, freebit_control) -> None:
    with pytest.raises(FreebitRejected) as aladin:
        await freebit.activate_esim(
            eid=EID, account=MSISDN, plan_code="PNEW_3G", add_kind="M", aladin_operated=True
        )
    assert (aladin.value.upstream_code, aladin.value.name) == (
        "400-356",
        "ALADIN_NEEDS_NEW_CONTRACT",
    )
    await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    with pytest.raises(FreebitRejected) as dup:
        await freebit.activate_esim(eid=EID, account="08087654321", plan_code="PNEW_3G")
    assert dup.value.name == "EID_IN_USE"
    with pytest.raises(FreebitRejected) as missing:
        await freebit.traffic("07000000000")
    assert missing.value.name == "ACCOUNT_NOT_FOUND"
    assert (await freebit_control.calls())["mvno/getTrafficInfo"] == 1  # never retried


async def test_business_error_knob(freebit: FreebitClient, freebit_control) -> None:
    await freebit_control.fault(
        "business_error", count=1, action="mvno/esim/addAcnt", result_code="400-356"
    )
    with pytest.raises(FreebitRejected) as err:
        await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    assert err.value.upstream_code == "400-356"
    assert (await freebit_control.calls())["mvno/esim/addAcnt"] == 1


async def test_expired_auth_key_reauths_once(freebit: FreebitClient, freebit_control) -> None:
    await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    await freebit_control.fault("expire_session", count=1, action="mvno/getTrafficInfo")
    assert (await freebit.traffic(MSISDN))["unit"] == "MB"
    calls = await freebit_control.calls()
    assert calls["authOem"] == 2
    assert calls["mvno/getTrafficInfo"] == 2  # refused once, repeated once with the new key


async def test_expired_auth_key_on_write_is_repeated_once(freebit, freebit_control) -> None:
    await freebit_control.fault("expire_session", count=1, action="master/cnclAcnt")
    await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    await freebit.cancel_account(MSISDN)
    calls = await freebit_control.calls()
    assert (calls["master/cnclAcnt"], calls["authOem"]) == (2, 2)


async def test_bad_oem_key_is_unavailable(freebit_sandbox, freebit_control, fast_policy) -> None:
    client = FreebitClient(
        FreebitConfig(url=freebit_sandbox.url, oem_key=SecretStr("wrong"), policy=fast_policy)
    )
    with pytest.raises(UpstreamUnavailable):
        await client.cancel_account(MSISDN)
    await client.aclose()


async def test_unavailable_read_retried_write_once(freebit: FreebitClient, freebit_control) -> None:
    await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    await freebit_control.fault("unavailable", count=2, action="mvno/getTrafficInfo")
    assert await freebit.traffic(MSISDN)
    assert (await freebit_control.calls())["mvno/getTrafficInfo"] == 3
    await freebit_control.fault("unavailable", count=1, action="master/cnclAcnt")
    with pytest.raises(UpstreamUnavailable):
        await freebit.cancel_account(MSISDN)
    assert (await freebit_control.calls())["master/cnclAcnt"] == 1


async def test_rate_limit_and_latency(freebit: FreebitClient, freebit_control) -> None:
    await freebit_control.fault("rate_limit", count=1, action="mvno/esim/addAcnt")
    with pytest.raises(UpstreamUnavailable):
        await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    await freebit_control.fault("latency", count=1, latency_ms=2500, action="mvno/esim/addAcnt")
    with pytest.raises(UpstreamUnavailable):
        await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    assert (await freebit_control.calls())["mvno/esim/addAcnt"] == 2


async def test_breaker_opens_and_closes(freebit: FreebitClient, freebit_control) -> None:
    await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
    await freebit_control.fault("unavailable", count=3, action="mvno/getTrafficInfo")
    with pytest.raises(UpstreamUnavailable):
        await freebit.traffic(MSISDN)
    with pytest.raises(BreakerOpen):
        await freebit.account_detail(MSISDN)
    await asyncio.sleep(1.05)
    assert await freebit.traffic(MSISDN)
    assert freebit.upstream.breaker.state == "closed"


async def test_no_keys_in_logs(freebit: FreebitClient, freebit_control, caplog) -> None:
    caplog.set_level("DEBUG")
    with capture_logs() as logs:
        await freebit.activate_esim(eid=EID, account=MSISDN, plan_code="PNEW_3G")
        first_key = freebit._auth_key
        await freebit_control.fault("expire_session", count=1, action="mvno/getTrafficInfo")
        await freebit.traffic(MSISDN)
        second_key = freebit._auth_key
        await freebit_control.fault("unavailable", count=1, action="mvno/getTrafficInfo")
        await freebit.traffic(MSISDN)
        await freebit.add_physical_account(
            master_account="PORTAL", master_password=SecretStr("m-pass-secret"),
            account="09012345678", product_number="ABCDEF123456789", plan_code="PNEW_3G",
            ship_date=date(2026, 12, 1),
        )  # fmt: skip
    assert any(e["event"] == "upstream_call_failed" for e in logs)
    assert first_key != second_key
    text = repr(logs) + caplog.text
    for secret in ("portal-dev-key", "m-pass-secret", first_key, second_key):
        assert secret and secret not in text
