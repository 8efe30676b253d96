"""What the user's stored :class:`~realtime_desktop.storage.settings.Settings` mean to the core:
the connection, the audio engine's configuration, the tools offered and the price table.

One place for these mappings, so the main window, the settings dialog's "Test connection" and
the self-test all connect the same way.
"""

from __future__ import annotations

import dataclasses

from realtime_desktop.audio.engine import AudioEngineConfig
from realtime_desktop.storage.settings import Settings

from .builtin_tools import add_days, calculate, convert_units, current_time, days_between
from .connection import ConnectionSettings
from .cost import ModelPrices, PriceTable
from .tools import ToolRegistry

BUILTIN_TOOLS = (current_time, calculate, convert_units, days_between, add_days)


@dataclasses.dataclass(frozen=True)
class OfflineEndpoint:
    """Where the embedded offline server listens, and the token it wants."""

    url: str
    token: str


def connection_settings(
    settings: Settings,
    *,
    api_key: str | None,
    offline: OfflineEndpoint | None = None,
    include_voice: bool = True,
) -> ConnectionSettings:
    """The core's connection for the stored settings, with the key from the keyring (or the
    environment). ``offline`` is required when the provider is ``offline``."""
    connection = settings.connection
    url: str | None = None
    key = api_key
    headers: dict[str, str] = {}
    dialect = "ga"
    if connection.provider == "offline":
        if offline is None:
            raise ValueError("the offline provider needs the embedded server's endpoint")
        url, key = offline.url, offline.token
    elif connection.provider == "custom":
        url, dialect = connection.custom_url, connection.custom_dialect
        headers.update(connection.custom_headers)
        if connection.custom_auth == "api-key" and api_key:
            headers["api-key"] = api_key
        if connection.custom_auth != "bearer":
            key = None
    return ConnectionSettings(
        provider=connection.provider,
        url=url,
        api_key=key,
        headers=headers,
        dialect="beta" if dialect == "beta" else "ga",
        model=settings.session_model,
        azure_resource=connection.azure_resource or None,
        azure_deployment=connection.azure_deployment or None,
        azure_auth="bearer" if connection.azure_auth == "entra" else "api-key",
        auto_reconnect=connection.auto_reconnect,
        max_reconnect_attempts=connection.max_reconnect_attempts,
        reconnect_delay=connection.reconnect_delay_s,
        ephemeral_key_url=connection.ephemeral_key_url or None,
        session_config=settings.to_session_config(include_model=False, include_voice=include_voice),
    )


def engine_config(settings: Settings) -> AudioEngineConfig:
    audio = settings.audio
    return AudioEngineConfig(
        input_device=audio.input_device or None,
        output_device=audio.output_device or None,
        echo_cancellation=audio.echo_cancellation,
        noise_suppression=audio.noise_suppression,
        headset_mode=audio.headset_mode,
        half_duplex=audio.half_duplex,
        local_vad_threshold=audio.local_vad_threshold,
    )


def tool_registry(settings: Settings) -> ToolRegistry:
    """The built-in tools the user left on, with their approval rule and timeout. None of the
    built-ins has side effects, so only "ask before every tool" makes them wait for approval."""
    registry = ToolRegistry()
    tools = settings.tools
    if not tools.builtins_enabled:
        return registry
    for handler in BUILTIN_TOOLS:
        if handler.__name__ in tools.disabled_tools:
            continue
        registry.register(
            handler, timeout=tools.timeout_s, requires_approval=tools.approval == "always"
        )
    return registry


def price_table(settings: Settings) -> PriceTable:
    table = PriceTable.default()
    for model, price in settings.prices.items():
        table.set(
            model,
            ModelPrices(
                text_input=price.text_input,
                text_cached=price.text_cached_input,
                text_output=price.text_output,
                audio_input=price.audio_input,
                audio_cached=price.audio_cached_input,
                audio_output=price.audio_output,
                image_input=price.image_input,
                image_cached=price.image_cached_input,
                source="settings",
            ),
        )
    return table
