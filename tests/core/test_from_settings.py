"""Stored settings map onto the core's connection, engine config, tools and prices."""

from __future__ import annotations

import pytest

from realtime_desktop.core.connection import resolve_endpoint
from realtime_desktop.core.from_settings import (
    OfflineEndpoint,
    connection_settings,
    engine_config,
    price_table,
    tool_registry,
)
from realtime_desktop.storage.settings import Settings


def test_openai() -> None:
    settings = Settings().with_value("connection.model", "gpt-realtime-2.1")
    connection = connection_settings(settings, api_key="sk-test")
    endpoint = resolve_endpoint(connection, connection.api_key)
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1"
    assert endpoint.headers["Authorization"] == "Bearer sk-test"
    assert connection.session_config is not None
    assert connection.session_config.turn_detection is not None


def test_azure_with_an_entra_token() -> None:
    settings = Settings().with_values(
        {
            "connection.provider": "azure",
            "connection.azure_resource": "contoso",
            "connection.azure_deployment": "voice",
            "connection.azure_auth": "entra",
        }
    )
    endpoint = resolve_endpoint(connection_settings(settings, api_key="eyJ-token"), "eyJ-token")
    assert endpoint.url == "wss://contoso.openai.azure.com/openai/v1/realtime?model=voice"
    assert endpoint.headers["Authorization"] == "Bearer eyJ-token"


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [("bearer", "Authorization", "Bearer k"), ("api-key", "api-key", "k"), ("none", None, None)],
)
def test_custom_server_key_placement(auth: str, header: str | None, value: str | None) -> None:
    settings = Settings().with_values(
        {
            "connection.provider": "custom",
            "connection.custom_url": "wss://voice.example.com/realtime",
            "connection.custom_dialect": "beta",
            "connection.custom_auth": auth,
        }
    )
    connection = connection_settings(settings, api_key="k")
    endpoint = resolve_endpoint(connection, connection.api_key)
    assert endpoint.dialect == "beta"
    assert endpoint.headers.get("OpenAI-Beta") == "realtime=v1"
    if header is None:
        assert "Authorization" not in endpoint.headers
        assert "api-key" not in endpoint.headers
    else:
        assert endpoint.headers[header] == value


def test_offline_needs_the_server_endpoint() -> None:
    settings = Settings().with_value("connection.provider", "offline")
    with pytest.raises(ValueError, match="offline"):
        connection_settings(settings, api_key=None)
    connection = connection_settings(
        settings, api_key=None, offline=OfflineEndpoint("ws://127.0.0.1:9/v1/realtime", "tok")
    )
    assert resolve_endpoint(connection, connection.api_key).headers["Authorization"] == "Bearer tok"


def test_engine_tools_and_prices() -> None:
    settings = Settings().with_values(
        {
            "audio.headset_mode": True,
            "audio.input_device": "USB",
            "tools.approval": "always",
            "tools.disabled_tools": ("add_days",),
        }
    )
    config = engine_config(settings)
    assert config.input_device == "USB"
    assert config.output_device is None
    assert not config.echo_cancellation_active  # headset: nothing to cancel
    registry = tool_registry(settings)
    assert "add_days" not in registry
    assert "calculate" in registry
    assert all(tool.requires_approval for tool in registry)
    assert len(tool_registry(settings.with_value("tools.builtins_enabled", False))) == 0
    prices = price_table(settings)
    model = settings.connection.model
    assert prices.prices_for(model) is not None
