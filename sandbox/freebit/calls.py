"""The Freebit calls used by fulfillment (everything after authOem), keyed by path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.freebit import codes
from sandbox.freebit import validate as v
from sandbox.freebit.codes import FreebitError
from sandbox.freebit.settings import FreebitSettings
from sandbox.freebit.state import ACTIVE, CANCELLED, Line, Registry, jst_date
from sandbox.freebit.traffic import traffic_info

SIM_KINDS = ("E0", "E2", "E3")  # voice, data, data + SMS
ADD_KINDS = ("N", "M", "R")  # new, MNP port-in, reissue
FLAGS = ("10", "20")  # on, off
CONTRACT_LINES = ("4G", "5G")


@dataclass
class World:
    registry: Registry
    settings: FreebitSettings


Call = Callable[[World, dict[str, Any]], dict[str, Any]]


def _new_line(w: World, account: str, kind: str, plan: str) -> Line:
    now = w.registry.now()
    line = Line(account, kind, plan, now, w.settings.activation_delay)
    line.registered_on = jst_date(now)
    return line


def add_physical(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """PA02-01: register a physical-SIM line; it becomes active after the activation delay."""
    master, password = v.text(body, "masterAccount"), v.text(body, "masterPassword")
    expected = (w.settings.master_account, w.settings.master_password)
    if expected[0] and (master, password) != expected:
        raise FreebitError(codes.MASTER_AUTH_FAILED)
    account = v.matching(body, "account", v.MSISDN)
    product = v.matching(body, "productNumber", v.PRODUCT_NUMBER)
    plan = v.plan_code(body)
    ship = v.yyyymmdd(body, "shipDate")
    if w.registry.live_line(account) is not None:
        raise FreebitError(codes.DUPLICATE_ACCOUNT)
    if w.registry.product_in_use(product):
        raise FreebitError(codes.DUPLICATE_PRODUCT)
    line = _new_line(w, account, "physical", plan)
    line.product_number, line.ship_date = product, ship
    w.registry.lines[account] = line
    return codes.OK.body(account=account)


def add_esim(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """PA05-41: eSIM activation (new line, MNP port-in, or reissue onto a new EID)."""
    eid = v.matching(body, "eid", v.EID)
    sim_kind = v.one_of(body, "simKind", SIM_KINDS)
    add_kind = v.one_of(body, "addKind", ADD_KINDS)
    plan = v.plan_code(body)
    account = v.matching(body, "account", v.MSISDN)
    aladin = v.one_of(body, "aladinOperated", FLAGS)
    v.text(body, "createType", required=False)
    contract_line = v.one_of(body, "contractLine", CONTRACT_LINES)
    if aladin == "10" and add_kind != "N":
        raise FreebitError(codes.ALADIN_NEEDS_NEW)
    existing = w.registry.live_line(account)
    if add_kind == "R":
        if existing is None:
            raise FreebitError(codes.ACCOUNT_NOT_FOUND)
        if w.registry.state(existing) != ACTIVE:
            raise FreebitError(codes.REISSUE_NOT_ACTIVE)
    elif existing is not None:
        raise FreebitError(codes.DUPLICATE_ACCOUNT)
    if w.registry.eid_in_use(eid):
        raise FreebitError(codes.DUPLICATE_EID)
    line = _new_line(w, account, "esim", plan)
    line.eid, line.sim_kind, line.add_kind = eid, sim_kind, add_kind
    line.contract_line, line.aladin_operated = contract_line, aladin
    w.registry.lines[account] = line
    return codes.OK.body(account=account, eid=eid)


def _line_detail(line: Line, now: float) -> dict[str, Any]:
    detail = {
        "kind": "MVNO", "account": line.account, "state": line.state(now),
        "simType": line.kind, "planCode": line.plan_code, "eid": line.eid,
        "productNumber": line.product_number, "simKind": line.sim_kind,
        "contractLine": line.contract_line, "aladinOperated": line.aladin_operated,
        "registDate": line.registered_on.strftime("%Y%m%d"),
    }  # fmt: skip
    if now >= line.active_from:
        detail["startDate"] = f"{jst_date(line.active_from):%Y%m%d}"
    ends = line.cancelled_from()
    if ends is not None:
        detail["cancelDate"] = f"{jst_date(ends):%Y%m%d}"
    return detail


def get_account(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """PA03-02 (version "2"): detail of each requested line."""
    if str(body.get("version", "2")) != "2":
        raise FreebitError(codes.BAD_FORMAT.formatted(field="version"))
    requests = body.get("requestDatas")
    if not isinstance(requests, list) or not requests:
        raise FreebitError(codes.MISSING_PARAM.formatted(field="requestDatas"))
    details = []
    for item in requests:
        if not isinstance(item, dict) or item.get("kind") != "MVNO":
            raise FreebitError(codes.BAD_FORMAT.formatted(field="requestDatas.kind"))
        line = w.registry.lines.get(v.text(item, "account"))
        if line is None:
            raise FreebitError(codes.ACCOUNT_NOT_FOUND)
        details.append(_line_detail(line, w.registry.now()))
    return codes.OK.body(responseDatas=details)


def cancel(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """PA02-04: cancel a line, immediately (after the cancel delay) or on ``runDate``."""
    v.one_of(body, "kind", ("MVNO",))
    account = v.matching(body, "account", v.MSISDN)
    run_date = v.run_date(body, "runDate")
    line = w.registry.lines.get(account)
    if line is None:
        raise FreebitError(codes.ACCOUNT_NOT_FOUND)
    if w.registry.state(line) == CANCELLED:
        raise FreebitError(codes.ALREADY_CANCELLED)
    if line.cancel_requested_at is not None:
        raise FreebitError(codes.CANCEL_PENDING)
    if run_date is not None and run_date < w.registry.today():
        raise FreebitError(codes.RUN_DATE_PAST.formatted(field=f"{run_date:%Y%m%d}"))
    line.cancel_requested_at = w.registry.now()
    line.cancel_delay, line.cancel_run_date = w.settings.cancel_delay, run_date
    return codes.OK.body(account=account)


def traffic(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """PA05-01: usage figures of one line (zero until it is active; a cancelled line has none)."""
    account = v.matching(body, "account", v.MSISDN)
    line = w.registry.lines.get(account)
    if line is None:
        raise FreebitError(codes.ACCOUNT_NOT_FOUND)
    now = w.registry.now()
    if line.state(now) == CANCELLED:
        raise FreebitError(codes.ALREADY_CANCELLED)
    return codes.OK.body(account=account, trafficInfo=traffic_info(line, now))


def calls(settings: FreebitSettings) -> dict[str, Call]:
    return {
        "master/addAcnt": add_physical,
        "mvno/esim/addAcnt": add_esim,
        settings.account_detail_path.strip("/"): get_account,
        "master/cnclAcnt": cancel,
        "mvno/getTrafficInfo": traffic,
    }
