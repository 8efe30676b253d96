"""The settings model: everything a person can configure, validated where it is defined.

One frozen pydantic model, :class:`Settings`, in groups that are the pages of the settings dialog
(:data:`GROUPS`): connection, voice & responses, turn detection, audio, transcription, tools,
privacy & storage, and the price table. The API key is **not** here: it lives in the OS keyring
(:mod:`.secrets`) and never in a file.

For the dialog (built on this API, issue 7):

* :data:`FIELDS` describes every field (path, title, help text, kind, choices, range, unit,
  default) so pages can be generated or checked against the model;
* :meth:`Settings.validate_field` checks one candidate value in the context of the others and
  returns the message to show next to the field, or ``None``;
* :meth:`Settings.with_value` / :meth:`Settings.with_values` return a new validated
  :class:`Settings` or raise :class:`SettingsInvalidError` whose ``errors`` map field paths to
  messages; :meth:`Settings.value_at` reads a field by path.

Field paths are ``group.field`` (``turn_detection.threshold``); entries of a mapping are written
with brackets: ``connection.custom_headers[X-Team]``, ``prices[gpt-realtime-2].audio_input``.

The seed's conversation settings (issue 7) map onto these fields: auto-reconnect, max attempts,
reconnect delay and buffer while disconnected are in ``connection``; echo cancellation, noise
suppression, local VAD threshold and show audio levels in ``audio``; persist conversation and
persistence path are ``privacy.save_conversations`` and ``privacy.conversations_dir``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, get_args, get_origin
from urllib.parse import parse_qsl, urlsplit

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from realtime_desktop.audio.constants import VAD_DEFAULT_THRESHOLD
from realtime_desktop.protocol.session import (
    DEFAULT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_VOICE,
    GA_MODELS,
    GA_VOICES,
    AudioConfig,
    AudioFormat,
    AudioInputConfig,
    AudioOutputConfig,
    AudioTranscription,
    NoiseReduction,
    RealtimeSessionConfig,
    TurnDetection,
    VoiceReference,
)

log = logging.getLogger(__name__)

SETTINGS_SCHEMA_VERSION = 2

Provider = Literal["openai", "azure", "custom", "offline"]
Dialect = Literal["ga", "beta"]
OutputModality = Literal["voice", "text"]
TurnDetectionMode = Literal["server_vad", "semantic_vad", "push_to_talk"]
Eagerness = Literal["auto", "low", "medium", "high"]
NoiseReductionMode = Literal["off", "near_field", "far_field"]
ToolApproval = Literal["never", "side_effects", "always"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# Instructions are always sent (an empty string clears them on the server), so a live update
# after the user edits them leaves no stale persona behind; this is what a fresh install says.
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant. Keep answers short and conversational "
    "unless the user asks for detail."
)

# Model, deployment and tool names: what the OpenAI and Azure APIs accept, and safe in a URL.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_AZURE_RESOURCE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CUSTOM_VOICE_ID = re.compile(r"voice_[A-Za-z0-9]+")
_LANGUAGE = re.compile(r"[a-z]{2}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
# Query parameters that carry credentials; a URL is saved to the settings file in clear text.
_CREDENTIAL_PARAMETERS = frozenset(
    {"api-key", "api_key", "apikey", "key", "token", "access_token", "client_secret"}
)
# Headers the connection sets itself (credentials from the keyring, the dialect's beta header)
# or that belong to the WebSocket handshake.
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"}
)
_HANDSHAKE_HEADERS = frozenset({"host", "upgrade", "connection", "openai-beta"})


# ---------------------------------------------------------------------------------------------
# Checks shared by several fields


def _invalid(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the user as is (no "Value error," prefix).
    The prefix keeps its type apart from pydantic's own error types (``url_scheme`` is one)."""
    return PydanticCustomError(f"settings_{kind}", message)


def is_loopback_host(host: str) -> bool:
    """True for names and addresses of this computer (``ws://`` and ``http://`` are allowed
    only there: DESIGN.md "Providers")."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_url(value: str, *, secure: str, plain: str, what: str) -> str:
    """A ``secure://`` URL, or ``plain://`` to this computer only; no credentials inside."""
    value = value.strip()
    if not value:
        return value
    if any(ch.isspace() for ch in value):
        raise _invalid("url_spaces", f"The {what} must not contain spaces.")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise _invalid("url_invalid", f"The {what} is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in (secure, plain):
        raise _invalid("url_scheme", f"The {what} must start with {secure}:// (or {plain}://).")
    if not parts.hostname:
        raise _invalid("url_host", f"The {what} has no host name.")
    if port == 0:
        raise _invalid("url_port", f"The {what} has no valid port.")
    if scheme == plain and not is_loopback_host(parts.hostname):
        raise _invalid(
            "url_insecure_remote",
            f"{plain}:// is unencrypted and would expose your key; it is allowed only for a "
            f"server on this computer (localhost, 127.0.0.1, ::1). Use {secure}:// for "
            f"{parts.hostname}.",
        )
    if parts.username is not None or parts.password is not None:
        raise _invalid(
            "url_credentials",
            f"Remove the user name and password from the {what}: the key belongs in the API key "
            "field, which stores it in the system keyring.",
        )
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in _CREDENTIAL_PARAMETERS:
            raise _invalid(
                "url_credentials",
                f"Remove '{name}' from the {what}: the key belongs in the API key field, "
                "which stores it in the system keyring.",
            )
    if parts.fragment:
        raise _invalid("url_fragment", f"The {what} must not contain a '#' fragment.")
    return value


def _check_model_name(value: str, what: str) -> str:
    value = value.strip()
    if not _MODEL_NAME.fullmatch(value):
        raise _invalid(
            "model_name",
            f"Enter a {what}: letters, digits, '.', '_', ':' or '-' (at most 128 characters).",
        )
    return value


def _raise_at(title: str, field: str, kind: str, message: str, value: object) -> typing.NoReturn:
    """Raises a cross-field error located at one field, so the dialog shows it next to that
    field rather than at the top of the page."""
    raise ValidationError.from_exception_data(
        title, [InitErrorDetails(type=_invalid(kind, message), loc=(field,), input=value)]
    )


# ---------------------------------------------------------------------------------------------
# Groups (the dialog's pages)


class SettingsGroup(BaseModel):
    """Frozen: settings change only by building a validated new object (``with_value``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class ConnectionSettings(SettingsGroup):
    provider: Provider = Field(
        "openai",
        title="Provider",
        description="Where the conversation runs. Offline is the built-in echo-test server.",
        json_schema_extra={
            "labels": {
                "openai": "OpenAI",
                "azure": "Azure OpenAI",
                "custom": "Custom server",
                "offline": "Offline (echo test)",
            }
        },
    )
    model: str = Field(DEFAULT_MODEL, title="Model", description="The Realtime model to talk to.")
    models: tuple[str, ...] = Field(
        GA_MODELS,
        title="Model list",
        description="The models offered in the model list; add new ones as they are released.",
    )
    custom_url: str = Field(
        "",
        title="Server URL",
        description="wss:// URL of a Realtime-compatible server (ws:// only for this computer).",
    )
    custom_dialect: Dialect = Field(
        "ga",
        title="Protocol dialect",
        description="GA for current servers; beta for servers that still speak the retired shape.",
        json_schema_extra={"labels": {"ga": "GA", "beta": "Beta (retired)"}},
    )
    custom_auth: Literal["bearer", "api-key", "none"] = Field(
        "bearer",
        title="Send the key as",
        json_schema_extra={
            "labels": {
                "bearer": "Authorization: Bearer",
                "api-key": "api-key header",
                "none": "Do not send a key",
            }
        },
    )
    custom_headers: dict[str, str] = Field(
        default_factory=dict,
        title="Extra headers",
        description="Sent with the WebSocket handshake. Never put credentials here.",
    )
    azure_resource: str = Field(
        "",
        title="Azure resource",
        description="The resource name: <name>.openai.azure.com (a pasted endpoint URL is fine).",
    )
    azure_deployment: str = Field("", title="Azure deployment", description="The deployment name.")
    azure_auth: Literal["api-key", "entra"] = Field(
        "api-key",
        title="Azure authentication",
        json_schema_extra={"labels": {"api-key": "API key", "entra": "Entra ID token"}},
    )
    ephemeral_key_url: str = Field(
        "",
        title="Ephemeral key URL",
        description="Optional: an https:// URL that returns an ek_… client secret to connect "
        "with instead of the stored key.",
    )
    auto_reconnect: bool = Field(True, title="Reconnect automatically")
    max_reconnect_attempts: int = Field(5, ge=1, le=100, title="Reconnect attempts")
    reconnect_delay_s: float = Field(
        1.0,
        ge=0.1,
        le=60.0,
        title="Reconnect delay",
        description="Wait before the first attempt; later ones back off exponentially.",
        json_schema_extra={"unit": "s"},
    )
    buffer_while_disconnected: bool = Field(
        True,
        title="Buffer while disconnected",
        description="Keep typed messages while reconnecting and send them afterwards.",
    )

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return _check_model_name(value, "model name")

    @field_validator("azure_deployment")
    @classmethod
    def _deployment_name(cls, value: str) -> str:
        return _check_model_name(value, "deployment name") if value.strip() else ""

    @field_validator("models")
    @classmethod
    def _model_list(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(_check_model_name(name, "model name") for name in value)
        if len(set(names)) != len(names):
            raise _invalid("duplicate_model", "Each model may appear only once in the list.")
        return names

    @field_validator("custom_url")
    @classmethod
    def _custom_url(cls, value: str) -> str:
        return _check_url(value, secure="wss", plain="ws", what="server URL")

    @field_validator("ephemeral_key_url")
    @classmethod
    def _ephemeral_key_url(cls, value: str) -> str:
        return _check_url(value, secure="https", plain="http", what="ephemeral key URL")

    @field_validator("azure_resource")
    @classmethod
    def _azure_resource(cls, value: str) -> str:
        value = value.strip().lower()
        if "://" in value or ".openai.azure.com" in value:
            # People paste the endpoint from the Azure portal; keep just the resource name.
            host = urlsplit(value if "://" in value else f"https://{value}").hostname or ""
            value = host.removesuffix(".openai.azure.com")
        if value and not _AZURE_RESOURCE.fullmatch(value):
            raise _invalid(
                "azure_resource",
                "Enter the resource name (lowercase letters, digits and '-'), as in "
                "<name>.openai.azure.com.",
            )
        return value

    @field_validator("custom_headers")
    @classmethod
    def _custom_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            lowered = name.lower()
            if not _HEADER_NAME.fullmatch(name):
                raise _invalid("header_name", f"'{name}' is not a valid header name.")
            if lowered in _CREDENTIAL_HEADERS:
                raise _invalid(
                    "header_credentials",
                    f"Do not put '{name}' here: settings are saved in clear text. Enter the key "
                    "in the API key field (it goes to the system keyring).",
                )
            if lowered in _HANDSHAKE_HEADERS or lowered.startswith("sec-websocket-"):
                raise _invalid(
                    "header_reserved",
                    f"'{name}' is set by the connection itself (handshake or dialect).",
                )
            if "\r" in header_value or "\n" in header_value:
                raise _invalid("header_value", f"The value of '{name}' must be a single line.")
        return value

    @model_validator(mode="after")
    def _provider_needs(self) -> Self:
        if self.provider == "custom" and not self.custom_url:
            _raise_at(
                "ConnectionSettings",
                "custom_url",
                "url_required",
                "Enter the server URL for the custom provider.",
                self.custom_url,
            )
        if self.provider == "azure" and not self.azure_resource:
            _raise_at(
                "ConnectionSettings",
                "azure_resource",
                "azure_resource_required",
                "Enter the Azure resource name.",
                self.azure_resource,
            )
        if self.provider == "azure" and not self.azure_deployment:
            _raise_at(
                "ConnectionSettings",
                "azure_deployment",
                "azure_deployment_required",
                "Enter the Azure deployment name.",
                self.azure_deployment,
            )
        return self


class VoiceSettings(SettingsGroup):
    voice: str = Field(
        DEFAULT_VOICE,
        title="Voice",
        description="A built-in voice, or a custom voice id (voice_…). Locked once the "
        "assistant has spoken in a conversation.",
        json_schema_extra={"suggestions": list(GA_VOICES)},
    )
    instructions: str = Field(
        DEFAULT_INSTRUCTIONS,
        max_length=100_000,
        title="Instructions",
        description="What the assistant is told before the conversation. Empty means none.",
        json_schema_extra={"multiline": True},
    )
    output_modality: OutputModality = Field(
        "voice",
        title="Answer with",
        json_schema_extra={"labels": {"voice": "Voice", "text": "Text only"}},
    )
    speed: float = Field(1.0, ge=0.25, le=1.5, title="Speech speed")
    max_output_tokens: int | None = Field(
        None,
        ge=1,
        le=32_768,
        title="Max output tokens",
        description="Per response, tool calls included. Empty means no limit.",
        json_schema_extra={"unit": "tokens"},
    )

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str) -> str:
        value = value.strip()
        if value not in GA_VOICES and not _CUSTOM_VOICE_ID.fullmatch(value):
            raise _invalid(
                "voice",
                f"Choose one of {', '.join(GA_VOICES)}, or enter a custom voice id (voice_…).",
            )
        return value


class TurnDetectionSettings(SettingsGroup):
    """How a turn ends (PROTOCOL.md §4.3). Every field is always sent (§4.2)."""

    mode: TurnDetectionMode = Field(
        "server_vad",
        title="Turn detection",
        json_schema_extra={
            "labels": {
                "server_vad": "Server VAD",
                "semantic_vad": "Semantic VAD",
                "push_to_talk": "Push to talk",
            }
        },
    )
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="Threshold",
        description="Higher needs louder speech (noisy rooms).",
    )
    prefix_padding_ms: int = Field(
        300, ge=0, le=5_000, title="Prefix padding", json_schema_extra={"unit": "ms"}
    )
    silence_duration_ms: int = Field(
        500,
        ge=50,
        le=10_000,
        title="Silence duration",
        description="Silence that ends the turn; lower is snappier but cuts pauses.",
        json_schema_extra={"unit": "ms"},
    )
    idle_timeout_ms: int | None = Field(
        None,
        ge=5_000,
        le=30_000,
        title="Idle timeout",
        description="Server VAD only: prompt the assistant after this much silence. Empty: off.",
        json_schema_extra={"unit": "ms"},
    )
    create_response: bool = Field(True, title="Answer when the user stops")
    interrupt_response: bool = Field(True, title="Interrupt the assistant when the user speaks")
    eagerness: Eagerness = Field(
        "auto",
        title="Eagerness",
        description="Semantic VAD: how soon to answer (low waits up to 8 s, high 2 s).",
        json_schema_extra={
            "labels": {"auto": "Auto", "low": "Low", "medium": "Medium", "high": "High"}
        },
    )

    def to_turn_detection(self) -> TurnDetection | None:
        """The complete wire object, or ``None`` (manual turns) for push-to-talk."""
        if self.mode == "push_to_talk":
            return None
        if self.mode == "semantic_vad":
            return TurnDetection.semantic_vad(
                eagerness=self.eagerness,
                create_response=self.create_response,
                interrupt_response=self.interrupt_response,
            )
        return TurnDetection.server_vad(
            threshold=self.threshold,
            prefix_padding_ms=self.prefix_padding_ms,
            silence_duration_ms=self.silence_duration_ms,
            idle_timeout_ms=self.idle_timeout_ms,
            create_response=self.create_response,
            interrupt_response=self.interrupt_response,
        )


class AudioSettings(SettingsGroup):
    input_device: str = Field(
        "", title="Microphone", description="Device name; empty means the system default."
    )
    output_device: str = Field(
        "", title="Speaker", description="Device name; empty means the system default."
    )
    echo_cancellation: bool = Field(True, title="Echo cancellation")
    noise_suppression: bool = Field(True, title="Noise suppression")
    headset_mode: bool = Field(
        False,
        title="Headset mode",
        description="No echo to cancel: the microphone stays open while the assistant speaks.",
    )
    half_duplex: bool = Field(
        False,
        title="Half duplex",
        description="Mute the microphone while the assistant speaks (for loud speakers).",
    )
    local_vad_threshold: float = Field(
        VAD_DEFAULT_THRESHOLD,
        ge=0.0,
        le=1.0,
        title="Local VAD sensitivity",
        description="Used for push-to-talk and half-duplex barge-in; higher is stricter.",
    )
    show_audio_levels: bool = Field(True, title="Show audio levels")


class TranscriptionSettings(SettingsGroup):
    enabled: bool = Field(True, title="Transcribe what I say")
    model: str = Field(DEFAULT_TRANSCRIPTION_MODEL, title="Transcription model")
    language: str = Field(
        "", title="Language", description="ISO-639-1 code such as en or de; empty: detect."
    )
    prompt: str = Field(
        "",
        max_length=10_000,
        title="Transcription prompt",
        description="Words or context that help the transcriber.",
        json_schema_extra={"multiline": True},
    )
    noise_reduction: NoiseReductionMode = Field(
        "off",
        title="Server noise reduction",
        json_schema_extra={
            "labels": {
                "off": "Off",
                "near_field": "Near field (headset)",
                "far_field": "Far field (laptop, room)",
            }
        },
    )

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _check_model_name(value, "transcription model name")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not _LANGUAGE.fullmatch(value):
            raise _invalid(
                "language", "Enter a two-letter language code (ISO-639-1), or leave it empty."
            )
        return value


class ToolSettings(SettingsGroup):
    builtins_enabled: bool = Field(True, title="Built-in tools")
    disabled_tools: tuple[str, ...] = Field(
        (), title="Disabled tools", description="Built-in tools switched off one by one."
    )
    approval: ToolApproval = Field(
        "side_effects",
        title="Ask before running",
        json_schema_extra={
            "labels": {
                "never": "Never",
                "side_effects": "Tools with side effects",
                "always": "Every tool",
            }
        },
    )
    timeout_s: float = Field(
        30.0, ge=1.0, le=600.0, title="Tool timeout", json_schema_extra={"unit": "s"}
    )

    @field_validator("disabled_tools")
    @classmethod
    def _tool_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _TOOL_NAME.fullmatch(name):
                raise _invalid(
                    "tool_name", f"'{name}' is not a tool name (letters, digits, '_' and '-')."
                )
        return tuple(dict.fromkeys(value))


class PrivacySettings(SettingsGroup):
    save_conversations: bool = Field(True, title="Save conversations")
    conversations_dir: str = Field(
        "",
        title="Conversations folder",
        description="Empty: the app's data folder.",
        json_schema_extra={"kind": "folder"},
    )
    record_audio: bool = Field(
        False,
        title="Record audio",
        description="Keep WAV files of both sides with each saved conversation.",
    )
    log_level: LogLevel = Field(
        "INFO",
        title="Log level",
        json_schema_extra={
            "labels": {"DEBUG": "Debug", "INFO": "Info", "WARNING": "Warning", "ERROR": "Error"}
        },
    )

    @field_validator("conversations_dir")
    @classmethod
    def _folder(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if "\x00" in value:
            raise _invalid("folder", "The folder name contains an invalid character.")
        if not Path(value).expanduser().is_absolute():
            raise _invalid("folder", "Choose a full folder path (starting with / or ~).")
        return value


class ModelPrice(SettingsGroup):
    """USD per one million tokens (PROTOCOL.md §7.4)."""

    text_input: float = Field(0.0, ge=0.0, le=10_000.0, title="Text input price")
    text_cached_input: float = Field(0.0, ge=0.0, le=10_000.0, title="Cached text input price")
    text_output: float = Field(0.0, ge=0.0, le=10_000.0, title="Text output price")
    audio_input: float = Field(0.0, ge=0.0, le=10_000.0, title="Audio input price")
    audio_cached_input: float = Field(0.0, ge=0.0, le=10_000.0, title="Cached audio input price")
    audio_output: float = Field(0.0, ge=0.0, le=10_000.0, title="Audio output price")
    image_input: float = Field(0.0, ge=0.0, le=10_000.0, title="Image input price")
    image_cached_input: float = Field(0.0, ge=0.0, le=10_000.0, title="Cached image input price")


def _price(
    text: tuple[float, float, float],
    audio: tuple[float, float, float],
    image: tuple[float, float] = (0.0, 0.0),
) -> ModelPrice:
    return ModelPrice(
        text_input=text[0],
        text_cached_input=text[1],
        text_output=text[2],
        audio_input=audio[0],
        audio_cached_input=audio[1],
        audio_output=audio[2],
        image_input=image[0],
        image_cached_input=image[1],
    )


# Published prices, PROTOCOL.md §7.4 (2026). The user edits them in the dialog; these are only
# what a fresh install starts with.
DEFAULT_PRICES: Mapping[str, ModelPrice] = types.MappingProxyType(
    {
        "gpt-realtime-2": _price((4.0, 0.4, 24.0), (32.0, 0.4, 64.0), (5.0, 0.5)),
        "gpt-realtime-2.1": _price((4.0, 0.4, 24.0), (32.0, 0.4, 64.0), (5.0, 0.5)),
        "gpt-realtime-2.1-mini": _price((0.6, 0.06, 2.4), (10.0, 0.3, 20.0), (0.8, 0.08)),
        "gpt-realtime-1.5": _price((4.0, 0.4, 16.0), (32.0, 0.4, 64.0), (5.0, 0.5)),
        "gpt-realtime": _price((4.0, 0.4, 16.0), (32.0, 0.4, 64.0), (5.0, 0.5)),
        "gpt-realtime-mini": _price((0.6, 0.06, 2.4), (10.0, 0.3, 20.0)),
        "gpt-4o-mini-realtime-preview": _price((0.6, 0.3, 2.4), (10.0, 0.3, 20.0)),
    }
)


# ---------------------------------------------------------------------------------------------
# The whole model


class SettingsInvalidError(ValueError):
    """Raised by :meth:`Settings.with_value` and friends.

    Attributes:
        errors: field path → message for the user, in the order the fields are defined.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors.items()))
        self.errors = errors


class Settings(SettingsGroup):
    """Every setting of the app except secrets. Build with :meth:`production`,
    :meth:`development`, :meth:`with_value` or ``model_validate``; never mutate."""

    schema_version: int = Field(SETTINGS_SCHEMA_VERSION, title="Schema version")
    connection: ConnectionSettings = Field(default_factory=ConnectionSettings, title="Connection")
    voice: VoiceSettings = Field(default_factory=VoiceSettings, title="Voice & responses")
    turn_detection: TurnDetectionSettings = Field(
        default_factory=TurnDetectionSettings, title="Turn detection"
    )
    audio: AudioSettings = Field(default_factory=AudioSettings, title="Audio")
    transcription: TranscriptionSettings = Field(
        default_factory=TranscriptionSettings, title="Transcription"
    )
    tools: ToolSettings = Field(default_factory=ToolSettings, title="Tools")
    privacy: PrivacySettings = Field(default_factory=PrivacySettings, title="Privacy & storage")
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        title="Prices",
        description="USD per million tokens, per model.",
    )

    @field_validator("schema_version")
    @classmethod
    def _current_version(cls, value: int) -> int:
        if value != SETTINGS_SCHEMA_VERSION:
            raise _invalid(
                "schema_version",
                f"Settings of schema version {value} must be migrated before use "
                f"(this version reads {SETTINGS_SCHEMA_VERSION}).",
            )
        return value

    @field_validator("prices")
    @classmethod
    def _price_models(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        for model in value:
            _check_model_name(model, "model name for each price")
        return value

    @model_validator(mode="after")
    def _recording_needs_saving(self) -> Self:
        if self.privacy.record_audio and not self.privacy.save_conversations:
            raise ValidationError.from_exception_data(
                "Settings",
                [
                    InitErrorDetails(
                        type=_invalid(
                            "recording_needs_saving",
                            "Recordings are kept with saved conversations: turn on Save "
                            "conversations to record audio.",
                        ),
                        loc=("privacy", "record_audio"),
                        input=True,
                    )
                ],
            )
        return self

    # Presets ------------------------------------------------------------------------------------

    @classmethod
    def production(cls) -> Settings:
        """What a fresh install uses: OpenAI, reconnect with backoff, echo cancellation, saved
        conversations, no recording, INFO logs."""
        return cls()

    @classmethod
    def development(cls) -> Settings:
        """For working on the app: the offline echo server (no key, no cost), DEBUG logs, quick
        reconnects, audio levels shown, conversations not saved."""
        return cls.production().with_values(
            {
                "connection.provider": "offline",
                "connection.max_reconnect_attempts": 3,
                "connection.reconnect_delay_s": 0.25,
                "audio.show_audio_levels": True,
                "privacy.save_conversations": False,
                "privacy.log_level": "DEBUG",
            }
        )

    # Reading and changing fields by path (the dialog) -------------------------------------------

    def value_at(self, path: str) -> Any:
        """The current value of the field at ``path`` (JSON-ready: lists, dicts, numbers)."""
        node: Any = self.model_dump(mode="json")
        for part in _parse_path(path):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"no setting at {path!r}")
            node = node[part]
        return node

    def with_values(self, changes: Mapping[str, object]) -> Settings:
        """A new :class:`Settings` with ``changes`` (path → value) applied and validated as a
        whole; raises :class:`SettingsInvalidError` listing every field that is wrong."""
        data = self.model_dump(mode="json")
        for path, value in changes.items():
            _set_path(data, path, value)
        return self.from_data(data)

    def with_value(self, path: str, value: object) -> Settings:
        return self.with_values({path: value})

    def field_errors(self, path: str, value: object) -> dict[str, str]:
        """Every problem that setting ``path`` to ``value`` would cause, keyed by the path of the
        field to show it at; empty when the change is fine. A cross-field rule reports at the
        field that needs attention: choosing provider "custom" while the server URL is empty
        yields ``{"connection.custom_url": "Enter the server URL …"}``."""
        try:
            self.with_value(path, value)
        except SettingsInvalidError as exc:
            return exc.errors
        return {}

    def validate_field(self, path: str, value: object) -> str | None:
        """The message to show next to the field at ``path`` if ``value`` is not acceptable
        there (problems it causes at other fields are in :meth:`field_errors`)."""
        errors = self.field_errors(path, value)
        return next(
            (message for error_path, message in errors.items() if _is_within(error_path, path)),
            None,
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Settings:
        """Validates a JSON-shaped dict; raises :class:`SettingsInvalidError` (never pydantic's
        ``ValidationError``) with one message per field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SettingsInvalidError(error_messages(exc)) from None

    @classmethod
    def errors_in(cls, data: Mapping[str, Any]) -> dict[str, str]:
        """Path → message for everything wrong in ``data``; empty when it is valid."""
        try:
            cls.from_data(data)
        except SettingsInvalidError as exc:
            return exc.errors
        return {}

    # What the rest of the app needs -------------------------------------------------------------

    def to_session_config(
        self, *, include_model: bool = True, include_voice: bool = True
    ) -> RealtimeSessionConfig:
        """The GA ``session`` object for ``session.update``: complete, so sending it again after
        any change leaves no stale field on the server. The turn-detection object always has
        every field (PROTOCOL.md §4.2); push-to-talk sends ``turn_detection: null``; transcription
        and noise reduction switched off are sent as ``null``; "no limit" on output tokens is
        ``"inf"``.

        Args:
            include_model: False for a live update (the model cannot change mid-session).
            include_voice: False once the assistant has spoken (``cannot_update_voice``).
        """
        voice, transcription = self.voice, self.transcription
        transcription_config: AudioTranscription | None = None
        if transcription.enabled:
            fields: dict[str, Any] = {"model": transcription.model}
            if transcription.language:
                fields["language"] = transcription.language
            if transcription.prompt:
                fields["prompt"] = transcription.prompt
            transcription_config = AudioTranscription(**fields)
        noise_reduction = (
            None
            if transcription.noise_reduction == "off"
            else NoiseReduction(type=transcription.noise_reduction)
        )
        output_fields: dict[str, Any] = {"format": AudioFormat.pcm(), "speed": voice.speed}
        if include_voice:
            output_fields["voice"] = (
                VoiceReference(id=voice.voice)
                if _CUSTOM_VOICE_ID.fullmatch(voice.voice)
                else voice.voice
            )
        session_fields: dict[str, Any] = {
            "instructions": voice.instructions,
            "output_modalities": ["audio" if voice.output_modality == "voice" else "text"],
            "audio": AudioConfig(
                input=AudioInputConfig(
                    format=AudioFormat.pcm(),
                    transcription=transcription_config,
                    noise_reduction=noise_reduction,
                    turn_detection=self.turn_detection.to_turn_detection(),
                ),
                output=AudioOutputConfig(**output_fields),
            ),
            "max_output_tokens": voice.max_output_tokens or "inf",
        }
        if include_model:
            session_fields["model"] = self.session_model
        return RealtimeSessionConfig(**session_fields)

    @property
    def session_model(self) -> str:
        """The model name the server knows: Azure addresses a deployment, not a model."""
        if self.connection.provider == "azure":
            return self.connection.azure_deployment
        return self.connection.model

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or of the longest priced name it is a dated snapshot of
        (``gpt-realtime-mini-2025-12-15`` → ``gpt-realtime-mini``); None if unpriced."""
        if model in self.prices:
            return self.prices[model]
        candidates = [name for name in self.prices if model.startswith(f"{name}-")]
        return self.prices[max(candidates, key=len)] if candidates else None

    def changed_paths(self, old: Settings) -> frozenset[str]:
        """The field paths whose value differs from ``old`` (``prices`` counts as one)."""
        mine, theirs = self.model_dump(mode="json"), old.model_dump(mode="json")
        return frozenset(
            spec.path
            for spec in FIELDS
            if _get_path(mine, spec.path) != _get_path(theirs, spec.path)
        )

    def needs_reconnect(self, old: Settings) -> bool:
        """True when the change from ``old`` can only take effect on a new connection."""
        return any(
            path.startswith("connection.") and path not in _LIVE_CONNECTION_FIELDS
            for path in self.changed_paths(old)
        )

    def session_differs(self, old: Settings) -> bool:
        """True when a live ``session.update`` is needed to apply the change from ``old``."""
        return self.to_session_config(include_model=False) != old.to_session_config(
            include_model=False
        )


# Connection fields that are read at the moment they are needed, not at connect time.
_LIVE_CONNECTION_FIELDS = frozenset(
    {
        "connection.models",
        "connection.auto_reconnect",
        "connection.max_reconnect_attempts",
        "connection.reconnect_delay_s",
        "connection.buffer_while_disconnected",
    }
)


# ---------------------------------------------------------------------------------------------
# Field descriptions for the dialog

FieldKind = Literal[
    "bool", "int", "optional_int", "float", "text", "multiline", "choice", "folder", "list",
    "mapping", "prices",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class GroupSpec:
    name: str  # the attribute of Settings, and the first part of its fields' paths
    title: str  # the dialog page's title


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """What the dialog needs to show and check one field.

    Attributes:
        path: ``group.field`` (``prices`` for the price table).
        group: the page it belongs to.
        title, description: label and help text.
        kind: the widget it needs.
        default: the default value (JSON-ready).
        choices: allowed values, for ``choice``; ``labels`` are their display names.
        suggestions: values to offer in an editable list (voices, models).
        minimum, maximum, unit: the range of a number and its unit ("ms", "s", "tokens").
    """

    path: str
    group: str
    title: str
    description: str
    kind: FieldKind
    default: Any
    choices: tuple[str, ...] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    suggestions: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for constraint in info.metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = float(typing.cast(float, constraint.ge))
        elif isinstance(constraint, annotated_types.Le):
            high = float(typing.cast(float, constraint.le))
    return low, high


def _kind(annotation: Any, extra: Mapping[str, Any]) -> FieldKind:
    if "kind" in extra:
        return typing.cast(FieldKind, extra["kind"])
    if extra.get("multiline"):
        return "multiline"
    origin = get_origin(annotation)
    if origin is Literal:
        return "choice"
    if origin in (typing.Union, types.UnionType) and int in get_args(annotation):
        return "optional_int"
    if origin is tuple:
        return "list"
    if origin is dict:
        return "prices" if get_args(annotation)[1] is ModelPrice else "mapping"
    simple: dict[Any, FieldKind] = {bool: "bool", int: "int", float: "float", str: "text"}
    return simple[annotation]


def _spec(path: str, group: str, info: FieldInfo, default: Any) -> FieldSpec:
    extra = _extra(info)
    low, high = _bounds(info)
    annotation = info.annotation
    return FieldSpec(
        path=path,
        group=group,
        title=info.title or path,
        description=info.description or "",
        kind=_kind(annotation, extra),
        default=default,
        choices=tuple(get_args(annotation)) if get_origin(annotation) is Literal else (),
        labels=types.MappingProxyType(dict(extra.get("labels", {}))),
        suggestions=tuple(extra.get("suggestions", ())),
        minimum=low,
        maximum=high,
        unit=str(extra.get("unit", "")),
    )


def _describe() -> tuple[tuple[GroupSpec, ...], tuple[FieldSpec, ...]]:
    defaults = Settings().model_dump(mode="json")
    groups: list[GroupSpec] = []
    fields: list[FieldSpec] = []
    for name, info in Settings.model_fields.items():
        if name == "schema_version":
            continue
        groups.append(GroupSpec(name=name, title=info.title or name))
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, SettingsGroup):
            for field_name, field_info in annotation.model_fields.items():
                fields.append(
                    _spec(f"{name}.{field_name}", name, field_info, defaults[name][field_name])
                )
        else:
            fields.append(_spec(name, name, info, defaults[name]))
    return tuple(groups), tuple(fields)


GROUPS, FIELDS = _describe()
FIELDS_BY_PATH: Mapping[str, FieldSpec] = types.MappingProxyType({f.path: f for f in FIELDS})


# ---------------------------------------------------------------------------------------------
# Paths and messages

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def _parse_path(path: str) -> list[str]:
    """``prices[gpt-realtime-2.1].audio_input`` → ``["prices", "gpt-realtime-2.1",
    "audio_input"]``."""
    parts: list[str] = []
    position = 0
    while position < len(path):
        if path[position] == "." and parts:
            position += 1
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise KeyError(f"malformed setting path {path!r}")
        parts.append(match.group(1) if match.group(1) is not None else match.group(2))
        position = match.end()
    if not parts:
        raise KeyError("empty setting path")
    return parts


def _get_path(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in _parse_path(path):
        node = node[part]
    return node


def _set_path(data: dict[str, Any], path: str, value: object) -> None:
    if not any(_is_within(path, spec.path) for spec in FIELDS):
        raise KeyError(f"no setting at {path!r}")
    parts = _parse_path(path)
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise KeyError(f"no setting at {path!r}")
        node = child
    node[parts[-1]] = value


def _is_within(error_path: str, path: str) -> bool:
    return error_path == path or error_path.startswith((f"{path}.", f"{path}["))


def _walk_loc(loc: Sequence[int | str]) -> tuple[str, FieldInfo | None]:
    """The dialog path of a pydantic error location, and the field it ends in."""
    path = ""
    info: FieldInfo | None = None
    model: type[BaseModel] | None = Settings
    mapping_next = False
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for an error in a mapping's key, not a value
        if mapping_next or model is None or not isinstance(part, str):
            path += f"[{part}]"
            mapping_next = False
            continue
        field = model.model_fields.get(part)
        path = f"{path}.{part}" if path else part
        if field is None:
            model = None
            continue
        info = field
        annotation = field.annotation
        if get_origin(annotation) is dict:
            mapping_next = True
            value_type = get_args(annotation)[1]
            is_model = isinstance(value_type, type) and issubclass(value_type, BaseModel)
            model = value_type if is_model else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            model = None
    return path, info


_PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _message(error: ErrorDetails, info: FieldInfo | None, path: str) -> str:
    kind = error["type"]
    title = info.title if info is not None and info.title else path
    unit = f" {_extra(info).get('unit', '')}".rstrip() if info is not None else ""
    low, high = _bounds(info) if info is not None else (None, None)
    context = error.get("ctx") or {}
    if kind not in _PYDANTIC_ERROR_TYPES:
        return error["msg"]  # raised by this module's validators: already a sentence for the user
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        if low is not None and high is not None:
            return f"{title} must be between {_number(low)} and {_number(high)}{unit}."
        if kind.startswith("greater"):
            return f"{title} must be at least {context.get('ge', context.get('gt'))}{unit}."
        return f"{title} must be at most {context.get('le', context.get('lt'))}{unit}."
    if kind == "literal_error":
        labels = _extra(info).get("labels", {}) if info is not None else {}
        choices = get_args(info.annotation) if info is not None else ()
        shown = ", ".join(str(labels.get(choice, choice)) for choice in choices)
        return f"{title} must be one of: {shown}."
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{title} must be a whole number."
    if kind in {"float_parsing", "float_type", "finite_number"}:
        return f"{title} must be a number."
    if kind in {"bool_parsing", "bool_type"}:
        return f"{title} must be on or off."
    if kind == "string_type":
        return f"{title} must be text."
    if kind == "string_too_long":
        return f"{title} is too long (at most {context.get('max_length')} characters)."
    if kind == "missing":
        return f"{title} is required."
    if kind == "extra_forbidden":
        return f"'{path}' is not a setting."
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"{title} has the wrong shape."
    if kind in {"tuple_type", "list_type"}:
        return f"{title} must be a list."
    return f"{title}: {error['msg']}"


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One validation problem: where pydantic found it, the dialog path, and the message."""

    loc: tuple[int | str, ...]
    path: str
    message: str


def field_errors_of(exc: ValidationError) -> list[FieldError]:
    """The errors of a :class:`Settings` validation, each with its dialog path and message."""
    found = []
    for error in exc.errors(include_url=False):
        path, info = _walk_loc(error["loc"])
        found.append(
            FieldError(tuple(error["loc"]), path or "settings", _message(error, info, path))
        )
    return found


def error_messages(exc: ValidationError) -> dict[str, str]:
    """Path → user message for each error of a :class:`Settings` validation (first per path)."""
    messages: dict[str, str] = {}
    for error in field_errors_of(exc):
        messages.setdefault(error.path, error.message)
    return messages
