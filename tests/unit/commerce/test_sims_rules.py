"""SIM self-service rules without I/O: run dates, MSISDNs, the Salesforce/Freebit mapping and the
usage figures."""

from __future__ import annotations

from datetime import date

import pytest
from portal.commerce.v1 import orders_pb2

from services.commerce.sims import cancel_rules, records
from services.commerce.sims.usage import usage_from
from services.common.errors import ValidationFailed

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("2026-12-31", True),
        ("2027-02-28", True),
        ("2027-12-31", True),  # 12 months ahead
        ("2028-01-31", False),  # 13
        ("2026-11-30", False),  # last month
        ("2026-12-30", False),  # not a month end
        ("2027-02-29", False),  # no such day
        ("20261231", False),
        ("", False),
        ("2026-12-31T00:00:00", False),
    ],
)
def test_run_date_is_a_month_end_from_this_month_on(raw: str, ok: bool) -> None:
    assert (cancel_rules.run_date_problem(raw, TODAY) is None) is ok


def test_every_bad_field_is_named() -> None:
    with pytest.raises(ValidationFailed) as raised:
        cancel_rules.checked("", "2026-12-30", TODAY)
    assert {v.field for v in raised.value.violations} == {"request_id", "run_date"}
    assert cancel_rules.checked("r-1", "2026-12-31", TODAY) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("07012345678", True), ("09000000000", True), ("0701234567", False),
     ("070123456789", False), ("17012345678", False), ("+817012345678", False),
     ("0701234567\uff18", False)],  # a full-width digit
)  # fmt: skip
def test_msisdn_shape(value: str, ok: bool) -> None:
    assert records.is_msisdn(value) is ok


def test_one_line_per_msisdn_with_its_plan() -> None:
    orders = [
        {"Id": "801B", "SIM_Account__c": "07000000002", "SIM_Type__c": "eSIM"},
        {"Id": "801A", "SIM_Account__c": "07000000001", "SIM_Type__c": "Physical"},
        {"Id": "801Z", "SIM_Account__c": "07000000002", "SIM_Type__c": "Physical"},  # older
    ]
    items = [
        {"OrderId": "801B", "Product2": {"Name": "Fee", "SIM_Plan_Code__c": None}},
        {"OrderId": "801B", "Product2": {"Name": "SIM Data 10GB", "SIM_Plan_Code__c": "PNEW_10G"}},
    ]
    lines = records.line_records(orders, records.plans_by_order(items))
    assert [(ln.msisdn, ln.order_id) for ln in lines] == [
        ("07000000002", "801B"),
        ("07000000001", "801A"),
    ]
    assert (lines[0].plan_name, lines[0].plan_code) == ("SIM Data 10GB", "PNEW_10G")
    sim = records.sim_from(
        lines[0], {"state": "cancelling", "startDate": "20261201", "cancelDate": "20261231"}
    )
    assert sim.status == orders_pb2.SIM_STATUS_CANCELLATION_PENDING
    assert sim.sim_type == orders_pb2.SIM_TYPE_ESIM
    assert (sim.activated_on, sim.cancellation_date) == ("2026-12-01", "2026-12-31")
    unknown = records.sim_from(lines[1], {})
    assert unknown.status == orders_pb2.SIM_STATUS_UNSPECIFIED and unknown.activated_on == ""


def test_usage_figures() -> None:
    months = [{"month": "202611", "used": "3000"}, {"month": "bad", "used": "x"}]
    info = {"today": "120", "thisMonth": "700", "unit": "MB", "date": "20261206", "quota": "9540",
            "months": months}  # fmt: skip
    usage = usage_from("07000000001", info, 1_765_000_000.0)
    assert (usage.used_today_mb, usage.used_this_month_mb) == (120, 700)
    assert usage.has_quota and usage.remaining_quota_mb == 9540
    assert [(m.month, m.used_mb) for m in usage.previous_months] == [("2026-11", 3000), ("", 0)]
    assert usage.as_of_date == "2026-12-06"
    assert not usage_from("07000000001", {"today": "1"}, 0.0).has_quota
