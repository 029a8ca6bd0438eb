"""Wiring of the support service: dependencies, servicers, interceptors, health, reflection."""

from __future__ import annotations

from dataclasses import dataclass, replace

import grpc
from portal.support.v1 import support_pb2_grpc

from services.common import upstreams
from services.common.clients import Policy
from services.common.clients.salesforce import SalesforceClient
from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.support.cases import SupportCases
from services.support.directory import DirectoryClient
from services.support.page_tokens import PageTokens
from services.support.servicer import SupportServicer
from services.support.settings import SupportSettings


@dataclass(frozen=True)
class Deps:
    salesforce: SalesforceClient
    identity: grpc.aio.Channel
    cases: SupportCases

    async def aclose(self) -> None:
        await self.identity.close()
        await self.salesforce.aclose()


def build_deps(settings: SupportSettings, *, policy: Policy | None = None) -> Deps:
    """Everything the servicer needs; ``policy`` overrides Salesforce's resilience (tests)."""
    salesforce = upstreams.salesforce(settings)
    if policy is not None:
        salesforce = SalesforceClient(replace(salesforce.config, policy=policy))
    identity = upstreams.peer_channel(settings, "identity")
    directory = DirectoryClient(identity, settings.directory_timeout_s)
    tokens = PageTokens(settings.page_token_secret.get_secret_value().encode())
    cases = SupportCases(salesforce=salesforce, directory=directory, tokens=tokens)
    return Deps(salesforce=salesforce, identity=identity, cases=cases)


def create_support_server(settings: SupportSettings, deps: Deps) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        servicer = SupportServicer(deps.cases)
        support_pb2_grpc.add_SupportServiceServicer_to_server(servicer, server)

    return create_server(settings, services=service_names("support"), register=register)


async def build_server(settings: ServiceSettings) -> GrpcServer:
    assert isinstance(settings, SupportSettings)
    deps = build_deps(settings)
    built = create_support_server(settings, deps)
    built.closers.append(deps.aclose)
    return built
