"""Watch tickets (services/commerce/watch_tickets.py): what opens GET /v1/orders:events."""

from __future__ import annotations

import json

import pytest

from services.commerce.watch_tickets import MAX_LIFETIME_S, WatchTickets
from services.common.errors import Unauthenticated

NOW = 1_800_000_000.0
TICKETS = WatchTickets(b"secret")


def test_a_ticket_names_its_user_and_expires_with_the_token_or_sooner() -> None:
    short = TICKETS.issue("user-1", token_expires_at=int(NOW) + 60, now=NOW)
    assert short.expires_at == int(NOW) + 60
    long = TICKETS.issue("user-1", token_expires_at=int(NOW) + 86_400, now=NOW)
    assert long.expires_at == int(NOW) + MAX_LIFETIME_S
    assert TICKETS.redeem(TICKETS.encode(long), now=NOW) == long


def test_expired_forged_or_foreign_tickets_are_refused() -> None:
    ticket = TICKETS.issue("user-1", token_expires_at=int(NOW) + 60, now=NOW)
    text = TICKETS.encode(ticket)
    head, _, mac = text.partition(".")
    refused = [
        "",
        "no-dot",
        head + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"),
        WatchTickets(b"other secret").encode(ticket),
        "é" + text,
        text + "x" * 600,
    ]
    for bad in refused:
        with pytest.raises(Unauthenticated):
            TICKETS.redeem(bad, now=NOW)
    with pytest.raises(Unauthenticated):
        TICKETS.redeem(text, now=NOW + 61)


def test_an_access_token_is_not_a_ticket() -> None:
    jwt_like = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"
    with pytest.raises(Unauthenticated):
        TICKETS.redeem(jwt_like, now=NOW)


def test_an_order_event_is_one_sse_event_on_one_data_line() -> None:
    from portal.commerce.v1 import orders_pb2

    from services.commerce.order_events import order_frame

    order = orders_pb2.Order(id="801x", error_message="line one\nline two")
    frame = order_frame("1-0", order).decode()
    lines = frame.split("\n")
    assert lines[0] == "id: 1-0" and lines[1].startswith("data: {") and lines[2:] == ["", ""]
    assert json.loads(lines[1].removeprefix("data: "))["errorMessage"] == "line one\nline two"
