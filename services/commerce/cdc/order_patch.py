"""Order UPDATE events applied to the cached orders in place (``Cache.patch``), no I/O here.

An event is applicable when it is an Order UPDATE whose changed fields are only fields the portal
shows and can set from the event alone (``SHOWN``: status, activation status, activation error)
plus fields it ignores (``IGNORED_ORDER_FIELDS``), none of them sent as a diff, and it carries
the order's ``LastModifiedDate`` (epoch ms), its version. None of these fields moves an order to
another page (pages are ordered by ``CreatedDate`` and ``Id``, never filtered) or to another
account. Any other event (a CREATE, DELETE, UNDELETE, GAP_*, an address or amount change, an
OrderItem change, no version) drops the families as before.

Against a cached copy (an ``OrderRecord`` with the ``modified_ms`` it was read with):

- the event is newer: its fields are written and the copy takes its version;
- the copy is newer: the event is older than what the copy shows and is ignored;
- the same millisecond: ambiguous (two commits may share it), ``Unpatchable`` (the family drops);
- a copy without a version: ``Unpatchable``.

A page that shows none of the changed orders is kept as it is; when no cached page of the user
shows a changed order of the user's, the caller drops the pages (``OrderPatch.missing``). One
event may name the orders of several accounts (Salesforce merges the same change of several
records into one event): only the user's own orders are looked for on the user's pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from portal.commerce.v1 import order_records_pb2, orders_pb2

from services.commerce.mapping import ACTIVATION, STATUSES
from services.common.cache import Unpatchable
from services.common.clients.cdc import ChangeEvent

VERSION_FIELD = "LastModifiedDate"


def _text(order: orders_pb2.Order, name: str) -> Callable[[Any], None]:
    def put(value: Any) -> None:
        setattr(order, name, "" if value is None else str(value))

    return put


def _setters(order: orders_pb2.Order) -> dict[str, Callable[[Any], None]]:
    def status(value: Any) -> None:
        order.status = STATUSES.get(str(value or ""), orders_pb2.ORDER_STATUS_UNSPECIFIED)

    def activation(value: Any) -> None:
        order.activation_status = ACTIVATION.get(
            str(value or ""), orders_pb2.ACTIVATION_STATUS_UNSPECIFIED
        )

    return {
        "Status": status,
        "Activation_Status__c": activation,
        "Activation_Error_Code__c": _text(order, "error_code"),
        "Activation_Error_Message__c": _text(order, "error_message"),
    }


SHOWN = frozenset(_setters(orders_pb2.Order()))
"""The Order fields an event may set in a cached order (as ``mapping.order_from_record`` maps
them)."""


@dataclass(frozen=True)
class OrderChange:
    """One applicable Order UPDATE: the orders it names, their new version and values."""

    order_ids: tuple[str, ...]
    modified_ms: int
    values: dict[str, Any]  # field -> new value (None: nulled)

    def apply(self, record: order_records_pb2.OrderRecord) -> bool:
        """Write the change into ``record`` if it is newer; False if the record is newer."""
        if record.modified_ms == 0:
            raise Unpatchable("a cached order without a version")
        if record.modified_ms == self.modified_ms:
            raise Unpatchable("a cached order of the same version")
        if record.modified_ms > self.modified_ms:
            return False
        setters = _setters(record.order)
        for name, value in self.values.items():
            setters[name](value)
        record.modified_ms = self.modified_ms
        return True


def applicable(event: ChangeEvent, ignored: frozenset[str]) -> OrderChange | None:
    """The change an Order event makes, if it can be applied in place (see the module)."""
    if event.entity != "Order" or event.change_type != "UPDATE" or not event.record_ids:
        return None
    changed = {name.split(".", 1)[0] for name in event.changed_fields}
    shown = changed & SHOWN
    if not shown or not changed <= SHOWN | ignored or shown & set(event.diff_fields):
        return None
    version = event.fields.get(VERSION_FIELD)
    if isinstance(version, bool) or not isinstance(version, int) or version <= 0:
        return None
    values = {name: event.fields.get(name) for name in sorted(shown)}
    return OrderChange(tuple(event.record_ids), version, values)


@dataclass
class OrderPatch:
    """The changes of one user's orders, as the two edits ``Cache.patch`` takes."""

    changes: list[OrderChange]
    own: frozenset[str] | None = None  # the user's orders among the changed ones (None: all)
    seen: set[str] = field(default_factory=set)

    @property
    def order_ids(self) -> set[str]:
        ids = {o for change in self.changes for o in change.order_ids}
        return ids if self.own is None else ids & self.own

    def missing(self) -> bool:
        """Whether a changed order of the user's was on none of the pages ``page`` saw."""
        return not self.order_ids <= self.seen

    def page(
        self, page: order_records_pb2.OrdersPageRecord
    ) -> order_records_pb2.OrdersPageRecord | None:
        edited = self._edit(page.orders)
        return page if edited else None

    def detail(self, record: order_records_pb2.OrderRecord) -> order_records_pb2.OrderRecord | None:
        return record if self._edit([record]) else None

    def _edit(self, records: Iterable[order_records_pb2.OrderRecord]) -> bool:
        edited = False
        for record in records:
            for change in self.changes:
                if record.order.id in change.order_ids:
                    self.seen.add(record.order.id)
                    edited = change.apply(record) or edited
        return edited
