"""Invoices: one page of the caller's invoices (newest first) and one invoice with its items.

Pages are read from WHMCS page by page (``limitstart``/``limitnum``, WHMCS filters by status), so
a page is one upstream call; each page is cached per user and variant (filter, offset, size) in
``INVOICES_LIST`` and a single invoice in ``INVOICE_DETAIL`` (``policy``: the TTLs and the
families webhooks and our writes drop). The cache holds WHMCS's own status; OVERDUE (an unpaid
invoice past its due date) is derived from the cached due date when served (``mapping.as_of``),
and a page of the ``Overdue`` filter, whose members change with the day, is cached per day.
Ownership is checked on the fetched invoice: someone else's invoice and a missing one both make
one upstream call and raise the same ``NotFound``; nothing is cached for either.
"""

from __future__ import annotations

from typing import Any

from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping
from services.billing.core import Billing
from services.common.cache import UserScope, Variant, policy
from services.common.errors import NotFound, ValidationFailed
from services.common.pages import page_size

KIND = "invoices"
OVERDUE_FILTER = mapping.INVOICE_FILTER[pb.INVOICE_STATUS_OVERDUE]
"""WHMCS's ``Overdue`` filter: unpaid invoices past their due date, a set that changes daily."""


class InvoiceNotFound(NotFound):
    default_message = "Invoice not found."


def _filter(status: pb.InvoiceStatus) -> str:
    if status == pb.INVOICE_STATUS_UNSPECIFIED:
        return ""
    name = mapping.INVOICE_FILTER.get(status)
    if name is None:
        raise ValidationFailed.of("status", "Unknown invoice status.")
    return name


async def list_invoices(
    b: Billing, user_id: str, status: pb.InvoiceStatus, size: int, token: str
) -> pb.ListInvoicesResponse:
    wanted = _filter(status)
    size = page_size(size)
    offset = b.tokens.decode(token, user_id, KIND, wanted)
    client_id = await b.client_of(user_id)

    async def load() -> pb.ListInvoicesResponse:
        page = await b.whmcs.get_invoices(
            client_id,
            status=wanted or None,
            limitstart=offset,
            limitnum=size,
            orderby="date",
            order="desc",
        )
        rows = [mapping.invoice(r, today=None, default_currency=b.currency) for r in page.rows]
        return pb.ListInvoicesResponse(invoices=rows, total_size=page.total)

    today = b.today()
    parts: dict[str, str | int] = {"status": wanted, "offset": offset, "size": size}
    if wanted == OVERDUE_FILTER:
        parts["day"] = today.isoformat()
    response = await b.cache.get_or_load(
        policy.INVOICES_LIST,
        UserScope(user_id),
        load,
        pb.ListInvoicesResponse,
        variant=Variant.of(**parts),
    )
    for one in response.invoices:
        mapping.as_of(one, today)
    returned = len(response.invoices)
    more = offset + returned < response.total_size
    response.next_page_token = b.tokens.after(offset, returned, more, user_id, KIND, wanted)
    return response


async def own_invoice_row(b: Billing, client_id: int, number: int) -> dict[str, Any]:
    """The WHMCS invoice ``number`` if it belongs to ``client_id``; ``InvoiceNotFound`` when it
    is absent or someone else's (the two are indistinguishable to the caller)."""
    try:
        row = await b.whmcs.get_invoice(number)
    except NotFound:
        raise InvoiceNotFound() from None
    if mapping.numeric_id(row.get("userid")) != client_id:
        raise InvoiceNotFound()
    return row


async def get_invoice(b: Billing, user_id: str, invoice_id: str) -> pb.Invoice:
    """The caller's invoice; ``InvoiceNotFound`` when absent, malformed or someone else's."""
    number = mapping.numeric_id(invoice_id)
    if number is None:
        raise InvoiceNotFound()
    client_id = await b.client_of(user_id)

    async def load() -> pb.Invoice:
        row = await own_invoice_row(b, client_id, number)
        return mapping.invoice(row, today=None, default_currency=b.currency)

    found = await b.cache.get_or_load(
        policy.INVOICE_DETAIL,
        UserScope(user_id),
        load,
        pb.Invoice,
        variant=Variant.of(number=number),
    )
    return mapping.as_of(found, b.today())
