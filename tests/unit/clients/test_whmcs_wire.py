"""WHMCS wire pieces without I/O: PHP form encoding, list unwrapping, error table, odd answers."""

from __future__ import annotations

import base64

import httpx
import phpserialize
import pytest

from services.common.clients import WhmcsClient, WhmcsConfig, WhmcsRejected
from services.common.clients.resilience import Policy
from services.common.clients.whmcs_wire import (
    custom_field,
    error_for,
    id_list,
    php_form,
    php_serialize_b64,
    unwrap,
)
from services.common.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    NotFound,
    UpstreamUnavailable,
    ValidationFailed,
)


def test_php_form_brackets_and_scalars() -> None:
    form = php_form(
        {"pid": [12, 14], "email_preferences": {"invoice": True, "general": False},
         "notes": None, "clientid": 7, "nested": {"a": [1]}}
    )  # fmt: skip
    assert form == [
        ("pid[0]", "12"), ("pid[1]", "14"),
        ("email_preferences[invoice]", "1"), ("email_preferences[general]", "0"),
        ("clientid", "7"), ("nested[a][0]", "1"),
    ]  # fmt: skip


def test_php_serialize_b64_round_trips() -> None:
    raw = php_serialize_b64({198: "AC-000101"})
    assert phpserialize.loads(base64.b64decode(raw), decode_strings=True) == {198: "AC-000101"}


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"invoice": [{"id": 1}, {"id": 2}]}, [{"id": 1}, {"id": 2}]),
        ({"invoice": {"id": 1}}, [{"id": 1}]),
        ("", []),
        (None, []),
        ([{"id": 3}], [{"id": 3}]),
        ({"invoice": ""}, []),
    ],
)
def test_unwrap(wire: object, expected: list[dict[str, int]]) -> None:
    assert unwrap(wire, "invoice") == expected


def test_ids_and_custom_fields() -> None:
    assert id_list("1,2") == [1, 2]
    assert id_list("") == []
    client = {"customfields": [{"id": "198", "value": "AC-1"}, {"id": 5, "value": " "}]}
    assert custom_field(client, 198) == "AC-1"
    assert custom_field(client, 5) is None
    assert custom_field({"customfields": ""}, 198) is None


def test_error_table() -> None:
    assert isinstance(error_for("Client Not Found"), NotFound)
    assert isinstance(error_for("Invoice ID Not Found"), NotFound)
    assert isinstance(error_for("A user already exists with that email address"),
                      EmailAlreadyRegistered)  # fmt: skip
    for refused in ("The email address entered is not available for use.",
                    "The email address you entered was not valid",
                    "The email address entered is not valid"):  # fmt: skip
        error = error_for(refused)
        assert isinstance(error, ValidationFailed), refused
        assert [v.field for v in error.violations] == ["email"]
    assert isinstance(error_for("Email or Password Invalid"), InvalidCredentials)
    other = error_for("Valid country required")
    assert isinstance(other, WhmcsRejected) and other.detail == "Valid country required"
    assert "Valid country" not in other.message  # the end user sees the generic text


def _client(handler: httpx.MockTransport) -> WhmcsClient:
    policy = Policy(read_attempts=1)
    return WhmcsClient(WhmcsConfig(policy=policy), http=httpx.AsyncClient(transport=handler))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>Down for maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(403, json={"result": "error", "message": "Invalid IP 1.2.3.4"}),
        httpx.Response(502, text="Bad gateway"),
    ],
)
async def test_odd_answers_are_unavailable(response: httpx.Response) -> None:
    client = _client(httpx.MockTransport(lambda _req: response))
    with pytest.raises(UpstreamUnavailable):
        await client.get_payment_methods()


async def test_connection_error_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamUnavailable):
        await _client(httpx.MockTransport(refuse)).get_invoice(1)


async def test_request_form_carries_credentials_and_brackets() -> None:
    seen: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json={"result": "success", "orderid": "9", "serviceids": "4",
                                         "invoiceid": "0"})  # fmt: skip

    from services.common.clients.whmcs import OrderLine

    placed = await _client(httpx.MockTransport(record)).add_order(
        1, [OrderLine(181), OrderLine(242, "onetime")], notes="sfOrderId=x"
    )
    assert (placed.order_id, placed.service_ids, placed.invoice_id) == (9, [4], None)
    body = seen[0].decode()
    for part in ("action=AddOrder", "responsetype=json", "identifier=portal-dev",
                 "secret=portal-dev-secret", "pid%5B0%5D=181", "pid%5B1%5D=242",
                 "billingcycle%5B1%5D=onetime", "notes=sfOrderId%3Dx"):  # fmt: skip
        assert part in body
