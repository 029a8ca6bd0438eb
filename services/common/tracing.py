"""OpenTelemetry tracing hook: off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

The packages are not dependencies of the portal (the image stays small). To enable tracing, install
them into the environment and point the exporter at a collector::

    pip install opentelemetry-distro opentelemetry-exporter-otlp opentelemetry-instrumentation-grpc
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 python -m services.billing

Then every gRPC server and client call (including the service-to-service ones) becomes a span,
exported over OTLP/gRPC; the standard ``OTEL_*`` variables (sampler, headers...) apply.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import structlog

from services.common.settings import ServiceSettings

log = structlog.get_logger("tracing")

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
PACKAGES = "opentelemetry-distro opentelemetry-exporter-otlp opentelemetry-instrumentation-grpc"
_warned = False


def _modules() -> dict[str, Any] | None:
    names = {
        "trace": "opentelemetry.trace",
        "resources": "opentelemetry.sdk.resources",
        "sdk": "opentelemetry.sdk.trace",
        "export": "opentelemetry.sdk.trace.export",
        "otlp": "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "grpc": "opentelemetry.instrumentation.grpc",
    }
    try:
        return {key: importlib.import_module(name) for key, name in names.items()}
    except ImportError:
        return None


def configure_tracing(
    service: str, settings: ServiceSettings, env: Mapping[str, str] = os.environ
) -> bool:
    """Wire OTLP export and the grpc.aio server/client instrumentation; True when tracing is on.

    Call before the server and the channels are built (the instrumentors patch their factories).
    """
    global _warned
    endpoint = env.get(ENDPOINT, "").strip()
    if not endpoint:
        return False
    m = _modules()
    if m is None:
        if not _warned:
            _warned = True
            log.warning("tracing_unavailable", endpoint=endpoint, install=PACKAGES)
        return False
    resource = m["resources"].Resource.create(
        {"service.name": service, "service.instance.id": f"{settings.host}:{settings.port}"}
    )
    provider = m["sdk"].TracerProvider(resource=resource)
    provider.add_span_processor(m["export"].BatchSpanProcessor(m["otlp"].OTLPSpanExporter()))
    m["trace"].set_tracer_provider(provider)
    m["grpc"].GrpcAioInstrumentorServer().instrument()
    m["grpc"].GrpcAioInstrumentorClient().instrument()
    log.info("tracing_enabled", endpoint=endpoint)
    return True
