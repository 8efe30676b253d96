"""The effective session configuration of one connection (PROTOCOL.md §4).

``session.created`` reports the defaults; every ``session.update`` is a partial update checked as
a whole before anything changes, so a rejected update leaves the session exactly as it was (the
real service drops the whole update, PROTOCOL.md §9.2). The configuration is kept as a GA wire
dict, the shape ``session.updated`` echoes; beta sessions are translated at the wire edge.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Iterator
from typing import Any, Final

from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.protocol import (
    FunctionTool,
    ProtocolError,
    RealtimeSessionConfig,
    SessionUpdate,
    TranscriptionSessionConfig,
    WireModel,
)
from realtime_desktop.server import errors

log = logging.getLogger(__name__)

DEFAULT_MODEL: Final = "gpt-realtime"
# Honest about what runs here, like everything else this server says.
DEFAULT_INSTRUCTIONS: Final = (
    "You are the offline echo test of realtime-desktop. No language model runs here: the server "
    "plays back what the user says, reads typed text back, and calls tools on request."
)

SERVER_VAD: Final = "server_vad"
SEMANTIC_VAD: Final = "semantic_vad"
# The defaults the real service reports in session.created (PROTOCOL.md §4.1, §4.3): note the
# 200 ms silence, not the documented 500 ms.
SERVER_VAD_DEFAULTS: Final[dict[str, Any]] = {
    "type": SERVER_VAD,
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: Final[dict[str, Any]] = {
    "type": SEMANTIC_VAD,
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# semantic_vad has no model here; its eagerness becomes the silence that ends a turn. The real
# classifier waits up to 8/4/2 s for an unfinished sentence (PROTOCOL.md §4.3); an echo has no
# sentence to finish, so these are the pauses a person would take as "my turn is over".
SEMANTIC_SILENCE_MS: Final[dict[str, int]] = {"low": 1200, "medium": 600, "auto": 600, "high": 250}
SEMANTIC_THRESHOLD: Final = 0.5
SEMANTIC_PREFIX_PADDING_MS: Final = 300

IDLE_TIMEOUT_RANGE_MS: Final = (5000, 30000)
MAX_OUTPUT_TOKENS_LIMIT: Final = 4096
SPEED_RANGE: Final = (0.25, 1.5)
VOICES: Final = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
TOOL_CHOICE_MODES: Final = frozenset({"auto", "none", "required"})
INCLUDE_VALUES: Final = frozenset({"item.input_audio_transcription.logprobs"})
NOISE_REDUCTION_TYPES: Final = frozenset({"near_field", "far_field"})
EAGERNESS_VALUES: Final = frozenset(SEMANTIC_SILENCE_MS)
PCM_RATE: Final = 24000

# The only keys a beta session.update may carry (PROTOCOL.md §4.5).
BETA_SESSION_KEYS: Final = frozenset(
    {
        "modalities",
        "instructions",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "input_audio_noise_reduction",
        "turn_detection",
        "tools",
        "tool_choice",
        "temperature",
        "max_response_output_tokens",
        "speed",
        "tracing",
        "model",
        "include",
        "prompt",
    }
)
# The only keys a beta response.create may carry (PROTOCOL.md §2.2).
BETA_RESPONSE_KEYS: Final = frozenset(
    {
        "modalities",
        "instructions",
        "voice",
        "output_audio_format",
        "tools",
        "tool_choice",
        "temperature",
        "max_response_output_tokens",
        "conversation",
        "metadata",
        "input",
        "prompt",
    }
)
# GA paths under session.audio that beta spells as one flat key.
_BETA_PATHS: Final = {
    "session.audio.input.format": "session.input_audio_format",
    "session.audio.output.format": "session.output_audio_format",
    "session.audio.input.transcription": "session.input_audio_transcription",
    "session.audio.input.noise_reduction": "session.input_audio_noise_reduction",
    "session.audio.input.turn_detection": "session.turn_detection",
    "session.audio.output.voice": "session.voice",
    "session.audio.output.speed": "session.speed",
    "session.output_modalities": "session.modalities",
    "session.max_output_tokens": "session.max_response_output_tokens",
}
# Keys only the server writes; a client sending them gets unknown_parameter, as the request
# schema (the SDK's RealtimeSessionCreateRequest) has no such fields.
_SERVER_ONLY_KEYS: Final = ("id", "object", "expires_at")
_REASONING_KEYS: Final = ("reasoning", "parallel_tool_calls")
BETA_DEFAULT_TEMPERATURE: Final = 0.8


@dataclasses.dataclass(frozen=True)
class TurnSettings:
    """Effective turn detection: ``server_vad`` values, or ``semantic_vad`` mapped onto them."""

    kind: str
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    idle_timeout_ms: int | None
    create_response: bool
    interrupt_response: bool


def default_config(*, dialect: str, model: str, session_id: str, expires_at: int) -> dict[str, Any]:
    """What ``session.created`` reports (PROTOCOL.md §4.1's capture, beta: §4.5)."""
    config: dict[str, Any] = {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "expires_at": expires_at,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "voice": "marin",
                "speed": 1.0,
            },
        },
    }
    if dialect == "beta":
        config["audio"]["output"]["voice"] = "alloy"
        config["temperature"] = BETA_DEFAULT_TEMPERATURE
    else:
        config["truncation"] = "auto"
        config["prompt"] = None
    return config


class SessionSettings:
    """The effective configuration of one session and the rules for changing it."""

    def __init__(self, *, dialect: str, model: str, session_id: str, expires_at: int) -> None:
        self.dialect = dialect
        self._wire = default_config(
            dialect=dialect, model=model, session_id=session_id, expires_at=expires_at
        )
        self._model = RealtimeSessionConfig.from_wire(self._wire)

    # The session object -------------------------------------------------------------------------

    @property
    def config(self) -> RealtimeSessionConfig:
        """The effective configuration as a model (a copy: it goes into events)."""
        return self._model.model_copy(deep=True)

    def wire(self) -> dict[str, Any]:
        return copy.deepcopy(self._wire)

    # Typed views ------------------------------------------------------------------------------

    @property
    def output_modalities(self) -> list[str]:
        return list(self._model.output_modalities or ["audio"])

    @property
    def input_format(self) -> WireFormat:
        return WireFormat.from_type(self._model.input_format.type or "audio/pcm")

    @property
    def output_format(self) -> WireFormat:
        return WireFormat.from_type(self._model.output_format.type or "audio/pcm")

    @property
    def voice(self) -> Any:
        return self._wire["audio"]["output"].get("voice")

    @property
    def instructions(self) -> str:
        return self._model.instructions or ""

    @property
    def transcription_enabled(self) -> bool:
        return self._wire["audio"]["input"].get("transcription") is not None

    @property
    def function_tools(self) -> list[FunctionTool]:
        return [tool for tool in self._model.tools or [] if isinstance(tool, FunctionTool)]

    @property
    def tool_choice(self) -> Any:
        return self._wire.get("tool_choice", "auto")

    @property
    def max_output_tokens(self) -> float:
        return max_tokens_value(self._wire.get("max_output_tokens", "inf"))

    @property
    def turn_detection(self) -> TurnSettings | None:
        return turn_settings(self._wire["audio"]["input"].get("turn_detection"))

    # Updates ------------------------------------------------------------------------------------

    def apply_update(
        self,
        event: SessionUpdate,
        raw_session: Any,
        *,
        assistant_audio_present: bool,
    ) -> None:
        """Applies a ``session.update`` or raises :class:`errors.RealtimeError`, changing
        nothing. ``raw_session`` is the ``session`` object as it arrived (beta checks need the
        client's own keys)."""
        session = event.session
        if self.dialect == "beta":
            _check_beta_keys(raw_session)
        if isinstance(session, TranscriptionSessionConfig):
            raise errors.invalid_value(
                "session.type",
                "Invalid value: 'transcription'. The offline server serves speech-to-speech "
                "sessions only (session.type 'realtime').",
            )
        if not isinstance(session, RealtimeSessionConfig):
            raise errors.invalid_value(
                "session.type",
                f"Invalid value: '{session.type}'. Supported values are: 'realtime'.",
            )
        if self.dialect == "ga" and "type" not in session.model_fields_set:
            raise errors.missing_parameter("session.type")
        self._check_unknown_keys(session)
        sent = session.wire_dict()
        sent.pop("type", None)
        candidate = merge_update(self._wire, sent)
        try:
            self._check_changes(sent, candidate, assistant_audio_present=assistant_audio_present)
            model = validate(candidate)
        except errors.RealtimeError as error:
            raise self._in_dialect(error) from None
        self._wire = candidate
        self._model = model

    def _in_dialect(self, error: errors.RealtimeError) -> errors.RealtimeError:
        """``error`` naming its field the way this session's dialect spells it."""
        if self.dialect != "beta" or error.param is None:
            return error
        param = self._path(error.param)
        if param == error.param:
            return error
        return errors.RealtimeError(
            error.code,
            error.message.replace(error.param, param),
            param=param,
            error_type=error.error_type,
        )

    def _check_unknown_keys(self, session: RealtimeSessionConfig) -> None:
        allowed_extra = {"temperature", "modalities"} if self.dialect == "beta" else set()
        for key in _SERVER_ONLY_KEYS:
            if key in session.model_fields_set:
                raise errors.unknown_parameter(self._path(f"session.{key}"))
        for path in unknown_keys(session, "session"):
            if path.removeprefix("session.") in allowed_extra:
                continue
            raise errors.unknown_parameter(self._path(path))
        if self.dialect == "beta" and session.model_extra:
            _check_beta_extras(session.model_extra)
        if self.dialect == "beta":
            for key in _REASONING_KEYS:
                if key in session.model_fields_set:
                    raise errors.unknown_parameter(f"session.{key}")

    def _check_changes(
        self, sent: dict[str, Any], candidate: dict[str, Any], *, assistant_audio_present: bool
    ) -> None:
        if "model" in sent and sent["model"] != self._wire["model"]:
            raise errors.invalid_value(
                "session.model", "The model of a session cannot be changed after it starts."
            )
        new_voice = candidate["audio"]["output"].get("voice")
        if assistant_audio_present and new_voice != self.voice:
            raise errors.cannot_update_voice()
        model_name = str(candidate.get("model", ""))
        for key in _REASONING_KEYS:
            if key in sent and not model_name.startswith("gpt-realtime-2"):
                # Older models reject reasoning-model options (PROTOCOL.md §9.25).
                raise errors.unknown_parameter(f"session.{key}")
        if "tracing" in sent and self._wire.get("tracing") not in (None, sent["tracing"]):
            raise errors.invalid_value(
                "session.tracing", "Tracing cannot be modified once it is enabled."
            )

    def _path(self, path: str) -> str:
        if self.dialect != "beta":
            return path
        for ga, beta in _BETA_PATHS.items():
            if path == ga or path.startswith(ga + "."):
                return beta + path[len(ga) :]
        return path


def _check_beta_keys(raw_session: Any) -> None:
    if isinstance(raw_session, dict) and "type" in raw_session:
        # A GA-shaped update sent to a beta server (PROTOCOL.md §4.2).
        raise errors.unknown_parameter("session.type")
    check_beta_keys(raw_session, BETA_SESSION_KEYS, "session")


def check_beta_keys(raw: Any, allowed: frozenset[str], param: str) -> None:
    """GA keys in a beta object are unknown to a beta server."""
    if not isinstance(raw, dict):
        return
    for key in raw:
        if key not in allowed:
            raise errors.unknown_parameter(f"{param}.{key}")


def _check_beta_extras(extra: dict[str, Any]) -> None:
    temperature = extra.get("temperature")
    if "temperature" in extra and (
        not isinstance(temperature, int | float)
        or isinstance(temperature, bool)
        or not 0.6 <= temperature <= 1.2
    ):
        raise errors.invalid_value(
            "session.temperature",
            f"Invalid 'session.temperature': decimal between 0.6 and 1.2 expected, got "
            f"{temperature!r}.",
        )
    modalities = extra.get("modalities")
    if "modalities" in extra and sorted(modalities or []) != ["audio", "text"]:
        # Kept by the dialect only when it does not map onto GA: ["audio"] alone and such.
        raise errors.invalid_value(
            "session.modalities",
            f"Invalid modalities: {modalities}. Supported combinations are: ['text'] and "
            "['audio', 'text'].",
        )


def unknown_keys(model: WireModel, path: str) -> Iterator[str]:
    """Dotted paths of every key in ``model`` (recursively) that its schema does not know."""
    for key in model.model_extra or {}:
        yield f"{path}.{key}"
    for name in sorted(model.model_fields_set):
        value = getattr(model, name)
        if isinstance(value, WireModel):
            yield from unknown_keys(value, f"{path}.{name}")
        elif isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, WireModel):
                    yield from unknown_keys(element, f"{path}.{name}[{index}]")


def merge_update(current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """``current`` with the keys of a partial update applied (PROTOCOL.md §4.2)."""
    merged = copy.deepcopy(current)
    for key, value in sent.items():
        if key == "audio" and isinstance(value, dict):
            audio = merged.setdefault("audio", {})
            for direction, section_update in value.items():
                if not isinstance(section_update, dict):
                    audio[direction] = section_update
                    continue
                section = audio.setdefault(direction, {})
                for field, field_value in section_update.items():
                    section[field] = _merged_audio_field(field, section.get(field), field_value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merged_audio_field(field: str, current: Any, value: Any) -> Any:
    if field == "turn_detection" and isinstance(value, dict):
        # A partial turn_detection resets what it leaves out to the defaults, as the real
        # service does (openai-realtime-console issue #35): nothing is merged.
        defaults = (
            SEMANTIC_VAD_DEFAULTS if value.get("type") == SEMANTIC_VAD else SERVER_VAD_DEFAULTS
        )
        return {**defaults, **value}
    if field == "noise_reduction" and isinstance(value, dict):
        # strength is 1 when first enabled and kept when a later update leaves it out.
        base = current if isinstance(current, dict) else {"strength": 1.0}
        return {**base, **value}
    if field == "format" and isinstance(value, dict) and value.get("type") == "audio/pcm":
        return {"rate": PCM_RATE, **value}
    return copy.deepcopy(value)


def validate(config: dict[str, Any]) -> RealtimeSessionConfig:
    """The typed configuration, or :class:`errors.RealtimeError` naming the offending field."""
    try:
        model = RealtimeSessionConfig.from_wire(config)
    except ProtocolError as exc:
        param = f"session.{exc.field}" if exc.field else "session"
        raise errors.invalid_value(param, f"Invalid value for '{param}': {exc}") from None
    _check_modalities(config.get("output_modalities"), "session.output_modalities")
    audio = config.get("audio") or {}
    for direction in ("input", "output"):
        section = audio.get(direction) or {}
        if "format" in section:
            check_format(section["format"], f"session.audio.{direction}.format")
    _check_output(audio.get("output") or {})
    _check_input(audio.get("input") or {})
    check_max_tokens(config.get("max_output_tokens", "inf"), "session.max_output_tokens")
    check_tools(config.get("tools") or [], "session.tools")
    check_tool_choice(config.get("tool_choice", "auto"), config.get("tools") or [], "session")
    include = config.get("include")
    for index, value in enumerate(include or []):
        if value not in INCLUDE_VALUES:
            raise errors.invalid_value(
                f"session.include[{index}]",
                f"Invalid value: '{value}'. Supported values are: "
                "'item.input_audio_transcription.logprobs'.",
            )
    truncation = config.get("truncation", "auto")
    if isinstance(truncation, str) and truncation not in ("auto", "disabled"):
        raise errors.invalid_value(
            "session.truncation",
            f"Invalid value: '{truncation}'. Supported values are: 'auto', 'disabled' and a "
            "retention_ratio object.",
        )
    return model


def _check_modalities(value: Any, param: str) -> None:
    if value not in (["audio"], ["text"]):
        # GA output is one modality; ["audio", "text"] is refused (PROTOCOL.md §9.4).
        raise errors.invalid_value(
            param,
            f"Invalid modalities: {value}. Supported combinations are: ['text'] and ['audio'].",
        )


def check_modalities(value: Any, param: str) -> None:
    _check_modalities(value, param)


def check_format(value: Any, param: str) -> WireFormat:
    kinds = "'audio/pcm', 'audio/pcmu' and 'audio/pcma'"
    if not isinstance(value, dict):
        raise errors.invalid_value(param, f"Invalid value for '{param}': an object expected.")
    try:
        fmt = WireFormat.from_type(str(value.get("type")))
    except ValueError:
        raise errors.invalid_value(
            f"{param}.type",
            f"Invalid value: '{value.get('type')}'. Supported values are: {kinds}.",
        ) from None
    if fmt.type != value.get("type"):
        # Beta names (pcm16, g711_ulaw) are not GA types.
        raise errors.invalid_value(
            f"{param}.type", f"Invalid value: '{value.get('type')}'. Supported values are: {kinds}."
        )
    if fmt is WireFormat.PCM16 and value.get("rate", PCM_RATE) != PCM_RATE:
        raise errors.invalid_value(
            f"{param}.rate",
            f"Invalid value: {value.get('rate')}. PCM audio is 24000 Hz only.",
        )
    return fmt


def check_voice(voice: Any, param: str) -> None:
    if isinstance(voice, str) and voice not in VOICES:
        listed = ", ".join(f"'{name}'" for name in sorted(VOICES))
        raise errors.invalid_value(
            param,
            f"Invalid value: '{voice}'. Supported values are: {listed}, or a custom voice "
            "object {'id': 'voice_…'}.",
        )


def _check_output(output: dict[str, Any]) -> None:
    check_voice(output.get("voice"), "session.audio.output.voice")
    speed = output.get("speed")
    if speed is not None and not (
        isinstance(speed, int | float) and SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]
    ):
        raise errors.invalid_value(
            "session.audio.output.speed",
            f"Invalid 'session.audio.output.speed': decimal between {SPEED_RANGE[0]} and "
            f"{SPEED_RANGE[1]} expected, got {speed!r}.",
        )


def _check_input(section: dict[str, Any]) -> None:
    noise = section.get("noise_reduction")
    if isinstance(noise, dict) and noise.get("type") not in NOISE_REDUCTION_TYPES:
        raise errors.invalid_value(
            "session.audio.input.noise_reduction.type",
            f"Invalid value: '{noise.get('type')}'. Supported values are: 'near_field' and "
            "'far_field'.",
        )
    detection = section.get("turn_detection")
    if detection is None:
        return
    param = "session.audio.input.turn_detection"
    kind = detection.get("type")
    if kind not in (SERVER_VAD, SEMANTIC_VAD):
        raise errors.invalid_value(
            f"{param}.type",
            f"Invalid value: '{kind}'. Supported values are: 'server_vad' and 'semantic_vad'.",
        )
    if kind == SEMANTIC_VAD:
        for key in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            if detection.get(key) is not None:
                raise errors.unknown_parameter(f"{param}.{key}")
        eagerness = detection.get("eagerness", "auto")
        if eagerness not in EAGERNESS_VALUES:
            raise errors.invalid_value(
                f"{param}.eagerness",
                f"Invalid value: '{eagerness}'. Supported values are: 'low', 'medium', 'high' "
                "and 'auto'.",
            )
        return
    if detection.get("eagerness") is not None:
        raise errors.unknown_parameter(f"{param}.eagerness")
    threshold = detection.get("threshold")
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise errors.invalid_value(
            f"{param}.threshold",
            f"Invalid 'threshold': decimal between 0.0 and 1.0 expected, got {threshold!r}.",
        )
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        value = detection.get(key)
        if not isinstance(value, int) or value < 0:
            raise errors.invalid_value(
                f"{param}.{key}", f"Invalid '{key}': a non-negative integer expected."
            )
    idle = detection.get("idle_timeout_ms")
    if idle is not None and not IDLE_TIMEOUT_RANGE_MS[0] <= idle <= IDLE_TIMEOUT_RANGE_MS[1]:
        raise errors.invalid_value(
            f"{param}.idle_timeout_ms",
            f"Invalid 'idle_timeout_ms': integer between {IDLE_TIMEOUT_RANGE_MS[0]} and "
            f"{IDLE_TIMEOUT_RANGE_MS[1]} expected, got {idle}.",
        )


def check_max_tokens(value: Any, param: str) -> None:
    if value == "inf":
        return
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 1 <= value <= MAX_OUTPUT_TOKENS_LIMIT
    ):
        raise errors.invalid_value(
            param,
            f"Invalid '{param}': integer between 1 and {MAX_OUTPUT_TOKENS_LIMIT} or 'inf' "
            f"expected, got {value!r}.",
        )


def max_tokens_value(value: Any) -> float:
    return math.inf if value == "inf" or value is None else float(value)


def check_tools(tools: list[Any], param: str) -> None:
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        kind = tool.get("type", "function") if isinstance(tool, dict) else None
        if kind == "mcp":
            raise errors.invalid_value(
                f"{where}.type",
                "MCP tools need the network; the offline server offers function tools only.",
            )
        if kind != "function":
            raise errors.invalid_value(
                f"{where}.type", f"Invalid value: '{kind}'. Supported values are: 'function'."
            )
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise errors.missing_parameter(f"{where}.name")


def check_tool_choice(choice: Any, tools: list[Any], scope: str) -> None:
    param = f"{scope}.tool_choice"
    if isinstance(choice, str):
        if choice not in TOOL_CHOICE_MODES:
            raise errors.invalid_value(
                param,
                f"Invalid value: '{choice}'. Supported values are: 'auto', 'none', 'required' "
                "or a function object.",
            )
        return
    if isinstance(choice, dict) and choice.get("type") == "function":
        names = {tool.get("name") for tool in tools if isinstance(tool, dict)}
        if choice.get("name") not in names:
            raise errors.invalid_value(
                f"{param}.name",
                f"Tool choice '{choice.get('name')}' is not one of the configured tools.",
            )
        return
    raise errors.invalid_value(param, f"Invalid value for '{param}'.")


def turn_settings(detection: Any) -> TurnSettings | None:
    if not isinstance(detection, dict):
        return None
    if detection.get("type") == SEMANTIC_VAD:
        eagerness = str(detection.get("eagerness") or "auto")
        return TurnSettings(
            kind=SEMANTIC_VAD,
            threshold=SEMANTIC_THRESHOLD,
            prefix_padding_ms=SEMANTIC_PREFIX_PADDING_MS,
            silence_duration_ms=SEMANTIC_SILENCE_MS.get(eagerness, SEMANTIC_SILENCE_MS["auto"]),
            idle_timeout_ms=None,
            create_response=bool(detection.get("create_response", True)),
            interrupt_response=bool(detection.get("interrupt_response", True)),
        )
    return TurnSettings(
        kind=SERVER_VAD,
        threshold=float(detection.get("threshold", 0.5)),
        prefix_padding_ms=int(detection.get("prefix_padding_ms", 300)),
        silence_duration_ms=int(detection.get("silence_duration_ms", 200)),
        idle_timeout_ms=detection.get("idle_timeout_ms"),
        create_response=bool(detection.get("create_response", True)),
        interrupt_response=bool(detection.get("interrupt_response", True)),
    )
