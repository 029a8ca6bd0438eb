"""Small real gRPC servicers standing in for identity's directory and billing's internal API."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from portal.billing.v1 import billing_pb2, billing_pb2_grpc
from portal.common.v1 import types_pb2
from portal.identity.v1 import account_directory_pb2 as pb
from portal.identity.v1 import account_directory_pb2_grpc

ADDRESS = types_pb2.Address(
    line1="1-2-3 Shibuya", line2="Room 401", city="Shibuya-ku", state="Tokyo",
    postcode="150-0002", country="JP",
)  # fmt: skip


class FakeDirectory(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        self.calls: dict[str, int] = {}
        self.down = False

    def link(self, user_id: str, sf_account_id: str) -> None:
        self.accounts[user_id] = sf_account_id

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def GetAccountLinks(
        self, request: pb.GetAccountLinksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAccountLinksResponse:
        self._count("GetAccountLinks")
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        account = self.accounts.get(request.user_id)
        if account is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such user")
        links = pb.AccountLinks(user_id=request.user_id, sf_account_id=account)
        return pb.GetAccountLinksResponse(links=links)

    async def ListUsersBySalesforceAccount(
        self, request: pb.ListUsersBySalesforceAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListUsersBySalesforceAccountResponse:
        self._count("ListUsersBySalesforceAccount")
        links = [
            pb.AccountLinks(user_id=user, sf_account_id=account)
            for user, account in self.accounts.items()
            if account == request.sf_account_id
        ]
        return pb.ListUsersBySalesforceAccountResponse(links=links)


class FakeBilling(billing_pb2_grpc.BillingInternalServiceServicer):
    def __init__(self) -> None:
        self.profiles: dict[str, billing_pb2.GetCheckoutProfileResponse] = {}
        self.calls = 0

    def set_profile(self, user_id: str, *, has_payment_method: bool) -> None:
        profile = billing_pb2.BillingProfile(
            first_name="Hanako", last_name="Yamada", email="hanako.yamada@example.jp",
            address=ADDRESS,
        )  # fmt: skip
        self.profiles[user_id] = billing_pb2.GetCheckoutProfileResponse(
            profile=profile,
            has_payment_method=has_payment_method,
            payment_gateway="stripe" if has_payment_method else "",
            whmcs_client_id=1,
        )

    async def HasPaymentMethod(
        self, request: billing_pb2.HasPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.HasPaymentMethodResponse:
        found = self.profiles.get(request.user_id)
        return billing_pb2.HasPaymentMethodResponse(
            has_payment_method=bool(found and found.has_payment_method)
        )

    async def GetCheckoutProfile(
        self, request: billing_pb2.GetCheckoutProfileRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.GetCheckoutProfileResponse:
        self.calls += 1
        found = self.profiles.get(request.user_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no billing client")
        return found


@dataclass
class Peers:
    target: str
    directory: FakeDirectory
    billing: FakeBilling

    def clear(self) -> None:
        self.directory.accounts.clear()
        self.directory.calls.clear()
        self.directory.down = False
        self.billing.profiles.clear()
