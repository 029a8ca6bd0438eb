"""BillingInternalService: HasPaymentMethod and GetCheckoutProfile (user id in the request)."""

from __future__ import annotations

import grpc
from portal.billing.v1 import billing_pb2 as pb
from portal.billing.v1 import billing_pb2_grpc

from tests.service.billing.helpers import Caller, WhmcsControl


def stub(channel: grpc.aio.Channel) -> billing_pb2_grpc.BillingInternalServiceStub:
    return billing_pb2_grpc.BillingInternalServiceStub(channel)


async def test_checkout_profile(channel: grpc.aio.Channel, hanako: Caller) -> None:
    internal = stub(channel)
    has = await internal.HasPaymentMethod(pb.HasPaymentMethodRequest(user_id=hanako.user_id))
    assert has.has_payment_method is True
    facts = await internal.GetCheckoutProfile(pb.GetCheckoutProfileRequest(user_id=hanako.user_id))
    assert facts.whmcs_client_id == 1 and facts.has_payment_method
    assert facts.payment_gateway == "stripe"  # the default (first) pay method's module
    assert facts.profile.address.city == "Shibuya-ku"


async def test_without_payment_method(
    channel: grpc.aio.Channel, kenji: Caller, whmcs: WhmcsControl
) -> None:
    await whmcs.api("DeletePayMethod", clientid=2, paymethodid=3)  # as WHMCS staff would
    internal = stub(channel)
    has = await internal.HasPaymentMethod(pb.HasPaymentMethodRequest(user_id=kenji.user_id))
    assert has.has_payment_method is False
    facts = await internal.GetCheckoutProfile(pb.GetCheckoutProfileRequest(user_id=kenji.user_id))
    assert (facts.has_payment_method, facts.payment_gateway, facts.whmcs_client_id) == (
        False, "", 2,
    )  # fmt: skip


async def test_missing_or_unknown_user_is_refused(channel: grpc.aio.Channel) -> None:
    for user_id, code in (
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("nobody", grpc.StatusCode.NOT_FOUND),
    ):
        try:
            await stub(channel).HasPaymentMethod(pb.HasPaymentMethodRequest(user_id=user_id))
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == code
        else:
            raise AssertionError("accepted")
