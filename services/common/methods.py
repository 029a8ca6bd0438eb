"""The RPC surface as the protos declare it: services, methods and their auth policy.

Read from the generated descriptors, so the auth policy is declared once, on the method in the
proto (``option (portal.common.v1.auth)``), and the gateway config generator and the services'
auth interceptors both read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor
from portal.billing.v1 import billing_pb2
from portal.commerce.v1 import catalog_pb2, orders_pb2, sims_pb2
from portal.common.v1 import annotations_pb2
from portal.identity.v1 import account_directory_pb2, identity_pb2
from portal.support.v1 import support_pb2

Auth = annotations_pb2.Auth

# Public services (routed by the gateway) by owning process.
PUBLIC_SERVICES: dict[str, tuple[ServiceDescriptor, ...]] = {
    "identity": (identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],),
    "billing": (billing_pb2.DESCRIPTOR.services_by_name["BillingService"],),
    "commerce": (
        catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
        orders_pb2.DESCRIPTOR.services_by_name["OrderService"],
        sims_pb2.DESCRIPTOR.services_by_name["SimService"],
    ),
    "support": (support_pb2.DESCRIPTOR.services_by_name["SupportService"],),
}

# Internal services: served on the service's own port, never routed by the gateway.
INTERNAL_SERVICES: dict[str, tuple[ServiceDescriptor, ...]] = {
    "identity": (account_directory_pb2.DESCRIPTOR.services_by_name["AccountDirectoryService"],),
    "billing": (billing_pb2.DESCRIPTOR.services_by_name["BillingInternalService"],),
    "commerce": (),
    "support": (),
}

PUBLIC_FILES: tuple[FileDescriptor, ...] = (
    identity_pb2.DESCRIPTOR,
    billing_pb2.DESCRIPTOR,
    catalog_pb2.DESCRIPTOR,
    orders_pb2.DESCRIPTOR,
    sims_pb2.DESCRIPTOR,
    support_pb2.DESCRIPTOR,
)


@dataclass(frozen=True)
class Method:
    service: str  # full name, e.g. portal.billing.v1.BillingService
    name: str
    auth: int  # an Auth value; AUTH_UNSPECIFIED is normalised to AUTH_BEARER
    internal: bool

    @property
    def path(self) -> str:
        """The gRPC path, e.g. ``/portal.billing.v1.BillingService/ListInvoices``."""
        return f"/{self.service}/{self.name}"

    @property
    def needs_token(self) -> bool:
        return self.auth == Auth.AUTH_BEARER


def _methods(service: ServiceDescriptor, internal: bool) -> list[Method]:
    out = []
    for m in service.methods:
        auth: int = m.GetOptions().Extensions[annotations_pb2.auth]  # type: ignore[index]
        if auth == Auth.AUTH_UNSPECIFIED:
            auth = Auth.AUTH_BEARER
        out.append(Method(service.full_name, m.name, auth, internal))
    return out


def all_methods() -> list[Method]:
    out: list[Method] = []
    for services in PUBLIC_SERVICES.values():
        for s in services:
            out += _methods(s, internal=False)
    for services in INTERNAL_SERVICES.values():
        for s in services:
            out += _methods(s, internal=True)
    return out


METHODS: dict[str, Method] = {m.path: m for m in all_methods()}


def service_names(process: str) -> list[str]:
    """Full names of every gRPC service one process serves (public and internal)."""
    return [s.full_name for s in (*PUBLIC_SERVICES[process], *INTERNAL_SERVICES[process])]
