"""gRPC adapters of the billing service: proto → domain call → proto, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from portal.billing.v1 import billing_pb2 as pb
from portal.billing.v1 import billing_pb2_grpc

from services.billing import invoices, payments, profile, subscriptions
from services.billing.checkout import checkout_facts, required_user
from services.billing.core import Billing
from services.billing.email_change import EmailChanges
from services.billing.payment_link import create_payment_link
from services.billing.webhooks import WebhookHandler
from services.common.context import current_user_id
from services.common.unimplemented import fill_unimplemented

SIGNATURE_HEADER = "x-portal-signature"


def _signature(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == SIGNATURE_HEADER and isinstance(value, str):
            return value
    return ""


@fill_unimplemented(pb.DESCRIPTOR.services_by_name["BillingService"])
class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """``portal.billing.v1.BillingService``: the caller's data (``user_id`` from the token)."""

    def __init__(
        self, billing: Billing, webhooks: WebhookHandler, email_changes: EmailChanges
    ) -> None:
        self._b = billing
        self._webhooks = webhooks
        self._email_changes = email_changes

    async def ListInvoices(
        self, request: pb.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListInvoicesResponse:
        return await invoices.list_invoices(
            self._b, current_user_id(), request.status, request.page_size, request.page_token
        )

    async def GetInvoice(
        self, request: pb.GetInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetInvoiceResponse:
        invoice = await invoices.get_invoice(self._b, current_user_id(), request.invoice_id)
        return pb.GetInvoiceResponse(invoice=invoice)

    async def CreateInvoicePaymentLink(
        self, request: pb.CreateInvoicePaymentLinkRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateInvoicePaymentLinkResponse:
        now = datetime.now(UTC)
        link = await create_payment_link(self._b, current_user_id(), request.invoice_id, now)
        response = pb.CreateInvoicePaymentLinkResponse(url=link.url)
        response.expires_at.FromDatetime(link.expires_at)
        return response

    async def ListPaymentMethods(
        self, request: pb.ListPaymentMethodsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPaymentMethodsResponse:
        return await payments.pay_methods(self._b, current_user_id())

    async def ListPaymentGateways(
        self, request: pb.ListPaymentGatewaysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPaymentGatewaysResponse:
        return await payments.gateways(self._b, current_user_id())

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSubscriptionsResponse:
        return await subscriptions.list_subscriptions(
            self._b, current_user_id(), request.status, request.page_size, request.page_token
        )

    async def GetSubscription(
        self, request: pb.GetSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSubscriptionResponse:
        found = await subscriptions.get_subscription(
            self._b, current_user_id(), request.subscription_id
        )
        return pb.GetSubscriptionResponse(subscription=found)

    async def GetBillingProfile(
        self, request: pb.GetBillingProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBillingProfileResponse:
        return pb.GetBillingProfileResponse(
            profile=await profile.get_profile(self._b, current_user_id())
        )

    async def UpdateBillingProfile(
        self, request: pb.UpdateBillingProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateBillingProfileResponse:
        updated, pending = await profile.update_profile(
            self._b, self._email_changes, current_user_id(), request.profile,
            request.update_mask.paths,
        )  # fmt: skip
        return pb.UpdateBillingProfileResponse(profile=updated, pending_email=pending)

    async def ConfirmBillingEmail(
        self, request: pb.ConfirmBillingEmailRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmBillingEmailResponse:
        updated = await profile.confirm_email(
            self._b, self._email_changes, current_user_id(), request.code
        )
        return pb.ConfirmBillingEmailResponse(profile=updated)

    async def HandleWhmcsWebhook(
        self, request: pb.HandleWhmcsWebhookRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleWhmcsWebhookResponse:
        duplicate = await self._webhooks.handle(
            request.body.data, _signature(context), datetime.now(UTC)
        )
        return pb.HandleWhmcsWebhookResponse(duplicate=duplicate)


@fill_unimplemented(pb.DESCRIPTOR.services_by_name["BillingInternalService"])
class BillingInternalServicer(billing_pb2_grpc.BillingInternalServiceServicer):
    """``portal.billing.v1.BillingInternalService``: service port only, ``user_id`` given."""

    def __init__(self, billing: Billing) -> None:
        self._b = billing

    async def HasPaymentMethod(
        self, request: pb.HasPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> pb.HasPaymentMethodResponse:
        has = await payments.has_pay_method(self._b, required_user(request.user_id))
        return pb.HasPaymentMethodResponse(has_payment_method=has)

    async def GetCheckoutProfile(
        self, request: pb.GetCheckoutProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCheckoutProfileResponse:
        facts = await checkout_facts(self._b, required_user(request.user_id))
        return pb.GetCheckoutProfileResponse(
            profile=facts.profile,
            has_payment_method=facts.has_payment_method,
            payment_gateway=facts.gateway,
            whmcs_client_id=facts.client_id,
        )
