"""The tracing hook: off unless asked for; asked for without the packages, one warning."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.common import tracing
from services.common.settings import ServiceSettings

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "_warned", False)


def test_off_unless_an_endpoint_is_set() -> None:
    with capture_logs() as logs:
        assert tracing.configure_tracing("billing", ServiceSettings(), env={}) is False
        blank = {"OTEL_EXPORTER_OTLP_ENDPOINT": " "}
        assert tracing.configure_tracing("billing", ServiceSettings(), env=blank) is False
    assert logs == []


def test_requested_but_missing_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails even if installed
    with capture_logs() as logs:
        for _ in range(3):
            assert tracing.configure_tracing("billing", ServiceSettings(), env=ENDPOINT) is False
    assert [entry["event"] for entry in logs] == ["tracing_unavailable"]
    assert logs[0]["log_level"] == "warning"
    assert "opentelemetry-instrumentation-grpc" in logs[0]["install"]


def test_installed_wires_exporter_and_both_instrumentors(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Recorder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append(type(self).__name__)

        def instrument(self) -> None:
            calls.append(f"{type(self).__name__}.instrument")

        def add_span_processor(self, processor: Any) -> None:
            calls.append("add_span_processor")

    def named(name: str) -> type[Recorder]:
        return type(name, (Recorder,), {})

    resources = types.SimpleNamespace(Resource=types.SimpleNamespace(create=lambda attrs: attrs))
    fake = {
        "trace": types.SimpleNamespace(set_tracer_provider=lambda p: calls.append("provider")),
        "resources": resources,
        "sdk": types.SimpleNamespace(TracerProvider=named("TracerProvider")),
        "export": types.SimpleNamespace(BatchSpanProcessor=named("BatchSpanProcessor")),
        "otlp": types.SimpleNamespace(OTLPSpanExporter=named("OTLPSpanExporter")),
        "grpc": types.SimpleNamespace(
            GrpcAioInstrumentorServer=named("Server"), GrpcAioInstrumentorClient=named("Client")
        ),
    }
    monkeypatch.setattr(tracing, "_modules", lambda: fake)
    assert tracing.configure_tracing("billing", ServiceSettings(), env=ENDPOINT) is True
    assert "Server.instrument" in calls and "Client.instrument" in calls
    assert "OTLPSpanExporter" in calls and "provider" in calls
