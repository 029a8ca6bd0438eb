"""A one-time WHMCS single-sign-on link that opens one of the caller's unpaid invoices.

Refusals: an invoice that is absent, malformed or someone else's → ``InvoiceNotFound`` (as
everywhere); the caller's invoice that is not payable (paid, cancelled, refunded, draft,
collections, payment pending) → ``FAILED_PRECONDITION`` with reason ``INVOICE_NOT_PAYABLE``.
The invoice is read live (not from the cache): paying twice because a cached copy still said
"Unpaid" is worse than one extra WHMCS call. The link is a credential: it is never cached, never
logged (only the invoice id is), and WHMCS lets it be used once within 60 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
import structlog
from portal.billing.v1 import billing_pb2 as pb

from services.billing import mapping
from services.billing.core import Billing
from services.billing.invoices import InvoiceNotFound, own_invoice_row
from services.common.errors import PortalError

log = structlog.get_logger(__name__)

SSO_TTL = timedelta(seconds=60)
PAYABLE = frozenset({pb.INVOICE_STATUS_UNPAID, pb.INVOICE_STATUS_OVERDUE})


class InvoiceNotPayable(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "INVOICE_NOT_PAYABLE"
    default_message = "This invoice has nothing left to pay."


@dataclass(frozen=True)
class PaymentLink:
    url: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"PaymentLink(url=[redacted], expires_at={self.expires_at.isoformat()})"


async def create_payment_link(
    b: Billing, user_id: str, invoice_id: str, now: datetime
) -> PaymentLink:
    number = mapping.numeric_id(invoice_id)
    if number is None:
        raise InvoiceNotFound()
    client_id = await b.client_of(user_id)
    row = await own_invoice_row(b, client_id, number)  # read live: never from the cache
    if mapping.invoice_status(row, b.today()) not in PAYABLE:
        raise InvoiceNotPayable()
    token = await b.whmcs.create_sso_token(
        client_id, "sso:custom_redirect", redirect_path=f"viewinvoice.php?id={number}"
    )
    log.info("payment_link_created", invoice_id=number)
    return PaymentLink(url=token.redirect_url, expires_at=now + SSO_TTL)
