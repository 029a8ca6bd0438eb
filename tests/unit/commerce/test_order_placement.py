"""Where checkout's new order goes on a cached page (``order_placement.place_on_page``)."""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from portal.commerce.v1 import order_records_pb2 as records
from portal.commerce.v1 import orders_pb2

from services.commerce.order_placement import place_on_page
from services.common.cache import DROP


def record(order_id: str, seconds: int) -> records.OrderRecord:
    created = timestamp_pb2.Timestamp(seconds=seconds)
    return records.OrderRecord(order=orders_pb2.Order(id=order_id, created_at=created))


def page(
    *orders: records.OrderRecord, offset: int = 0, size: int = 3, token: str = ""
) -> records.OrdersPageRecord:
    return records.OrdersPageRecord(
        orders=list(orders), offset=offset, size=size, next_page_token=token
    )


def token(offset: int, size: int) -> str:
    return f"after-{offset}-{size}"


def ids(edited: records.OrdersPageRecord) -> list[str]:
    return [r.order.id for r in edited.orders]


def test_the_newest_order_goes_first_on_a_page_with_room() -> None:
    edited = place_on_page(page(record("b", 20), record("a", 10)), record("c", 30), token)
    assert edited is not None and edited is not DROP
    assert ids(edited) == ["c", "b", "a"] and edited.next_page_token == ""


def test_a_full_page_passes_its_last_order_on_and_gains_a_next_page() -> None:
    full = page(record("c", 30), record("b", 20), record("a", 10))
    edited = place_on_page(full, record("d", 40), token)
    assert edited is not None and edited is not DROP
    assert ids(edited) == ["d", "c", "b"] and edited.next_page_token == "after-0-3"
    more = page(record("c", 30), record("b", 20), record("a", 10), token="kept")
    edited = place_on_page(more, record("d", 40), token)
    assert edited is not None and edited is not DROP
    assert ids(edited) == ["d", "c", "b"] and edited.next_page_token == "kept"


def test_an_order_older_than_a_full_page_leaves_it_or_starts_the_next_page() -> None:
    full = page(record("c", 30), record("b", 20), record("a", 10))
    edited = place_on_page(full, record("z", 5), token)
    assert edited is not None and edited is not DROP
    assert ids(edited) == ["c", "b", "a"] and edited.next_page_token == "after-0-3"
    more = page(record("c", 30), record("b", 20), record("a", 10), token="kept")
    assert place_on_page(more, record("z", 5), token) is None
    edited = place_on_page(page(record("b", 20)), record("z", 5), token)
    assert edited is not None and edited is not DROP and ids(edited) == ["b", "z"]


def test_the_order_goes_between_older_and_newer_ones_by_date_then_id() -> None:
    edited = place_on_page(page(record("c", 30), record("a", 10)), record("b", 20), token)
    assert edited is not None and edited is not DROP and ids(edited) == ["c", "b", "a"]


def test_what_cannot_be_edited_is_dropped_and_what_is_right_is_kept() -> None:
    later = page(record("b", 20), offset=3)
    assert place_on_page(later, record("c", 30), token) is DROP  # its boundaries shift
    tie = page(record("b", 20))
    assert place_on_page(tie, record("c", 20), token) is DROP  # Salesforce breaks the tie
    assert place_on_page(page(record("b", 20), size=0), record("c", 30), token) is DROP
    shown = page(record("c", 30), record("b", 20))
    assert place_on_page(shown, record("c", 30), token) is None  # already there
    assert ids(shown) == ["c", "b"]
