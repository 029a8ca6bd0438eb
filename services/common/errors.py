"""The error model: typed domain errors, each with its gRPC code and ``ErrorInfo.reason``.

Domain code raises these; only the error-mapping interceptor turns them into a gRPC status with a
``google.rpc.ErrorInfo`` detail (and ``google.rpc.BadRequest`` for field violations). Envoy renders
that status as the JSON error shape of ``docs/api.md``. Messages are written for end users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc

DOMAIN = "portal"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class PortalError(Exception):
    """Base of every error a client may see. Subclasses fix the code, reason and message."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"
    default_message: str = "Something went wrong on our side. Please try again later."

    def __init__(
        self,
        message: str | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        self.message = message or self.default_message
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)
        super().__init__(self.message)


class ValidationFailed(PortalError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "VALIDATION_FAILED"
    default_message = "Some fields are missing or invalid."

    @classmethod
    def of(cls, field: str, description: str) -> ValidationFailed:
        return cls(f"{description}", violations=[FieldViolation(field, description)])


class CustomerNumberRequired(PortalError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "CUSTOMER_NUMBER_REQUIRED"
    default_message = "Please enter your customer number."


class CustomerNumberNotFound(PortalError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "CUSTOMER_NUMBER_NOT_FOUND"
    default_message = "We could not find an account with that customer number."


class AccountAlreadyRegistered(PortalError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ACCOUNT_ALREADY_REGISTERED"
    default_message = "This account already has a portal login. Please sign in instead."


class EmailAlreadyRegistered(PortalError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "EMAIL_ALREADY_REGISTERED"
    default_message = "That e-mail address is already registered."


class InvalidCredentials(PortalError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "INVALID_CREDENTIALS"
    default_message = "The e-mail address or password is incorrect."


class Unauthenticated(PortalError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"
    default_message = "Please sign in again."


class WhmcsAccountNotLinkable(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "WHMCS_ACCOUNT_NOT_LINKABLE"
    default_message = "This billing account cannot be linked automatically. Please contact support."


class EmailNotOnAccount(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "EMAIL_NOT_ON_ACCOUNT"
    default_message = (
        "That e-mail address is not the one we have for this account. Please use the address "
        "your contract mails go to, or contact support to change it."
    )


class VerificationCodeInvalid(PortalError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "VERIFICATION_CODE_INVALID"
    default_message = "That code is not right. Please check the e-mail and try again."


class VerificationCodeExpired(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "VERIFICATION_CODE_EXPIRED"
    default_message = "That code has expired or was tried too often. Please request a new one."


class WhmcsTwoFactorEnabled(PortalError):
    """The WHMCS user has two-factor authentication: a password alone does not prove it."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "WHMCS_TWO_FACTOR_ENABLED"
    default_message = (
        "This billing login uses two-step verification, which cannot be checked here. "
        "Please contact support to link your account."
    )


class WhmcsNoOwnedClient(PortalError):
    """The WHMCS user owns no client (it was only invited to someone else's account)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "WHMCS_NO_OWNED_CLIENT"
    default_message = (
        "This billing login does not own a billing account. "
        "Please link with the login of the account's owner."
    )


class WhmcsSeveralOwnedClients(PortalError):
    """The WHMCS user owns more than one client: which one to link is not ours to guess."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "WHMCS_SEVERAL_OWNED_CLIENTS"
    default_message = (
        "This billing login owns several billing accounts. "
        "Please contact support to choose the one to link."
    )


class NotFound(PortalError):
    """Absent *or someone else's*: the two must be indistinguishable."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"
    default_message = "Not found."


class PaymentMethodRequired(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "PAYMENT_METHOD_REQUIRED"
    default_message = "Please add a payment method before placing an order."


class NotEligible(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "NOT_ELIGIBLE"
    default_message = "Your account is not eligible for this product."


class ProductUnavailable(PortalError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "PRODUCT_UNAVAILABLE"
    default_message = "This product is not available to order."


class CaseClosed(PortalError):
    """A comment on a support case that is already closed (``CASE_CLOSED`` in ``docs/api.md``)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "CASE_CLOSED"
    default_message = "This case is closed. Please open a new case if you still need help."


class SimCancelled(PortalError):
    """The mobile line is already cancelled (no usage, no second cancellation)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "SIM_CANCELLED"
    default_message = "This line has been cancelled."


class SimCancellationPending(PortalError):
    """A cancellation of the mobile line is already scheduled."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "SIM_CANCELLATION_PENDING"
    default_message = "A cancellation of this line is already scheduled."


class PeerNotAllowed(PortalError):
    """A mesh peer calling a method it is not allowed to (services.common.peer_auth)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PEER_NOT_ALLOWED"
    default_message = "This caller may not call this method."


class TooManyStreams(PortalError):
    """A user asking for one more concurrent stream (WatchOrders) than allowed."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "TOO_MANY_STREAMS"
    default_message = "Too many live views are open. Close one and try again."


class RateLimited(PortalError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RATE_LIMITED"
    default_message = "Too many attempts. Please wait a moment and try again."


class UpstreamUnavailable(PortalError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "UPSTREAM_UNAVAILABLE"
    default_message = "This service is temporarily unavailable. Please try again later."


class InvalidSignature(PortalError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "INVALID_SIGNATURE"
    default_message = "The request signature is missing or invalid."


class Unimplemented(PortalError):
    code = grpc.StatusCode.UNIMPLEMENTED
    reason = "UNIMPLEMENTED"
    default_message = "This feature is not available yet."


class Internal(PortalError):
    """What every unexpected exception becomes; its details only go to the log."""


class UpstreamRejected(PortalError):
    """A system of record refused a call for a business reason the caller did not handle.

    Internal: domain code catches the subclasses it expects (e.g. :class:`DuplicateRecord`); an
    unhandled one is our bug, so the client sees the generic ``INTERNAL`` answer and the upstream's
    own code and text (``system``, ``upstream_code``, ``detail``) go only to the log.
    """

    def __init__(self, system: str, upstream_code: str = "", detail: str = "") -> None:
        super().__init__()
        self.system = system
        self.upstream_code = upstream_code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.system} rejected the call: {self.upstream_code} {self.detail}".strip()


class DuplicateRecord(UpstreamRejected):
    """A unique field already holds that value upstream (Salesforce ``DUPLICATE_VALUE``)."""


class ReplayIdInvalid(UpstreamRejected):
    """The stored Pub/Sub replay id is outside retention or corrupted: resubscribe from LATEST
    after a full cache flush and a reconciliation pass."""
