"""gRPC adapters of the identity service: proto -> domain call -> proto, nothing else.

``IdentityServicer`` / ``AccountDirectoryServicer`` are the bases (every RPC UNIMPLEMENTED, usable
without dependencies, e.g. by the auth tests); the adapters below implement them over the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from portal.identity.v1 import (
    account_directory_pb2,
    account_directory_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)

from services.common.context import current_user_id, from_gateway
from services.common.unimplemented import fill_unimplemented
from services.identity import repo
from services.identity.directory import Directory
from services.identity.keys import Keys
from services.identity.link import LinkFlow
from services.identity.login import LoginFlow, SignedIn
from services.identity.ownership import Ownership
from services.identity.recovery import Recovery
from services.identity.sessions import Session, Sessions
from services.identity.signup import SignUpFlow
from services.identity.validation import Address, SignUpForm


@fill_unimplemented(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"])
class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """``portal.identity.v1.IdentityService`` with every RPC answering UNIMPLEMENTED."""


@fill_unimplemented(account_directory_pb2.DESCRIPTOR.services_by_name["AccountDirectoryService"])
class AccountDirectoryServicer(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    """``portal.identity.v1.AccountDirectoryService`` with every RPC answering UNIMPLEMENTED."""


class DirectoryAdapter(AccountDirectoryServicer):
    """``portal.identity.v1.AccountDirectoryService`` (internal: service ports only)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def GetAccountLinks(
        self,
        request: account_directory_pb2.GetAccountLinksRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_directory_pb2.GetAccountLinksResponse:
        links = await self._directory.links_of_user(request.user_id)
        return account_directory_pb2.GetAccountLinksResponse(links=links)

    async def ListUsersBySalesforceAccount(
        self,
        request: account_directory_pb2.ListUsersBySalesforceAccountRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_directory_pb2.ListUsersBySalesforceAccountResponse:
        links = await self._directory.users_of_sf_account(request.sf_account_id)
        return account_directory_pb2.ListUsersBySalesforceAccountResponse(links=links)

    async def GetUserByWhmcsClient(
        self,
        request: account_directory_pb2.GetUserByWhmcsClientRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_directory_pb2.GetUserByWhmcsClientResponse:
        links = await self._directory.user_of_whmcs_client(request.whmcs_client_id)
        return account_directory_pb2.GetUserByWhmcsClientResponse(links=links)


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def user_pb(user: repo.UserRow) -> identity_pb2.User:
    return identity_pb2.User(
        id=user.id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        customer_number=user.customer_number,
        created_at=_ts(user.created_at),
    )


def session_pb(session: Session) -> identity_pb2.Session:
    return identity_pb2.Session(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        access_token_expires_at=_ts(session.access_expires_at),
        refresh_token_expires_at=_ts(session.refresh_expires_at),
    )


def client_address(context: grpc.aio.ServicerContext) -> str:
    """The caller's address: from the gateway, the last ``x-forwarded-for`` hop (the address
    Envoy saw); from anyone else the header is ignored (it would let a caller rotate its address
    past the per-address limits) and the TCP peer (``ipv4:1.2.3.4:5678`` -> ``1.2.3.4``) is it."""
    for key, value in context.invocation_metadata() or ():
        if not from_gateway.get():
            break
        if key == "x-forwarded-for" and isinstance(value, str) and value.strip():
            return value.split(",")[-1].strip()
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]").replace("%5B", "").replace("%5D", "")
    return rest.rsplit(":", 1)[0] if rest else peer


@dataclass(frozen=True)
class Flows:
    login: LoginFlow
    sessions: Sessions
    keys: Keys
    signup: SignUpFlow
    link: LinkFlow
    ownership: Ownership
    recovery: Recovery


def signup_form(request: identity_pb2.SignUpRequest) -> SignUpForm:
    a = request.address
    return SignUpForm(
        customer_number=request.customer_number, email=request.email, password=request.password,
        first_name=request.first_name, last_name=request.last_name, phone=request.phone,
        address=Address(a.line1, a.line2, a.city, a.state, a.postcode, a.country),
    )  # fmt: skip


class IdentityAdapter(IdentityServicer):
    """``portal.identity.v1.IdentityService``."""

    def __init__(self, flows: Flows) -> None:
        self._flows = flows

    @staticmethod
    def _signed_in(done: SignedIn) -> tuple[identity_pb2.User, identity_pb2.Session]:
        return user_pb(done.user), session_pb(done.session)

    async def ValidateCustomerNumber(
        self,
        request: identity_pb2.ValidateCustomerNumberRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.ValidateCustomerNumberResponse:
        number = await self._flows.signup.validate_number(
            request.customer_number, client_address(context)
        )
        return identity_pb2.ValidateCustomerNumberResponse(customer_number=number, registrable=True)

    async def StartSignUp(
        self, request: identity_pb2.StartSignUpRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.StartSignUpResponse:
        ttl = await self._flows.ownership.start(
            request.customer_number, request.email, request.language, client_address(context)
        )
        return identity_pb2.StartSignUpResponse(code_ttl_seconds=ttl)

    async def SignUp(
        self, request: identity_pb2.SignUpRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.SignUpResponse:
        done = await self._flows.signup.sign_up(
            signup_form(request), request.code, client_address(context)
        )
        user, session = self._signed_in(done)
        return identity_pb2.SignUpResponse(user=user, session=session)

    async def LinkWhmcsAccount(
        self, request: identity_pb2.LinkWhmcsAccountRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.LinkWhmcsAccountResponse:
        done = await self._flows.link.link(request.email, request.password, client_address(context))
        user, session = self._signed_in(done)
        return identity_pb2.LinkWhmcsAccountResponse(user=user, session=session)

    async def Login(
        self, request: identity_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.LoginResponse:
        done = await self._flows.login.login(
            request.email, request.password, client_address(context)
        )
        user, session = self._signed_in(done)
        return identity_pb2.LoginResponse(user=user, session=session)

    async def RefreshSession(
        self, request: identity_pb2.RefreshSessionRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RefreshSessionResponse:
        session = await self._flows.sessions.rotate(request.refresh_token)
        return identity_pb2.RefreshSessionResponse(session=session_pb(session))

    async def Logout(
        self, request: identity_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.LogoutResponse:
        await self._flows.sessions.revoke(request.refresh_token)
        return identity_pb2.LogoutResponse()

    async def RequestPasswordReset(
        self, request: identity_pb2.RequestPasswordResetRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RequestPasswordResetResponse:
        await self._flows.recovery.request_reset(
            request.email, request.language, client_address(context)
        )
        return identity_pb2.RequestPasswordResetResponse()

    async def ConfirmPasswordReset(
        self, request: identity_pb2.ConfirmPasswordResetRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ConfirmPasswordResetResponse:
        await self._flows.recovery.confirm_reset(request.email, request.code, request.new_password)
        return identity_pb2.ConfirmPasswordResetResponse()

    async def ChangePassword(
        self, request: identity_pb2.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ChangePasswordResponse:
        session = await self._flows.recovery.change_password(
            current_user_id(), request.current_password, request.new_password
        )
        return identity_pb2.ChangePasswordResponse(session=session_pb(session))

    async def GetMe(
        self, request: identity_pb2.GetMeRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetMeResponse:
        user = await self._flows.login.user(current_user_id())
        return identity_pb2.GetMeResponse(user=user_pb(user))

    async def GetJwks(
        self, request: identity_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetJwksResponse:
        keys = [identity_pb2.JsonWebKey(**jwk) for jwk in self._flows.keys.ring.jwks]
        return identity_pb2.GetJwksResponse(keys=keys)
