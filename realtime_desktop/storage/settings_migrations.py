"""Migrations of the settings file, oldest first (see :mod:`.migrations` for the runner).

Bump :data:`~.settings.SETTINGS_SCHEMA_VERSION` whenever a stored key is renamed, moved or
changes meaning, and add the step here; adding a field with a default needs no migration.

Version 1 mirrored the seed's flat ``EnhancedSessionConfiguration`` (beta-shaped session keys
at the top level) plus its ``ConversationSettings`` in a ``conversation`` object::

    {"schema_version": 1,
     "provider": "openai", "base_url": "wss://…", "dialect": "ga", "headers": {…},
     "azure_endpoint": "https://<resource>.openai.azure.com/", "azure_deployment": "…",
     "ephemeral_key_url": "…", "model": "…", "voice": "…", "instructions": "…",
     "modalities": ["audio", "text"] | ["text"], "speed": 1.0,
     "max_response_output_tokens": 4096 | "inf",
     "turn_detection": null | {"type": "server_vad", "threshold": …, "prefix_padding_ms": …,
                               "silence_duration_ms": …, "idle_timeout_ms": …,
                               "create_response": …, "interrupt_response": …}
                            | {"type": "semantic_vad", "eagerness": …, …},
     "input_audio_transcription": null | {"model": …, "language": …, "prompt": …},
     "input_audio_noise_reduction": null | {"type": "near_field" | "far_field"},
     "conversation": {"auto_reconnect": …, "max_reconnect_attempts": …, "reconnect_delay": …,
                      "buffer_while_disconnected": …, "enable_echo_cancellation": …,
                      "enable_noise_suppression": …, "vad_threshold": …,
                      "show_audio_levels": …, "persist_conversation": …,
                      "persistence_path": … | null},
     "devices": {"input": … | null, "output": … | null},
     "tools": {"enabled": …, "require_approval": true | false, "timeout_seconds": …},
     "record_audio": false, "log_level": "info",
     "prices": {"<model>": {"text_in": …, "text_cached": …, "text_out": …,
                            "audio_in": …, "audio_cached": …, "audio_out": …}}}

Every key was optional; a missing one takes the version 2 default.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from realtime_desktop.storage.migrations import JsonObject, Migration

log = logging.getLogger(__name__)

_V1_PRICE_KEYS = {
    "text_in": "text_input",
    "text_cached": "text_cached_input",
    "text_out": "text_output",
    "audio_in": "audio_input",
    "audio_cached": "audio_cached_input",
    "audio_out": "audio_output",
}


def _copy(source: JsonObject, key: str, target: JsonObject, new_key: str) -> None:
    if key in source:
        target[new_key] = source[key]


def _text(value: Any) -> str:
    """v1 wrote ``null`` for "not set" where version 2 uses an empty string."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _object(source: JsonObject, key: str) -> JsonObject | None:
    value = source.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"'{key}' must be an object, found {type(value).__name__}")
    return value


def _v1_turn_detection(old: JsonObject) -> JsonObject:
    if "turn_detection" not in old:
        return {}
    detection = _object(old, "turn_detection")
    if detection is None:
        return {"mode": "push_to_talk"}  # v1 used the wire's null for manual turns
    kind = detection.get("type", "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise ValueError(f"unknown turn detection type {kind!r}")
    new: JsonObject = {"mode": kind}
    for key in (
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "idle_timeout_ms",
        "create_response",
        "interrupt_response",
        "eagerness",
    ):
        _copy(detection, key, new, key)
    return new


def _v1_transcription(old: JsonObject) -> JsonObject:
    new: JsonObject = {}
    if "input_audio_transcription" in old:
        transcription = _object(old, "input_audio_transcription")
        new["enabled"] = transcription is not None
        if transcription is not None:
            _copy(transcription, "model", new, "model")
            for key in ("language", "prompt"):
                if key in transcription:
                    new[key] = _text(transcription[key])
    if "input_audio_noise_reduction" in old:
        noise = _object(old, "input_audio_noise_reduction")
        new["noise_reduction"] = "off" if noise is None else noise["type"]
    return new


def _v1_to_v2(old: JsonObject) -> JsonObject:
    """Flat seed-shaped keys → the dialog's groups, with the renames listed in the module
    docstring."""
    connection: JsonObject = {}
    voice: JsonObject = {}
    audio: JsonObject = {}
    privacy: JsonObject = {}
    tools: JsonObject = {}

    _copy(old, "provider", connection, "provider")
    _copy(old, "model", connection, "model")
    _copy(old, "base_url", connection, "custom_url")
    _copy(old, "dialect", connection, "custom_dialect")
    _copy(old, "headers", connection, "custom_headers")
    _copy(old, "azure_deployment", connection, "azure_deployment")
    _copy(old, "ephemeral_key_url", connection, "ephemeral_key_url")
    if old.get("azure_endpoint"):
        # v1 stored the endpoint URL; version 2 stores the resource name and builds the URL.
        host = urlsplit(_text(old["azure_endpoint"])).hostname or ""
        connection["azure_resource"] = host.removesuffix(".openai.azure.com")

    _copy(old, "voice", voice, "voice")
    _copy(old, "instructions", voice, "instructions")
    _copy(old, "speed", voice, "speed")
    if "modalities" in old:
        modalities = old["modalities"]
        if not isinstance(modalities, list):
            raise TypeError("'modalities' must be a list")
        voice["output_modality"] = "voice" if "audio" in modalities else "text"
    if "max_response_output_tokens" in old:
        limit = old["max_response_output_tokens"]
        voice["max_output_tokens"] = None if limit == "inf" else limit

    conversation = _object(old, "conversation") or {}
    _copy(conversation, "auto_reconnect", connection, "auto_reconnect")
    _copy(conversation, "max_reconnect_attempts", connection, "max_reconnect_attempts")
    _copy(conversation, "reconnect_delay", connection, "reconnect_delay_s")
    _copy(conversation, "buffer_while_disconnected", connection, "buffer_while_disconnected")
    _copy(conversation, "enable_echo_cancellation", audio, "echo_cancellation")
    _copy(conversation, "enable_noise_suppression", audio, "noise_suppression")
    _copy(conversation, "vad_threshold", audio, "local_vad_threshold")
    _copy(conversation, "show_audio_levels", audio, "show_audio_levels")
    _copy(conversation, "persist_conversation", privacy, "save_conversations")
    if "persistence_path" in conversation:
        privacy["conversations_dir"] = _text(conversation["persistence_path"])

    devices = _object(old, "devices") or {}
    for key in ("input", "output"):
        if key in devices:
            audio[f"{key}_device"] = _text(devices[key])

    old_tools = _object(old, "tools") or {}
    _copy(old_tools, "enabled", tools, "builtins_enabled")
    _copy(old_tools, "timeout_seconds", tools, "timeout_s")
    if "require_approval" in old_tools:
        tools["approval"] = "side_effects" if old_tools["require_approval"] else "never"

    _copy(old, "record_audio", privacy, "record_audio")
    if "log_level" in old:
        privacy["log_level"] = _text(old["log_level"]).upper()

    new: JsonObject = {
        "connection": connection,
        "voice": voice,
        "turn_detection": _v1_turn_detection(old),
        "audio": audio,
        "transcription": _v1_transcription(old),
        "tools": tools,
        "privacy": privacy,
    }
    prices = _object(old, "prices")
    if prices is not None:
        new["prices"] = {
            model: {_V1_PRICE_KEYS.get(key, key): value for key, value in price.items()}
            for model, price in prices.items()
        }
    return new


SETTINGS_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        from_version=1,
        apply=_v1_to_v2,
        description="flat seed-shaped settings regrouped by dialog page, with renamed keys",
    ),
)
