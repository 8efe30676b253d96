"""Session configuration (PROTOCOL.md §4): the GA ``session`` object and its parts.

The in-memory shape is GA. The retired beta shape (flat ``voice``, ``modalities``,
``turn_detection``, …) is translated at the wire edge by :mod:`.dialects`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Tag

from .base import WireModel

# Wire values that other layers name; one place each.
PCM_FORMAT_TYPE = "audio/pcm"
PCMU_FORMAT_TYPE = "audio/pcmu"
PCMA_FORMAT_TYPE = "audio/pcma"
PCM_SAMPLE_RATE = 24000  # GA PCM is 24 kHz only
G711_SAMPLE_RATE = 8000

SERVER_VAD = "server_vad"
SEMANTIC_VAD = "semantic_vad"

GA_VOICES: tuple[str, ...] = (
    "marin",
    "cedar",
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
)
DEFAULT_VOICE = "marin"  # OpenAI recommends marin/cedar; the GA default in session.created
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"

GA_MODELS: tuple[str, ...] = (
    "gpt-realtime-2",
    "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini",
    "gpt-realtime-1.5",
    "gpt-realtime",
    "gpt-realtime-mini",
)
DEFAULT_MODEL = "gpt-realtime-2"


class AudioFormat(WireModel):
    """A wire audio format: 24 kHz PCM, G.711 µ-law (``audio/pcmu``) or A-law (``audio/pcma``)."""

    type: str | None = None
    rate: int | None = None

    @classmethod
    def pcm(cls) -> AudioFormat:
        return cls(type=PCM_FORMAT_TYPE, rate=PCM_SAMPLE_RATE)

    @classmethod
    def pcmu(cls) -> AudioFormat:
        return cls(type=PCMU_FORMAT_TYPE)

    @classmethod
    def pcma(cls) -> AudioFormat:
        return cls(type=PCMA_FORMAT_TYPE)

    @property
    def sample_rate(self) -> int:
        if self.type in (PCMU_FORMAT_TYPE, PCMA_FORMAT_TYPE):
            return G711_SAMPLE_RATE
        return self.rate or PCM_SAMPLE_RATE


class AudioTranscription(WireModel):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    languages: list[str] | None = None
    keywords: list[str] | None = None
    delay: str | None = None


class NoiseReduction(WireModel):
    type: str | None = None  # "near_field" (headset) | "far_field" (laptop, room)
    strength: float | None = None


class TurnDetection(WireModel):
    """``server_vad`` or ``semantic_vad``; ``None`` in the session means manual turns.

    One model for both kinds, like the beta wire: some servers omit ``type`` or send kinds this
    package does not know, and those must survive a round trip.
    """

    type: str | None = None
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    eagerness: str | None = None

    @classmethod
    def server_vad(
        cls,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        idle_timeout_ms: int | None = None,
        create_response: bool = True,
        interrupt_response: bool = True,
    ) -> TurnDetection:
        """Every field is written: a partial object resets the rest to sensitive defaults on the
        real service (PROTOCOL.md §4.2, openai-realtime-console issue #35)."""
        return cls(
            type=SERVER_VAD,
            threshold=threshold,
            prefix_padding_ms=prefix_padding_ms,
            silence_duration_ms=silence_duration_ms,
            idle_timeout_ms=idle_timeout_ms,
            create_response=create_response,
            interrupt_response=interrupt_response,
        )

    @classmethod
    def semantic_vad(
        cls,
        *,
        eagerness: str = "auto",
        create_response: bool = True,
        interrupt_response: bool = True,
    ) -> TurnDetection:
        return cls(
            type=SEMANTIC_VAD,
            eagerness=eagerness,
            create_response=create_response,
            interrupt_response=interrupt_response,
        )


class VoiceReference(WireModel):
    """A custom voice: ``{"id": "voice_…"}``."""

    id: str


Voice = str | VoiceReference


class AudioInputConfig(WireModel):
    format: AudioFormat | str | None = None
    transcription: AudioTranscription | None = None
    noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = None


class AudioOutputConfig(WireModel):
    format: AudioFormat | str | None = None
    voice: Voice | None = None
    speed: float | None = None


class AudioConfig(WireModel):
    input: AudioInputConfig | None = None
    output: AudioOutputConfig | None = None


class FunctionTool(WireModel):
    type: Literal["function"] = "function"
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None


class McpToolFilter(WireModel):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(WireModel):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(WireModel):
    """A remote MCP server the Realtime service calls itself (PROTOCOL.md §4.4)."""

    type: Literal["mcp"] = "mcp"
    server_label: str | None = None
    server_url: str | None = None
    connector_id: str | None = None
    tunnel_id: str | None = None
    authorization: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: str | McpApprovalFilter | None = None
    server_description: str | None = None
    defer_loading: bool | None = None
    allowed_callers: list[str] | None = None


class UnknownTool(WireModel):
    type: str | None = None


def _tool_tag(value: Any) -> str:
    tag = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if tag is None or tag == "function":
        return "function"  # the beta shape made `type` optional on function tools
    return "mcp" if tag == "mcp" else "unknown"


Tool = Annotated[
    Union[  # noqa: UP007 - Tag annotations need the explicit Union form
        Annotated[FunctionTool, Tag("function")],
        Annotated[McpTool, Tag("mcp")],
        Annotated[UnknownTool, Tag("unknown")],
    ],
    Discriminator(_tool_tag),
]


class ToolChoiceFunction(WireModel):
    type: Literal["function"] = "function"
    name: str


class ToolChoiceMcp(WireModel):
    type: Literal["mcp"] = "mcp"
    server_label: str
    name: str | None = None


def _tool_choice_tag(value: Any) -> str:
    if isinstance(value, str):
        return "mode"
    tag = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "mcp" if tag == "mcp" else "function"


ToolChoice = Annotated[
    Union[  # noqa: UP007 - Tag annotations need the explicit Union form
        Annotated[str, Tag("mode")],  # "auto" | "none" | "required"
        Annotated[ToolChoiceFunction, Tag("function")],
        Annotated[ToolChoiceMcp, Tag("mcp")],
    ],
    Discriminator(_tool_choice_tag),
]


class TracingConfig(WireModel):
    workflow_name: str | None = None
    group_id: str | None = None
    metadata: Any = None


class TokenLimits(WireModel):
    post_instructions: int | None = None


class RetentionRatioTruncation(WireModel):
    type: Literal["retention_ratio"] = "retention_ratio"
    retention_ratio: float
    token_limits: TokenLimits | None = None


class PromptReference(WireModel):
    id: str
    version: str | None = None
    variables: dict[str, Any] | None = None


class Reasoning(WireModel):
    effort: str | None = None


MaxTokens = int | Literal["inf"]


class RealtimeSessionConfig(WireModel):
    """A GA speech-to-speech session (``session.type = "realtime"``)."""

    type: Literal["realtime"] = "realtime"
    # Set by the server in session.created/updated only.
    object: str | None = None
    id: str | None = None
    expires_at: int | None = None

    model: str | None = None
    instructions: str | None = None
    output_modalities: list[str] | None = None
    audio: AudioConfig | None = None
    include: list[str] | None = None
    max_output_tokens: MaxTokens | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    tracing: str | TracingConfig | None = None
    truncation: str | RetentionRatioTruncation | None = None
    prompt: PromptReference | None = None
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None

    # The seed's presets -------------------------------------------------------------------------

    @classmethod
    def voice_conversation(
        cls,
        *,
        instructions: str | None = None,
        voice: str = DEFAULT_VOICE,
        turn_detection: TurnDetection | None = None,
        transcription_model: str | None = DEFAULT_TRANSCRIPTION_MODEL,
    ) -> RealtimeSessionConfig:
        """Speech in, speech out, with server VAD and input transcription switched on."""
        config = cls(
            output_modalities=["audio"],
            audio=AudioConfig(
                input=AudioInputConfig(
                    format=AudioFormat.pcm(),
                    transcription=(
                        AudioTranscription(model=transcription_model)
                        if transcription_model
                        else None
                    ),
                    turn_detection=turn_detection or TurnDetection.server_vad(),
                ),
                output=AudioOutputConfig(format=AudioFormat.pcm(), voice=voice),
            ),
        )
        if instructions is not None:
            config.instructions = instructions
        return config

    @classmethod
    def text_only(cls, *, instructions: str | None = None) -> RealtimeSessionConfig:
        """Typed text in, text out; the microphone does not start turns."""
        config = cls(
            output_modalities=["text"],
            audio=AudioConfig(input=AudioInputConfig(turn_detection=None)),
        )
        if instructions is not None:
            config.instructions = instructions
        return config

    @classmethod
    def with_tools(
        cls, tools: list[FunctionTool | McpTool], *, base: RealtimeSessionConfig | None = None
    ) -> RealtimeSessionConfig:
        """``base`` (default: :meth:`voice_conversation`) with these tools and ``tool_choice``
        ``auto``."""
        config = (base or cls.voice_conversation()).model_copy(deep=True)
        config.tools = list(tools)
        config.tool_choice = "auto"
        return config

    # Accessors that walk the optional nesting ---------------------------------------------------

    @property
    def turn_detection(self) -> TurnDetection | None:
        audio_input = self.audio.input if self.audio else None
        return audio_input.turn_detection if audio_input else None

    @property
    def voice(self) -> Voice | None:
        audio_output = self.audio.output if self.audio else None
        return audio_output.voice if audio_output else None

    @property
    def input_format(self) -> AudioFormat:
        return _as_format(self.audio.input.format if self.audio and self.audio.input else None)

    @property
    def output_format(self) -> AudioFormat:
        return _as_format(self.audio.output.format if self.audio and self.audio.output else None)


def _as_format(value: AudioFormat | str | None) -> AudioFormat:
    return value if isinstance(value, AudioFormat) else AudioFormat.pcm()


class TranscriptionAudioConfig(WireModel):
    input: AudioInputConfig | None = None


class TranscriptionSessionConfig(WireModel):
    """A GA transcription-only session (``session.type = "transcription"``)."""

    type: Literal["transcription"] = "transcription"
    object: str | None = None
    id: str | None = None
    expires_at: int | None = None
    audio: TranscriptionAudioConfig | None = None
    include: list[str] | None = None


class UnknownSessionConfig(WireModel):
    type: str | None = None


def _session_tag(value: Any) -> str:
    tag = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if tag is None or tag == "realtime":
        # A GA session.update without `type` is an error the server reports
        # (missing_required_parameter); it still has to parse to be answered.
        return "realtime"
    return "transcription" if tag == "transcription" else "unknown"


SessionConfig = Annotated[
    Union[  # noqa: UP007 - Tag annotations need the explicit Union form
        Annotated[RealtimeSessionConfig, Tag("realtime")],
        Annotated[TranscriptionSessionConfig, Tag("transcription")],
        Annotated[UnknownSessionConfig, Tag("unknown")],
    ],
    Discriminator(_session_tag),
]
