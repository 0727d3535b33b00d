"""The SDK's OpenTelemetry spans: off when the process has no tracer provider (they would
record nothing and cost each request its attributes), on when one is configured."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from core.llm import make_client, telemetry_option


def _traces_enabled() -> bool:
    client = make_client("sk-ant-test", "http://127.0.0.1:9")
    return bool(client.open_telemetry["traces"]["enabled"])


def test_without_a_tracer_provider_the_sdk_makes_no_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert telemetry_option() is False
    assert not _traces_enabled()


def test_a_configured_tracer_provider_gets_the_sdk_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)  # a real one
    assert telemetry_option() is None  # the SDK's default: spans on
    assert _traces_enabled()


def test_a_provider_named_in_the_environment_gets_the_sdk_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_TRACER_PROVIDER", "sdk")
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert telemetry_option() is None
